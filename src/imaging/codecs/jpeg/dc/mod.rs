//! JPEG at 1/8 scale from the DC coefficients alone.
//!
//! At 1/8 scale every 8×8 block becomes one pixel: its DC coefficient.
//!
//! * Sequential (baseline) JPEG: the AC coefficients must still be walked
//!   (Huffman codes have no index), but are not stored, dequantised or
//!   transformed; an AC code and its extra bits are skipped in one table
//!   lookup. This is the whole cost of a phone photo's decode. One MCU row
//!   of DC values is kept at a time and its rows go to the collector at
//!   once (memory grows with the width); once the collector has the crop
//!   square, only the entropy decoding goes on, so a damaged or truncated
//!   file is still noticed.
//! * Progressive JPEG: only the DC scans (first pass and refinements) are
//!   decoded, into one value per block; the AC scans are skipped to the next
//!   marker without decoding. Memory is 2 bytes per block instead of 128.
//!
//! It takes only the common case: 8-bit Huffman (SOF0/SOF1/SOF2),
//! grayscale or YCbCr (no Adobe APP14 transform, no RGB component ids),
//! sampling factors 1 or 2, restart markers allowed; a sequential file must
//! have one scan with all components. Anything else, and any anomaly in
//! the entropy data, returns `Ok(None)` and the caller uses `jpeg-decoder`
//! instead, which then decides what is an error; but a scan whose data
//! ends before its blocks do is refused here as damaged (a decoder would
//! read the rest from zero bits: the 150-byte 10000×10000 JPEG of issue
//! 12). Pixel values match `jpeg-decoder`'s 1/8 output: DC × quant / 8 +
//! 128 and JFIF YCbCr → RGB; chroma is replicated, where jpeg-decoder
//! interpolates it.
//!
//! [`check`] walks the entropy data of any frame jpeg-decoder takes, with
//! its rules, to prove every scan's data covers its blocks before
//! jpeg-decoder (which cannot be stopped) is called. Both charge the
//! upload's work counter per row of blocks.

mod bits;
mod check;
mod huffman;
mod scan;
mod setup;
mod stop;

use crate::imaging::colour::Layout;
use crate::imaging::decoding::{damaged, Plan};
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::resize::Region;
use crate::imaging::work::{cost, Work};
use scan::{progressive, sequential, Rows};
use setup::{icc_profile, Setup};
use stop::{OrDecline, Stop};

/// The error for a truncated scan.
fn truncated() -> ImageError {
    damaged(SourceFormat::Jpeg, "truncated: a scan's data ends before its blocks do")
}

/// Decodes at 1/8 scale into the collector made by `plan`. `Ok(None)`:
/// this file is not for this path (or its entropy data is odd); use the
/// general decoder, which then decides. A scan whose data runs out is
/// refused here, not handed on: jpeg-decoder would decode the rest of it
/// from zero bits. Once the collector has its rows only the entropy
/// decoding goes on, so a damaged or truncated file is still noticed.
pub(super) fn decode(bytes: &[u8], plan: &Plan<'_>) -> Result<Option<Region>, ImageError> {
    let made = run(bytes, (plan.width, plan.height), plan.work, |w, h, layout, icc| plan.collector(w, h, layout, icc));
    match made {
        Ok(collector) => Ok(collector.into_region()),
        Err(Stop::Decline) => Ok(None),
        Err(Stop::Truncated) => Err(truncated()),
        Err(Stop::Spent) => {
            Err(plan.work_refusal(SourceFormat::Jpeg, dc_path_units(bytes.len(), plan.width, plan.height)))
        }
    }
}

/// What a DC-only decode of a `w`×`h` frame of `bytes` would cost at most
/// (3 blocks a pixel of the 1/8 grid, every byte entropy-coded), for the
/// refusal's figures.
fn dc_path_units(bytes: usize, w: u32, h: u32) -> u64 {
    let (ow, oh) = (w.div_ceil(8), h.div_ceil(8));
    3 * u64::from(ow) * u64::from(oh) * cost::JPEG_DC_BLOCK
        + bytes as u64 * cost::JPEG_ENTROPY_BYTE
        + Plan::collector_units(ow, oh)
}

/// The decode proper: `make` gets the 1/8-scale size, layout and ICC
/// profile and returns the sink for the rows; errors as for [`decode`].
fn run<S: Rows>(
    bytes: &[u8],
    size: (u32, u32),
    work: &Work,
    make: impl FnOnce(u32, u32, Layout, Option<&[u8]>) -> S,
) -> Result<S, Stop> {
    if bytes.get(0..2) != Some(&[0xFF, 0xD8]) {
        return Err(Stop::Decline);
    }
    let mut s = Setup::new();
    let first = s.next_scan(bytes, 2).or_decline()?.or_decline()?;
    if (s.width as u32, s.height as u32) != size || !s.dc_path() {
        return Err(Stop::Decline);
    }
    let (out_w, out_h) = (s.width.div_ceil(8), s.height.div_ceil(8));
    let layout = if s.comps.len() == 1 { Layout::Gray } else { Layout::Rgb };
    let icc = icc_profile(std::mem::take(&mut s.icc));
    let sink = make(out_w as u32, out_h as u32, layout, icc.as_deref());
    if s.progressive {
        progressive(bytes, s, first, work, sink)
    } else {
        sequential(bytes, &s, &first, work, sink)
    }
}

