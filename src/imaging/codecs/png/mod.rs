//! PNG. IHDR gives the size; an eXIf chunk before the image data the
//! orientation. The `png` crate reads the chunks before the image data.
//! Non-interlaced images are streamed row by row, so memory grows with the
//! width, not the area, and reading stops as soon as the crop square's last
//! row has arrived: 8-bit grey, grey + alpha, RGB and RGBA without tRNS
//! (nearly every photo and screenshot) by `idat`, the rest by the png
//! crate's `next_row`, which also reduces 16-bit samples to 8 bits and
//! expands palettes and tRNS. Interlaced (Adam7) rows arrive pass by pass,
//! so those are decoded in full, within the budget.

mod idat;
mod unfilter;

use std::io::Cursor;

use png::{ColorType, Transformations};

use crate::imaging::bytes::be32;
use crate::imaging::colour::Layout;
use crate::imaging::decoding::{damaged, feed_buffer, out_of_memory, Header, Image, Plan};
use crate::imaging::error::{ImageError, Kind};
use crate::imaging::format::SourceFormat;
use crate::imaging::limits::{check_full_decode, MAX_ICC_BYTES};
use crate::imaging::orient::orientation_in_exif;
use crate::imaging::resize::Region;
use crate::imaging::work::{cost, per_byte};

const F: SourceFormat = SourceFormat::Png;

/// What the png crate may allocate besides pixels (the only allocations its
/// limit counts while streaming): the inflated iCCP profile, which it keeps
/// for the whole decode, eXIf, the compressed chunks' bytes, its line
/// buffer. A profile that would inflate beyond what is left is
/// dropped by png (pixels are then sRGB, as for any profile over
/// [`MAX_ICC_BYTES`]); text chunks are not read at all.
const METADATA_BYTES: usize = 4 * MAX_ICC_BYTES;

/// An opened PNG.
pub(crate) struct Png<'a> {
    bytes: &'a [u8],
    header: Header,
    /// An iCCP chunk precedes the image data (the png crate inflates and
    /// keeps it, up to its metadata limit).
    iccp: bool,
    /// Where the first IDAT chunk starts, if the walk reached one.
    first_idat: Option<usize>,
}

#[cfg(feature = "test-hooks")]
pub(crate) use unfilter::self_check as unfilter_self_check;

impl<'a> Png<'a> {
    /// Reads IHDR, then walks the chunks before the image data for iCCP
    /// and eXIf.
    pub(crate) fn open(b: &'a [u8]) -> Result<Self, ImageError> {
        if b.get(12..16) != Some(b"IHDR") {
            return Err(damaged(F, "no IHDR"));
        }
        let width = be32(b, 16).ok_or_else(|| damaged(F, "short IHDR"))?;
        let height = be32(b, 20).ok_or_else(|| damaged(F, "short IHDR"))?;
        // The last field read, the interlace method: IHDR must be whole.
        b.get(28).ok_or_else(|| damaged(F, "short IHDR"))?;
        let mut png = Png { bytes: b, header: Header::upright(width, height), iccp: false, first_idat: None };
        // Walk chunks until the pixel data; eXIf must precede IDAT.
        let mut pos = 8usize;
        while pos < b.len() {
            let (Some(len), Some(kind)) = (be32(b, pos), b.get(pos + 4..pos + 8)) else { break };
            let start = pos + 8;
            let Some(end) = start.checked_add(len as usize) else { break };
            if kind == b"IDAT" {
                png.first_idat = Some(pos);
                break;
            }
            if kind == b"IEND" {
                break;
            }
            if kind == b"iCCP" {
                png.iccp = true;
            }
            if kind == b"eXIf" {
                if let Some(o) = b.get(start..end).and_then(orientation_in_exif) {
                    png.header.orientation = o;
                }
            }
            let Some(next) = end.checked_add(4) else { break }; // CRC
            pos = next;
        }
        Ok(png)
    }
}

