//! Encoding the final square. Nothing but pixels goes out: no EXIF, ICC,
//! XMP or comments (the pixels are sRGB, the web's default).

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use super::codecs::webp::encode::encode_lossy;
use super::error::ImageError;
use super::format::OutputFormat;

/// Encodes `size`×`size` sRGB pixels (RGB8, or RGBA8 when `has_alpha`).
/// JPEG has no alpha: the caller composites first ([`flatten_on_white`]).
pub fn encode(
    pixels: &[u8],
    size: u32,
    has_alpha: bool,
    format: OutputFormat,
    quality: u8,
) -> Result<Vec<u8>, ImageError> {
    let err = |detail: String| ImageError::Encode { format, detail };
    let ct = if has_alpha { ExtendedColorType::Rgba8 } else { ExtendedColorType::Rgb8 };
    match format {
        OutputFormat::Webp => encode_lossy(pixels, size, size, has_alpha, quality).map_err(err),
        OutputFormat::Jpeg => {
            if has_alpha {
                return Err(err("JPEG has no alpha channel".into()));
            }
            let mut out = Vec::new();
            JpegEncoder::new_with_quality(&mut out, quality)
                .write_image(pixels, size, size, ct)
                .map_err(|e| err(e.to_string()))?;
            Ok(out)
        }
        OutputFormat::Png => {
            let mut out = Vec::new();
            PngEncoder::new(&mut out).write_image(pixels, size, size, ct).map_err(|e| err(e.to_string()))?;
            Ok(out)
        }
    }
}

/// RGBA → RGB over a white background (for JPEG, which has no alpha).
/// Blending in sRGB code values, as browsers composite.
pub fn flatten_on_white(rgba: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgba.len() / 4 * 3);
    for px in rgba.chunks_exact(4) {
        let a = u32::from(px[3]);
        for &c in &px[..3] {
            out.push(((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8);
        }
    }
    out
}
