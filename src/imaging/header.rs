//! Cheap header parsing: dimensions, EXIF orientation and (for JPEG) the
//! frame layout, read *before* any decoder allocates pixel memory, so limits
//! are enforced on the file's claims and a 65000×65000 bomb costs nothing.
//!
//! Every read is bounds-checked; a short or inconsistent header is
//! [`ImageError::Damaged`].

use super::error::{ImageError, Variant};
use super::format::SourceFormat;
use super::limits::MAX_JPEG_SCANS;
use super::orient::Orientation;

/// What the pipeline needs to know before decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Stored (not upright) dimensions.
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
    /// JPEG frame details (for the memory estimate and scale choice).
    pub jpeg: Option<JpegFrame>,
    /// PNG: Adam7 interlacing (needs a full decode instead of streaming).
    pub interlaced: bool,
    /// WebP: what kind of bitstream (the decoder's memory depends on it).
    pub webp: Option<WebpKind>,
    /// PNG: an iCCP chunk precedes the image data (the png crate inflates
    /// and keeps it, up to its metadata limit).
    pub png_iccp: bool,
    /// GIF: the first frame's rectangle (left, top, width, height), which
    /// may differ from the logical screen (even be larger): the decoder
    /// allocates for it.
    pub gif_frame: Option<(u16, u16, u16, u16)>,
}

/// What a WebP file contains, from its chunk list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebpKind {
    pub lossless: bool,
    pub alpha: bool,
    pub animated: bool,
    /// An ICCP chunk (read into memory by the decoder).
    pub icc: bool,
}

/// The SOF segment of a JPEG, and its scans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JpegFrame {
    pub progressive: bool,
    /// (horizontal, vertical) sampling factors of each component.
    pub sampling: Vec<(u8, u8)>,
    /// Each component's id (what scans name it by).
    pub ids: Vec<u8>,
    /// Bytes of ICC profile chunks (APP2 `ICC_PROFILE`) anywhere in the
    /// file: jpeg-decoder keeps them all until it is dropped.
    pub icc_bytes: u64,
    /// The scans up to the end of the image (at most
    /// [`MAX_JPEG_SCANS`]), read from their SOS headers.
    pub scans: Vec<JpegScan>,
}

/// One scan (SOS) of a JPEG: what it codes and how many bytes of
/// entropy-coded data follow its header (up to the next marker other than
/// RSTn; stuffed bytes and restart markers included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JpegScan {
    /// Indices into the frame's components (ids not in the frame are
    /// left out: the decoders refuse such a scan anyway).
    pub comps: Vec<usize>,
    /// Spectral selection start and end, successive approximation high and low.
    pub ss: u8,
    pub se: u8,
    pub ah: u8,
    pub al: u8,
    pub data_bytes: u64,
}

fn damaged(format: SourceFormat, detail: &str) -> ImageError {
    ImageError::Damaged { format, detail: detail.to_string() }
}

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}
fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
/// The RIFF chunks of `b` from offset `pos` on (12 after a WebP file's
/// RIFF header, 16 inside an ANMF frame): `(fourcc, start, end)` of each
/// chunk's data, which may run past the end of `b`. Chunks are padded to
/// even length; the walk stops at the first incomplete chunk header.
pub(crate) fn riff_chunks(b: &[u8], pos: usize) -> impl Iterator<Item = (&[u8], usize, usize)> {
    let mut next = Some(pos);
    std::iter::from_fn(move || {
        let pos = next?;
        let fourcc = b.get(pos..pos.checked_add(4)?)?;
        let len = le32(b, pos.checked_add(4)?)? as usize;
        let start = pos.checked_add(8)?;
        let end = start.checked_add(len)?;
        next = end.checked_add(len & 1);
        Some((fourcc, start, end))
    })
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(3)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], 0]))
}

/// Reads the header of an already sniffed file.
pub fn read_header(bytes: &[u8], format: SourceFormat) -> Result<Header, ImageError> {
    match format {
        SourceFormat::Jpeg => jpeg(bytes),
        SourceFormat::Png => png(bytes),
        SourceFormat::Gif => gif(bytes),
        SourceFormat::Bmp => bmp(bytes),
        SourceFormat::Webp => webp(bytes),
    }
}