impl Image for Png<'_> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn work_rate(&self) -> u64 {
        per_byte::PNG
    }

    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        decode(self.bytes, &self.header, self.iccp, self.first_idat, plan)
    }
}

// One copy for the PNG and ICO codecs.
#[inline(never)]
fn decode(
    bytes: &[u8],
    header: &Header,
    iccp: bool,
    first_idat: Option<usize>,
    plan: &Plan<'_>,
) -> Result<Region, ImageError> {
    let mut reader = decoder(bytes).read_info().map_err(|e| map_err(e, header, plan))?;
    let (w, h) = (reader.info().width, reader.info().height);
    if (w, h) != (header.width, header.height) {
        return Err(damaged(F, "IHDR read twice with different sizes"));
    }
    let icc: Option<Vec<u8>> =
        reader.info().icc_profile.as_ref().filter(|p| p.len() <= MAX_ICC_BYTES).map(|p| p.to_vec());
    let layout = match reader.output_color_type().0 {
        ColorType::Grayscale => Layout::Gray,
        ColorType::GrayscaleAlpha => Layout::GrayAlpha,
        ColorType::Rgb => Layout::Rgb,
        ColorType::Rgba => Layout::Rgba,
        ColorType::Indexed => return Err(damaged(F, "palette not expanded")),
    };
    // Rows whose bytes are the samples, unfiltered: read by `idat`.
    let info = reader.info();
    let own_rows = (!info.interlaced && info.bit_depth == png::BitDepth::Eight && info.trns.is_none())
        .then_some(first_idat)
        .flatten()
        .filter(|_| layout.channels() == info.color_type.samples());
    // What png holds besides our buffer: the iCCP profile (up to its
    // limit) and our copy of it, its current and previous raw row (≤ 8
    // bytes per pixel), or `idat`'s buffers, and the interlaced image.
    let interlaced = reader.info().interlaced;
    let metadata = if iccp { (METADATA_BYTES + MAX_ICC_BYTES) as u64 } else { 0 };
    let stride = w as usize * layout.channels();
    let rows = if own_rows.is_some() { idat::Rows::memory(stride) } else { 2 * u64::from(w) * 8 };
    let image = if interlaced { u64::from(w) * u64::from(h) * layout.channels() as u64 } else { 0 };
    let budget = plan.decode_budget(1.0, layout.out_channels());
    check_full_decode(F, interlaced.then_some(Kind::Interlaced), w, h, metadata + rows + image, budget)?;
    let mut collector = plan.collector(w, h, layout, icc.as_deref());

    // Work: inflating and unfiltering each row's bytes, then widening or
    // narrowing its samples to 8 bits; charged before png does it. The
    // whole image's cost names the refusal.
    let info = reader.info();
    let row_bytes = (u64::from(w) * info.color_type.samples() as u64 * u64::from(info.bit_depth as u8)).div_ceil(8) + 1;
    let row_units = row_bytes * cost::PNG_RAW_BYTE + u64::from(w) * cost::PNG_PIXEL;
    let file_units = bytes.len() as u64 * cost::PNG_FILE_BYTE;
    let whole = plan.work.spent() + file_units + row_units * u64::from(h) + Plan::collector_units(w, h);
    // The compressed data is inflated as rows are asked for; it is at most
    // the file, charged at once.
    plan.charge(F, file_units, whole)?;

    if interlaced {
        // Adam7's passes have up to two more bytes a row (filter bytes,
        // padding of each pass's rows).
        plan.charge(F, row_units * u64::from(h) + 2 * u64::from(h) * cost::PNG_RAW_BYTE, whole)?;
        let size = reader.output_buffer_size().ok_or_else(|| damaged(F, "image too large"))?;
        let mut buf = vec![0u8; size];
        reader.next_frame(&mut buf).map_err(|e| map_err(e, header, plan))?;
        return feed_buffer(collector, &buf, w, layout, F, plan);
    }

    if let Some(first_idat) = own_rows {
        drop(reader);
        let mut rows = idat::Rows::new(bytes, first_idat, stride, layout.channels()).map_err(|e| rows_err(e, plan))?;
        while !collector.done() {
            plan.charge(F, row_units, whole)?;
            match rows.next_row().map_err(|e| rows_err(e, plan))? {
                Some(row) => collector.push_row(row).map_err(|_| plan.work_refusal(F, whole))?,
                None => break,
            }
        }
        return collector.into_region().ok_or_else(|| damaged(F, "fewer rows than the header says"));
    }

    while !collector.done() {
        plan.charge(F, row_units, whole)?;
        match reader.next_row().map_err(|e| map_err(e, header, plan))? {
            Some(row) => collector.push_row(row.data()).map_err(|_| plan.work_refusal(F, whole))?,
            None => break,
        }
    }
    collector.into_region().ok_or_else(|| damaged(F, "fewer rows than the header says"))
}

