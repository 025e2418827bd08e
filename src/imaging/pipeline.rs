//! The pipeline itself: sniff → open (header) → limits and crop plan →
//! decode → resize → orient → encode, each stage timed with the caller's
//! clock, the decode charged to the upload's work counter.

use super::codecs;
use super::codecs::webp::anim_encode::AnimEncoder;
use super::decoding::{Header, Image, Plan};
use super::encode;
use super::error::AnimationLimit;
use super::error::{ImageError, PipelineOption};
use super::format::{OutputFormat, SourceFormat};
use super::limits;
use super::options::{Animation, CropBox, Options};
use super::orient::Orient;
use super::resize;
use super::sniff::sniff;
use super::work::{cost, per_byte, Work};

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
    /// Pictures in the avatar: 1 for a still, more for an animation kept.
    pub frames: u32,
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
    /// Work units the upload spent (`Work`): deterministic, unlike the
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
/// The work budget is the file's: the base allowance and its codec's
/// rate per byte (`work`).
pub fn process_timed(
    bytes: &[u8],
    crop: Option<CropBox>,
    opts: &Options,
    now: &dyn Fn() -> f64,
) -> Result<(Avatar, StageTimes), ImageError> {
    check_options(opts)?;
    let clock = Laps::start(now);
    let (source, image) = open_for(bytes, opts)?;
    let work = Work::for_file(image.work_rate(), bytes.len() as u64);
    run(source, &*image, crop, opts, clock, &work)
}

/// [`process_timed`] charging `work` (tests and benchmarks: another
/// budget, or the units spent).
#[cfg(any(test, feature = "internals"))]
pub fn process_with_work(
    bytes: &[u8],
    crop: Option<CropBox>,
    opts: &Options,
    now: &dyn Fn() -> f64,
    work: &Work,
) -> Result<(Avatar, StageTimes), ImageError> {
    check_options(opts)?;
    let clock = Laps::start(now);
    let (source, image) = open_for(bytes, opts)?;
    run(source, &*image, crop, opts, clock, work)
}

/// The work counter [`process_timed`] gives `bytes` (the base allowance
/// when it is no image it can open).
#[cfg(any(test, feature = "internals"))]
pub fn work_for_file(bytes: &[u8]) -> Work {
    let rate = open(bytes).map_or(0, |(_, image)| image.work_rate());
    Work::for_file(rate, bytes.len() as u64)
}

/// The refusal of `bytes` after the heap ran out while decoding them (the
/// Worker catches that with `crate::heap::catch_exhaustion` around
/// [`process_timed`]): the header was read before, so reading it again
/// gives the figures.
pub fn exhausted(bytes: &[u8]) -> ImageError {
    match open(bytes) {
        Ok((format, image)) => {
            let &Header { width, height, .. } = image.header();
            ImageError::HeapExhausted { format, width, height }
        }
        Err(e) => e,
    }
}

/// The stages after the header has been read.
fn run(
    source: SourceFormat,
    image: &dyn Image,
    crop: Option<CropBox>,
    opts: &Options,
    mut clock: Laps,
    work: &Work,
) -> Result<(Avatar, StageTimes), ImageError> {
    let mut times = StageTimes::default();
    let plan = plan(image, crop, opts, work)?;
    let header = *image.header();
    let orientation = header.orientation;
    let (uw, uh) = orientation.upright_size(header.width, header.height);
    clock.lap(&mut times.header_ms);

    let frames = image.frame_count();
    if frames > 1 && opts.animation == Animation::Keep && opts.format == OutputFormat::Webp {
        if let Some((out, kept, has_alpha)) = animate(source, image, plan, opts, &mut clock, &mut times)? {
            times.work_units = work.spent();
            let avatar =
                Avatar { bytes: out, format: opts.format, source, width: uw, height: uh, has_alpha, frames: kept };
            return Ok((avatar, times));
        }
    }

    let region = image.decode(&plan)?;
    clock.lap(&mut times.decode_ms);

    // The Lanczos step and the encoder are not charged to the work
    // budget: they handle the region and the avatar, bounded by
    // AVATAR_SIZE (and REGION_BUDGET) whatever the file claims.
    let (pixels, ch) =
        resize::finish(region, opts.size).map_err(|detail| ImageError::Encode { format: opts.format, detail })?;
    clock.lap(&mut times.resize_ms);

    let pixels = orientation.apply_square(pixels, opts.size as usize, ch);
    clock.lap(&mut times.orient_ms);

    let has_alpha = ch == 4 && opts.format.supports_alpha();
    let pixels = if ch == 4 && !has_alpha { encode::flatten_on_white(&pixels) } else { pixels };
    let out = encode::encode(&pixels, opts.size, has_alpha, opts.format, opts.quality)?;
    clock.lap(&mut times.encode_ms);

    let avatar = Avatar { bytes: out, format: opts.format, source, width: uw, height: uh, has_alpha, frames: 1 };
    times.work_units = work.spent();
    Ok((avatar, times))
}

