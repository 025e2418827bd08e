//! JPEG through `jpeg-decoder` (no rayon), decoded in the DCT domain at
//! scale n/8: what it will hold and cost at each scale, and the decode.

use std::io::Cursor;

use jpeg_decoder::{Decoder, PixelFormat};

use super::frame::{Frame, Scan};
use crate::imaging::colour::Layout;
use crate::imaging::decoding::{damaged, feed_buffer, Plan};
use crate::imaging::error::{ImageError, Variant};
use crate::imaging::format::SourceFormat;
use crate::imaging::limits::MAX_ICC_BYTES;
use crate::imaging::resize::Region;
use crate::imaging::work::cost;

const F: SourceFormat = SourceFormat::Jpeg;

/// Output length of `len` samples at scale `n`/8 (as jpeg-decoder rounds).
pub(super) fn scaled(len: u32, n: u32) -> u32 {
    (len * n).div_ceil(8)
}

/// Estimated peak bytes of jpeg-decoder at scale `n`/8: progressive
/// coefficients (all blocks, 64 × i16, full resolution), per-component
/// planes at the decoded scale, the interleaved output, and the ICC chunks
/// it keeps (plus the assembled profile when we ask for it).
pub(super) fn memory_estimate(w: u32, h: u32, frame: &Frame, n: u32) -> u64 {
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
pub(super) fn icc_estimate(icc_bytes: u64) -> u64 {
    icc_bytes + if use_icc(icc_bytes) { 2 * icc_bytes } else { 0 }
}

fn use_icc(icc_bytes: u64) -> bool {
    icc_bytes <= MAX_ICC_BYTES as u64
}

/// Work units of jpeg-decoder's decode at scale `n`/8: every scan walks
/// its blocks (`checked`: knowing its data covers them; otherwise at the
/// worst cost a block can take from zero bits past the data), decodes the
/// entropy-coded bytes, transforms every block at that scale and converts
/// the output pixels; then the collector's rows.
pub(super) fn decoder_units(w: u32, h: u32, frame: &Frame, n: u32, checked: bool) -> u64 {
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
fn padded_blocks(w: u32, h: u32, frame: &Frame, scan: Option<&Scan>) -> u64 {
    let hmax = u32::from(frame.sampling.iter().map(|s| s.0).max().unwrap_or(1));
    let vmax = u32::from(frame.sampling.iter().map(|s| s.1).max().unwrap_or(1));
    let mcus = u64::from(w.div_ceil(8 * hmax)) * u64::from(h.div_ceil(8 * vmax));
    let all: Vec<usize> = (0..frame.sampling.len()).collect();
    let comps = scan.map_or(&all[..], |s| &s.comps[..]);
    comps.iter().map(|&ci| mcus * u64::from(frame.sampling[ci].0) * u64::from(frame.sampling[ci].1)).sum()
}

/// jpeg-decoder at scale `n`/8, within `budget` bytes; its work was charged.
pub(super) fn decode(bytes: &[u8], frame: &Frame, plan: &Plan<'_>, n: u32, budget: u64) -> Result<Region, ImageError> {
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
    let collector = super::collector(plan, dw, dh, layout, icc.as_deref());
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
