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
    // does the rest). libwebp snaps a crop's start to even coordinates,
    // and upsamples the chroma of a crop's first and last columns (and
    // rows) as if they were the picture's edge. Unshrunk, the crop is
    // therefore taken a pixel or two wider on each side (from an even
    // start, within the picture) and the collector is told where the
    // square lies in it: exact. Shrunk, those pixels would be averaged
    // into the square's edge, so an odd start moves one pixel in instead
    // (the square loses that column or row): a shift of half a source
    // pixel, under a quarter of an avatar pixel since the shrink is at
    // least 2×.
    let target = (2 * plan.size).min(plan.side);
    let shrink = target < plan.side;
    let (left, top, cw, ch) = if shrink {
        let (dx, dy) = (plan.x & 1, plan.y & 1);
        (plan.x + dx, plan.y + dy, plan.side - dx, plan.side - dy)
    } else {
        let (left, top) = (plan.x.saturating_sub(1) & !1, plan.y.saturating_sub(1) & !1);
        let right = (plan.x + plan.side + 1).min(plan.width);
        let bottom = (plan.y + plan.side + 1).min(plan.height);
        (left, top, right - left, bottom - top)
    };
    let (sw, sh) = if shrink {
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

    // What came out: the square (shrunk, less an odd start's pixel), or
    // the square with its margins.
    let icc = icc.filter(|p| p.len() <= MAX_ICC_BYTES);
    let spec = if shrink {
        RegionSpec { x: 0.0, y: 0.0, w: f64::from(sw), h: f64::from(sh) }
    } else {
        let side = f64::from(plan.side);
        RegionSpec { x: f64::from(plan.x - left), y: f64::from(plan.y - top), w: side, h: side }
    };
    let mut collector =
        Collector::new(ColourConverter::new(layout, icc), plan.space, sw, sh, spec, plan.size, plan.work)
            .resize_as_rows_arrive(plan.resize_as_decoded);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::codecs::webp::encode::encode_lossy;
    use crate::imaging::format::OutputFormat;
    use crate::imaging::options::{CropBox, Options};
    use crate::imaging::pipeline::process;

    /// libwebp's own full decode of `webp`, as a PNG.
    fn full_decode_as_png(webp: &[u8]) -> Vec<u8> {
        let (mut w, mut h) = (0, 0);
        // SAFETY: libwebp reads `webp` and returns a buffer it allocated
        // (freed below), of w × h RGB pixels.
        let rgb = unsafe {
            let p = sys::WebPDecodeRGB(webp.as_ptr(), webp.len(), &mut w, &mut h);
            assert!(!p.is_null());
            let v = core::slice::from_raw_parts(p, (w * h * 3) as usize).to_vec();
            sys::WebPFree(p.cast());
            v
        };
        let img = image::RgbImage::from_raw(w as u32, h as u32, rgb).unwrap();
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        png
    }

    /// The mean difference of two avatars, and the largest of a column's
    /// or a row's (an edge taken wrong shows there).
    fn differences(a: &[u8], b: &[u8]) -> (f64, f64) {
        let da = image::load_from_memory(a).unwrap().to_rgb8();
        let db = image::load_from_memory(b).unwrap().to_rgb8();
        let (w, h) = da.dimensions();
        let (mut cols, mut rows) = (vec![0u64; w as usize], vec![0u64; h as usize]);
        for (x, y, p) in da.enumerate_pixels() {
            let q = db.get_pixel(x, y);
            let d: u64 = p.0.iter().zip(q.0).map(|(u, v)| u64::from(u.abs_diff(v))).sum();
            cols[x as usize] += d;
            rows[y as usize] += d;
        }
        let mean = cols.iter().sum::<u64>() as f64 / f64::from(w * h * 3);
        let line = cols.iter().chain(&rows).max().copied().unwrap_or(0) as f64 / f64::from(w.min(h) * 3);
        (mean, line)
    }

    #[test]
    fn odd_crop_starts_give_the_square_of_the_full_decode() {
        // Vertical detail, so that a shift of half a pixel shows: the
        // centre square of 299×100 starts at x = 99; crop boxes at odd x
        // and y. Our avatar (libwebp cropping, maybe shrinking) against the
        // avatar of libwebp's full decode as a PNG.
        let (w, h) = (299u32, 100u32);
        let px: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                let v = if (x / 2 + y / 3) % 2 == 0 { 40 } else { 220 };
                [v, (x * 255 / w) as u8, (y * 255 / h) as u8]
            })
            .collect();
        let webp = encode_lossy(&px, w, h, false, 95).unwrap();
        let png = full_decode_as_png(&webp);
        let crops = [None, Some(CropBox { x: 37, y: 11, w: 81, h: 81 }), Some(CropBox { x: 150, y: 3, w: 95, h: 95 })];
        for crop in crops {
            // 128 px: the square as it is (exact); 24 px: shrunk by libwebp
            // first (its averaging differs from the collector's a little).
            for size in [128, 24] {
                let opts = Options { size, format: OutputFormat::Png, ..Default::default() };
                let ours = process(&webp, crop, &opts).unwrap();
                let reference = process(&png, crop, &opts).unwrap();
                let (mean, line) = differences(&ours.bytes, &reference.bytes);
                let lim = if size == 128 { (0.01, 0.1) } else { (1.0, 4.0) };
                assert!(
                    mean < lim.0 && line < lim.1,
                    "{crop:?} at {size} px: {mean:.2} levels apart, {line:.2} on a line"
                );
            }
        }
    }
}
