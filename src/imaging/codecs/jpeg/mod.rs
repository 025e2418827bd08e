//! JPEG, decoded at the smallest of 1/8, 1/4, 1/2, 1 that still gives
//! the crop square at least the avatar's size: a 100 MP photo for a 256 px
//! avatar decodes at 1/8, a few MB. At every scale our own decoder
//! (`scaled`) takes the common files; the rest go to jpeg-decoder
//! (`decode`), whose work is charged, and whose scans are checked to cover
//! their blocks, before it runs (it cannot be stopped).

mod decode;
mod frame;
mod markers;
mod scaled;
#[cfg(feature = "test-hooks")]
pub(crate) use scaled::{idct4_self_check, idct_self_check, kernel_self_check, stretch_self_check};

use crate::imaging::colour::Layout;
use crate::imaging::decoding::{damaged, Header, Image, Plan};
use crate::imaging::error::{ImageError, Kind};
use crate::imaging::format::SourceFormat;
use crate::imaging::limits::too_much_memory;
use crate::imaging::resize::{Collector, Region};
use crate::imaging::work::per_byte;
use frame::{Frame, Scan};

const F: SourceFormat = SourceFormat::Jpeg;

/// An opened JPEG.
pub(crate) struct Jpeg<'a> {
    bytes: &'a [u8],
    header: Header,
    frame: Frame,
}

impl<'a> Jpeg<'a> {
    /// Reads the frame and the scans ([`frame::read`]).
    pub(crate) fn open(bytes: &'a [u8]) -> Result<Self, ImageError> {
        let (header, frame) = frame::read(bytes)?;
        Ok(Jpeg { bytes, header, frame })
    }
}

impl Image for Jpeg<'_> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn work_rate(&self) -> u64 {
        per_byte::JPEG
    }

    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        decode_at_a_scale(self.bytes, &self.header, &self.frame, plan)
    }
}

/// The coarsest scale n/8 that keeps enough of a `side` px crop square for
/// a `size` px avatar: 1/8 (the DC coefficients, an exact 8×8 box average)
/// when that keeps ≥ size pixels; otherwise 1/2 when that keeps ≥ 2× size;
/// otherwise full size. 1/4 is never the first choice (it would keep under
/// 2× size whenever 1/8 keeps under 1×), only a fallback when memory is
/// short: jpeg-decoder's reduced IDCTs (2×2 and 4×4 pixels per block)
/// alias, and a Lanczos step of less than 2× leaves that in (measured on
/// the 2 MP bench photo: docs/benchmark.md, "Method").
fn finest_useful_scale(side: u32, size: u32) -> u32 {
    let (side, size) = (u64::from(side), u64::from(size));
    if side >= 8 * size {
        1
    } else if side >= 4 * size {
        4
    } else {
        8
    }
}

/// The scale of a `w`×`h` JPEG decoded at `dw`×`dh`: `n`/8 when that is
/// the grid of an `n`/8 decode (each pixel `8 / n` source pixels across,
/// the last ones from what the image's last block holds), else the ratio.
/// Read from the grid rather than passed in, because jpeg-decoder may take
/// a coarser scale than asked for a tiny image. Two scales only give the
/// same grid where it is one pixel along both axes, which every crop maps
/// alike.
fn decoded_scale(w: u32, h: u32, dw: u32, dh: u32) -> (f64, f64) {
    [1, 2, 4, 8]
        .into_iter()
        .find(|&n| decode::scaled(w, n) == dw && decode::scaled(h, n) == dh)
        .map(|n| (f64::from(n) / 8.0, f64::from(n) / 8.0))
        .unwrap_or((f64::from(dw) / f64::from(w.max(1)), f64::from(dh) / f64::from(h.max(1))))
}

/// The collector for a JPEG decoded at `dw`×`dh` (see [`decoded_scale`]).
fn collector<'w>(plan: &Plan<'w>, dw: u32, dh: u32, layout: Layout, icc: Option<&[u8]>) -> Collector<'w> {
    plan.collector_at_scale(dw, dh, decoded_scale(plan.width, plan.height, dw, dh), layout, icc)
}

