//! Our own JPEG decoder for the common files, at reduced scales and at
//! full size, in one pass over the entropy-coded data with its work
//! counted as it goes.
//!
//! * 1/8 scale ([`decode_dc`]): every 8×8 block becomes one pixel, its DC
//!   coefficient. Sequential (baseline) JPEG: the AC coefficients must
//!   still be walked (Huffman codes have no index), but are not stored,
//!   dequantised or transformed; an AC code and its extra bits are skipped
//!   in one table lookup. One MCU row of DC values is kept at a time.
//!   Progressive JPEG: only the DC scans (first pass and refinements) are
//!   decoded, into one value per block; the AC scans are skipped to the
//!   next marker without decoding. Memory is 2 bytes per block instead of
//!   128. Pixel values match `jpeg-decoder`'s 1/8 output: DC × quant / 8 +
//!   128; chroma is replicated, where jpeg-decoder interpolates it.
//! * 1/4, 1/2 and full scale ([`decode_reduced`]): each block's top-left
//!   2×2 or 4×4 coefficients are decoded and transformed with
//!   jpeg-decoder's reduced IDCTs, the others read past as at 1/8; at full
//!   size all 64, with its SIMD 8×8 transform's arithmetic (`idct8`);
//!   chroma is upsampled and converted as jpeg-decoder does, so the pixels
//!   are its pixels.
//!   Sequential JPEG one MCU row at a time (`reduced`); progressive JPEG
//!   (`progressive`) scan by scan into the kept coefficients of every
//!   block plus a mask of its non-zero ones, the rows made at the end.
//!
//! Both take only the common case: 8-bit Huffman (SOF0/SOF1/SOF2),
//! grayscale or YCbCr (no Adobe APP14 transform, no RGB component ids),
//! sampling factors 1 or 2, restart markers allowed; a sequential file
//! must have one scan with all components. Anything else, and any
//! anomaly in the entropy data, returns `Ok(None)` and the caller uses
//! `jpeg-decoder` instead, which then decides what is an error; but a
//! scan whose data ends before its blocks do is refused here as damaged
//! (a decoder would read the rest from zero bits: the 150-byte
//! 10000×10000 JPEG of issue 12). Once the collector has the crop square,
//! only the entropy decoding goes on, so a damaged or truncated file is
//! still noticed.
//!
//! [`check`] walks the entropy data of any frame jpeg-decoder takes, with
//! its rules, to prove every scan's data covers its blocks before
//! jpeg-decoder (which cannot be stopped) is called. All of them charge
//! the upload's work counter per row of blocks.

mod bits;
mod check;
mod colour;
#[cfg(feature = "test-hooks")]
pub(crate) use colour::kernel_self_check;
mod dc;
mod huffman;
mod idct;
mod idct8;
#[cfg(feature = "test-hooks")]
pub(crate) use idct::idct4_self_check;
#[cfg(feature = "test-hooks")]
pub(crate) use idct8::idct_self_check;
#[cfg(feature = "test-hooks")]
pub(crate) use upsample::stretch_self_check;
mod progressive;

#[cfg(any(test, feature = "test-hooks"))]
use crate::imaging::xorshift;
mod reduced;
mod setup;
mod stop;
mod upsample;

use super::decode::icc_estimate;
use super::frame::Frame;
use crate::imaging::colour::Layout;
use crate::imaging::decoding::{damaged, Plan};
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::resize::{Collector, Region};
use crate::imaging::work::{cost, Spent, Work};
use dc::{progressive, sequential};
use reduced::Output;
use setup::{icc_profile, Setup};
use std::ops::Range;
use stop::{OrDecline, Stop};

/// Where the decoded rows go: the resize collector, or a test's buffer.
pub(super) trait Rows {
    fn push_row(&mut self, row: &[u8]) -> Result<(), Spent>;
    fn done(&self) -> bool;
    /// The rows that are used; the others may be handed on unmade.
    fn rows(&self) -> Range<usize>;
    /// The columns of a row that are used; the others need not be made.
    fn columns(&self) -> Range<usize>;
}

impl Rows for Collector<'_> {
    fn push_row(&mut self, row: &[u8]) -> Result<(), Spent> {
        Collector::push_row(self, row)
    }
    fn done(&self) -> bool {
        Collector::done(self)
    }
    fn columns(&self) -> Range<usize> {
        Collector::columns(self)
    }
    fn rows(&self) -> Range<usize> {
        Collector::rows(self)
    }
}

