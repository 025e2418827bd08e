//! Decoding WebP: every kind but one through `image`'s decoder, whole;
//! a still lossy WebP without alpha ([`WebpKind`](super::WebpKind)) through
//! libwebp's decoder, compiled in with the encoder (`encode.rs`).
//!
//! libwebp crops and shrinks while it decodes: only the crop square comes
//! out, already reduced to twice the avatar's size by its area-averaging
//! rescaler (as the JPEG path's DCT scaling does), and the Lanczos3 resize
//! does the rest. The image is decoded a few macroblock
//! rows at a time, so memory grows with the width, not the area. libwebp's
//! SSE2 code runs on wasm simd128 (docs/webp-encoder.md).

use image::codecs::webp::WebPDecoder;
use libwebp_sys as sys;

use crate::imaging::codecs::image_crate::decode_first_frame;
use crate::imaging::colour::{ColourConverter, Layout};
use crate::imaging::decoding::{check_decoded_size, damaged, out_of_memory, Plan};
use crate::imaging::error::{ImageError, Variant};
use crate::imaging::format::SourceFormat;
use crate::imaging::limits::MAX_ICC_BYTES;
use crate::imaging::resize::{Collector, Region, RegionSpec};

const F: SourceFormat = SourceFormat::Webp;

/// The whole first frame through `image`'s decoder, with its allocation
/// limit at `max_alloc` bytes; the caller has admitted it.
pub(super) fn with_image(bytes: &[u8], plan: &Plan<'_>, max_alloc: u64) -> Result<Region, ImageError> {
    decode_first_frame(WebPDecoder::new, bytes, F, plan, max_alloc)
}

/// libwebp's output buffer, freed on every path.
struct Output(sys::WebPDecoderConfig);

impl Drop for Output {
    fn drop(&mut self) {
        // SAFETY: the output buffer was initialised by WebPDecoderConfig::new
        // and filled (or left empty) by libwebp; it is freed once, here.
        unsafe { sys::WebPFreeDecBuffer(&mut self.0.output) };
    }
}

/// Decodes the plan's crop square of a still WebP (`icc`: its ICCP
/// chunk's data). The caller has admitted it (memory estimate, work).
pub(super) fn with_libwebp(bytes: &[u8], icc: Option<&[u8]>, plan: &Plan<'_>) -> Result<Region, ImageError> {
    let mut config = sys::WebPDecoderConfig::new().map_err(|_| damaged(F, "libwebp version mismatch"))?;
    // SAFETY: libwebp reads at most `bytes.len()` bytes of `bytes` and
    // writes only the features struct it is given.
    let status = unsafe { sys::WebPGetFeatures(bytes.as_ptr(), bytes.len(), &mut config.input) };
    if status != sys::VP8StatusCode::VP8_STATUS_OK {
        return Err(status_error(status, plan));
    }
    // libwebp's sizes are positive c_ints; anything else is a mismatch.
    let size = |v: i32| u32::try_from(v).unwrap_or(0);
    check_decoded_size(F, plan, size(config.input.width), size(config.input.height))?;
    let alpha = config.input.has_alpha != 0;
    let layout = if alpha { Layout::Rgba } else { Layout::Rgb };

    // The crop square, shrunk to twice the avatar (the resize's Lanczos3
    // does the rest). libwebp snaps a crop's start to even coordinates, so
    // an odd start moves one pixel in (the square loses that column or
    // row) rather than one out: a pixel from outside the square would be
    // averaged into its edge by the shrink.
    let inset = |start: u32| if plan.side > 1 { start & 1 } else { 0 };
    let (dx, dy) = (inset(plan.x), inset(plan.y));
    let (left, top, cw, ch) = (plan.x + dx, plan.y + dy, plan.side - dx, plan.side - dy);
    let target = (2 * plan.size).min(plan.side);
    let (sw, sh) = if target < plan.side {
        let scale = |n: u32| {
            ((u64::from(n) * u64::from(target) + u64::from(plan.side) / 2) / u64::from(plan.side)).max(1) as u32
        };
        (scale(cw), scale(ch))
    } else {
        (cw, ch)
    };
    let o = &mut config.options;
    o.use_cropping = 1;
    (o.crop_left, o.crop_top, o.crop_width, o.crop_height) = (left as i32, top as i32, cw as i32, ch as i32);
    if (sw, sh) != (cw, ch) {
        o.use_scaling = 1;
        (o.scaled_width, o.scaled_height) = (sw as i32, sh as i32);
    }
    config.output.colorspace = if alpha { sys::WEBP_CSP_MODE::MODE_RGBA } else { sys::WEBP_CSP_MODE::MODE_RGB };

    let mut out = Output(config);
    // SAFETY: as above; the configuration asks for a crop and a scale
    // inside the image, and libwebp allocates the output buffer it fills
    // (freed by `Output`).
    let status = unsafe { sys::WebPDecode(bytes.as_ptr(), bytes.len(), &mut out.0) };
    if status != sys::VP8StatusCode::VP8_STATUS_OK {
        return Err(status_error(status, plan));
    }
    let buf = &out.0.output;
    // SAFETY: an RGB(A) colourspace was asked for, so the union holds its
    // RGBA member.
    let rgba = unsafe { buf.u.RGBA };
    let (ow, oh) = (buf.width as u32, buf.height as u32);
    let row_len = ow as usize * layout.channels();
    let stride = usize::try_from(rgba.stride).unwrap_or(0);
    if (ow, oh) != (sw, sh)
        || rgba.rgba.is_null()
        || stride < row_len
        || rgba.size < stride * (oh as usize - 1) + row_len
    {
        return Err(damaged(F, "libwebp returned an unexpected buffer"));
    }
    // SAFETY: libwebp's buffer (checked non-null) holds `size` bytes, and
    // lives in `out` until the end of this function.
    let pixels = unsafe { core::slice::from_raw_parts(rgba.rgba, rgba.size) };

    // What came out is the whole square.
    let icc = icc.filter(|p| p.len() <= MAX_ICC_BYTES);
    let spec = RegionSpec { x: 0.0, y: 0.0, w: f64::from(sw), h: f64::from(sh) };
    let mut collector =
        Collector::new(ColourConverter::new(layout, icc), plan.space, sw, sh, spec, plan.size, plan.work);
    let whole = plan.work.spent() + Plan::collector_units(sw, sh);
    for y in 0..oh as usize {
        collector.push_row(&pixels[y * stride..y * stride + row_len]).map_err(|_| plan.work_refusal(F, whole))?;
        if collector.done() {
            break;
        }
    }
    collector.into_region().ok_or_else(|| damaged(F, "fewer rows than the header says"))
}

fn status_error(status: sys::VP8StatusCode, plan: &Plan<'_>) -> ImageError {
    use sys::VP8StatusCode::*;
    match status {
        VP8_STATUS_OUT_OF_MEMORY => out_of_memory(F, plan),
        VP8_STATUS_UNSUPPORTED_FEATURE => {
            ImageError::UnsupportedVariant { format: F, variant: Variant::UnusualEncoding }
        }
        VP8_STATUS_NOT_ENOUGH_DATA => damaged(F, "the file is cut short"),
        _ => damaged(F, "the image data is corrupt"),
    }
}
