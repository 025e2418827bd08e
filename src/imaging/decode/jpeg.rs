//! JPEG via `jpeg-decoder` (no rayon), decoded in the DCT domain at the
//! smallest of 1/8, 1/4, 1/2, 1 that still gives the crop square at least
//! the avatar's size: a 100 MP photo for a 256 px avatar decodes at 1/8,
//! about 1.6 MP, a few MB.

use std::io::Cursor;

use jpeg_decoder::{Decoder, PixelFormat};

use super::{damaged, feed_buffer, Plan};
use crate::imaging::colour::Layout;
use crate::imaging::error::{ImageError, Kind, Variant};
use crate::imaging::format::SourceFormat;
use crate::imaging::header::{Header, JpegFrame, JpegScan};
use crate::imaging::limits::{too_much_memory, MAX_ICC_BYTES};
use crate::imaging::resize::Region;
use crate::imaging::work::cost;

const F: SourceFormat = SourceFormat::Jpeg;

/// Output length of `len` samples at scale `n`/8 (as jpeg-decoder rounds).
fn scaled(len: u32, n: u32) -> u32 {
    (len * n).div_ceil(8)
}

/// Estimated peak bytes of jpeg-decoder at scale `n`/8: progressive
/// coefficients (all blocks, 64 × i16, full resolution), per-component
/// planes at the decoded scale, the interleaved output, and the ICC chunks
/// it keeps (plus the assembled profile when we ask for it).
fn memory_estimate(w: u32, h: u32, frame: &JpegFrame, n: u32) -> u64 {
    let hmax = u64::from(frame.sampling.iter().map(|s| s.0).max().unwrap_or(1));
    let vmax = u64::from(frame.sampling.iter().map(|s| s.1).max().unwrap_or(1));
    let mcus_x = u64::from(w).div_ceil(8 * hmax);
    let mcus_y = u64::from(h).div_ceil(8 * vmax);
    let n = u64::from(n);
    let mut total = 0u64;
    for &(hs, vs) in &frame.sampling {
        let blocks = mcus_x * u64::from(hs) * mcus_y * u64::from(vs);
        if frame.progressive {
            total += blocks * 64 * 2;
        }
        total += blocks * n * n;
    }
    let out_ch = match frame.sampling.len() {
        1 => 1,
        3 => 3,
        _ => 4,
    };
    total + u64::from(scaled(w, n as u32)) * u64::from(scaled(h, n as u32)) * out_ch + icc_estimate(frame.icc_bytes)
}

/// The ICC chunks jpeg-decoder keeps, and, if we read the profile (only
/// when it is small enough to use), the assembled copy (a growing `Vec`:
/// up to twice its size).
fn icc_estimate(icc_bytes: u64) -> u64 {
    icc_bytes + if use_icc(icc_bytes) { 2 * icc_bytes } else { 0 }
}

fn use_icc(icc_bytes: u64) -> bool {
    icc_bytes <= MAX_ICC_BYTES as u64
}

/// The coarsest scale n/8 that keeps enough of a `side` px crop square for
/// a `size` px avatar: 1/8 (the DC coefficients, an exact 8×8 box average)
/// when that keeps ≥ size pixels; otherwise 1/2 when that keeps ≥ 2× size;
/// otherwise full size. 1/4 is never the first choice (it would keep under
/// 2× size whenever 1/8 keeps under 1×), only a fallback when memory is
/// short: jpeg-decoder's reduced IDCTs (2×2 and 4×4 pixels per block)
/// alias, and a Lanczos step of less than 2× leaves that in: the 2 MP bench
/// photo's 1224 px square taken at 1/4 (306 px) scored SSIM 0.9970 against
/// the exact resize (bench/lib/quality.mjs), at 1/2 (612 px) 0.9995 (sharp:
/// 0.9991).
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