/// The most our decoder holds at scale `n`/8 (2, 4 or 8) for `frame`, a
/// `w`×`h` JPEG: each component's plane (n² samples a block) over the
/// MCU-padded block grid's width and the MCU rows it keeps
/// ([`reduced::HELD_MCU_ROWS`]), for a progressive frame each block's
/// coefficients too ([`progressive::block_bytes`]); a row of each plane
/// stretched and of the output, and the ICC profile as jpeg-decoder's
/// estimate counts it. Not the whole image in RGB, which jpeg-decoder
/// holds: rows go to the collector as they are made. The Huffman tables
/// are in the pipeline's slack.
pub(super) fn memory_need(w: u32, h: u32, frame: &Frame, n: u32) -> u64 {
    let hmax = u64::from(frame.sampling.iter().map(|s| s.0).max().unwrap_or(1));
    let vmax = u64::from(frame.sampling.iter().map(|s| s.1).max().unwrap_or(1));
    let (mcus_x, mcus_y) = (u64::from(w).div_ceil(8 * hmax), u64::from(h).div_ceil(8 * vmax));
    let blocks_per_mcu_row: u64 = frame.sampling.iter().map(|&(hs, vs)| mcus_x * u64::from(hs) * u64::from(vs)).sum();
    let n = u64::from(n);
    let held_mcu_rows = mcus_y.min(reduced::HELD_MCU_ROWS as u64);
    let coefficients =
        if frame.progressive { blocks_per_mcu_row * mcus_y * progressive::block_bytes(n as usize) as u64 } else { 0 };
    let comps = frame.sampling.len() as u64;
    let rows = 3 * comps * (u64::from(w) * n).div_ceil(8) + 3 * comps;
    blocks_per_mcu_row * held_mcu_rows * n * n + coefficients + rows + icc_estimate(frame.icc_bytes)
}

/// The error for a truncated scan.
fn truncated() -> ImageError {
    damaged(SourceFormat::Jpeg, "truncated: a scan's data ends before its blocks do")
}

/// Decodes at 1/8 scale into the collector made by `plan`. `Ok(None)`:
/// this file is not for this path (or its entropy data is odd); use the
/// general decoder, which then decides. A scan whose data runs out is
/// refused here, not handed on: jpeg-decoder would decode the rest of it
/// from zero bits.
pub(super) fn decode_dc(bytes: &[u8], plan: &Plan<'_>) -> Result<Option<Region>, ImageError> {
    let refusal = || dc_path_units(bytes.len(), plan.width, plan.height);
    decode_into_plan(bytes, plan, 1, refusal)
}

/// Decodes a file at scale `n`/8 (2: 1/4, 4: 1/2, 8: full size) into the
/// collector made by `plan`; `Ok(None)` and refusals as [`decode_dc`].
/// `whole`: what the decode would cost at most, to name a refusal.
pub(super) fn decode_reduced(bytes: &[u8], plan: &Plan<'_>, n: u32, whole: u64) -> Result<Option<Region>, ImageError> {
    decode_into_plan(bytes, plan, n as usize, || whole)
}