fn plain(width: u32, height: u32) -> Header {
    Header {
        width,
        height,
        orientation: Orientation::Normal,
        jpeg: None,
        interlaced: false,
        webp: None,
        png_iccp: false,
        gif_frame: None,
    }
}

/// Walks the marker segments up to the first scan: APP1 Exif gives the
/// orientation, SOFn the size and layout.
fn jpeg(b: &[u8]) -> Result<Header, ImageError> {
    const F: SourceFormat = SourceFormat::Jpeg;
    let mut pos = 2usize; // after SOI
    let mut orientation = Orientation::Normal;
    let mut frame: Option<(u32, u32, JpegFrame)> = None;
    let mut icc_bytes = 0u64;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if b.get(pos) != Some(&0xFF) {
            return Err(damaged(F, "expected a marker"));
        }
        while b.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *b.get(pos).ok_or_else(|| damaged(F, "truncated before the image data"))?;
        pos += 1;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue, // no length
            0xD9 => return Err(damaged(F, "end of image before any image data")),
            _ => {}
        }
        let len = usize::from(be16(b, pos).ok_or_else(|| damaged(F, "truncated segment length"))?);
        if len < 2 {
            return Err(damaged(F, "segment length < 2"));
        }
        let body = b.get(pos + 2..pos + len).ok_or_else(|| damaged(F, "truncated segment"))?;
        match marker {
            0xE1 if body.starts_with(b"Exif\0\0") => {
                if let Some(o) = body.get(6..).and_then(orientation_from_tiff) {
                    orientation = o;
                }
            }
            0xE2 => icc_bytes += icc_chunk_bytes(body),
            0xC0 | 0xC1 | 0xC2 => {
                let precision = *body.first().ok_or_else(|| damaged(F, "short SOF"))?;
                let height = be16(body, 1).ok_or_else(|| damaged(F, "short SOF"))?;
                let width = be16(body, 3).ok_or_else(|| damaged(F, "short SOF"))?;
                let n = usize::from(*body.get(5).ok_or_else(|| damaged(F, "short SOF"))?);
                if precision != 8 {
                    return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::TwelveBit });
                }
                if !matches!(n, 1 | 3 | 4) {
                    return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::UnusualChannels });
                }
                if height == 0 {
                    // Height given later by a DNL marker: legal but unheard of.
                    return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::HeightAfterData });
                }
                let mut sampling = Vec::with_capacity(n);
                let mut ids = Vec::with_capacity(n);
                for i in 0..n {
                    let c = body.get(6 + i * 3..8 + i * 3).ok_or_else(|| damaged(F, "short SOF"))?;
                    let (h, v) = (c[1] >> 4, c[1] & 0x0F);
                    if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                        return Err(damaged(F, "invalid sampling factor"));
                    }
                    sampling.push((h, v));
                    ids.push(c[0]);
                }
                if frame.is_some() {
                    return Err(damaged(F, "two frame headers"));
                }
                let progressive = marker == 0xC2;
                let jf = JpegFrame { progressive, sampling, ids, icc_bytes: 0, scans: Vec::new() };
                frame = Some((u32::from(width), u32::from(height), jf));
            }
            0xC3 | 0xC5..=0xC7 => {
                return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::LosslessOrHierarchical })
            }
            0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::ArithmeticCoding })
            }
            0xDA => {
                // Start of scan: everything we need comes before it.
                let (width, height, mut jf) = frame.ok_or_else(|| damaged(F, "scan before frame header"))?;
                let rest = scans(b, pos, &jf.ids, MAX_JPEG_SCANS + 1);
                if rest.scans.len() > MAX_JPEG_SCANS {
                    return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::TooManyScans });
                }
                jf.icc_bytes = icc_bytes + rest.icc_bytes;
                jf.scans = rest.scans;
                return Ok(Header { orientation, jpeg: Some(jf), ..plain(width, height) });
            }
            _ => {}
        }
        pos += len;
    }
}