/// The blocks a scan codes (the standard's count: an interleaved scan's
/// MCUs, padding included; one component's own grid).
fn scan_blocks(w: u32, h: u32, frame: &Frame, scan: &Scan) -> u64 {
    let hmax = u64::from(frame.sampling.iter().map(|s| s.0).max().unwrap_or(1));
    let vmax = u64::from(frame.sampling.iter().map(|s| s.1).max().unwrap_or(1));
    let (w, h) = (u64::from(w), u64::from(h));
    match scan.comps[..] {
        [_] if frame.sampling.len() == 1 => w.div_ceil(8) * h.div_ceil(8),
        [ci] => {
            let (ch, cv) = frame.sampling[ci];
            (w * u64::from(ch)).div_ceil(hmax).div_ceil(8) * (h * u64::from(cv)).div_ceil(vmax).div_ceil(8)
        }
        _ => {
            let mcus = w.div_ceil(8 * hmax) * h.div_ceil(8 * vmax);
            mcus * scan
                .comps
                .iter()
                .map(|&ci| u64::from(frame.sampling[ci].0) * u64::from(frame.sampling[ci].1))
                .sum::<u64>()
        }
    }
}

/// The fewest bits a block of `scan` can take: a DC code (or a DC
/// correction bit), and in a sequential scan an AC code (end of block) on
/// top. Progressive AC scans have none: an end-of-band run of up to 32,767
/// blocks costs a code.
fn min_bits_per_block(progressive: bool, scan: &Scan) -> u64 {
    let dc = u64::from(scan.ss == 0);
    let ac = u64::from(!progressive && scan.se > 0);
    dc + ac
}

/// Refuses, before any decoding, a file whose scans have fewer bytes than
/// their blocks need: such a scan ends before its blocks do, and the
/// decoders would decode the rest from zero bits (the 150-byte
/// 10000×10000 JPEG: 4.7 M blocks of zeros).
fn check_scan_lengths(w: u32, h: u32, frame: &Frame) -> Result<(), ImageError> {
    for (i, scan) in frame.scans.iter().enumerate() {
        let need = scan_blocks(w, h, frame, scan) * min_bits_per_block(frame.progressive, scan);
        if scan.data_bytes.saturating_mul(8) < need {
            let detail = format!("truncated: scan {} has {} bytes for {} bits of blocks", i + 1, scan.data_bytes, need);
            return Err(damaged(F, detail));
        }
    }
    Ok(())
}

/// The memory a decode at scale `n`/8 may hold ([`decode_at_a_scale`]):
/// the plan's budget less the collector's region at that scale (3
/// channels: JPEG has no alpha).
fn budget(plan: &Plan<'_>, n: u32) -> u64 {
    plan.decode_budget(f64::from(n) / 8.0, 3)
}

/// Whether our decoder's memory at scale `n`/8 fits (1/4, 1/2 and full
/// size; at 1/8 the DC-only decoder needs a few bytes a block).
fn ours_fit(w: u32, h: u32, frame: &Frame, plan: &Plan<'_>, n: u32) -> bool {
    matches!(n, 2 | 4 | 8) && scaled::memory_need(w, h, frame, n) <= budget(plan, n)
}

/// Whether jpeg-decoder's memory at scale `n`/8 fits.
fn theirs_fit(w: u32, h: u32, frame: &Frame, plan: &Plan<'_>, n: u32) -> bool {
    decode::memory_estimate(w, h, frame, n) <= budget(plan, n)
}

/// The scale a decode starts at: the finest useful one, or a coarser one
/// when neither decoder fits it in memory (a small crop of a huge photo:
/// better a softer avatar than an out-of-memory isolate).
fn first_scale(w: u32, h: u32, frame: &Frame, plan: &Plan<'_>) -> u32 {
    let mut n = finest_useful_scale(plan.side, plan.size);
    while n > 1 && !ours_fit(w, h, frame, plan, n) && !theirs_fit(w, h, frame, plan, n) {
        n /= 2;
    }
    n
}

