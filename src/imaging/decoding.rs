//! What the pipeline and the codecs (`codecs::*`) agree on: an opened
//! file is an [`Image`], which tells its [`Header`] and its work rate and
//! decodes the crop square of a [`Plan`] into the resize's [`Region`].
//! Also the plumbing every codec shares: handing rows to the collector,
//! charging the work counter, checking a decoder's idea of the size, and
//! the refusals that follow.
//!
//! Each codec picks the cheapest way to get the crop square at (at least)
//! the avatar's resolution, within the budget ([`Plan::decode_budget`]):
//! JPEG at a reduced DCT scale, PNG streamed row by row, the others in
//! full. Rows are handed to a [`Collector`] which keeps only what the
//! resize needs.

use super::colour::{ColourConverter, Layout};
use super::error::{ImageError, Kind};
use super::format::SourceFormat;
use super::limits;
use super::options::ResizeSpace;
use super::orient::Orientation;
use super::resize::{region_bytes, Collector, Region, RegionSpec};
use super::work::{cost, Spent, Work};

/// An opened file of one format: its header read (limits can be checked
/// on it), nothing decoded yet. Each format keeps what else it learnt
/// from the header (JPEG's frame and scans, WebP's kind, ...) in its own
/// type.
pub trait Image {
    /// The size and orientation the file declares.
    fn header(&self) -> &Header;

    /// Work units per byte of the file that its decode may cost on top of
    /// the base allowance (`work::per_byte`).
    fn work_rate(&self) -> u64;

    /// Decodes the plan's crop square, within the plan's memory budget,
    /// charging the plan's work counter. For an animation: its first
    /// shown picture.
    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError>;

    /// How many pictures the file shows, from its header walk: more than
    /// one for an animation (GIF, WebP); 1 for a still.
    fn frame_count(&self) -> u32 {
        1
    }

    /// An animation's shown pictures, one at a time, each as the plan's
    /// crop region. Only asked of a file whose [`Image::frame_count`] is
    /// over 1.
    fn frames<'p>(&'p self, plan: Plan<'p>) -> Result<Box<dyn Frames + 'p>, ImageError> {
        let _ = plan;
        Err(damaged(SourceFormat::Gif, "frames asked of a still image"))
    }
}

/// The shown pictures of an animation, composited as browsers show them
/// (each frame drawn over what the previous one left, as its disposal
/// says), in order.
pub trait Frames {
    /// How often the animation plays: 0 = forever.
    fn loop_count(&self) -> u32;

    /// The next picture as the plan's crop region, and how long it shows
    /// (ms); `None` after the last.
    fn next_frame(&mut self) -> Result<Option<(Region, u32)>, ImageError>;
}

/// How long a picture shows, from a file's own duration in ms: browsers
/// show a frame of 10 ms or less for 100 ms (files written for old
/// browsers that raced through such frames), and so does the avatar.
pub(crate) fn shown_ms(file_ms: u32) -> u32 {
    if file_ms <= 10 {
        100
    } else {
        file_ms
    }
}

/// What the pipeline needs to know before decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Stored (not upright) dimensions.
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
}

impl Header {
    /// A `width`×`height` image stored upright.
    pub(crate) fn upright(width: u32, height: u32) -> Header {
        Header { width, height, orientation: Orientation::NoTransforms }
    }
}

/// The crop square in the *stored* (not upright) image, at full resolution,
/// and what the decoders may spend.
#[derive(Clone, Copy, Debug)]
pub struct Plan<'w> {
    pub x: u32,
    pub y: u32,
    pub side: u32,
    /// Stored image size.
    pub width: u32,
    pub height: u32,
    /// Avatar edge.
    pub size: u32,
    /// What the resize averages.
    pub space: ResizeSpace,
    /// Bytes the pipeline may hold at once ([`limits::pipeline_budget`]).
    pub budget: u64,
    /// The upload's work counter: every decoding loop charges it.
    pub work: &'w Work,
    /// Resize the rows as they are decoded where the region allows it
    /// ([`Collector::resize_as_rows_arrive`]), as the Worker does; the
    /// stage benchmarks hold the region instead, to time the two apart.
    pub resize_as_decoded: bool,
}

