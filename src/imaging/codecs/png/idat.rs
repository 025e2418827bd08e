//! The rows of a non-interlaced PNG whose samples are whole bytes (8-bit
//! grey, grey + alpha, RGB, RGBA): the IDAT chunks' zlib stream inflated
//! by fdeflate a large span at a time into one buffer that keeps deflate's
//! window, each row unfiltered (`unfilter`) out of it as it is asked for.
//!
//! The png crate does the same through small buffers, with an unfiltering
//! loop that runs byte by byte, and checks every chunk's CRC. Here the
//! image data's CRCs and the zlib checksum are not checked (the png crate
//! skips the latter too): a flipped byte inside the image data gives wrong
//! pixels rather than a refusal, as in most viewers, while a stream that
//! does not inflate, a bad filter type or too few rows is refused as
//! damaged. The chunks before the image data are read and checked by the
//! png crate as before.

use fdeflate::{DecompressionError, Decompressor};

use super::unfilter::unfilter;
use crate::imaging::bytes::be32;

/// Deflate's window: how far back a match may reach.
const WINDOW: usize = 32 * 1024;
/// Bytes inflated in one call when there is room.
const SPAN: usize = 256 * 1024;
/// fdeflate's own allocations: its boxed lookup tables (16 KiB for
/// literals and lengths, 2 KiB for distances), the overflow tables of
/// codes longer than the lookup, its state; rounded up.
const INFLATER: usize = 32 * 1024;

/// Why a row could not be made.
#[derive(Debug, thiserror::Error)]
pub(super) enum RowError {
    #[error("image data does not inflate: {0:?}")]
    Inflate(DecompressionError),
    #[error("row filter type {0} (PNG has 0 to 4)")]
    FilterType(u8),
    #[error("out of memory for the row buffers")]
    OutOfMemory,
}

/// The data of the IDAT chunks that start at a given offset, in order.
struct Chunks<'a> {
    file: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    /// The next IDAT's data; none at the first other chunk or at the end
    /// of the file (a chunk cut short gives what the file has of it).
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = be32(self.file, self.at)? as usize;
        if self.file.get(self.at + 4..self.at + 8)? != b"IDAT" {
            return None;
        }
        let start = self.at + 8;
        let end = start.saturating_add(len).min(self.file.len());
        self.at = end.saturating_add(4); // CRC
        Some(&self.file[start..end])
    }
}

/// Rows of `stride` bytes, one after another.
pub(super) struct Rows<'a> {
    chunks: Chunks<'a>,
    /// What is left of the chunk being inflated.
    input: &'a [u8],
    inflater: Decompressor,
    /// Inflated bytes: `[start, end)` not yet read, and before `start` at
    /// least a window's worth of what was, which matches may copy from.
    inflated: Vec<u8>,
    start: usize,
    end: usize,
    bpp: usize,
    stride: usize,
    /// The row above the next one, unfiltered (zeros before the first).
    above: Vec<u8>,
    row: Vec<u8>,
}

impl<'a> Rows<'a> {
    /// Bytes held besides the file, for rows of `stride` bytes.
    pub(super) fn memory(stride: usize) -> u64 {
        (INFLATER + WINDOW.max(stride + 1) + SPAN + 2 * stride) as u64
    }

    /// Rows of `stride` bytes with `bpp`-byte pixels, from the IDAT chunks
    /// that start at offset `first_idat` of `file`.
    pub(super) fn new(file: &'a [u8], first_idat: usize, stride: usize, bpp: usize) -> Result<Self, RowError> {
        let buffer = |len: usize| -> Result<Vec<u8>, RowError> {
            let mut v = Vec::new();
            v.try_reserve_exact(len).map_err(|_| RowError::OutOfMemory)?;
            v.resize(len, 0);
            Ok(v)
        };
        let mut inflater = Decompressor::new();
        inflater.ignore_adler32();
        Ok(Rows {
            chunks: Chunks { file, at: first_idat },
            input: &[],
            inflater,
            inflated: buffer(WINDOW.max(stride + 1) + SPAN)?,
            start: 0,
            end: 0,
            bpp,
            stride,
            above: buffer(stride)?,
            row: buffer(stride)?,
        })
    }

