//! GIF, WebP and BMP through the `image` crate's decoders. They have no
//! streaming API, so the first frame is decoded in full; the header check
//! plus [`check_full_decode`] keep that within the budget, and `image`'s own
//! allocation limit is set as a second line of defence.

use std::io::Cursor;

use image::codecs::bmp::BmpDecoder;
use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::error::{ImageError as ImgError, LimitErrorKind};
use image::{ColorType, ImageDecoder, Limits};

use super::{damaged, feed_buffer, Plan};
use crate::imaging::colour::Layout;
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::header::Header;
use crate::imaging::limits::{check_full_decode, DECODE_BUDGET, MAX_DIMENSION, MAX_ICC_BYTES};
use crate::imaging::resize::Region;

/// Estimated peak memory of each decoder, in tenths of a byte per pixel:
/// output plus working buffers. Measured (peak RSS minus input, 12 MP):
/// lossy WebP 4.4 (YUV planes 1.5 + RGB out 3; alpha adds a plane and a
/// fourth output byte), lossless WebP 6.7 (ARGB plane 4 + out 3, RGBA out
/// 4), GIF 3.7 (RGBA out; a frame smaller than the screen adds its own
/// buffer), BMP 2.7 (RGB out; RGBA 4). Animated WebP composites a frame onto
/// a canvas.
fn tenths_per_pixel(format: SourceFormat, header: &Header) -> (u64, &'static str) {
    match (format, header.webp) {
        (SourceFormat::Webp, Some(k)) if k.animated => (120, "animated"),
        (SourceFormat::Webp, Some(k)) if k.lossless => (80, "lossless"),
        (SourceFormat::Webp, Some(k)) if k.alpha => (65, ""),
        (SourceFormat::Webp, _) => (50, ""),
        (SourceFormat::Gif, _) => (80, ""),
        _ => (40, ""),
    }
}

pub fn decode(bytes: &[u8], format: SourceFormat, header: &Header, plan: &Plan) -> Result<Region, ImageError> {
    let (tenths, variant) = tenths_per_pixel(format, header);
    check_full_decode(format, variant, plan.width, plan.height, tenths)?;
    let cur = Cursor::new(bytes);
    let map = |e: ImgError| map_err(format, plan, e);
    match format {
        SourceFormat::Gif => run(GifDecoder::new(cur).map_err(map)?, format, plan),
        SourceFormat::Webp => run(WebPDecoder::new(cur).map_err(map)?, format, plan),
        _ => run(BmpDecoder::new(cur).map_err(map)?, format, plan),
    }
}

fn run(mut dec: impl ImageDecoder, format: SourceFormat, plan: &Plan) -> Result<Region, ImageError> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(DECODE_BUDGET);
    dec.set_limits(limits).map_err(|e| map_err(format, plan, e))?;
    let (w, h) = dec.dimensions();
    if (w, h) != (plan.width, plan.height) {
        // Our header parser and the decoder disagree: trust neither.
        return Err(damaged(format, format!("header says {}×{}, decoder {w}×{h}", plan.width, plan.height)));
    }
    let layout = match dec.color_type() {
        ColorType::L8 => Layout::Gray,
        ColorType::La8 => Layout::GrayAlpha,
        ColorType::Rgb8 => Layout::Rgb,
        ColorType::Rgba8 => Layout::Rgba,
        _ => return Err(ImageError::UnsupportedVariant { format, what: "16-bit or floating-point samples" }),
    };
    let icc = dec.icc_profile().ok().flatten().filter(|p| p.len() <= MAX_ICC_BYTES);
    let len = usize::try_from(dec.total_bytes()).map_err(|_| damaged(format, "image too large"))?;
    let mut buf = vec![0u8; len];
    dec.read_image(&mut buf).map_err(|e| map_err(format, plan, e))?;
    let collector = plan.collector(w, h, layout, icc.as_deref());
    feed_buffer(collector, &buf, w, layout, format)
}

fn map_err(format: SourceFormat, plan: &Plan, e: ImgError) -> ImageError {
    match e {
        ImgError::Limits(l) if matches!(l.kind(), LimitErrorKind::InsufficientMemory | LimitErrorKind::DimensionError) => {
            ImageError::TooMuchMemory {
                format,
                variant: "",
                width: plan.width,
                height: plan.height,
                max_mp: DECODE_BUDGET * 10 / 80 / 1_000_000,
            }
        }
        ImgError::Unsupported(_) => ImageError::UnsupportedVariant { format, what: "an unusual encoding" },
        other => damaged(format, other.to_string()),
    }
}