/// Entropy-decodes every scan the way jpeg-decoder will, keeping nothing
/// but which coefficients are non-zero (a progressive refinement scan reads
/// a correction bit for each of those), to prove that every scan's data
/// covers its blocks before jpeg-decoder, which cannot be stopped once
/// called and reads zero bits past the end of a scan, decodes the file.
/// `Ok(true)`: every scan's data covers its blocks. `Ok(false)`: something
/// this walk does not follow (a table or code it does not take, a restart
/// marker out of place), so nothing is proven and jpeg-decoder decides.
/// Charges its own work; `whole` (the cost of the decode it precedes) names
/// a refusal.
pub(super) fn check(bytes: &[u8], plan: &Plan<'_>, whole: u64) -> Result<bool, ImageError> {
    match check::walk(bytes, plan.work) {
        Ok(()) => Ok(true),
        Err(Stop::Decline) => Ok(false),
        Err(Stop::Truncated) => Err(truncated()),
        Err(Stop::Spent) => Err(plan.work_refusal(SourceFormat::Jpeg, whole)),
    }
}

#[cfg(test)]
mod tests {
    use super::check::walk;
    use super::*;
    use crate::imaging::work::Spent;
    use std::io::Cursor;

    /// Rows collected into one buffer.
    struct Buffer {
        w: u32,
        h: u32,
        ch: usize,
        px: Vec<u8>,
    }

    impl Rows for Buffer {
        fn push_row(&mut self, row: &[u8]) -> Result<(), Spent> {
            self.px.extend_from_slice(row);
            Ok(())
        }
        fn done(&self) -> bool {
            false
        }
    }

    /// The header's size ((0, 0) when jpeg-decoder cannot read it).
    fn dims(bytes: &[u8]) -> (u32, u32) {
        let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        match (d.read_info(), d.info()) {
            (Ok(()), Some(i)) => (u32::from(i.width), u32::from(i.height)),
            _ => (0, 0),
        }
    }

    fn buffer(w: u32, h: u32, layout: Layout, _icc: Option<&[u8]>) -> Buffer {
        Buffer { w, h, ch: layout.channels(), px: Vec::new() }
    }

    fn unlimited() -> Work {
        Work::with_budget(u64::MAX, 0)
    }

    fn ours(bytes: &[u8]) -> Result<Buffer, Stop> {
        run(bytes, dims(bytes), &unlimited(), buffer)
    }

    /// jpeg-decoder at 1/8 scale: (w, h, channels, pixels).
    fn reference(bytes: &[u8]) -> (u32, u32, usize, Vec<u8>) {
        let (w, h) = dims(bytes);
        let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        d.scale(w.div_ceil(8) as u16, h.div_ceil(8) as u16).unwrap();
        let px = d.decode().unwrap();
        let i = d.info().unwrap();
        let ch = px.len() / (usize::from(i.width) * usize::from(i.height));
        (u32::from(i.width), u32::from(i.height), ch, px)
    }

    /// Largest and mean absolute difference of two pixel buffers.
    fn diff(a: &[u8], b: &[u8]) -> (u8, f64) {
        let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        let sum: u64 = a.iter().zip(b).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
        (max, sum as f64 / a.len().max(1) as f64)
    }

