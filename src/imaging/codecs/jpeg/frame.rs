//! A JPEG's frame and scans, read from its marker segments before any
//! decoder runs: the size, the EXIF orientation, the components'
//! sampling, the ICC chunks' bytes, and every scan up to the end of the
//! image with the length of its entropy-coded data (what the memory
//! estimate, the scale choice and the work budget are computed from).
//!
//! Every read is bounds-checked; a short or inconsistent header is
//! [`ImageError::Damaged`].

use super::markers::{
    marker_after_data, marker_at, segment, segment_read_on, stands_alone, Broken, DataEnd, Marker, APP1, APP2, EOI,
    SOF0, SOF2, SOS,
};
use crate::imaging::bytes::be16;
use crate::imaging::decoding::{damaged, Header};
use crate::imaging::error::{ImageError, Variant};
use crate::imaging::format::SourceFormat;
use crate::imaging::orient::{orientation_in_exif, Orientation};

const F: SourceFormat = SourceFormat::Jpeg;

/// Most scans (SOS segments) a JPEG may have. The decoder walks every
/// block of the scan's components once per scan, so a file of tiny scans
/// repeated thousands of times costs minutes of CPU (found by fuzzing,
/// docs/fuzzing.md). Encoders write 1 to 4 scans (baseline) or about 10
/// (progressive: libjpeg's default script; mozjpeg a few more).
pub const MAX_JPEG_SCANS: usize = 64;

/// The SOF segment of a JPEG, and its scans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
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
    pub scans: Vec<Scan>,
}

/// One scan (SOS) of a JPEG: what it codes and how many bytes of
/// entropy-coded data follow its header (up to the next marker other than
/// RSTn; stuffed bytes and restart markers included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scan {
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

/// Walks the marker segments up to the first scan: APP1 Exif gives the
/// orientation, SOFn the size and layout; then the scans.
pub(crate) fn read(b: &[u8]) -> Result<(Header, Frame), ImageError> {
    let mut pos = 2usize; // after SOI
    let mut orientation = Orientation::NoTransforms;
    let mut frame: Option<(u32, u32, Frame)> = None;
    let mut icc_bytes = 0u64;
    let broken = |e: Broken| damaged(F, e.detail());
    loop {
        let m = marker_at(b, pos).map_err(broken)?;
        if stands_alone(m.code) {
            pos = m.next;
            continue;
        }
        if m.code == EOI {
            return Err(damaged(F, "end of image before any image data"));
        }
        let segment = segment(b, m).map_err(broken)?;
        let body = segment.body;
        match m.code {
            APP1 if body.starts_with(b"Exif\0\0") => {
                if let Some(o) = body.get(6..).and_then(orientation_in_exif) {
                    orientation = o;
                }
            }
            APP2 => icc_bytes += icc_chunk_bytes(body),
            SOF0..=SOF2 => {
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
                let progressive = m.code == SOF2;
                let jf = Frame { progressive, sampling, ids, icc_bytes: 0, scans: Vec::new() };
                frame = Some((u32::from(width), u32::from(height), jf));
            }
            0xC3 | 0xC5..=0xC7 => {
                return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::LosslessOrHierarchical })
            }
            0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::ArithmeticCoding })
            }
            SOS => {
                // Start of scan: everything we need comes before it.
                let (width, height, mut jf) = frame.ok_or_else(|| damaged(F, "scan before frame header"))?;
                let rest = scans(b, m, &jf.ids, MAX_JPEG_SCANS + 1);
                if rest.scans.len() > MAX_JPEG_SCANS {
                    return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::TooManyScans });
                }
                jf.icc_bytes = icc_bytes + rest.icc_bytes;
                jf.scans = rest.scans;
                return Ok((Header { width, height, orientation }, jf));
            }
            _ => {}
        }
        pos = segment.end;
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
    scans: Vec<Scan>,
    icc_bytes: u64,
}

