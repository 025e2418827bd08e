//! GIF, WebP and BMP through the `image` crate's decoders (a still lossy
//! WebP without alpha goes to libwebp, `webp.rs`). They have no
//! streaming API, so the first frame is decoded in full; the header check
//! plus [`check_full_decode`] keep that within the budget, and `image`'s own
//! allocation limit is set as a second line of defence.

use std::io::Cursor;

use image::codecs::bmp::BmpDecoder;
use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::error::{ImageError as ImgError, LimitErrorKind};
use image::{ColorType, ImageDecoder, Limits};

use super::{check_decoded_size, damaged, feed_buffer, out_of_memory, Plan};
use crate::imaging::colour::Layout;
use crate::imaging::error::{ImageError, Kind, Variant};
use crate::imaging::format::SourceFormat;
use crate::imaging::header::{Header, WebpKind};
use crate::imaging::limits::{check_full_decode, MAX_DIMENSION, MAX_ICC_BYTES};
use crate::imaging::resize::Region;
use crate::imaging::work::cost;

/// Estimated peak bytes of each decoder for a `w`×`h` image: output plus
/// working buffers. Measured (peak heap over pixels, largest accepted
/// inputs, scripts/worst-case-memory.py), and the estimate used: lossy WebP
/// 4.8 → 5 (YUV planes 1.5 + RGB out 3); lossy with alpha 10.3 → 11 (the
/// alpha plane is decoded as a lossless image, 4 bytes a pixel, then kept
/// as a plane, + RGBA out 4); lossless 7.0 → 8 (ARGB 4 + RGB out 3; RGBA
/// is decoded in place, 4.2); animated 11.3 → 13 (first frame as RGBA 4 +
/// canvas 4 + output 4); BMP 3 → 4 (RGB out; RGBA 4). GIF is computed from
/// its first frame, which may be smaller or larger than the screen: RGBA
/// out (4 × screen) + the frame's indices (1 × frame) + an RGBA frame
/// buffer when the frame does not span the screen's width at its left
/// edge (4 × frame). An ICC profile is read into memory (≤ 1 MiB is kept).
fn memory_need(format: SourceFormat, header: &Header, w: u32, h: u32) -> (u64, Option<Kind>) {
    let px = u64::from(w) * u64::from(h);
    let tenths = |t: u64| (px * t).div_ceil(10);
    match (format, header.webp) {
        (SourceFormat::Webp, Some(k)) => {
            let icc = if k.icc { MAX_ICC_BYTES as u64 } else { 0 };
            let (t, kind) = match k {
                // libwebp (`webp.rs`) holds a few macroblock rows (its
                // caches grow with the width) and the shrunk square: a
                // tenth of a byte a pixel bounds it with room to spare.
                k if libwebp_takes(k) => (1, None),
                k if k.animated => (130, Some(Kind::Animated)),
                k if k.lossless => (80, Some(Kind::Lossless)),
                k if k.alpha => (110, None),
                _ => (50, None),
            };
            (tenths(t) + icc, kind)
        }
        (SourceFormat::Gif, _) => {
            let (left, top, fw, fh) = header.gif_frame.unwrap_or((0, 0, w as u16, h as u16));
            let frame = u64::from(fw) * u64::from(fh);
            let direct = left == 0 && u32::from(fw) == w && u32::from(top) + u32::from(fh) <= h;
            (4 * px + frame + if direct { 0 } else { 4 * frame }, None)
        }
        _ => (tenths(40), None),
    }
}

/// A still lossy WebP without alpha goes to libwebp (`webp.rs`). Alpha
/// (often a lossless-coded plane) and lossless images stay with `image`:
/// libwebp's lossless decoder allocates Huffman tables per group of the
/// entropy image, which a small hostile file can make hundreds of MB, and
/// its allocations cannot be counted natively, where the memory tests run.
fn libwebp_takes(k: WebpKind) -> bool {
    !k.animated && !k.lossless && !k.alpha
}

