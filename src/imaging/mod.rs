//! The avatar image pipeline, pure Rust (native and wasm32):
//!
//! sniff → header & limits → decode (reduced, streamed, colour-managed,
//! cropped) → Lanczos resize (in sRGB or linear light) → orient → encode.
//!
//! Nothing here knows about HTTP or Workers; errors implement
//! [`UserFacing`](crate::envelope::UserFacing).
//!
//! Modules, one job each: [`sniff`](sniff()) (magic bytes), `header`
//! (dimensions and EXIF orientation without decoding), `limits` (pixel
//! limit and memory budget), `decode` (per format), `colour` (ICC → sRGB),
//! `resize` (crop + Lanczos), `orient`, `encode`, `error`.

mod colour;
mod decode;
mod encode;
mod error;
mod format;
mod header;
pub mod limits;
mod options;
mod orient;
mod resize;
mod sniff;
mod webp;
mod work;

#[cfg(test)]
mod tests;

pub use error::{file_size, megapixels, ImageError, Kind, Lookalike, PipelineOption, Variant};
pub use format::{OutputFormat, SourceFormat, ACCEPTED_FORMATS};
pub use limits::{MAX_OUTPUT_SIZE, PLANNED_FORM_ROOM, PLANNED_UPLOAD_BYTES};
pub use options::{CropBox, Options, ResizeSpace};
pub use orient::Orientation;
pub use sniff::sniff;
pub use work::Work;

/// The encoded avatar and what was learnt about the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Avatar {
    pub bytes: Vec<u8>,
    pub format: OutputFormat,
    pub source: SourceFormat,
    /// Upright source size.
    pub width: u32,
    pub height: u32,
    /// The avatar carries an alpha channel (the kept square has real
    /// transparency and the output format has alpha).
    pub has_alpha: bool,
}

/// Milliseconds spent per stage, measured with the caller's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimes {
    /// Sniffing, header parsing, limit checks.
    pub header_ms: f64,
    /// Decoding, colour conversion and the box pre-shrink (they run
    /// interleaved, row by row).
    pub decode_ms: f64,
    /// Lanczos crop+resize and the conversion back to 8-bit sRGB.
    pub resize_ms: f64,
    /// Turning the final square upright.
    pub orient_ms: f64,
    pub encode_ms: f64,
    /// Work units the upload spent ([`Work`]): deterministic, unlike the
    /// times.
    pub work_units: u64,
}

impl StageTimes {
    pub fn total_ms(&self) -> f64 {
        self.header_ms + self.decode_ms + self.resize_ms + self.orient_ms + self.encode_ms
    }
}

/// Turns uploaded bytes into the avatar. See [`process_timed`].
pub fn process(bytes: &[u8], crop: Option<CropBox>, opts: &Options) -> Result<Avatar, ImageError> {
    process_timed(bytes, crop, opts, &|| 0.0).map(|(a, _)| a)
}

/// [`process`], also reporting stage times measured with `now` (ms; the
/// Worker passes `js_sys::Date::now`, since `std::time` panics on wasm32).
/// The work budget is the file's ([`Work::for_file`]).
pub fn process_timed(
    bytes: &[u8],
    crop: Option<CropBox>,
    opts: &Options,
    now: &dyn Fn() -> f64,
) -> Result<(Avatar, StageTimes), ImageError> {
    process_with_work(bytes, crop, opts, now, &Work::for_file(bytes))
}

/// [`process_timed`] charging `work` (tests and benchmarks: another
/// budget, or the units spent).
pub fn process_with_work(
    bytes: &[u8],
    crop: Option<CropBox>,
    opts: &Options,
    now: &dyn Fn() -> f64,
    work: &Work,
) -> Result<(Avatar, StageTimes), ImageError> {
    check_options(opts)?;
    let mut times = StageTimes::default();
    let mut t = now();
    let mut lap = |slot: &mut f64| {
        let n = now();
        *slot = n - t;
        t = n;
    };

    let (source, header, plan) = stages::plan(bytes, crop, opts, work)?;
    let orientation = header.orientation;
    let (uw, uh) = orientation.upright_size(header.width, header.height);
    lap(&mut times.header_ms);

    let region = decode::decode(bytes, source, &header, &plan)?;
    lap(&mut times.decode_ms);

    // The Lanczos step and the encoder are not charged to the work
    // budget: they handle the region and the avatar, bounded by
    // AVATAR_SIZE (and REGION_BUDGET) whatever the file claims.
    let (pixels, ch) =
        resize::finish(region, opts.size).map_err(|detail| ImageError::Encode { format: opts.format, detail })?;
    lap(&mut times.resize_ms);

    let pixels = orientation.apply_square(&pixels, opts.size as usize, ch);
    lap(&mut times.orient_ms);

    let has_alpha = ch == 4 && opts.format.supports_alpha();
    let pixels = if ch == 4 && !has_alpha { encode::flatten_on_white(&pixels) } else { pixels };
    let out = encode::encode(&pixels, opts.size, has_alpha, opts.format, opts.quality)?;
    lap(&mut times.encode_ms);

    let avatar = Avatar { bytes: out, format: opts.format, source, width: uw, height: uh, has_alpha };
    times.work_units = work.spent();
    Ok((avatar, times))
}