/// Walks from the first SOS (`first`) to the end of the image, reading
/// at most `max` scans (`ids`: the frame's component ids). Entropy-coded
/// data is skipped to the next marker and its length recorded in its
/// scan; other segments between scans (DHT, DQT, ...) are skipped by their
/// length, so bytes inside them are not mistaken for markers. A broken
/// segment is read on ([`segment_read_on`]): no scan hides behind it.
fn scans(b: &[u8], first: Marker, ids: &[u8], max: usize) -> Rest {
    let mut rest = Rest { scans: Vec::new(), icc_bytes: 0 };
    let mut marker = first;
    loop {
        let mut data_start = None;
        let mut pos = marker.next;
        if !stands_alone(marker.code) {
            let Some(segment) = segment_read_on(b, marker) else { return rest };
            match marker.code {
                APP2 => rest.icc_bytes += icc_chunk_bytes(segment.body),
                SOS => {
                    rest.scans.push(sos(segment.body, ids));
                    if rest.scans.len() >= max {
                        return rest;
                    }
                    data_start = Some(segment.end);
                }
                _ => {}
            }
            pos = segment.end;
        }
        let (data_end, next) = match marker_after_data(b, pos) {
            Ok(next) => (next.start, Some(next)),
            Err(DataEnd::NoMarker) => (b.len(), None),
            // A file cut in the fill bytes after a scan: its length is not
            // known (0; the length check refuses it).
            Err(DataEnd::CutInFill) => return rest,
        };
        if let (Some(start), Some(scan)) = (data_start, rest.scans.last_mut()) {
            scan.data_bytes = data_end.saturating_sub(start) as u64;
        }
        match next {
            Some(next) if next.code != EOI => marker = next,
            _ => return rest,
        }
    }
}

/// A scan from its SOS segment's body (after the length).
fn sos(body: &[u8], ids: &[u8]) -> Scan {
    let ns = usize::from(body.first().copied().unwrap_or(0));
    let comps = (0..ns).filter_map(|i| body.get(1 + 2 * i)).filter_map(|id| ids.iter().position(|c| c == id)).collect();
    let p = body.get(1 + 2 * ns..4 + 2 * ns).unwrap_or(&[0, 0, 0]);
    Scan { comps, ss: p[0], se: p[1], ah: p[2] >> 4, al: p[2] & 15, data_bytes: 0 }
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

    fn too_many(r: Result<(Header, Frame), ImageError>) -> bool {
        matches!(r, Err(ImageError::UnsupportedVariant { variant: Variant::TooManyScans, .. }))
    }

    #[test]
    fn too_many_scans_are_refused_before_decoding() {
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56]; // stuffed FF and a restart marker
        let ok = jpeg_with_scans(MAX_JPEG_SCANS, &[], &data);
        assert_eq!(read(&ok).unwrap().0.width, 16);
        assert!(too_many(read(&jpeg_with_scans(MAX_JPEG_SCANS + 1, &[], &data))));
        // Fuzzer's case: thousands of empty scans.
        assert!(too_many(read(&jpeg_with_scans(12_000, &[], &[0]))));
        // Scans after the end of the image are never decoded: not counted.
        let mut after_eoi = jpeg_with_scans(2, &[], &data);
        after_eoi.extend_from_slice(&jpeg_with_scans(100, &[], &data)[15..]);
        assert!(read(&after_eoi).is_ok());
    }

    #[test]
    fn scan_count_skips_segments_between_scans() {
        // A DHT/COM between scans whose bytes look like SOS markers.
        let mut com = vec![0xFF, 0xFE, 0, 2 + 40];
        com.extend(std::iter::repeat_n([0xFF, 0xDA], 20).flatten());
        let j = jpeg_with_scans(4, &com, &[1, 2, 3]);
        let first = marker_at(&j, 2 + 13 + com.len()).unwrap();
        assert_eq!(scans(&j, first, &[1], 1000).scans.len(), 4);
        assert!(read(&j).is_ok());
    }

    #[test]
    fn scans_are_read_with_the_length_of_their_data() {
        // Stuffed bytes and restart markers belong to the data; fill bytes
        // before a marker and a segment between scans do not.
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF];
        let com = [0xFF, 0xFE, 0, 4, 0xFF, 0xDA];
        let j = jpeg_with_scans(3, &com, &data);
        let frame = read(&j).unwrap().1;
        assert_eq!(frame.ids, vec![1]);
        assert_eq!(frame.scans.len(), 3);
        for scan in &frame.scans {
            assert_eq!(*scan, Scan { comps: vec![0], ss: 0, se: 63, ah: 0, al: 0, data_bytes: 7 });
        }
        // A file that ends inside a scan: its data runs to the end.
        let cut = &j[..j.len() - 5];
        let frame = read(cut).unwrap().1;
        assert_eq!(frame.scans.last().unwrap().data_bytes, 6);
        // A scan naming a component the frame does not have keeps the others.
        assert_eq!(sos(&[2, 1, 0, 9, 0, 0, 63, 0x10], &[1, 2]).comps, vec![0]);
        assert_eq!(sos(&[2, 1, 0, 9, 0, 0, 63, 0x10], &[1, 2]).ah, 1);
    }
}