/// Work units of decoding the first frame with these decoders, which do
/// it at once (so it is charged before they are called): what the decoder
/// does per pixel of its frame, and what the collector will be charged for
/// the rows it gets. libwebp decodes every macroblock row down to the crop
/// square's last (and the file's coefficients) and hands over only the
/// square, shrunk to twice the avatar.
fn work_units(format: SourceFormat, header: &Header, plan: &Plan<'_>, file_bytes: usize) -> (u64, u64) {
    let (w, h) = (u64::from(plan.width), u64::from(plan.height));
    let px = w * h;
    let collector = Plan::collector_units(plan.width, plan.height);
    match (format, header.webp) {
        (SourceFormat::Webp, Some(k)) if libwebp_takes(k) => {
            let rows = (u64::from(plan.y) + u64::from(plan.side) + 16).min(h);
            let out = (2 * plan.size).min(plan.side);
            (w * rows * cost::LIBWEBP_PIXEL + file_bytes as u64 * cost::LIBWEBP_BYTE, Plan::collector_units(out, out))
        }
        (SourceFormat::Webp, Some(k)) => {
            // Lossy with alpha: the alpha plane is a lossless image.
            let per =
                if k.lossless { cost::WEBP_LOSSLESS_PIXEL } else { cost::WEBP_LOSSY_PIXEL + cost::WEBP_LOSSLESS_PIXEL };
            (px * per, collector)
        }
        (SourceFormat::Gif, _) => {
            let frame = header.gif_frame.map_or(px, |(_, _, fw, fh)| u64::from(fw) * u64::from(fh));
            (frame.max(px) * cost::GIF_PIXEL, collector)
        }
        _ => (px * cost::BMP_PIXEL, collector),
    }
}

pub fn decode(bytes: &[u8], format: SourceFormat, header: &Header, plan: &Plan<'_>) -> Result<Region, ImageError> {
    let (need, kind) = memory_need(format, header, plan.width, plan.height);
    let budget = plan.decode_budget(1.0, 4);
    check_full_decode(format, kind, plan.width, plan.height, need, budget)?;
    // The frame's decode is charged before it happens; the collector
    // charges its rows as they come.
    let (decoder, collector) = work_units(format, header, plan, bytes.len());
    plan.charge(format, decoder, plan.work.spent() + decoder + collector)?;
    if header.webp.is_some_and(libwebp_takes) {
        return super::webp::decode(bytes, plan);
    }
    // image's own allocation limit (enforced by its GIF decoder, for the
    // frame buffer; a second line of defence): what the output and the
    // frame's indices leave.
    let screen = u64::from(plan.width) * u64::from(plan.height);
    let frame = header.gif_frame.map_or(screen, |(_, _, fw, fh)| u64::from(fw) * u64::from(fh));
    let max_alloc = budget.saturating_sub(4 * screen + frame);
    let cur = Cursor::new(bytes);
    let map = |e: ImgError| map_err(format, plan, e);
    match format {
        SourceFormat::Gif => run(GifDecoder::new(cur).map_err(map)?, format, plan, max_alloc),
        SourceFormat::Webp => run(WebPDecoder::new(cur).map_err(map)?, format, plan, max_alloc),
        _ => run(BmpDecoder::new(cur).map_err(map)?, format, plan, max_alloc),
    }
}

fn run(
    mut dec: impl ImageDecoder,
    format: SourceFormat,
    plan: &Plan<'_>,
    max_alloc: u64,
) -> Result<Region, ImageError> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(max_alloc);
    dec.set_limits(limits).map_err(|e| map_err(format, plan, e))?;
    let (w, h) = dec.dimensions();
    check_decoded_size(format, plan, w, h)?;
    let layout = match dec.color_type() {
        ColorType::L8 => Layout::Gray,
        ColorType::La8 => Layout::GrayAlpha,
        ColorType::Rgb8 => Layout::Rgb,
        ColorType::Rgba8 => Layout::Rgba,
        _ => return Err(ImageError::UnsupportedVariant { format, variant: Variant::WideSamples }),
    };
    let icc = dec.icc_profile().ok().flatten().filter(|p| p.len() <= MAX_ICC_BYTES);
    let len = usize::try_from(dec.total_bytes()).map_err(|_| damaged(format, "image too large"))?;
    let mut buf = vec![0u8; len];
    dec.read_image(&mut buf).map_err(|e| map_err(format, plan, e))?;
    let collector = plan.collector(w, h, layout, icc.as_deref());
    feed_buffer(collector, &buf, w, layout, format, plan)
}

fn map_err(format: SourceFormat, plan: &Plan<'_>, e: ImgError) -> ImageError {
    match e {
        ImgError::Limits(l)
            if matches!(l.kind(), LimitErrorKind::InsufficientMemory | LimitErrorKind::DimensionError) =>
        {
            out_of_memory(format, plan)
        }
        ImgError::Unsupported(_) => ImageError::UnsupportedVariant { format, variant: Variant::UnusualEncoding },
        other => damaged(format, other.to_string()),
    }
}