fn decode_into_plan(
    bytes: &[u8],
    plan: &Plan<'_>,
    n: usize,
    whole: impl FnOnce() -> u64,
) -> Result<Option<Region>, ImageError> {
    let make = |w, h, layout, icc: Option<&[u8]>| super::collector(plan, w, h, layout, icc);
    match run(bytes, (plan.width, plan.height), n, Output::Rgb, plan.work, make) {
        Ok(collector) => Ok(collector.into_region()),
        Err(Stop::Decline) => Ok(None),
        Err(Stop::Truncated) => Err(truncated()),
        Err(Stop::Spent) => Err(plan.work_refusal(SourceFormat::Jpeg, whole())),
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

/// The decode proper at scale `n`/8: `make` gets the decoded size, layout
/// and ICC profile and returns the sink for the rows; errors as for
/// [`decode_dc`].
fn run<S: Rows>(
    bytes: &[u8],
    size: (u32, u32),
    n: usize,
    output: Output,
    work: &Work,
    make: impl FnOnce(u32, u32, Layout, Option<&[u8]>) -> S,
) -> Result<S, Stop> {
    if bytes.get(0..2) != Some(&[0xFF, 0xD8]) {
        return Err(Stop::Decline);
    }
    let mut s = Setup::new();
    let first = s.next_scan(bytes, 2).or_decline()?.or_decline()?;
    if (s.width as u32, s.height as u32) != size || !s.supported() {
        return Err(Stop::Decline);
    }
    let (out_w, out_h) = ((s.width * n).div_ceil(8), (s.height * n).div_ceil(8));
    let layout = if s.comps.len() == 1 { Layout::Gray } else { Layout::Rgb };
    let icc = icc_profile(std::mem::take(&mut s.icc));
    let sink = make(out_w as u32, out_h as u32, layout, icc.as_deref());
    match (n, s.progressive) {
        (1, true) => progressive(bytes, s, first, work, sink),
        (1, false) => sequential(bytes, &s, &first, work, sink),
        (_, true) => progressive::progressive(bytes, s, first, n, output, work, sink),
        (_, false) => reduced::sequential(bytes, &s, &first, n, output, work, sink),
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
pub(super) mod tests {
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
        fn columns(&self) -> Range<usize> {
            0..usize::MAX
        }
        fn rows(&self) -> Range<usize> {
            0..usize::MAX
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
        run(bytes, dims(bytes), 1, Output::Rgb, &unlimited(), buffer)
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
                    let _ = run(&b, size, 1, Output::Rgb, &unlimited(), buffer);
                    let _ = walk(&b, &unlimited());
                }
            }
            for cut in 0..bytes.len() {
                let r = run(&bytes[..cut], size, 1, Output::Rgb, &unlimited(), buffer);
                assert!(r.is_err(), "a file cut at {cut} of {} was taken", bytes.len());
                assert!(
                    walk(&bytes[..cut], &unlimited()).is_err(),
                    "the check passed a file cut at {cut} of {}",
                    bytes.len()
                );
            }
        }
    }

    /// Noise over gradients (AC coefficients in every block), encoded by
    /// `jpeg-encoder` with the given sampling (luma factors; `None`: gray),
    /// restart interval and quality.
    pub(in crate::imaging::codecs::jpeg) fn encoded(
        w: u16,
        h: u16,
        sampling: Option<(u8, u8)>,
        restart: u16,
        quality: u8,
    ) -> Vec<u8> {
        use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
        let (w32, h32) = (u32::from(w), u32::from(h));
        let mut seed = 0x1234_5678u32 ^ w32 ^ (h32 << 16);
        let mut rgb = Vec::new();
        for y in 0..h32 {
            for x in 0..w32 {
                let n = super::xorshift(&mut seed) % 41;
                rgb.extend([
                    ((x * 230 / w32.max(1)) + n) as u8,
                    ((y * 230 / h32.max(1)) + (n ^ 17) % 25) as u8,
                    (((x + 3 * y) % 200) + n / 2) as u8,
                ]);
            }
        }
        let mut out = Vec::new();
        let mut enc = Encoder::new(&mut out, quality);
        if restart > 0 {
            enc.set_restart_interval(restart);
        }
        match sampling {
            Some((sh, sv)) => {
                enc.set_sampling_factor(SamplingFactor::from_factors(sh, sv).unwrap());
                enc.encode(&rgb, w, h, ColorType::Rgb).unwrap();
            }
            None => {
                let gray: Vec<u8> = rgb.chunks(3).map(|p| p[1]).collect();
                enc.encode(&gray, w, h, ColorType::Luma).unwrap();
            }
        }
        out
    }

    /// jpeg-decoder at scale `n`/8; `planes`: its upsampled Y, Cb, Cr as
    /// they are (no colour conversion).
    fn reference_at(bytes: &[u8], n: u32, planes: bool) -> (u32, u32, Vec<u8>) {
        let (w, h) = dims(bytes);
        let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        if planes {
            d.set_color_transform(jpeg_decoder::ColorTransform::RGB);
        }
        d.scale((w * n).div_ceil(8) as u16, (h * n).div_ceil(8) as u16).unwrap();
        let px = d.decode().unwrap();
        let i = d.info().unwrap();
        (u32::from(i.width), u32::from(i.height), px)
    }

    fn ours_at(bytes: &[u8], n: usize, output: Output) -> Result<Buffer, Stop> {
        run(bytes, dims(bytes), n, output, &unlimited(), buffer)
    }

    /// Every layout our reduced decoder takes, with sizes that leave
    /// partial MCUs, one-pixel edges, restart intervals and high quality.
    fn layouts() -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        for sampling in [None, Some((1, 1)), Some((2, 1)), Some((1, 2)), Some((2, 2))] {
            for (w, h) in [(203, 137), (64, 48), (17, 9), (1, 1), (2, 31), (33, 2)] {
                for (restart, quality) in [(0, 90), (3, 100), (1, 40)] {
                    let name = format!("{sampling:?} {w}×{h} restart {restart} q{quality}");
                    files.push((name, encoded(w, h, sampling, restart, quality)));
                }
            }
        }
        for name in ["jpeg_baseline.jpg", "jpeg_gray.jpg", "orient-6.jpg", "jpeg_displayp3.jpg"] {
            files.push((name.into(), fixture(name)));
        }
        files.extend(progressive_files());
        for name in ["restart_420.jpg", "restart_444.jpg"] {
            let path = format!("{}/tests/fixtures-native/{name}", env!("CARGO_MANIFEST_DIR"));
            files.push((name.into(), std::fs::read(path).unwrap()));
        }
        files
    }

    /// Progressive files as libjpeg writes them (successive approximation,
    /// tables per scan), every layout our decoder takes.
    fn progressive_files() -> Vec<(String, Vec<u8>)> {
        let names = [
            "progressive_420.jpg",
            "progressive_422.jpg",
            "progressive_444.jpg",
            "progressive_gray.jpg",
            "progressive_restart.jpg",
            "q_progressive.jpg",
        ];
        names
            .iter()
            .map(|name| {
                let path = format!("{}/tests/fixtures-native/{name}", env!("CARGO_MANIFEST_DIR"));
                (name.to_string(), std::fs::read(path).unwrap())
            })
            .collect()
    }

    /// jpeg-decoder takes the coarsest scale at which either side reaches
    /// the size asked for: for an image a few pixels across that is 1/8,
    /// not the scale we decode at, so there is nothing to compare.
    fn same_scale(bytes: &[u8], n: u32) -> bool {
        let (w, h) = dims(bytes);
        let at = |len: u32, s: u32| (len * s).div_ceil(8);
        let chosen = [1, 2, 4].into_iter().find(|&s| at(w, s) >= at(w, n) || at(h, s) >= at(h, n)).unwrap_or(8);
        chosen == n
    }

    #[test]
    fn reduced_scales_give_jpeg_decoders_samples_exactly() {
        let mut compared = 0;
        for (name, bytes) in layouts() {
            let (w, h) = dims(&bytes);
            for n in [2, 4, 8] {
                let got = ours_at(&bytes, n, Output::Ycc).unwrap_or_else(|e| panic!("{name} at {n}/8: {e:?}"));
                assert_eq!((got.w, got.h), ((w * n as u32).div_ceil(8), (h * n as u32).div_ceil(8)), "{name}");
                assert_eq!(got.px.len(), (got.w * got.h) as usize * got.ch, "{name} at {n}/8: rows");
                if !same_scale(&bytes, n as u32) {
                    continue;
                }
                let reference = reference_at(&bytes, n as u32, true);
                compared += 1;
                let want = &reference.2;
                assert!(got.px == *want, "{name} at {n}/8: samples differ (max {:?})", diff(&got.px, want));
            }
        }
        assert!(compared >= 100, "only {compared} decodes compared");
    }

    #[test]
    fn reduced_scales_give_jpeg_decoders_rgb_exactly() {
        let mut compared = 0;
        for (name, bytes) in layouts() {
            for n in [2, 4, 8] {
                let got = ours_at(&bytes, n, Output::Rgb).unwrap();
                if !same_scale(&bytes, n as u32) {
                    continue;
                }
                let reference = reference_at(&bytes, n as u32, false);
                compared += 1;
                let want = &reference.2;
                assert!(got.px == *want, "{name} at {n}/8: RGB differs (max {:?})", diff(&got.px, want));
            }
        }
        assert!(compared >= 100, "only {compared} decodes compared");
    }

    #[test]
    fn reduced_scales_fill_a_crop_as_jpeg_decoders_rows_do() {
        // Our decoder skips the rows and columns outside the crop (and the
        // transforms of the blocks they come from); what the collector
        // keeps must be what it keeps from jpeg-decoder's whole rows, for
        // crops in the middle and at either end.
        let mut compared = 0;
        for (name, bytes) in layouts() {
            let (w, h) = dims(&bytes);
            let side = w.min(h);
            for n in [2u32, 4, 8] {
                if !same_scale(&bytes, n) {
                    continue;
                }
                for (x, y) in [((w - side) / 2, (h - side) / 2), (0, 0), (w - side, h - side)] {
                    let work = unlimited();
                    let plan = Plan {
                        x,
                        y,
                        side,
                        width: w,
                        height: h,
                        size: 8,
                        space: Default::default(),
                        budget: 64 << 20,
                        work: &work,
                        resize_as_decoded: false,
                    };
                    let ours =
                        decode_reduced(&bytes, &plan, n, 0).unwrap().unwrap_or_else(|| panic!("{name}: declined"));
                    let (rw, rh, px) = reference_at(&bytes, n, false);
                    let ch = px.len() / (rw * rh) as usize;
                    let layout = if ch == 1 { Layout::Gray } else { Layout::Rgb };
                    let mut d = jpeg_decoder::Decoder::new(Cursor::new(&bytes));
                    d.read_info().unwrap();
                    let icc = d.icc_profile();
                    let mut collector = super::super::collector(&plan, rw, rh, layout, icc.as_deref());
                    for row in px.chunks_exact(rw as usize * ch) {
                        collector.push_row(row).unwrap();
                    }
                    let want = collector.into_region().unwrap();
                    assert!(ours.buf == want.buf, "{name} at {n}/8, crop at {x},{y}: the regions differ");
                    compared += 1;
                }
            }
        }
        assert!(compared >= 100, "only {compared} crops compared");
    }

    #[test]
    fn reduced_scales_decline_what_they_do_not_take() {
        for (name, bytes) in [("cmyk", fixture("jpeg_cmyk.jpg")), ("empty", fixture("empty.jpg"))] {
            for n in [2, 4, 8] {
                assert_eq!(ours_at(&bytes, n, Output::Rgb).err(), Some(Stop::Decline), "{name} at {n}/8");
            }
        }
    }

    #[test]
    fn reduced_scales_refuse_truncated_data_and_survive_hostile_bytes() {
        let sequential = encoded(96, 64, Some((2, 2)), 2, 85);
        let mut files = vec![("sequential".to_string(), sequential.clone())];
        files.extend(
            progressive_files().into_iter().filter(|(name, _)| name.contains("restart") || name.contains("420")),
        );
        for n in [2, 4, 8] {
            let cut = &sequential[..sequential.len() * 2 / 3];
            assert_eq!(ours_at(cut, n, Output::Rgb).err(), Some(Stop::Truncated), "cut at {n}/8");
            for (name, bytes) in &files {
                assert!(ours_at(bytes, n, Output::Rgb).is_ok(), "{name}");
                // At full size the same readers store every coefficient:
                // a third of the cuts and spots (each try costs more).
                let every = if n == 8 { 3 } else { 1 };
                for c in (0..bytes.len()).step_by(every) {
                    assert!(ours_at(&bytes[..c], n, Output::Rgb).is_err(), "{name} cut at {c} was taken at {n}/8");
                }
                // The headers, and the start of every scan's data (the
                // progressive files' tables come before each scan).
                let scans: Vec<usize> =
                    bytes.windows(2).enumerate().filter(|(_, w)| *w == [0xFF, 0xDA]).map(|(i, _)| i).collect();
                let first = scans[0];
                let spots = (0..first + 60)
                    .chain(scans.iter().flat_map(|&s| s..(s + 40).min(bytes.len())))
                    .chain((first + 60..bytes.len()).step_by(7));
                for i in spots.filter(|&i| i < bytes.len()).step_by(every) {
                    for v in [0x00, 0x01, 0x0F, 0x7F, 0xC0, 0xFF] {
                        let mut b = bytes.clone();
                        b[i] = v;
                        let _ = ours_at(&b, n, Output::Rgb);
                    }
                }
            }
        }
    }

    #[test]
    fn the_check_follows_every_scan_of_whole_files_and_refuses_cut_ones() {
        // The check reads blocks with the progressive decoder's readers,
        // keeping nothing: a misread code, run or correction bit would
        // leave a scan short or long of its data.
        for (name, bytes) in layouts() {
            assert_eq!(walk(&bytes, &unlimited()), Ok(()), "{name}");
            let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
            let cut = &bytes[..last_scan + (bytes.len() - last_scan) / 2];
            if name.starts_with("progressive_") {
                assert_eq!(walk(cut, &unlimited()), Err(Stop::Truncated), "{name} cut");
            }
        }
    }

    #[test]
    fn a_progressive_scan_cut_short_is_refused_not_handed_on() {
        // Cut inside the last scan's data: the scans before it decode, the
        // last runs out of data before its blocks do. (Not the flat
        // quadrants, whose last scan is a few bytes of end-of-band runs.)
        for (name, bytes) in progressive_files().into_iter().filter(|(name, _)| name.starts_with("progressive_")) {
            let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
            let cut = &bytes[..last_scan + (bytes.len() - last_scan) / 2];
            for n in [2, 4, 8] {
                assert_eq!(ours_at(cut, n, Output::Rgb).err(), Some(Stop::Truncated), "{name} at {n}/8");
            }
        }
    }
}
