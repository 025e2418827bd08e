//! What one run of the pipeline is asked for: the settings and the
//! member's crop box.

use super::format::OutputFormat;

/// Crop box in pixels of the upright image (after EXIF orientation), as the
/// client's crop tool sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Settings of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Avatar edge in pixels (1..=[`MAX_OUTPUT_SIZE`](super::limits::MAX_OUTPUT_SIZE)).
    pub size: u32,
    pub format: OutputFormat,
    /// 1..=100, for lossy output.
    pub quality: u8,
    /// Largest accepted width × height of the source.
    pub max_pixels: u64,
    /// Bytes of the request held in wasm memory while the pipeline runs
    /// (the body the file is a slice of): the pipeline's memory budget is
    /// what [`MEMORY_BOUND`](crate::heap::MEMORY_BOUND) leaves after them, and never more than
    /// with a body of the default cap ([`pipeline_budget`](super::limits::pipeline_budget)). 0 =
    /// assume the default cap.
    pub held_bytes: u64,
    /// What the resize averages (`RESIZE_SPACE`).
    pub space: ResizeSpace,
    /// What becomes of an animated GIF or WebP (`ANIMATION`).
    pub animation: Animation,
    /// Whether HEIC is decoded (`HEIC`); `false` refuses it with
    /// [`ImageError::FormatOff`](super::ImageError::FormatOff).
    pub heic: bool,
}

impl Default for Options {
    /// The contract's defaults: 256 px WebP at quality 85, 100 MP.
    fn default() -> Self {
        Options {
            size: 256,
            format: OutputFormat::Webp,
            quality: 85,
            max_pixels: 100_000_000,
            held_bytes: 0,
            space: ResizeSpace::Srgb,
            animation: Animation::Keep,
            heic: true,
        }
    }
}

/// What the resize averages: sRGB code values or light.
///
/// `Srgb`, the default, averages the gamma-encoded values, as libvips/sharp,
/// Pillow, browsers and `disintegration/imaging` (AnqiCMS's Go image
/// library, in its go.mod) do, so an avatar looks like the one AnqiCMS
/// itself would make; on the benchmark's photos it matches sharp's SSIM
/// against both references, with fewer bytes than `Linear`.
///
/// `Linear` averages light (exact sRGB transfer function), which is what a
/// lens would do: fine bright detail on dark ground (stars, city lights,
/// a 1-px checkerboard) keeps its brightness instead of darkening, at a
/// small cost on ordinary photos against the sRGB reference. The measured
/// trade-off: README and docs/benchmark.md, "Resize space".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResizeSpace {
    #[default]
    Srgb,
    Linear,
}

impl ResizeSpace {
    /// Parses the `RESIZE_SPACE` setting (case-insensitive, surrounding
    /// spaces ignored): `srgb` or `linear`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "srgb" => Some(ResizeSpace::Srgb),
            "linear" => Some(ResizeSpace::Linear),
            _ => None,
        }
    }
}

/// What becomes of an animated GIF or WebP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Animation {
    /// An animated WebP avatar (when the output is WebP): every frame
    /// composited as browsers show it, cropped and resized like a still,
    /// timing and loop count kept, within the limits of `limits`.
    #[default]
    Keep,
    /// The first picture only, a still avatar.
    First,
}

impl Animation {
    /// Parses the `ANIMATION` setting (case-insensitive): `keep` or `first`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keep" => Some(Animation::Keep),
            "first" => Some(Animation::First),
            _ => None,
        }
    }
}