fn decoder(bytes: &[u8]) -> png::Decoder<Cursor<&[u8]>> {
    let mut dec = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: METADATA_BYTES });
    dec.set_ignore_text_chunk(true);
    dec.set_transformations(Transformations::EXPAND | Transformations::STRIP_16);
    dec
}

fn rows_err(e: idat::RowError, plan: &Plan<'_>) -> ImageError {
    match e {
        idat::RowError::OutOfMemory => out_of_memory(F, plan),
        other => damaged(F, other.to_string()),
    }
}

fn map_err(e: png::DecodingError, header: &Header, plan: &Plan<'_>) -> ImageError {
    match e {
        png::DecodingError::LimitsExceeded => ImageError::TooMuchMemory {
            format: F,
            kind: None,
            width: header.width,
            height: header.height,
            max_mp: plan.decode_budget(1.0, 4) / 4 / 1_000_000,
        },
        other => damaged(F, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::format::OutputFormat;
    use crate::imaging::options::Options;
    use crate::imaging::pipeline::process;

    /// A 16×16 PNG whose iCCP chunk inflates to `icc_len` bytes (of zeros:
    /// a few KB compressed).
    fn png_with_icc(icc_len: usize) -> Vec<u8> {
        let mut info = png::Info::with_size(16, 16);
        info.color_type = png::ColorType::Rgb;
        info.bit_depth = png::BitDepth::Eight;
        info.icc_profile = Some(vec![0u8; icc_len].into());
        let mut out = Vec::new();
        let mut w = png::Encoder::with_info(&mut out, info).unwrap().write_header().unwrap();
        w.write_image_data(&[0x80; 16 * 16 * 3]).unwrap();
        w.finish().unwrap();
        out
    }

    #[test]
    fn icc_profile_inflation_is_bounded() {
        // Found while fuzzing (docs/fuzzing.md): png inflates an iCCP
        // chunk up to its whole memory limit and keeps it for the entire
        // decode, so a small upload held a huge profile next to the pixels.
        let bomb = png_with_icc(40 << 20);
        assert!(bomb.len() < 200_000, "{}", bomb.len());
        let reader = decoder(&bomb).read_info().unwrap();
        let held = reader.info().icc_profile.as_ref().map_or(0, |p| p.len());
        assert!(held <= METADATA_BYTES, "png holds a {held}-byte profile");
        // The image itself is fine: decoded, the profile ignored (sRGB).
        let opts = Options { size: 8, format: OutputFormat::Png, ..Default::default() };
        assert!(process(&bomb, None, &opts).is_ok());
        // A real-sized profile is still read.
        let ok = png_with_icc(MAX_ICC_BYTES);
        let reader = decoder(&ok).read_info().unwrap();
        assert_eq!(reader.info().icc_profile.as_ref().map(|p| p.len()), Some(MAX_ICC_BYTES));
    }
}