/// The blocks a scan codes (the standard's count: an interleaved scan's
/// MCUs, padding included; one component's own grid).
fn scan_blocks(w: u32, h: u32, frame: &JpegFrame, scan: &JpegScan) -> u64 {
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
fn min_bits_per_block(progressive: bool, scan: &JpegScan) -> u64 {
    let dc = u64::from(scan.ss == 0);
    let ac = u64::from(!progressive && scan.se > 0);
    dc + ac
}

/// Refuses, before any decoding, a file whose scans have fewer bytes than
/// their blocks need: such a scan ends before its blocks do, and the
/// decoders would decode the rest from zero bits (the 150-byte
/// 10000×10000 JPEG: 4.7 M blocks of zeros).
fn check_scan_lengths(w: u32, h: u32, frame: &JpegFrame) -> Result<(), ImageError> {
    for (i, scan) in frame.scans.iter().enumerate() {
        let need = scan_blocks(w, h, frame, scan) * min_bits_per_block(frame.progressive, scan);
        if scan.data_bytes.saturating_mul(8) < need {
            let detail = format!("truncated: scan {} has {} bytes for {} bits of blocks", i + 1, scan.data_bytes, need);
            return Err(damaged(F, detail));
        }
    }
    Ok(())
}

/// Work units of jpeg-decoder's decode at scale `n`/8: every scan walks
/// its blocks (`checked`: knowing its data covers them; otherwise at the
/// worst cost a block can take from zero bits past the data), decodes the
/// entropy-coded bytes, transforms every block at that scale and converts
/// the output pixels; then the collector's rows.
fn decoder_units(w: u32, h: u32, frame: &JpegFrame, n: u32, checked: bool) -> u64 {
    let visits: u64 = frame.scans.iter().map(|s| padded_blocks(w, h, frame, Some(s))).sum();
    let data: u64 = frame.scans.iter().map(|s| s.data_bytes).sum();
    let visit = match (checked, frame.progressive) {
        (false, _) => cost::JPEG_UNCHECKED_VISIT,
        (true, false) => cost::JPEG_VISIT,
        (true, true) => cost::JPEG_PROGRESSIVE_VISIT,
    };
    let (dw, dh) = (scaled(w, n), scaled(h, n));
    visits * visit
        + data * cost::JPEG_DECODER_BYTE
        + padded_blocks(w, h, frame, None) * cost::JPEG_IDCT[n as usize]
        + u64::from(dw) * u64::from(dh) * cost::JPEG_PIXEL
        + Plan::collector_units(dw, dh)
}

/// The blocks jpeg-decoder walks for `scan` (an upper bound: the MCU-padded
/// grid of its components), or with `None` of the whole frame (what it
/// transforms).
fn padded_blocks(w: u32, h: u32, frame: &JpegFrame, scan: Option<&JpegScan>) -> u64 {
    let hmax = u32::from(frame.sampling.iter().map(|s| s.0).max().unwrap_or(1));
    let vmax = u32::from(frame.sampling.iter().map(|s| s.1).max().unwrap_or(1));
    let mcus = u64::from(w.div_ceil(8 * hmax)) * u64::from(h.div_ceil(8 * vmax));
    let all: Vec<usize> = (0..frame.sampling.len()).collect();
    let comps = scan.map_or(&all[..], |s| &s.comps[..]);
    comps.iter().map(|&ci| mcus * u64::from(frame.sampling[ci].0) * u64::from(frame.sampling[ci].1)).sum()
}

pub fn decode(bytes: &[u8], header: &Header, plan: &Plan<'_>) -> Result<Region, ImageError> {
    let frame = header.jpeg.as_ref().ok_or_else(|| damaged(F, "no frame header"))?;
    let (w, h) = (header.width, header.height);
    let mut n = finest_useful_scale(plan.side, plan.size);
    // Coarser if that does not fit the budget (a tiny crop of a huge photo:
    // better a softer avatar than an out-of-memory isolate). The budget
    // leaves room for the collector's region at that scale (3 channels:
    // JPEG has no alpha).
    let budget = |n: u32| plan.decode_budget(f64::from(n) / 8.0, 3);
    while n > 1 && memory_estimate(w, h, frame, n) > budget(n) {
        n /= 2;
    }
    // jpeg-decoder cannot be stopped once called, so its work is charged
    // first. If it does not fit unchecked (at the worst a block can cost
    // when a scan's data runs out), the scans are walked to prove their
    // data covers their blocks (which charges its own work); if it does
    // not fit even then, a coarser scale (softer, but far cheaper: at 1/8
    // the DC-only decoder) before a refusal.
    let (mut walked, mut checked) = (false, false);
    loop {
        // At 1/8 scale a block is its DC coefficient: the DC-only decoder
        // (sequential: AC codes read past; progressive: AC scans skipped)
        // needs a few bytes per block, so it takes even a progressive JPEG
        // too large for jpeg-decoder's coefficient buffers, and counts its
        // own work. It declines anything unusual.
        if n == 1 {
            if let Some(region) = super::jpeg_dc::decode(bytes, plan)? {
                return Ok(region);
            }
        }
        let need = memory_estimate(w, h, frame, n);
        if need > budget(n) {
            let kind = frame.progressive.then_some(Kind::Progressive);
            return Err(too_much_memory(F, kind, w, h, need, budget(n)));
        }
        // The DC-only decoder notices a scan that runs out as it reads;
        // for jpeg-decoder the scans' lengths are checked first.
        check_scan_lengths(w, h, frame)?;
        if !walked && !plan.work.fits(decoder_units(w, h, frame, n, false)) {
            walked = true;
            let whole = plan.work.spent() + decoder_units(w, h, frame, n, true);
            checked = super::jpeg_dc::check(bytes, plan, whole)?;
        }
        let units = decoder_units(w, h, frame, n, checked);
        if plan.work.fits(units) {
            plan.charge(F, units, plan.work.spent() + units)?;
            return decode_with_jpeg_decoder(bytes, frame, plan, n, budget(n));
        }
        if n == 1 {
            return Err(plan.work_refusal(F, plan.work.spent() + units));
        }
        n /= 2;
    }
}

/// jpeg-decoder at scale `n`/8, within `budget` bytes; its work was charged.
fn decode_with_jpeg_decoder(
    bytes: &[u8],
    frame: &JpegFrame,
    plan: &Plan<'_>,
    n: u32,
    budget: u64,
) -> Result<Region, ImageError> {
    let (w, h) = (plan.width, plan.height);
    let mut dec = Decoder::new(Cursor::new(bytes));
    dec.set_max_decoding_buffer_size(budget as usize);
    dec.read_info().map_err(map_err)?;
    if n < 8 {
        let (rw, rh) = (scaled(w, n), scaled(h, n));
        dec.scale(rw.min(65535) as u16, rh.min(65535) as u16).map_err(map_err)?;
    }
    let pixels = dec.decode().map_err(map_err)?;
    let info = dec.info().ok_or_else(|| damaged(F, "no image info after decoding"))?;
    let layout = match info.pixel_format {
        PixelFormat::L8 => Layout::Gray,
        PixelFormat::RGB24 => Layout::Rgb,
        PixelFormat::CMYK32 => Layout::Cmyk,
        PixelFormat::L16 => return Err(ImageError::UnsupportedVariant { format: F, variant: Variant::SixteenBit }),
    };
    let (dw, dh) = (u32::from(info.width), u32::from(info.height));
    if pixels.len() != dw as usize * dh as usize * layout.channels() {
        return Err(damaged(F, "decoded size does not match the header"));
    }
    // Assembling a profile we would not use only costs memory.
    let icc = if use_icc(frame.icc_bytes) { dec.icc_profile().filter(|p| p.len() <= MAX_ICC_BYTES) } else { None };
    let collector = plan.collector(dw, dh, layout, icc.as_deref());
    feed_buffer(collector, &pixels, dw, layout, F, plan)
}

fn map_err(e: jpeg_decoder::Error) -> ImageError {
    match e {
        jpeg_decoder::Error::Unsupported(_) => {
            ImageError::UnsupportedVariant { format: F, variant: Variant::UnusualEncoding }
        }
        other => damaged(F, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::finest_useful_scale;

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