/// Bytes jpeg-decoder keeps for an APP2 segment (`body`: after the length):
/// an ICC chunk's data after its 14-byte tag, sequence number and count.
fn icc_chunk_bytes(body: &[u8]) -> u64 {
    if body.len() > 14 && body.starts_with(b"ICC_PROFILE\0") {
        (body.len() - 14) as u64
    } else {
        0
    }
}

/// What follows the first SOS: the scans and the ICC chunks' bytes (APP2
/// segments may come between scans, and the decoder keeps them too).
#[derive(Debug, PartialEq, Eq)]
struct Rest {
    scans: Vec<JpegScan>,
    icc_bytes: u64,
}

/// Walks from the first SOS (`pos`: its length field) to the end of the
/// image, reading at most `max` scans (`ids`: the frame's component ids).
/// Entropy-coded data is skipped by looking for markers (an `FF` there is
/// followed by `00` or a restart marker), and its length recorded in its
/// scan; other segments between scans (DHT, DQT, ...) are skipped by their
/// length, so bytes inside them are not mistaken for markers.
fn scans(b: &[u8], mut pos: usize, ids: &[u8], max: usize) -> Rest {
    let mut rest = Rest { scans: Vec::new(), icc_bytes: 0 };
    let mut marker = 0xDA; // `pos` is at the length of this segment
    loop {
        // The segment at `pos` (after its marker), if `marker` has one.
        let mut data_start = None;
        if !matches!(marker, 0x00 | 0x01 | 0xD0..=0xD8) {
            let Some(len) = be16(b, pos) else { return rest };
            let len = usize::from(len.max(2));
            let body = b.get(pos + 2..pos + len).unwrap_or(&[]);
            match marker {
                0xE2 => rest.icc_bytes += icc_chunk_bytes(body),
                0xDA => {
                    rest.scans.push(sos(body, ids));
                    if rest.scans.len() >= max {
                        return rest;
                    }
                    data_start = Some(pos + len);
                }
                _ => {}
            }
            pos += len;
        }
        // The next marker: past entropy-coded data (stuffed bytes and RSTn
        // belong to it), fill bytes before it.
        loop {
            let Some(i) = b.get(pos..).and_then(|rest| memchr::memchr(0xFF, rest)) else {
                if let (Some(start), Some(scan)) = (data_start, rest.scans.last_mut()) {
                    scan.data_bytes = b.len().saturating_sub(start) as u64;
                }
                return rest;
            };
            let at = pos + i;
            pos = at + 1;
            while b.get(pos) == Some(&0xFF) {
                pos += 1;
            }
            let Some(&m) = b.get(pos) else { return rest };
            pos += 1;
            if !matches!(m, 0x00 | 0xD0..=0xD7) {
                if let (Some(start), Some(scan)) = (data_start, rest.scans.last_mut()) {
                    scan.data_bytes = at.saturating_sub(start) as u64;
                }
                marker = m;
                break;
            }
        }
        if marker == 0xD9 {
            return rest;
        }
    }
}

/// A scan from its SOS segment's body (after the length).
fn sos(body: &[u8], ids: &[u8]) -> JpegScan {
    let ns = usize::from(body.first().copied().unwrap_or(0));
    let comps = (0..ns).filter_map(|i| body.get(1 + 2 * i)).filter_map(|id| ids.iter().position(|c| c == id)).collect();
    let p = body.get(1 + 2 * ns..4 + 2 * ns).unwrap_or(&[0, 0, 0]);
    JpegScan { comps, ss: p[0], se: p[1], ah: p[2] >> 4, al: p[2] & 15, data_bytes: 0 }
}