    /// The next row's pixel bytes, or `None` when the image data ends
    /// before it.
    pub(super) fn next_row(&mut self) -> Result<Option<&[u8]>, RowError> {
        let len = self.stride + 1;
        if !self.inflate_at_least(len)? {
            return Ok(None);
        }
        std::mem::swap(&mut self.above, &mut self.row);
        let filtered = &self.inflated[self.start..self.start + len];
        unfilter(filtered[0], self.bpp, &self.above, &filtered[1..], &mut self.row).map_err(RowError::FilterType)?;
        self.start += len;
        Ok(Some(&self.row[..self.stride]))
    }

    /// Inflates until `need` unread bytes are there; false when the stream
    /// or the file ends first.
    fn inflate_at_least(&mut self, need: usize) -> Result<bool, RowError> {
        while self.end - self.start < need {
            if self.inflater.is_done() {
                return Ok(false);
            }
            if self.end == self.inflated.len() {
                // Keep the window (or the unread bytes, if more) at the front.
                let keep_from = self.start.min(self.end - WINDOW);
                self.inflated.copy_within(keep_from..self.end, 0);
                self.start -= keep_from;
                self.end -= keep_from;
            }
            while self.input.is_empty() {
                // The file ends before the stream: the rows so far are all
                // there are. (Empty IDAT chunks are allowed.)
                let Some(data) = self.chunks.next() else { return Ok(false) };
                self.input = data;
            }
            // Not told that the input ends: it then gives every byte it
            // can, and the stream's end is in the stream.
            let (read, made) =
                self.inflater.read(self.input, &mut self.inflated, self.end, false).map_err(RowError::Inflate)?;
            self.input = &self.input[read..];
            self.end += made;
            if read == 0 && made == 0 {
                // There was input and room, so the stream has ended, from
                // bits fdeflate already held; the bytes left are not image
                // data.
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG of `rows` (each `stride` bytes) in `color`, 8 bits, every row
    /// filtered with `filter`, its image data split into IDAT chunks of at
    /// most `chunk` bytes.
    fn encode(rows: &[Vec<u8>], width: u32, color: png::ColorType, filter: png::Filter, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, width, rows.len() as u32);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        // The compression level sets a filter too: the filter after it.
        enc.set_compression(png::Compression::Balanced);
        enc.set_filter(filter);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&rows.concat()).unwrap();
        w.finish().unwrap();
        rechunk(&out, chunk)
    }

    /// `file` with its image data in IDAT chunks of at most `size` bytes
    /// (their CRCs zero: not read here).
    fn rechunk(file: &[u8], size: usize) -> Vec<u8> {
        let at = first_idat(file);
        let (mut data, mut end) = (Vec::new(), at);
        while &file[end + 4..end + 8] == b"IDAT" {
            let len = be32(file, end).unwrap() as usize;
            data.extend_from_slice(&file[end + 8..end + 8 + len]);
            end += 12 + len;
        }
        let mut out = file[..at].to_vec();
        for piece in data.chunks(size) {
            out.extend_from_slice(&(piece.len() as u32).to_be_bytes());
            out.extend_from_slice(b"IDAT");
            out.extend_from_slice(piece);
            out.extend_from_slice(&[0; 4]);
        }
        out.extend_from_slice(&file[end..]);
        out
    }

    fn first_idat(png: &[u8]) -> usize {
        let mut at = 8;
        while &png[at + 4..at + 8] != b"IDAT" {
            at += 12 + be32(png, at).unwrap() as usize;
        }
        at
    }

    /// Rows with smooth runs (long deflate matches, some reaching back
    /// across a whole row) and noise (literals).
    fn picture(stride: usize, height: usize, seed: u32) -> Vec<Vec<u8>> {
        let mut state = seed;
        (0..height)
            .map(|y| {
                (0..stride)
                    .map(|x| {
                        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        let noise = (state >> 16) as u8;
                        if (x / 97 + y / 13) % 3 == 0 {
                            noise
                        } else {
                            (x / 5 + y) as u8
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn all_rows(png: &[u8], stride: usize, bpp: usize) -> Result<Vec<Vec<u8>>, RowError> {
        let mut rows = Rows::new(png, first_idat(png), stride, bpp)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next_row()? {
            out.push(row.to_vec());
        }
        Ok(out)
    }

    #[test]
    fn rows_are_the_encoded_rows_for_every_layout_filter_and_chunking() {
        use png::ColorType::*;
        for (color, bpp) in [(Grayscale, 1), (GrayscaleAlpha, 2), (Rgb, 3), (Rgba, 4)] {
            for width in [1u32, 2, 5, 64, 301] {
                let stride = width as usize * bpp;
                let want = picture(stride, 23, width * 7 + bpp as u32);
                for filter in [
                    png::Filter::NoFilter,
                    png::Filter::Sub,
                    png::Filter::Up,
                    png::Filter::Avg,
                    png::Filter::Paeth,
                    png::Filter::Adaptive,
                ] {
                    for chunk in [1, 7, 1 << 16] {
                        // With an empty IDAT chunk after the first.
                        let mut file = encode(&want, width, color, filter, chunk);
                        let second = first_idat(&file) + 12 + be32(&file, first_idat(&file)).unwrap() as usize;
                        file.splice(second..second, [0, 0, 0, 0, b'I', b'D', b'A', b'T', 0, 0, 0, 0]);
                        let got = all_rows(&file, stride, bpp).unwrap();
                        assert!(got == want, "{color:?} {width} px, {filter:?}, chunks of {chunk}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_image_larger_than_the_buffer_keeps_the_window_across_refills() {
        // Several buffers' worth, with matches reaching up to a row back.
        let (width, bpp) = (1500u32, 4);
        let stride = width as usize * bpp;
        let want = picture(stride, 300, 99);
        assert!(stride * want.len() > 4 * (WINDOW + SPAN));
        let file = encode(&want, width, png::ColorType::Rgba, png::Filter::Adaptive, 1 << 13);
        assert!(all_rows(&file, stride, bpp).unwrap() == want);
    }

    #[test]
    fn damaged_image_data_is_refused_or_short() {
        let (width, bpp) = (40u32, 3);
        let stride = width as usize * bpp;
        let want = picture(stride, 30, 5);
        let file = encode(&want, width, png::ColorType::Rgb, png::Filter::Paeth, 1 << 16);
        let at = first_idat(&file);
        let len = be32(&file, at).unwrap() as usize;

        // Cut inside the image data: fewer rows, never a wrong one.
        let cut = &file[..at + 8 + len / 2];
        let got = all_rows(cut, stride, bpp).unwrap();
        assert!(got.len() < want.len() && got[..] == want[..got.len()], "{} rows", got.len());

        // A filter type byte out of range is named.
        let mut raw = Vec::new();
        for row in &want {
            raw.push(0u8);
            raw.extend_from_slice(row);
        }
        raw[(stride + 1) * 3] = 9;
        let mut bad = file[..at].to_vec();
        let z = fdeflate::compress_to_vec(&raw);
        bad.extend_from_slice(&(z.len() as u32).to_be_bytes());
        bad.extend_from_slice(b"IDAT");
        bad.extend_from_slice(&z);
        bad.extend_from_slice(&[0; 4]);
        let err = all_rows(&bad, stride, bpp).unwrap_err();
        assert!(matches!(err, RowError::FilterType(9)), "{err}");

        // A stream that is not zlib.
        let mut garbage = file.clone();
        for b in &mut garbage[at + 8..at + 8 + len] {
            *b = 0xff;
        }
        assert!(matches!(all_rows(&garbage, stride, bpp), Err(RowError::Inflate(_))));
    }
}