/// An animation kept as an animated WebP: every shown picture decoded,
/// cropped, resized and turned upright like a still, then added to the
/// animation with its duration. Returns the file, its pictures and
/// whether any has transparency; `None` when the file is too small for
/// the work of its pictures (`work::per_byte::ANIMATION`): the caller
/// makes a still of it. The animation limits (`limits`) are checked on
/// the file's declared pictures first and on what is decoded and written
/// after.
fn animate(
    source: SourceFormat,
    image: &dyn Image,
    plan: Plan<'_>,
    opts: &Options,
    clock: &mut Laps,
    times: &mut StageTimes,
) -> Result<Option<(Vec<u8>, u32, bool)>, ImageError> {
    // The picture and pixel limits, on the pictures declared and again on
    // those decoded.
    let (width, height) = (plan.width, plan.height);
    let within_limits = |frames: u32| {
        let over = if frames > limits::MAX_FRAMES {
            AnimationLimit::Frames { frames, max: limits::MAX_FRAMES }
        } else if u64::from(frames) * u64::from(width) * u64::from(height) > limits::MAX_ANIMATION_PIXELS {
            AnimationLimit::Pixels { width, height, frames, max: limits::MAX_ANIMATION_PIXELS }
        } else {
            return Ok(());
        };
        Err(ImageError::AnimationTooBig { format: source, over })
    };
    let declared = image.frame_count();
    within_limits(declared)?;
    // The output pictures' work: allowed by the file's size, else a still.
    let picture = cost::ANIMATION_PICTURE_PIXEL * u64::from(opts.size) * u64::from(opts.size);
    let pictures = u64::from(declared) * picture;
    if pictures > per_byte::ANIMATION.saturating_mul(plan.work.bytes()) {
        return Ok(None);
    }
    plan.work.grant(pictures);
    let encode_err = |detail| ImageError::Encode { format: opts.format, detail };
    let orientation = image.header().orientation;
    let size = opts.size as usize;
    let mut frames = image.frames(plan)?;
    let mut encoder = AnimEncoder::new(opts.size, frames.loop_count(), opts.quality).map_err(encode_err)?;
    let (mut kept, mut has_alpha) = (0u32, false);
    clock.add(&mut times.header_ms);
    while let Some((region, ms)) = frames.next_frame()? {
        kept += 1;
        within_limits(kept)?;
        plan.charge(source, picture, pictures)?;
        clock.add(&mut times.decode_ms);
        let (pixels, ch) = resize::finish(region, opts.size).map_err(encode_err)?;
        clock.add(&mut times.resize_ms);
        let pixels = orientation.apply_square(pixels, size, ch);
        clock.add(&mut times.orient_ms);
        let rgba = if ch == 4 {
            has_alpha |= pixels.chunks_exact(4).any(|p| p[3] != 255);
            pixels
        } else {
            pixels.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect()
        };
        encoder.add(&rgba, ms).map_err(encode_err)?;
        clock.add(&mut times.encode_ms);
    }
    let out = encoder.finish().map_err(encode_err)?;
    clock.add(&mut times.encode_ms);
    let (bytes, max) = (out.len() as u64, limits::MAX_ANIMATED_BYTES);
    if bytes > max {
        return Err(ImageError::AnimationTooBig { format: source, over: AnimationLimit::Bytes { bytes, max } });
    }
    Ok(Some((out, kept, has_alpha)))
}

/// The caller's clock, read at the end of each stage.
struct Laps<'a> {
    now: &'a dyn Fn() -> f64,
    last: f64,
}

impl<'a> Laps<'a> {
    fn start(now: &'a dyn Fn() -> f64) -> Self {
        Laps { now, last: now() }
    }

    /// Stores the time since the last lap in `slot`.
    fn lap(&mut self, slot: &mut f64) {
        let n = (self.now)();
        *slot = n - self.last;
        self.last = n;
    }

    /// Adds the time since the last lap to `slot` (a stage run per frame).
    fn add(&mut self, slot: &mut f64) {
        let n = (self.now)();
        *slot += n - self.last;
        self.last = n;
    }
}

/// Sniffs `bytes` and opens them with their format's codec (reads the
/// header, decodes nothing).
pub fn open(bytes: &[u8]) -> Result<(SourceFormat, Box<dyn Image + '_>), ImageError> {
    let format = sniff(bytes)?;
    Ok((format, codecs::open(bytes, format)?))
}

/// [`open`] for a run with `opts`: a format the operator turned off
/// (`HEIC=off`) is refused from its magic bytes, before its header is read.
fn open_for<'a>(bytes: &'a [u8], opts: &Options) -> Result<(SourceFormat, Box<dyn Image + 'a>), ImageError> {
    let format = sniff(bytes)?;
    if format == SourceFormat::Heic && !opts.heic {
        return Err(ImageError::FormatOff { format });
    }
    Ok((format, codecs::open(bytes, format)?))
}

/// The header stage after [`open`]: checks the limits and maps the crop
/// square (upright pixels) to the stored image. Decodes no pixel; the
/// decoders will charge `work`.
pub fn plan<'w>(
    image: &dyn Image,
    crop: Option<CropBox>,
    opts: &Options,
    work: &'w Work,
) -> Result<Plan<'w>, ImageError> {
    let &Header { width: w, height: h, orientation } = image.header();
    limits::check_size(w, h, opts.max_pixels)?;
    let (uw, uh) = orientation.upright_size(w, h);
    let (u, v, side) = crop_square(crop, uw, uh)?;
    let (x, y) = orientation.to_stored_rect(u, v, side, w, h);
    let budget = limits::pipeline_budget(opts.held_bytes);
    Ok(Plan {
        x,
        y,
        side,
        width: w,
        height: h,
        size: opts.size,
        space: opts.space,
        budget,
        work,
        resize_as_decoded: true,
    })
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