/// IHDR gives the size; an eXIf chunk before the image data the orientation.
fn png(b: &[u8]) -> Result<Header, ImageError> {
    const F: SourceFormat = SourceFormat::Png;
    if b.get(12..16) != Some(b"IHDR") {
        return Err(damaged(F, "no IHDR"));
    }
    let width = be32(b, 16).ok_or_else(|| damaged(F, "short IHDR"))?;
    let height = be32(b, 20).ok_or_else(|| damaged(F, "short IHDR"))?;
    let interlaced = *b.get(28).ok_or_else(|| damaged(F, "short IHDR"))? == 1;
    let mut h = plain(width, height);
    h.interlaced = interlaced;
    // Walk chunks until the pixel data; eXIf must precede IDAT.
    let mut pos = 8usize;
    while pos < b.len() {
        let (Some(len), Some(kind)) = (be32(b, pos), b.get(pos + 4..pos + 8)) else { break };
        let start = pos + 8;
        let Some(end) = start.checked_add(len as usize) else { break };
        if kind == b"IDAT" || kind == b"IEND" {
            break;
        }
        if kind == b"iCCP" {
            h.png_iccp = true;
        }
        if kind == b"eXIf" {
            if let Some(o) = b.get(start..end).and_then(orientation_from_tiff) {
                h.orientation = o;
            }
        }
        let Some(next) = end.checked_add(4) else { break }; // CRC
        pos = next;
    }
    Ok(h)
}

/// The logical screen gives the size; the first image descriptor the first
/// frame's rectangle.
fn gif(b: &[u8]) -> Result<Header, ImageError> {
    const F: SourceFormat = SourceFormat::Gif;
    let w = le16(b, 6).ok_or_else(|| damaged(F, "short header"))?;
    let h = le16(b, 8).ok_or_else(|| damaged(F, "short header"))?;
    let mut hd = plain(u32::from(w), u32::from(h));
    hd.gif_frame = gif_first_frame(b);
    Ok(hd)
}

/// (left, top, width, height) of the first image descriptor, skipping the
/// global colour table and extension blocks; `None` if there is none.
fn gif_first_frame(b: &[u8]) -> Option<(u16, u16, u16, u16)> {
    let flags = *b.get(10)?;
    let mut pos = 13usize;
    if flags & 0x80 != 0 {
        pos += 3 << ((flags & 7) + 1);
    }
    loop {
        match *b.get(pos)? {
            0x2C => {
                return Some((le16(b, pos + 1)?, le16(b, pos + 3)?, le16(b, pos + 5)?, le16(b, pos + 7)?));
            }
            0x21 => {
                // Extension: label, then data sub-blocks up to a zero length.
                pos += 2;
                loop {
                    let n = usize::from(*b.get(pos)?);
                    pos += 1 + n;
                    if n == 0 {
                        break;
                    }
                }
            }
            _ => return None, // trailer or garbage: no frame
        }
    }
}

fn bmp(b: &[u8]) -> Result<Header, ImageError> {
    const F: SourceFormat = SourceFormat::Bmp;
    let dib = le32(b, 14).ok_or_else(|| damaged(F, "short header"))?;
    if dib == 12 {
        let w = le16(b, 18).ok_or_else(|| damaged(F, "short header"))?;
        let h = le16(b, 20).ok_or_else(|| damaged(F, "short header"))?;
        return Ok(plain(u32::from(w), u32::from(h)));
    }
    let w = le32(b, 18).ok_or_else(|| damaged(F, "short header"))? as i32;
    let h = le32(b, 22).ok_or_else(|| damaged(F, "short header"))? as i32;
    if w < 0 {
        return Err(damaged(F, "negative width"));
    }
    // Negative height means top-down rows.
    Ok(plain(w.unsigned_abs(), h.unsigned_abs()))
}

