//! The `image` crate's decoders (GIF, BMP, and WebP with alpha or
//! animation). They have no streaming API: the first frame is decoded in
//! full, once the codec has admitted it ([`Plan::admit_whole_frame`]:
//! its memory estimate within the budget, its work charged), and
//! `image`'s own allocation limit is set as a second line of defence.

use std::io::Cursor;

use image::codecs::bmp::BmpDecoder;
use image::error::{ImageError as ImgError, LimitErrorKind};
use image::{ColorType, ImageDecoder, Limits};

use crate::imaging::colour::Layout;
use crate::imaging::decoding::{check_decoded_size, damaged, feed_buffer, out_of_memory, Plan};
use crate::imaging::error::{ImageError, Variant};
use crate::imaging::format::SourceFormat;
use crate::imaging::limits::{MAX_DIMENSION, MAX_ICC_BYTES};
use crate::imaging::resize::Region;

/// Decodes the first frame of `bytes` with the decoder `open` makes, with
/// `image`'s allocation limit at `max_alloc` bytes, into the plan's region.
pub(crate) fn decode_first_frame<'a, D: ImageDecoder>(
    open: impl FnOnce(Cursor<&'a [u8]>) -> Result<D, ImgError>,
    bytes: &'a [u8],
    format: SourceFormat,
    plan: &Plan<'_>,
    max_alloc: u64,
) -> Result<Region, ImageError> {
    read_first_frame(open, bytes, format, plan, max_alloc)?.feed(format, plan)
}

/// How the BMP and ICO codecs open image's BMP decoder (with or without
/// the file header): a function pointer, so that [`read_first_frame`] is
/// compiled once for both.
pub(crate) type OpenBmp<'a> = fn(Cursor<&'a [u8]>) -> Result<BmpDecoder<Cursor<&'a [u8]>>, ImgError>;

/// A first frame decoded by `image`, tightly packed, not yet handed to the
/// collector (a codec may still fix its alpha).
pub(crate) struct Decoded {
    pub buf: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub icc: Option<Vec<u8>>,
}

impl Decoded {
    /// Hands the pixels to the plan's collector.
    pub(crate) fn feed(self, format: SourceFormat, plan: &Plan<'_>) -> Result<Region, ImageError> {
        let collector = plan.collector(self.width, self.height, self.layout, self.icc.as_deref());
        feed_buffer(collector, &self.buf, self.width, self.layout, format, plan)
    }

    /// Browsers' rule for an alpha channel that is zero everywhere (a
    /// writer that declared alpha and stored none): the image is opaque.
    /// Returns whether it was so.
    pub(crate) fn opaque_if_alpha_all_zero(&mut self) -> bool {
        let ch = self.layout.channels();
        if !self.layout.has_alpha() || self.buf.chunks_exact(ch).any(|p| p[ch - 1] != 0) {
            return false;
        }
        self.buf.chunks_exact_mut(ch).for_each(|p| p[ch - 1] = 255);
        true
    }
}

/// Decodes the first frame of `bytes` with the decoder `open` makes, with
/// `image`'s allocation limit at `max_alloc` bytes, checking its size
/// against the plan's; 8-bit samples only.
pub(crate) fn read_first_frame<'a, D: ImageDecoder>(
    open: impl FnOnce(Cursor<&'a [u8]>) -> Result<D, ImgError>,
    bytes: &'a [u8],
    format: SourceFormat,
    plan: &Plan<'_>,
    max_alloc: u64,
) -> Result<Decoded, ImageError> {
    let mut dec = open(Cursor::new(bytes)).map_err(|e| map_err(format, plan, e))?;
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
    Ok(Decoded { buf, width: w, height: h, layout, icc })
}

pub(crate) fn map_err(format: SourceFormat, plan: &Plan<'_>, e: ImgError) -> ImageError {
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