/// The refusal of `bytes` after the heap ran out while decoding them (the
/// Worker catches that with `crate::heap::catch_exhaustion` around
/// [`process_timed`]): the header was read before, so reading it again
/// gives the figures.
pub fn exhausted(bytes: &[u8]) -> ImageError {
    match sniff(bytes).and_then(|format| header::read_header(bytes, format).map(|h| (format, h))) {
        Ok((format, h)) => ImageError::HeapExhausted { format, width: h.width, height: h.height },
        Err(e) => e,
    }
}

/// The functions [`process_timed`] runs, one per stage, for the native
/// stage benchmark (`benches/stages.rs`), so a regression shows in the
/// stage that has it. Not an API: hidden from the docs, and it changes
/// whenever the pipeline does.
#[doc(hidden)]
pub mod stages {
    pub use super::decode::{decode, Plan};
    pub use super::encode::{encode, flatten_on_white};
    pub use super::header::Header;
    pub use super::resize::{finish as resize, Region};

    use super::{crop_square, header, limits, sniff, CropBox, ImageError, Options, SourceFormat, Work};

    /// The header stage: sniff, read the header, check the limits, and map
    /// the crop square (upright pixels) to the stored image. Decodes no
    /// pixel; the decoders will charge `work`.
    pub fn plan<'w>(
        bytes: &[u8],
        crop: Option<CropBox>,
        opts: &Options,
        work: &'w Work,
    ) -> Result<(SourceFormat, Header, Plan<'w>), ImageError> {
        let source = sniff(bytes)?;
        let header = header::read_header(bytes, source)?;
        limits::check_header(&header, opts.max_pixels)?;
        let (w, h) = (header.width, header.height);
        let orientation = header.orientation;
        let (uw, uh) = orientation.upright_size(w, h);
        let (u, v, side) = crop_square(crop, uw, uh)?;
        let (x, y) = orientation.to_stored_rect(u, v, side, w, h);
        let budget = limits::pipeline_budget(opts.held_bytes);
        let plan = Plan { x, y, side, width: w, height: h, size: opts.size, space: opts.space, budget, work };
        Ok((source, header, plan))
    }
}

/// The pipeline's own guard on its options (the settings check their
/// documented ranges before; this only keeps the pipeline within what it
/// can do).
fn check_options(o: &Options) -> Result<(), ImageError> {
    let bad = |option, value| Err(ImageError::BadOption { option, value });
    if o.size == 0 || o.size > limits::MAX_OUTPUT_SIZE {
        return bad(PipelineOption::Size, u64::from(o.size));
    }
    if o.quality == 0 || o.quality > 100 {
        return bad(PipelineOption::Quality, u64::from(o.quality));
    }
    if o.max_pixels == 0 {
        return bad(PipelineOption::MaxPixels, 0);
    }
    Ok(())
}

/// The square to keep, in upright pixels: `(left, top, side)`. A crop box
/// must have positive size and lie inside the image; a non-square box is
/// centre-cropped to a square; no box means the centre square.
pub fn crop_square(crop: Option<CropBox>, width: u32, height: u32) -> Result<(u32, u32, u32), ImageError> {
    let (x, y, w, h) = match crop {
        None => (0, 0, width, height),
        Some(c) => {
            if c.w == 0 || c.h == 0 {
                return Err(ImageError::CropEmpty { crop: c });
            }
            let inside = u64::from(c.x) + u64::from(c.w) <= u64::from(width)
                && u64::from(c.y) + u64::from(c.h) <= u64::from(height);
            if !inside {
                return Err(ImageError::CropOutside { crop: c, width, height });
            }
            (c.x, c.y, c.w, c.h)
        }
    };
    let side = w.min(h);
    Ok((x + (w - side) / 2, y + (h - side) / 2, side))
}