/// First chunk gives the size (VP8X canvas, VP8 key frame or VP8L header);
/// an EXIF chunk, if any, the orientation.
fn webp(b: &[u8]) -> Result<Header, ImageError> {
    const F: SourceFormat = SourceFormat::Webp;
    let kind = b.get(12..16).ok_or_else(|| damaged(F, "no chunk"))?;
    let data = 20usize;
    let (w, h) = match kind {
        b"VP8X" => {
            let w = le24(b, data + 4).ok_or_else(|| damaged(F, "short VP8X"))? + 1;
            let h = le24(b, data + 7).ok_or_else(|| damaged(F, "short VP8X"))? + 1;
            (w, h)
        }
        b"VP8 " => {
            if b.get(data + 3..data + 6) != Some(&[0x9D, 0x01, 0x2A]) {
                return Err(damaged(F, "bad VP8 start code"));
            }
            let w = le16(b, data + 6).ok_or_else(|| damaged(F, "short VP8"))? & 0x3FFF;
            let h = le16(b, data + 8).ok_or_else(|| damaged(F, "short VP8"))? & 0x3FFF;
            (u32::from(w), u32::from(h))
        }
        b"VP8L" => {
            if b.get(data) != Some(&0x2F) {
                return Err(damaged(F, "bad VP8L signature"));
            }
            let bits = le32(b, data + 1).ok_or_else(|| damaged(F, "short VP8L"))?;
            ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        }
        _ => return Err(damaged(F, "unknown first chunk")),
    };
    let mut hd = plain(w, h);
    let mut kind = WebpKind::default();
    let mut first_frame_seen = false;
    // Walk the chunks (padded to even length): EXIF for the orientation,
    // the others for the decoder's memory estimate.
    for (fourcc, start, end) in riff_chunks(b, 12) {
        match fourcc {
            b"EXIF" => {
                if let Some(o) = b.get(start..end).and_then(orientation_from_tiff) {
                    hd.orientation = o;
                }
            }
            b"VP8L" => {
                kind.lossless = true;
                kind.alpha = true; // decoded as RGBA unless proven opaque
            }
            b"ALPH" => kind.alpha = true,
            b"ICCP" => kind.icc = true,
            b"ANIM" => kind.animated = true,
            // The lossy decoder allocates for the size in its own frame
            // header and compares it with the canvas only afterwards: a
            // 1 KB file claiming 16383×16383 there took 384 MiB. Check first.
            b"VP8 " => check_vp8_size(b.get(start..end), w, h)?,
            b"ANMF" => {
                if !std::mem::replace(&mut first_frame_seen, true) {
                    // Only the first frame is decoded.
                    check_anmf(b.get(start..end))?;
                }
                kind.animated = true;
            }
            _ => {}
        }
    }
    hd.webp = Some(kind);
    Ok(hd)
}

/// Refuses a VP8 (lossy) bitstream whose key frame header gives another
/// size than `w`×`h` (the canvas or the animation frame). Data that is not
/// a key frame header is left to the decoder (it refuses it before
/// allocating).
fn check_vp8_size(data: Option<&[u8]>, w: u32, h: u32) -> Result<(), ImageError> {
    let Some(d) = data else { return Ok(()) };
    if d.get(3..6) != Some(&[0x9D, 0x01, 0x2A]) {
        return Ok(());
    }
    let (Some(fw), Some(fh)) = (le16(d, 6), le16(d, 8)) else { return Ok(()) };
    if (u32::from(fw & 0x3FFF), u32::from(fh & 0x3FFF)) != (w, h) {
        return Err(damaged(SourceFormat::Webp, "the lossy frame's size differs from the image's"));
    }
    Ok(())
}

/// An animation frame: its size, then its sub-chunks (ALPH, VP8, VP8L);
/// a VP8 sub-chunk must be that size.
fn check_anmf(data: Option<&[u8]>) -> Result<(), ImageError> {
    let Some(d) = data else { return Ok(()) };
    let (Some(w), Some(h)) = (le24(d, 6), le24(d, 9)) else { return Ok(()) };
    match riff_chunks(d, 16).find(|(fourcc, ..)| fourcc == b"VP8 ") {
        Some((_, start, end)) => check_vp8_size(d.get(start..end), w + 1, h + 1),
        None => Ok(()),
    }
}

