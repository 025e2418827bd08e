//! Limits checked on the header, before any pixel memory is allocated, and
//! the memory budget of the decoders.
//!
//! # Memory budget
//!
//! One upload may use at most [`MEMORY_BOUND`] (100 MB) of wasm memory:
//! [`WASM_BASELINE`] (module data, stack, allocator) + the request body,
//! copied into wasm memory once and held while the pipeline runs + the
//! pipeline's own peak. The body can always be as large as the cap (the
//! form's other parts are ignored, so any file can be padded), so with the
//! default cap the pipeline may hold [`PIPELINE_BUDGET`] = 100 MB − 2 MiB −
//! (20 MiB + 64 KiB) = 76 865 792 B (73.3 MiB) at any moment; a larger
//! body (an operator raising `MAX_UPLOAD_BYTES`) leaves less
//! ([`pipeline_budget`]).
//!
//! Of that, the decoder gets what the kept crop region (`resize::region_bytes`)
//! and a fixed [`SLACK`] leave ([`decode_budget`]):
//!
//! * JPEG is decoded in the DCT domain at 1/8, 1/4, 1/2 or full scale; the
//!   decoder's planes + its output + the ICC chunks it keeps must fit the
//!   budget (a coarser scale is chosen when the finest useful one does not
//!   fit). Progressive JPEG also keeps all DCT coefficients at full
//!   resolution (2 bytes per sample), so a large progressive JPEG can be
//!   refused ([`ImageError::TooMuchMemory`]).
//! * Non-interlaced PNG is streamed row by row: memory grows with the width,
//!   not the area. Interlaced PNG, GIF, WebP and BMP are decoded in full
//!   (the decoders have no streaming API) and must fit the budget.
//! * After decoding, only the crop square is kept, box-shrunk (16-bit
//!   samples) to at most a few times the avatar size ([`REGION_BUDGET`]).
//!
//! `scripts/worst-case-memory.py` generates the largest accepted input of
//! each kind and measures the pipeline's peak (docs/benchmark.md, "Worst-case
//! memory"); `tests::worst_case_inputs_stay_within_the_memory_bound` checks
//! the same natively.

pub use crate::heap::MEMORY_BOUND;

use super::error::{ImageError, Kind};
use super::format::SourceFormat;

/// Largest accepted side, in pixels (JPEG's and GIF's own maximum).
pub const MAX_DIMENSION: u32 = 65_535;

/// Wasm memory in use before the body is read: the module's data, the
/// stack, the allocator's and wasm-bindgen's state.
pub const WASM_BASELINE: u64 = 2 * 1024 * 1024;

/// The largest file the memory budget is planned for: the default
/// `MAX_UPLOAD_BYTES` (the settings assert that they agree).
pub const PLANNED_UPLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// Room the request body holds around the file: multipart framing and
/// the crop fields (the settings assert that they agree).
pub const PLANNED_FORM_ROOM: u64 = 64 * 1024;

/// The largest request body of the default settings, held in wasm memory
/// during the pipeline.
pub const DEFAULT_BODY_BYTES: u64 = PLANNED_UPLOAD_BYTES + PLANNED_FORM_ROOM;

/// What the pipeline may hold at once when the body is at most
/// [`DEFAULT_BODY_BYTES`]: 76 865 792 B (73.3 MiB).
pub const PIPELINE_BUDGET: u64 = MEMORY_BOUND - WASM_BASELINE - DEFAULT_BODY_BYTES;

/// Memory no estimate counts: the colour transform, row buffers, decoder
/// tables and small metadata (EXIF, XMP), allocator rounding; what
/// scripts/worst-case-memory.py measures beyond the estimates fits in it
/// with room (docs/benchmark.md, "Worst-case memory").
pub const SLACK: u64 = 2 * 1024 * 1024;

/// Bytes for the 16-bit crop square handed to the Lanczos resizer
/// (binding only for avatars over ~880 px: below, the region is at most
/// (4 × size)² × 8 bytes, 8 MiB at 256 px).
pub const REGION_BUDGET: u64 = 24 * 1024 * 1024;

