//! A JPEG file's marker structure, walked by one set of rules wherever it
//! is walked: the header reader (`frame.rs`), the DC-only decoder and the
//! check before jpeg-decoder (`dc`).
//!
//! A marker is `0xFF`, any number of fill `0xFF` bytes, then its code.
//! Most markers start a segment: a big-endian length (counting itself)
//! and a body. SOI, EOI, TEM and RSTn stand alone. After a scan's segment
//! (SOS) comes its entropy-coded data, in which `0xFF` is followed by a
//! stuffed `0x00` or a restart marker; the next other marker ends it.
//!
//! What to do with a walk that goes wrong (a stray byte where a marker
//! should be, a segment cut short) is each reader's own: the header
//! reader refuses the file, the DC-only decoder hands it to jpeg-decoder,
//! and the scan count reads on as far as it can, so that no scan hides
//! behind a broken segment.

use crate::imaging::bytes::be16;

/// Start of image.
pub(crate) const SOI: u8 = 0xD8;
/// End of image.
pub(crate) const EOI: u8 = 0xD9;
/// Start of scan.
pub(crate) const SOS: u8 = 0xDA;
/// Huffman tables.
pub(crate) const DHT: u8 = 0xC4;
/// Quantisation tables.
pub(crate) const DQT: u8 = 0xDB;
/// Restart interval.
pub(crate) const DRI: u8 = 0xDD;
/// Baseline sequential frame (Huffman).
pub(crate) const SOF0: u8 = 0xC0;
/// Progressive frame (Huffman).
pub(crate) const SOF2: u8 = 0xC2;
/// APP1 (EXIF), APP2 (ICC profile chunks), APP14 (Adobe).
pub(crate) const APP1: u8 = 0xE1;
pub(crate) const APP2: u8 = 0xE2;
pub(crate) const APP14: u8 = 0xEE;

/// Whether a marker stands alone (no length, no body): TEM, RSTn, SOI.
/// EOI does too, and ends the walk.
pub(crate) fn stands_alone(code: u8) -> bool {
    matches!(code, 0x01 | 0xD0..=SOI)
}

/// A marker found in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Marker {
    pub code: u8,
    /// Where its `0xFF` bytes start (the end of whatever came before).
    pub start: usize,
    /// Just after its code: a segment's length field.
    pub next: usize,
}

/// A marker segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment<'a> {
    /// What follows the length field.
    pub body: &'a [u8],
    /// Just after the segment: the next marker, or a scan's data.
    pub end: usize,
}

/// Why a walk could not go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Broken {
    /// No `0xFF` where a marker should start.
    NoMarker,
    /// The file ends in the `0xFF` bytes before a code.
    CutBeforeCode,
    /// The file ends before a segment's length.
    NoLength,
    /// A length under 2 (it counts its own two bytes).
    ShortLength,
    /// The file ends inside a segment.
    CutSegment,
}

impl Broken {
    /// What went wrong, for the log.
    pub(crate) fn detail(self) -> &'static str {
        match self {
            Broken::NoMarker => "expected a marker",
            Broken::CutBeforeCode => "truncated before the image data",
            Broken::NoLength => "truncated segment length",
            Broken::ShortLength => "segment length < 2",
            Broken::CutSegment => "truncated segment",
        }
    }
}

/// The marker at `pos`, which must be its first `0xFF`.
pub(crate) fn marker_at(b: &[u8], pos: usize) -> Result<Marker, Broken> {
    if b.get(pos) != Some(&0xFF) {
        return Err(Broken::NoMarker);
    }
    let mut p = pos;
    while b.get(p) == Some(&0xFF) {
        p += 1;
    }
    let code = *b.get(p).ok_or(Broken::CutBeforeCode)?;
    Ok(Marker { code, start: pos, next: p + 1 })
}

/// The segment that marker `m` starts.
pub(crate) fn segment(b: &[u8], m: Marker) -> Result<Segment<'_>, Broken> {
    let len = usize::from(be16(b, m.next).ok_or(Broken::NoLength)?);
    if len < 2 {
        return Err(Broken::ShortLength);
    }
    let body = b.get(m.next + 2..m.next + len).ok_or(Broken::CutSegment)?;
    Ok(Segment { body, end: m.next + len })
}