impl<'w> Plan<'w> {
    /// A collector for an image decoded at `dw`×`dh` (maybe reduced from the
    /// full size): the crop square is scaled to the decoded grid.
    pub(crate) fn collector(&self, dw: u32, dh: u32, layout: Layout, icc: Option<&[u8]>) -> Collector<'w> {
        let sx = f64::from(dw) / f64::from(self.width.max(1));
        let sy = f64::from(dh) / f64::from(self.height.max(1));
        self.collector_at_scale(dw, dh, (sx, sy), layout, icc)
    }

    /// A collector for an image decoded at `dw`×`dh` whose pixels stand
    /// for `1 / scale` source pixels each, along x and y. Not the same as
    /// [`Plan::collector`] when the decoded grid's last pixels stand for
    /// fewer: a JPEG decoded at `n`/8 has `ceil(width × n / 8)` columns, the
    /// last of them from the block's rest, so its scale is exactly `n`/8.
    pub(crate) fn collector_at_scale(
        &self,
        dw: u32,
        dh: u32,
        (sx, sy): (f64, f64),
        layout: Layout,
        icc: Option<&[u8]>,
    ) -> Collector<'w> {
        let spec = RegionSpec {
            x: f64::from(self.x) * sx,
            y: f64::from(self.y) * sy,
            w: f64::from(self.side) * sx,
            h: f64::from(self.side) * sy,
        };
        Collector::new(ColourConverter::new(layout, icc), self.space, dw, dh, spec, self.size, self.work)
            .resize_as_rows_arrive(self.resize_as_decoded)
    }

    /// Work units the collector of a `dw`×`dh` decode will be charged at
    /// most (every row, the whole width converted).
    pub(crate) fn collector_units(dw: u32, dh: u32) -> u64 {
        u64::from(dh) * cost::COLLECT_ROW + u64::from(dw) * u64::from(dh) * cost::COLLECT_PIXEL
    }

    /// Charges `units` of a `format` decode whose whole cost is `whole`
    /// units; the refusal names the file and what its budget allows.
    pub(crate) fn charge(&self, format: SourceFormat, units: u64, whole: u64) -> Result<(), ImageError> {
        self.work.charge(units).map_err(|Spent| self.work_refusal(format, whole))
    }

    /// The refusal of a `format` decode of the plan's image whose whole
    /// cost would be `whole` units.
    pub(crate) fn work_refusal(&self, format: SourceFormat, whole: u64) -> ImageError {
        self.work.refusal(format, self.width, self.height, whole)
    }

    /// The decoder's budget when the image is decoded at `scale` of its
    /// size (1.0, or JPEG's n/8) into `ch` 16-bit channels (3, 4 with
    /// alpha): the pipeline's budget less the collector's region for the
    /// crop square at that scale, less [`limits::SLACK`].
    pub(crate) fn decode_budget(&self, scale: f64, ch: usize) -> u64 {
        let region = region_bytes(f64::from(self.side) * scale, self.size, ch);
        limits::decode_budget(self.budget, region)
    }

    /// What the animation encoder holds while an animation's frames are
    /// decoded: its canvases (three, RGBA at the avatar's size) and the
    /// pictures it has encoded (room for twice the output limit).
    pub(crate) fn animation_encoder_bytes(&self) -> u64 {
        12 * u64::from(self.size) * u64::from(self.size) + 2 * limits::MAX_ANIMATED_BYTES
    }

    /// Admits a decoder that decodes the whole first frame at once and
    /// cannot be stopped: refused when its estimated peak, `need` bytes, is
    /// over the budget (at full scale, with alpha); else its work,
    /// `decoder_units`, is charged before it runs (the collector charges
    /// its rows, up to `collector_units`, as they come). Returns the
    /// budget.
    pub(crate) fn admit_whole_frame(
        &self,
        format: SourceFormat,
        kind: Option<Kind>,
        need: u64,
        decoder_units: u64,
        collector_units: u64,
    ) -> Result<u64, ImageError> {
        let budget = self.decode_budget(1.0, 4);
        limits::check_full_decode(format, kind, self.width, self.height, need, budget)?;
        self.charge(format, decoder_units, self.work.spent() + decoder_units + collector_units)?;
        Ok(budget)
    }
}

/// Feeds a fully decoded, tightly packed buffer to a collector (the
/// collector charges the plan's work counter for each row).
pub(crate) fn feed_buffer(
    mut c: Collector,
    buf: &[u8],
    width: u32,
    layout: Layout,
    format: SourceFormat,
    plan: &Plan<'_>,
) -> Result<Region, ImageError> {
    let stride = width as usize * layout.channels();
    if stride == 0 {
        return Err(damaged(format, "empty row"));
    }
    let rows = (buf.len() / stride) as u32;
    let whole = plan.work.spent() + Plan::collector_units(width, rows);
    for row in buf.chunks_exact(stride) {
        c.push_row(row).map_err(|Spent| plan.work_refusal(format, whole))?;
        if c.done() {
            break;
        }
    }
    c.into_region().ok_or_else(|| damaged(format, "fewer rows than the header says"))
}

/// The decoder's idea of the size must be the header's: when they
/// disagree, trust neither.
pub(crate) fn check_decoded_size(format: SourceFormat, plan: &Plan<'_>, w: u32, h: u32) -> Result<(), ImageError> {
    if (w, h) != (plan.width, plan.height) {
        return Err(damaged(format, format!("header says {}×{}, decoder {w}×{h}", plan.width, plan.height)));
    }
    Ok(())
}

/// A full decoder ran out of its budget (its own limit, or an allocation
/// refused): the refusal, with the size that fits at 8 bytes a pixel.
pub(crate) fn out_of_memory(format: SourceFormat, plan: &Plan<'_>) -> ImageError {
    ImageError::TooMuchMemory {
        format,
        kind: None,
        width: plan.width,
        height: plan.height,
        max_mp: plan.decode_budget(1.0, 4) / 8 / 1_000_000,
    }
}

/// A damaged `format` file; `detail` is for the log.
pub(crate) fn damaged(format: SourceFormat, detail: impl Into<String>) -> ImageError {
    ImageError::Damaged { format, detail: detail.into() }
}
