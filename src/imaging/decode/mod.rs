//! Decoding: file bytes → the crop square's [`Region`], ready to resize.
//!
//! Each decoder picks the cheapest way to get the crop square at (at least)
//! the avatar's resolution, within the budget ([`Plan::decode_budget`]):
//! JPEG at a reduced DCT scale, PNG streamed row by row, the others in full.
//! Rows are handed to a [`Collector`] which keeps only what the resize needs.

mod generic;
mod jpeg;
mod jpeg_dc;
mod png;
mod webp;

use super::colour::{ColourConverter, Layout};
use super::error::ImageError;
use super::format::SourceFormat;
use super::header::Header;
use super::limits;
use super::options::ResizeSpace;
use super::resize::{Collector, Region, RegionSpec};
use super::work::{cost, Spent, Work};

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
}

impl<'w> Plan<'w> {
    /// A collector for an image decoded at `dw`×`dh` (maybe reduced from the
    /// full size): the crop square is scaled to the decoded grid.
    pub(crate) fn collector(&self, dw: u32, dh: u32, layout: Layout, icc: Option<&[u8]>) -> Collector<'w> {
        let sx = f64::from(dw) / f64::from(self.width.max(1));
        let sy = f64::from(dh) / f64::from(self.height.max(1));
        let spec = RegionSpec {
            x: f64::from(self.x) * sx,
            y: f64::from(self.y) * sy,
            w: f64::from(self.side) * sx,
            h: f64::from(self.side) * sy,
        };
        Collector::new(ColourConverter::new(layout, icc), self.space, dw, dh, spec, self.size, self.work)
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
        let region = limits::region_bytes(f64::from(self.side) * scale, self.size, ch);
        limits::decode_budget(self.budget, region)
    }
}

/// Decodes `bytes` (already sniffed, header checked) into the crop region.
pub fn decode(bytes: &[u8], format: SourceFormat, header: &Header, plan: &Plan<'_>) -> Result<Region, ImageError> {
    match format {
        SourceFormat::Jpeg => jpeg::decode(bytes, header, plan),
        SourceFormat::Png => png::decode(bytes, header, plan),
        SourceFormat::Gif | SourceFormat::Webp | SourceFormat::Bmp => generic::decode(bytes, format, header, plan),
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

pub(crate) fn damaged(format: SourceFormat, detail: impl Into<String>) -> ImageError {
    ImageError::Damaged { format, detail: detail.into() }
}
