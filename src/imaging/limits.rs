//! Limits checked on the header, before any pixel memory is allocated, and
//! the memory budget of the decoders.
//!
//! # Memory budget
//!
//! A Worker isolate has 128 MB. The request body (≤ 20 MiB, possibly held
//! twice by the HTTP layer), the wasm module and the JS heap take their
//! share, so the image pipeline plans for at most [`DECODE_BUDGET`] (80 MiB)
//! of pixel buffers at any moment:
//!
//! * JPEG is decoded in the DCT domain at 1/8, 1/4, 1/2 or full scale; the
//!   decoder's planes + its output must fit the budget (a coarser scale is
//!   chosen when the finest useful one does not fit). Progressive JPEG also
//!   keeps all DCT coefficients at full resolution (2 bytes per sample), so
//!   a very large progressive JPEG can be refused ([`ImageError::TooMuchMemory`]).
//! * Non-interlaced PNG is streamed row by row: memory grows with the width,
//!   not the area. Interlaced PNG, GIF, WebP and BMP are decoded in full
//!   (the decoders have no streaming API) and must fit the budget.
//! * After decoding, only the crop square is kept, box-shrunk in linear
//!   light to at most a few times the avatar size ([`REGION_BUDGET`]).

use super::error::ImageError;
use super::format::SourceFormat;
use super::header::Header;

/// Largest accepted side, in pixels (JPEG's and GIF's own maximum).
pub const MAX_DIMENSION: u32 = 65_535;

/// Bytes of pixel buffers the decoders may hold at once (see module docs).
pub const DECODE_BUDGET: u64 = 80 * 1024 * 1024;

/// Bytes for the linear-light crop square handed to the Lanczos resizer.
pub const REGION_BUDGET: u64 = 24 * 1024 * 1024;

/// Largest avatar edge the pipeline renders (a few output buffers of
/// `size²×8` bytes must fit next to the decoder's memory).
pub const MAX_OUTPUT_SIZE: u32 = 2048;

/// Most scans (SOS segments) a JPEG may have. The decoder walks every
/// block of the scan's components once per scan, so a file of tiny scans
/// repeated thousands of times costs minutes of CPU (found by fuzzing: a
/// 200 KB 2000×2000 progressive JPEG of 12 000 empty scans took over two
/// minutes). Encoders write 1 to 4 scans (baseline) or about 10
/// (progressive: libjpeg's default script; mozjpeg a few more).
pub const MAX_JPEG_SCANS: usize = 64;

/// Largest embedded ICC profile used; a larger one is ignored (pixels are
/// then treated as sRGB) rather than refusing the photo.
pub const MAX_ICC_BYTES: usize = 1024 * 1024;

/// Refuses a header whose size is out of bounds: pixel count above the
/// configured limit (naming both figures), a zero side, or a side above
/// [`MAX_DIMENSION`].
pub fn check_header(h: &Header, max_pixels: u64) -> Result<(), ImageError> {
    let px = u64::from(h.width) * u64::from(h.height);
    if px > max_pixels {
        return Err(ImageError::TooManyPixels { width: h.width, height: h.height, limit: max_pixels });
    }
    if h.width == 0 || h.height == 0 || h.width > MAX_DIMENSION || h.height > MAX_DIMENSION {
        return Err(ImageError::BadDimensions { width: h.width, height: h.height, max: MAX_DIMENSION });
    }
    Ok(())
}

/// Refuses a full decode that would not fit the budget.
/// `tenths_per_pixel` is the decoder's estimated peak, in tenths of a byte
/// per pixel (output plus working buffers, measured: see `decode::generic`).
pub fn check_full_decode(
    format: SourceFormat,
    variant: &'static str,
    width: u32,
    height: u32,
    tenths_per_pixel: u64,
) -> Result<(), ImageError> {
    let need = (u64::from(width) * u64::from(height) * tenths_per_pixel).div_ceil(10);
    if need > DECODE_BUDGET {
        return Err(too_much_memory(format, variant, width, height, need));
    }
    Ok(())
}

/// The refusal for a decode that would need `need` bytes, with the largest
/// size of the same kind that fits the budget.
pub fn too_much_memory(format: SourceFormat, variant: &'static str, width: u32, height: u32, need: u64) -> ImageError {
    let px = u128::from(width) * u128::from(height);
    let max_mp = (u128::from(DECODE_BUDGET) * px / u128::from(need.max(1)) / 1_000_000) as u64;
    ImageError::TooMuchMemory { format, variant, width, height, max_mp }
}