/// Orientation tag (0x0112) of IFD0 of a TIFF/EXIF block. Tolerates an
/// "Exif\0\0" prefix (some writers put it in PNG/WebP chunks too). Any
/// inconsistency gives `None` (= upright): a broken EXIF must not lose the photo.
pub fn orientation_from_tiff(tiff: &[u8]) -> Option<Orientation> {
    let t = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    let le = match t.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let r16 = |at: usize| if le { le16(t, at) } else { be16(t, at) };
    let r32 = |at: usize| if le { le32(t, at) } else { be32(t, at) };
    if r16(2)? != 42 {
        return None;
    }
    let ifd = r32(4)? as usize;
    let count = usize::from(r16(ifd)?);
    for i in 0..count {
        let entry = ifd.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        if r16(entry)? == 0x0112 {
            let typ = r16(entry + 2)?;
            let value = match typ {
                3 => r16(entry + 8)?,        // SHORT, value inline
                4 => r32(entry + 8)? as u16, // LONG (non-standard writers)
                _ => return None,
            };
            return Orientation::from_exif(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, SOF0 (16×16 grey), `scans` scans of a few data bytes, EOI.
    fn jpeg_with_scans(scans: usize, between: &[u8], data: &[u8]) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x11, 0]);
        for _ in 0..scans {
            j.extend_from_slice(between);
            j.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0]);
            j.extend_from_slice(data);
        }
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    fn too_many(r: Result<Header, ImageError>) -> bool {
        matches!(r, Err(ImageError::UnsupportedVariant { variant: Variant::TooManyScans, .. }))
    }

    #[test]
    fn too_many_scans_are_refused_before_decoding() {
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56]; // stuffed FF and a restart marker
        let ok = jpeg_with_scans(MAX_JPEG_SCANS, &[], &data);
        assert_eq!(read_header(&ok, SourceFormat::Jpeg).unwrap().width, 16);
        assert!(too_many(read_header(&jpeg_with_scans(MAX_JPEG_SCANS + 1, &[], &data), SourceFormat::Jpeg)));
        // Fuzzer's case: thousands of empty scans.
        assert!(too_many(read_header(&jpeg_with_scans(12_000, &[], &[0]), SourceFormat::Jpeg)));
        // Scans after the end of the image are never decoded: not counted.
        let mut after_eoi = jpeg_with_scans(2, &[], &data);
        after_eoi.extend_from_slice(&jpeg_with_scans(100, &[], &data)[15..]);
        assert!(read_header(&after_eoi, SourceFormat::Jpeg).is_ok());
    }

    #[test]
    fn scan_count_skips_segments_between_scans() {
        // A DHT/COM between scans whose bytes look like SOS markers.
        let mut com = vec![0xFF, 0xFE, 0, 2 + 40];
        com.extend(std::iter::repeat_n([0xFF, 0xDA], 20).flatten());
        let j = jpeg_with_scans(4, &com, &[1, 2, 3]);
        assert_eq!(scans(&j, 2 + 13 + com.len() + 2, &[1], 1000).scans.len(), 4);
        assert!(read_header(&j, SourceFormat::Jpeg).is_ok());
    }

    #[test]
    fn scans_are_read_with_the_length_of_their_data() {
        // Stuffed bytes and restart markers belong to the data; fill bytes
        // before a marker and a segment between scans do not.
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF];
        let com = [0xFF, 0xFE, 0, 4, 0xFF, 0xDA];
        let j = jpeg_with_scans(3, &com, &data);
        let frame = read_header(&j, SourceFormat::Jpeg).unwrap().jpeg.unwrap();
        assert_eq!(frame.ids, vec![1]);
        assert_eq!(frame.scans.len(), 3);
        for scan in &frame.scans {
            assert_eq!(*scan, JpegScan { comps: vec![0], ss: 0, se: 63, ah: 0, al: 0, data_bytes: 7 });
        }
        // A file that ends inside a scan: its data runs to the end.
        let cut = &j[..j.len() - 5];
        let frame = read_header(cut, SourceFormat::Jpeg).unwrap().jpeg.unwrap();
        assert_eq!(frame.scans.last().unwrap().data_bytes, 6);
        // A scan naming a component the frame does not have keeps the others.
        assert_eq!(sos(&[2, 1, 0, 9, 0, 0, 63, 0x10], &[1, 2]).comps, vec![0]);
        assert_eq!(sos(&[2, 1, 0, 9, 0, 0, 63, 0x10], &[1, 2]).ah, 1);
    }
}
