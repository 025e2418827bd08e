//! JPEG via `jpeg-decoder` (no rayon), decoded in the DCT domain at the
//! smallest of 1/8, 1/4, 1/2, 1 that still gives the crop square at least
//! the avatar's size: a 100 MP photo for a 256 px avatar decodes at 1/8,
//! about 1.6 MP, a few MB.

use std::io::Cursor;

use jpeg_decoder::{Decoder, PixelFormat};

use super::{damaged, feed_buffer, Plan};
use crate::imaging::colour::Layout;
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::header::{Header, JpegFrame};
use crate::imaging::limits::{too_much_memory, MAX_ICC_BYTES};
use crate::imaging::resize::Region;

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

pub fn decode(bytes: &[u8], header: &Header, plan: &Plan) -> Result<Region, ImageError> {
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
    // At 1/8 scale a block is its DC coefficient: the DC-only decoder
    // (sequential: AC codes read past; progressive: AC scans skipped) needs
    // a few bytes per block, so it takes even a progressive JPEG too large
    // for jpeg-decoder's coefficient buffers. It declines anything unusual.
    if n == 1 {
        if let Some(region) = super::jpeg_dc::decode(bytes, plan) {
            return Ok(region);
        }
    }
    let need = memory_estimate(w, h, frame, n);
    if need > budget(n) {
        let variant = if frame.progressive { "progressive" } else { "" };
        return Err(too_much_memory(F, variant, w, h, need, budget(n)));
    }

    let mut dec = Decoder::new(Cursor::new(bytes));
    dec.set_max_decoding_buffer_size(budget(n) as usize);
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
        PixelFormat::L16 => return Err(ImageError::UnsupportedVariant { format: F, what: "16-bit" }),
    };
    let (dw, dh) = (u32::from(info.width), u32::from(info.height));
    if pixels.len() != dw as usize * dh as usize * layout.channels() {
        return Err(damaged(F, "decoded size does not match the header"));
    }
    // Assembling a profile we would not use only costs memory.
    let icc = if use_icc(frame.icc_bytes) { dec.icc_profile().filter(|p| p.len() <= MAX_ICC_BYTES) } else { None };
    let collector = plan.collector(dw, dh, layout, icc.as_deref());
    feed_buffer(collector, &pixels, dw, layout, F)
}

fn map_err(e: jpeg_decoder::Error) -> ImageError {
    match e {
        jpeg_decoder::Error::Unsupported(_) => {
            ImageError::UnsupportedVariant { format: F, what: "an unusual encoding" }
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
