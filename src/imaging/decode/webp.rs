//! Still WebP (lossy, lossy with alpha, lossless) through libwebp's decoder,
//! the one already compiled in for the encoder (`src/imaging/webp.rs`).
//!
//! libwebp crops and shrinks while it decodes: only the crop square comes
//! out, already reduced to twice the avatar's size by its area-averaging
//! rescaler (as the JPEG path's DCT scaling does), and the Lanczos3 resize
//! in linear light does the rest. A lossy image is decoded a few macroblock
//! rows at a time, so its memory grows with the width, not the area (the
//! alpha plane and a lossless image are held whole, still less than the
//! `image` crate's decoder, whose estimates `generic::memory_need` keeps
//! checking). Its SSE2 code runs on wasm simd128 (docs/webp-encoder.md).
//! Animated WebP stays with the `image` crate (first frame on a canvas).

use libwebp_sys as sys;

use super::{damaged, Plan};
use crate::imaging::colour::Layout;
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::limits::MAX_ICC_BYTES;
use crate::imaging::resize::Region;

const F: SourceFormat = SourceFormat::Webp;

/// libwebp's output buffer, freed on every path.
struct Output(sys::WebPDecoderConfig);

impl Drop for Output {
    fn drop(&mut self) {
        unsafe { sys::WebPFreeDecBuffer(&mut self.0.output) };
    }
}

/// Decodes the plan's crop square of a still WebP. The caller has checked
/// the header and the memory estimate.
pub fn decode(bytes: &[u8], plan: &Plan) -> Result<Region, ImageError> {
    let mut config = sys::WebPDecoderConfig::new().map_err(|_| damaged(F, "libwebp version mismatch"))?;
    let status = unsafe { sys::WebPGetFeatures(bytes.as_ptr(), bytes.len(), &mut config.input) };
    if status != sys::VP8StatusCode::VP8_STATUS_OK {
        return Err(status_error(status, plan));
    }
    let (w, h) = (config.input.width, config.input.height);
    if (i64::from(w), i64::from(h)) != (i64::from(plan.width), i64::from(plan.height)) {
        // Our header parser and the decoder disagree: trust neither.
        return Err(damaged(F, format!("header says {}×{}, decoder {w}×{h}", plan.width, plan.height)));
    }
    let alpha = config.input.has_alpha != 0;
    let layout = if alpha { Layout::Rgba } else { Layout::Rgb };

    // The crop square exactly (libwebp snaps a crop to even coordinates
    // only for YUV output), shrunk to twice the avatar: the resize's
    // Lanczos3 does the rest.
    let side = plan.side;
    let scaled = (2 * plan.size).min(side);
    let o = &mut config.options;
    o.use_cropping = 1;
    (o.crop_left, o.crop_top, o.crop_width, o.crop_height) = (plan.x as i32, plan.y as i32, side as i32, side as i32);
    if scaled < side {
        o.use_scaling = 1;
        (o.scaled_width, o.scaled_height) = (scaled as i32, scaled as i32);
    }
    config.output.colorspace = if alpha { sys::WEBP_CSP_MODE::MODE_RGBA } else { sys::WEBP_CSP_MODE::MODE_RGB };

    let mut out = Output(config);
    let status = unsafe { sys::WebPDecode(bytes.as_ptr(), bytes.len(), &mut out.0) };
    if status != sys::VP8StatusCode::VP8_STATUS_OK {
        return Err(status_error(status, plan));
    }
    let buf = &out.0.output;
    let rgba = unsafe { buf.u.RGBA };
    let (ow, oh) = (buf.width as u32, buf.height as u32);
    let row_len = ow as usize * layout.channels();
    let stride = usize::try_from(rgba.stride).unwrap_or(0);
    if (ow, oh) != (scaled, scaled) || rgba.rgba.is_null() || stride < row_len || rgba.size < stride * (oh as usize - 1) + row_len {
        return Err(damaged(F, "libwebp returned an unexpected buffer"));
    }
    let pixels = unsafe { core::slice::from_raw_parts(rgba.rgba, rgba.size) };

    // What came out is the whole square: a plan of its own.
    let square = Plan { x: 0, y: 0, width: side, height: side, ..*plan };
    let icc = riff_chunk(bytes, b"ICCP").filter(|p| p.len() <= MAX_ICC_BYTES);
    let mut collector = square.collector(scaled, scaled, layout, icc);
    for y in 0..oh as usize {
        collector.push_row(&pixels[y * stride..y * stride + row_len]);
        if collector.done() {
            break;
        }
    }
    collector.into_region().ok_or_else(|| damaged(F, "fewer rows than the header says"))
}

fn status_error(status: sys::VP8StatusCode, plan: &Plan) -> ImageError {
    use sys::VP8StatusCode::*;
    match status {
        VP8_STATUS_OUT_OF_MEMORY => ImageError::TooMuchMemory {
            format: F,
            variant: "",
            width: plan.width,
            height: plan.height,
            max_mp: plan.decode_budget(1.0, 4) / 8 / 1_000_000,
        },
        VP8_STATUS_UNSUPPORTED_FEATURE => ImageError::UnsupportedVariant { format: F, what: "an unusual encoding" },
        VP8_STATUS_NOT_ENOUGH_DATA => damaged(F, "the file is cut short"),
        _ => damaged(F, "the image data is corrupt"),
    }
}

/// The first RIFF chunk named `fourcc` (after the 12-byte RIFF header).
fn riff_chunk<'a>(b: &'a [u8], fourcc: &[u8; 4]) -> Option<&'a [u8]> {
    let mut pos = 12usize;
    loop {
        let name = b.get(pos..pos + 4)?;
        let len = u32::from_le_bytes(b.get(pos + 4..pos + 8)?.try_into().ok()?) as usize;
        let start = pos + 8;
        let end = start.checked_add(len)?;
        if name == fourcc {
            return b.get(start..end);
        }
        pos = end.checked_add(len & 1)?;
    }
}