/// The scale loop: the finest useful scale that fits the memory and work
/// budgets, coarser ones when it does not.
fn decode_at_a_scale(bytes: &[u8], header: &Header, frame: &Frame, plan: &Plan<'_>) -> Result<Region, ImageError> {
    let (w, h) = (header.width, header.height);
    let mut n = first_scale(w, h, frame, plan);
    // jpeg-decoder cannot be stopped once called, so its work is charged
    // first. If it does not fit unchecked (at the worst a block can cost
    // when a scan's data runs out), the scans are walked to prove their
    // data covers their blocks (which charges its own work); if it does
    // not fit even then, a coarser scale (softer, but far cheaper: at 1/8
    // the DC-only decoder) before a refusal.
    let (mut walked, mut checked) = (false, false);
    // Our decoder declines a file for what it is (its components, tables
    // or scans), not for its scale: it is not tried again.
    let mut declined = false;
    loop {
        // At 1/8 scale a block is its DC coefficient: the DC-only decoder
        // (sequential: AC codes read past; progressive: AC scans skipped)
        // needs a few bytes per block, so it takes even a progressive JPEG
        // too large for jpeg-decoder's coefficient buffers, and counts its
        // own work. It declines anything unusual.
        if n == 1 {
            if let Some(region) = scaled::decode_dc(bytes, plan)? {
                return Ok(region);
            }
        }
        // At 1/4, 1/2 and full size our decoder takes the common files,
        // sequential and progressive; it charges as it goes, and does no
        // more than jpeg-decoder's charge for a file whose scans are known
        // to cover their blocks. The DC-only decoder notices a scan that
        // runs out as it reads; for the others the scans' lengths are
        // checked first.
        if !declined && ours_fit(w, h, frame, plan, n) {
            check_scan_lengths(w, h, frame)?;
            let ours = decode::decoder_units(w, h, frame, n, true);
            if plan.work.fits(ours) {
                match scaled::decode_reduced(bytes, plan, n, plan.work.spent() + ours)? {
                    Some(region) => return Ok(region),
                    None => declined = true,
                }
            }
        }
        let need = decode::memory_estimate(w, h, frame, n);
        if need > budget(plan, n) {
            if n > 1 {
                n /= 2;
                continue;
            }
            let kind = frame.progressive.then_some(Kind::Progressive);
            return Err(too_much_memory(F, kind, w, h, need, budget(plan, n)));
        }
        check_scan_lengths(w, h, frame)?;
        if !walked && !plan.work.fits(decode::decoder_units(w, h, frame, n, false)) {
            walked = true;
            let whole = plan.work.spent() + decode::decoder_units(w, h, frame, n, true);
            checked = scaled::check(bytes, plan, whole)?;
        }
        let units = decode::decoder_units(w, h, frame, n, checked);
        if plan.work.fits(units) {
            plan.charge(F, units, plan.work.spent() + units)?;
            return decode::decode(bytes, frame, plan, n, budget(plan, n));
        }
        if n == 1 {
            return Err(plan.work_refusal(F, plan.work.spent() + units));
        }
        n /= 2;
    }
}

/// The scale a decode of `bytes` for `plan` starts at, for the tests.
#[cfg(test)]
pub(crate) fn first_scale_of(bytes: &[u8], plan: &Plan<'_>) -> Result<u32, ImageError> {
    let (header, frame) = frame::read(bytes)?;
    Ok(first_scale(header.width, header.height, &frame, plan))
}

#[cfg(test)]
mod tests {
    use super::{finest_useful_scale, Jpeg};
    use crate::imaging::decoding::{Image, Plan};
    use crate::imaging::work::Work;

    #[test]
    fn a_reduced_decode_scales_the_crop_by_exactly_its_scale() {
        // 200×133: at 1/2 (a 133 px square for a 32 px avatar) the decoded
        // grid is 100×67, its last row from the last source row alone; at
        // 1/8 (for an 8 px avatar), 25×17. The crop square must stay a
        // square of 133 × n/8, not stretch to the rounded-up rows.
        let bytes = super::scaled::tests::encoded(200, 133, Some((2, 2)), 0, 90);
        for (size, scale) in [(32, 0.5), (8, 0.125)] {
            let work = Work::with_budget(u64::MAX, 0);
            let plan = Plan {
                x: 33,
                y: 0,
                side: 133,
                width: 200,
                height: 133,
                size,
                space: Default::default(),
                budget: 64 << 20,
                work: &work,
                resize_as_decoded: false,
            };
            let region = Jpeg::open(&bytes).unwrap().decode(&plan).unwrap();
            let crop = region.crop;
            assert_eq!((crop.w, crop.h), (133.0 * scale, 133.0 * scale), "{size} px avatar: {crop:?}");
        }
    }

    #[test]
    fn dc_scale_needs_the_avatar_size_reduced_idct_scales_twice_that() {
        // 12 MP photo's 3024 px square: 1/8 gives 378 ≥ 256, the DC path.
        assert_eq!(finest_useful_scale(3024, 256), 1);
        assert_eq!(finest_useful_scale(2048, 256), 1);
        // Below that, 1/4 would keep under 2 × 256 px, so 1/2: the 2 MP
        // photo's 1224 px square is taken at 612 px, not 306.
        assert_eq!(finest_useful_scale(2047, 256), 4);
        assert_eq!(finest_useful_scale(1224, 256), 4);
        assert_eq!(finest_useful_scale(1024, 256), 4);
        assert_eq!(finest_useful_scale(1023, 256), 8);
        assert_eq!(finest_useful_scale(100, 256), 8);
    }
}