/// The segment that marker `m` starts, read on regardless: a length under
/// 2 is taken as 2, a body cut by the end of the file as empty. `None`
/// only when the file ends before the length.
pub(crate) fn segment_read_on(b: &[u8], m: Marker) -> Option<Segment<'_>> {
    let len = usize::from(be16(b, m.next)?.max(2));
    let body = b.get(m.next + 2..m.next + len).unwrap_or(&[]);
    Some(Segment { body, end: m.next + len })
}

/// How entropy-coded data ran to the end of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataEnd {
    /// No marker after it: the data runs to the end.
    NoMarker,
    /// The file ends in `0xFF` bytes after it.
    CutInFill,
}

/// The marker after the entropy-coded data that starts at `from` (stuffed
/// bytes and restart markers belong to the data). Its `start` is where
/// the data ends.
pub(crate) fn marker_after_data(b: &[u8], from: usize) -> Result<Marker, DataEnd> {
    let mut pos = from;
    loop {
        let Some(i) = b.get(pos..).and_then(|rest| memchr::memchr(0xFF, rest)) else {
            return Err(DataEnd::NoMarker);
        };
        let at = pos + i;
        pos = at + 1;
        while b.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&code) = b.get(pos) else { return Err(DataEnd::CutInFill) };
        pos += 1;
        if !matches!(code, 0x00 | 0xD0..=0xD7) {
            return Ok(Marker { code, start: at, next: pos });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_skip_fill_bytes_and_segments_have_their_length() {
        let b = [0xFF, 0xFF, 0xFF, 0xE1, 0, 4, 7, 8, 0xFF, 0xD9];
        let m = marker_at(&b, 0).unwrap();
        assert_eq!(m, Marker { code: APP1, start: 0, next: 4 });
        assert_eq!(segment(&b, m), Ok(Segment { body: &[7, 8], end: 8 }));
        assert_eq!(marker_at(&b, 8).unwrap().code, EOI);
        assert_eq!(marker_at(&b, 6), Err(Broken::NoMarker));
        assert_eq!(marker_at(&[0xFF, 0xFF], 0), Err(Broken::CutBeforeCode));
        // Lengths under 2 and cut bodies: refused, or read on.
        let short = [0xFF, 0xFE, 0, 1, 9];
        let m = marker_at(&short, 0).unwrap();
        assert_eq!(segment(&short, m), Err(Broken::ShortLength));
        assert_eq!(segment_read_on(&short, m), Some(Segment { body: &[], end: 4 }));
        let cut = [0xFF, 0xFE, 0, 9, 1, 2];
        let m = marker_at(&cut, 0).unwrap();
        assert_eq!(segment(&cut, m), Err(Broken::CutSegment));
        assert_eq!(segment_read_on(&cut, m), Some(Segment { body: &[], end: 11 }));
        assert_eq!(segment(&cut[..3], m), Err(Broken::NoLength));
        assert_eq!(segment_read_on(&cut[..3], m), None);
        assert!(stands_alone(0xD3) && stands_alone(SOI) && stands_alone(0x01));
        assert!(!stands_alone(EOI) && !stands_alone(SOS));
    }

    #[test]
    fn entropy_coded_data_ends_at_the_first_other_marker() {
        // Stuffed 0xFF, a restart marker and fill bytes are data; the
        // marker's fill bytes are not.
        let b = [1, 0xFF, 0x00, 2, 0xFF, 0xD3, 3, 0xFF, 0xFF, 0x00, 4, 0xFF, 0xFF, 0xD9];
        assert_eq!(marker_after_data(&b, 0), Ok(Marker { code: EOI, start: 11, next: 14 }));
        assert_eq!(marker_after_data(&b[..11], 0), Err(DataEnd::NoMarker));
        assert_eq!(marker_after_data(&b[..13], 0), Err(DataEnd::CutInFill));
        assert_eq!(marker_after_data(&b, 20), Err(DataEnd::NoMarker));
    }
}
