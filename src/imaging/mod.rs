//! The avatar image pipeline, pure Rust (native and wasm32):
//!
//! sniff → header & limits → decode (reduced, streamed, colour-managed,
//! cropped) → Lanczos resize (in sRGB or linear light) → orient → encode.
//!
//! Nothing here knows about HTTP or Workers; errors implement
//! [`UserFacing`](crate::i18n::UserFacing).
//!
//! Modules, one job each: `pipeline` (the stages in order), `sniff`
//! (magic bytes), `codecs` (one module per format behind the `Image`
//! trait of `decoding`: header, memory need, decode), `limits` (pixel
//! limit and memory budget), `work` (the CPU budget), `colour` (ICC →
//! sRGB), `resize` (crop + Lanczos), `orient` (EXIF orientation),
//! `encode`, `options`, `error`.

mod bytes;
mod codecs;
#[cfg(feature = "test-hooks")]
pub(crate) use codecs::{
    jpeg_colour_self_check, jpeg_idct4_self_check, jpeg_idct_self_check, jpeg_stretch_self_check,
    png_unfilter_self_check,
};
#[cfg(feature = "test-hooks")]
pub(crate) use lanczos::fixed_self_check as lanczos_fixed_self_check;
#[cfg(feature = "test-hooks")]
pub(crate) use resize::premultiply_self_check;
mod colour;
mod decoding;
mod encode;
mod error;
mod format;
mod lanczos;
mod limits;
mod options;
mod orient;
mod pipeline;
mod resize;
mod sniff;
mod work;

#[cfg(test)]
mod tests;

/// The next number of a xorshift32 sequence: pseudo-random test data that
/// is the same on every run and target.
#[cfg(any(test, feature = "test-hooks"))]
pub(crate) fn xorshift(seed: &mut u32) -> u32 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    *seed
}

pub use error::{AnimationLimit, ImageError, Kind, Lookalike, PipelineOption, Variant};
pub use format::{OutputFormat, SourceFormat};
pub use limits::{MAX_OUTPUT_SIZE, PLANNED_FORM_ROOM, PLANNED_UPLOAD_BYTES};
pub use options::{Animation, CropBox, Options, ResizeSpace};
pub use pipeline::{exhausted, process, process_timed, Avatar, StageTimes};

// For the stage benchmark and the example (cargo feature `internals`).
#[cfg(feature = "internals")]
pub use orient::{Orient, Orientation};
#[cfg(feature = "internals")]
pub use pipeline::{process_with_work, work_for_file};
#[cfg(feature = "internals")]
pub use work::Work;

/// The functions [`process_timed`] runs, one per stage, for the native
/// stage benchmark (`benches/stages.rs`), so a regression shows in the
/// stage that has it. Not an API (cargo feature `internals`): it changes
/// whenever the pipeline does.
#[cfg(feature = "internals")]
pub mod stages {
    pub use super::decoding::{Header, Image, Plan};
    pub use super::encode::{encode, flatten_on_white};
    pub use super::pipeline::{open, plan};
    pub use super::resize::{finish as resize, Region};

    /// The decode stage: the plan's crop square into the resize's region.
    pub fn decode(image: &dyn Image, plan: &Plan<'_>) -> Result<Region, super::ImageError> {
        image.decode(plan)
    }
}
