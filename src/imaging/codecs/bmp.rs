//! BMP: the DIB header gives the size; decoded whole by `image`'s decoder.

use image::codecs::bmp::BmpDecoder;

use super::image_crate::decode_first_frame;
use crate::imaging::bytes::{le16, le32};
use crate::imaging::decoding::{damaged, Header, Image, Plan};
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::resize::Region;
use crate::imaging::work::{cost, per_byte};

const F: SourceFormat = SourceFormat::Bmp;

/// An opened BMP.
pub(crate) struct Bmp<'a> {
    bytes: &'a [u8],
    header: Header,
}

impl<'a> Bmp<'a> {
    /// Reads the size from the DIB header (OS/2's 16-bit one or the others').
    pub(crate) fn open(b: &'a [u8]) -> Result<Self, ImageError> {
        let dib = le32(b, 14).ok_or_else(|| damaged(F, "short header"))?;
        if dib == 12 {
            let w = le16(b, 18).ok_or_else(|| damaged(F, "short header"))?;
            let h = le16(b, 20).ok_or_else(|| damaged(F, "short header"))?;
            return Ok(Bmp { bytes: b, header: Header::upright(u32::from(w), u32::from(h)) });
        }
        let w = le32(b, 18).ok_or_else(|| damaged(F, "short header"))? as i32;
        let h = le32(b, 22).ok_or_else(|| damaged(F, "short header"))? as i32;
        if w < 0 {
            return Err(damaged(F, "negative width"));
        }
        // Negative height means top-down rows.
        Ok(Bmp { bytes: b, header: Header::upright(w.unsigned_abs(), h.unsigned_abs()) })
    }
}

impl Image for Bmp<'_> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn work_rate(&self) -> u64 {
        per_byte::BMP
    }

    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        let px = u64::from(plan.width) * u64::from(plan.height);
        // The decoder's peak: its output, RGB or RGBA, at most 4 bytes a
        // pixel (measured: scripts/worst-case-memory.py).
        let need = 4 * px;
        let collector_units = Plan::collector_units(plan.width, plan.height);
        let budget = plan.admit_whole_frame(F, None, need, px * cost::BMP_PIXEL, collector_units)?;
        let max_alloc = budget.saturating_sub(5 * px);
        decode_first_frame(BmpDecoder::new, self.bytes, F, plan, max_alloc)
    }
}