    /// A photo-like RGB image encoded by `image` (4:2:0 at quality 90).
    fn synthetic(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            let n = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 23;
            image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, ((x + y) % 200) as u8 + n as u8])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
        out
    }

    /// BT.601 luma of RGB pixels.
    fn luma(px: &[u8]) -> Vec<u8> {
        px.chunks_exact(3)
            .map(|c| ((299 * u32::from(c[0]) + 587 * u32::from(c[1]) + 114 * u32::from(c[2])) / 1000) as u8)
            .collect()
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn matches_jpeg_decoder_at_one_eighth() {
        let mut files: Vec<(String, Vec<u8>)> =
            ["jpeg_baseline.jpg", "jpeg_gray.jpg", "orient-6.jpg", "jpeg_displayp3.jpg", "jpeg_progressive.jpg"]
                .iter()
                .map(|n| (n.to_string(), fixture(n)))
                .collect();
        for name in ["restart_420.jpg", "restart_444.jpg", "q_progressive.jpg"] {
            let path = format!("{}/tests/fixtures-native/{name}", env!("CARGO_MANIFEST_DIR"));
            files.push((name.into(), std::fs::read(path).unwrap()));
        }
        files.push(("synthetic 803×611".into(), synthetic(803, 611)));
        files.push(("synthetic 64×8".into(), synthetic(64, 8)));
        for (name, bytes) in &files {
            let got = ours(bytes).unwrap_or_else(|e| panic!("{name}: DC path stopped: {e:?}"));
            let (w, h, ch, want) = reference(bytes);
            assert_eq!((got.w, got.h, got.ch), (w, h, ch), "{name}: geometry");
            assert_eq!(got.px.len(), want.len(), "{name}: pixel count");
            let (max, mean) = diff(&got.px, &want);
            // Same DC values; chroma is replicated here but interpolated by
            // jpeg-decoder's fancy upsampling, and the RGB rounding differs.
            // A decoding bug (tables, restarts, block order, DC scans) shows
            // as errors of tens of levels over whole areas. Luma is the DC
            // values themselves: equal but for the RGB rounding.
            assert!(mean < 3.0 && max <= 40, "{name}: max {max}, mean {mean:.2}");
            if ch == 3 {
                let (lmax, lmean) = diff(&luma(&got.px), &luma(&want));
                assert!(lmean < 1.0 && lmax <= 8, "{name}: luma max {lmax}, mean {lmean:.2}");
            }
        }
    }

    #[test]
    fn grayscale_is_exact() {
        let bytes = fixture("jpeg_gray.jpg");
        let got = ours(&bytes).unwrap();
        let (_, _, ch, want) = reference(&bytes);
        assert_eq!((got.ch, ch), (1, 1));
        assert_eq!(got.px, want, "DC values must be jpeg-decoder's exactly");
    }

    #[test]
    fn full_chroma_with_restart_markers_is_exact_but_for_rounding() {
        // 4:4:4 needs no upsampling: only the YCbCr → RGB rounding may differ.
        let path = format!("{}/tests/fixtures-native/restart_444.jpg", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.windows(2).any(|w| w == [0xFF, 0xDD]), "fixture has DRI");
        let got = ours(&bytes).expect("DC path takes it");
        let (_, _, _, want) = reference(&bytes);
        assert!(diff(&got.px, &want).0 <= 1, "{:?}", diff(&got.px, &want));
    }

    #[test]
    fn declines_what_it_does_not_handle() {
        for name in ["jpeg_cmyk.jpg", "empty.jpg"] {
            assert_eq!(ours(&fixture(name)).err(), Some(Stop::Decline), "{name} must go to jpeg-decoder");
        }
    }

    #[test]
    fn truncated_entropy_data_is_refused_not_handed_on() {
        // jpeg-decoder would decode the missing blocks from zero bits.
        let bytes = synthetic(320, 240);
        let cut = &bytes[..bytes.len() * 2 / 3];
        assert_eq!(ours(cut).err(), Some(Stop::Truncated));
        assert_eq!(ours(&fixture("truncated.jpg")).err(), Some(Stop::Truncated));
        assert!(ours(&bytes).is_ok());
    }

    #[test]
    fn missing_restart_markers_are_declined() {
        // A DRI segment whose RSTn markers are not in the data.
        let bytes = synthetic(160, 120);
        let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let mut with_dri = bytes[..sos].to_vec();
        with_dri.extend_from_slice(&[0xFF, 0xDD, 0x00, 0x04, 0x00, 0x02]);
        with_dri.extend_from_slice(&bytes[sos..]);
        // No RST markers in the data: the first restart check fails.
        assert_eq!(ours(&with_dri).err(), Some(Stop::Decline));
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let progressive =
            std::fs::read(format!("{}/tests/fixtures-native/q_progressive.jpg", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for bytes in [synthetic(96, 64), progressive] {
            let size = dims(&bytes);
            // Every single-byte corruption of the headers and of the first
            // bytes of every scan, then every cut.
            let scans: Vec<usize> =
                bytes.windows(2).enumerate().filter(|(_, w)| *w == [0xFF, 0xDA]).map(|(i, _)| i).collect();
            let last = scans.last().copied().unwrap_or(0);
            let spots: Vec<usize> =
                (0..last.min(bytes.len())).chain(scans.iter().flat_map(|&s| s..(s + 40).min(bytes.len()))).collect();
            for &i in &spots {
                for v in [0x00, 0x01, 0x0F, 0x10, 0x7F, 0xC2, 0xDA, 0xFF] {
                    let mut b = bytes.clone();
                    b[i] = v;
                    let _ = run(&b, size, &unlimited(), buffer);
                    let _ = walk(&b, &unlimited());
                }
            }
            for cut in 0..bytes.len() {
                let r = run(&bytes[..cut], size, &unlimited(), buffer);
                assert!(r.is_err(), "a file cut at {cut} of {} was taken", bytes.len());
                assert!(
                    walk(&bytes[..cut], &unlimited()).is_err(),
                    "the check passed a file cut at {cut} of {}",
                    bytes.len()
                );
            }
        }
    }
}