/// What the pipeline may hold at once while `held_bytes` of the request
/// (its body) are in wasm memory: [`PIPELINE_BUDGET`], less what the body
/// holds beyond the default's (so acceptance does not depend on the file's
/// size under the default settings), i.e. the rest of [`MEMORY_BOUND`].
pub fn pipeline_budget(held_bytes: u64) -> u64 {
    PIPELINE_BUDGET.saturating_sub(held_bytes.saturating_sub(DEFAULT_BODY_BYTES))
}

/// The decoder's share of `pipeline` bytes when the collector will keep
/// `region` bytes (see `resize::region_bytes`).
pub fn decode_budget(pipeline: u64, region: u64) -> u64 {
    pipeline.saturating_sub(SLACK).saturating_sub(region)
}

/// Most pictures an animated avatar keeps: each is resized and encoded
/// on its own, so the CPU an animation costs grows with them.
pub const MAX_FRAMES: u32 = 100;

/// Most pixels an animation may decode in all (canvas × pictures): every
/// picture is the whole canvas composited and converted.
pub const MAX_ANIMATION_PIXELS: u64 = 100_000_000;

/// Largest animated avatar written: it is shown on every page the
/// member's name appears on.
pub const MAX_ANIMATED_BYTES: u64 = 2 * 1024 * 1024;

/// Largest avatar edge the pipeline renders (a few output buffers of
/// `size²×8` bytes must fit next to the decoder's memory).
pub const MAX_OUTPUT_SIZE: u32 = 2048;

/// Largest embedded ICC profile used; a larger one is ignored (pixels are
/// then treated as sRGB) rather than refusing the photo.
pub const MAX_ICC_BYTES: usize = 1024 * 1024;

/// Refuses a declared size out of bounds: pixel count above the
/// configured limit (naming both figures), a zero side, or a side above
/// [`MAX_DIMENSION`].
pub fn check_size(width: u32, height: u32, max_pixels: u64) -> Result<(), ImageError> {
    let px = u64::from(width) * u64::from(height);
    if px > max_pixels {
        return Err(ImageError::TooManyPixels { width, height, limit: max_pixels });
    }
    if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(ImageError::BadDimensions { width, height, max: MAX_DIMENSION });
    }
    Ok(())
}

/// Refuses a full decode whose estimated peak, `need` bytes (output plus
/// working buffers, measured: see each codec), is over `budget`.
pub fn check_full_decode(
    format: SourceFormat,
    kind: Option<Kind>,
    width: u32,
    height: u32,
    need: u64,
    budget: u64,
) -> Result<(), ImageError> {
    if need > budget {
        return Err(too_much_memory(format, kind, width, height, need, budget));
    }
    Ok(())
}

/// The refusal for a decode that would need `need` bytes of a `budget`,
/// with the largest size of the same kind that fits (memory grows with the
/// area).
pub fn too_much_memory(
    format: SourceFormat,
    kind: Option<Kind>,
    width: u32,
    height: u32,
    need: u64,
    budget: u64,
) -> ImageError {
    let px = u128::from(width) * u128::from(height);
    let max_mp = (u128::from(budget) * px / u128::from(need.max(1)) / 1_000_000) as u64;
    ImageError::TooMuchMemory { format, kind, width, height, max_mp }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_plus_body_plus_baseline_is_the_bound() {
        // The arithmetic of the bound: whatever the body, baseline + body
        // + the pipeline's budget never passes MEMORY_BOUND (until the body
        // alone does).
        for held in [0, 1 << 20, DEFAULT_BODY_BYTES - 1, DEFAULT_BODY_BYTES, 50 << 20, 90_000_000] {
            let body = held.max(1);
            assert!(WASM_BASELINE + body + pipeline_budget(held) <= MEMORY_BOUND, "{held}");
        }
        assert_eq!(pipeline_budget(0), PIPELINE_BUDGET);
        assert_eq!(PIPELINE_BUDGET, 76_865_792);
        assert_eq!(WASM_BASELINE + DEFAULT_BODY_BYTES + PIPELINE_BUDGET, MEMORY_BOUND);
        assert_eq!(pipeline_budget(200 << 20), 0);
        // The region's reserve at the default size leaves the decoders
        // enough for a 12 MP progressive JPEG (~37 MB) and 16 MP of
        // interlaced RGBA PNG.
        let d = decode_budget(PIPELINE_BUDGET, crate::imaging::resize::region_bytes(4000.0, 256, 4));
        assert!(d >= 64 << 20, "{d}");
    }
}
