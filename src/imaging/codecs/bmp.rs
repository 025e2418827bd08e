//! BMP: the DIB header gives the size; decoded whole by `image`'s decoder.
//! An alpha channel that is zero in every pixel is no alpha at all (a
//! writer that declared an alpha mask and stored nothing in it): the
//! image is opaque, as browsers show it.

use image::codecs::bmp::BmpDecoder;

use super::image_crate::{read_first_frame, OpenBmp};
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
        let decoder_units = px * (cost::BMP_PIXEL + cost::ALPHA_PIXEL);
        let budget = plan.admit_whole_frame(F, None, need, decoder_units, collector_units)?;
        let max_alloc = budget.saturating_sub(5 * px);
        let mut decoded = read_first_frame(BmpDecoder::new as OpenBmp<'_>, self.bytes, F, plan, max_alloc)?;
        decoded.opaque_if_alpha_all_zero();
        decoded.feed(F, plan)
    }
}

#[cfg(test)]
mod tests {
    use crate::imaging::format::OutputFormat;
    use crate::imaging::options::Options;
    use crate::imaging::pipeline::process;

    /// A 4×4 bottom-up 32-bit bit-field BMP (BITMAPV3INFOHEADER: an alpha
    /// mask 0xFF000000), red, with alpha `alpha(i)` in pixel i.
    fn bmp32_alpha(alpha: impl Fn(usize) -> u8) -> Vec<u8> {
        let (w, h) = (4u32, 4u32);
        let mut b = Vec::new();
        b.extend_from_slice(b"BM");
        b.extend_from_slice(&(70 + w * h * 4).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&70u32.to_le_bytes());
        for v in [56, w, h] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&32u16.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes()); // BI_BITFIELDS
        for v in [w * h * 4, 2835, 2835, 0, 0, 0x00FF_0000, 0x0000_FF00, 0x0000_00FF, 0xFF00_0000] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for i in 0..(w * h) as usize {
            b.extend_from_slice(&[0, 0, 255, alpha(i)]);
        }
        b
    }

    fn avatar(file: &[u8]) -> (bool, image::RgbaImage) {
        let opts = Options { size: 8, format: OutputFormat::Png, ..Default::default() };
        let a = process(file, None, &opts).unwrap();
        (a.has_alpha, image::load_from_memory(&a.bytes).unwrap().to_rgba8())
    }

    #[test]
    fn alpha_that_is_zero_everywhere_is_opaque() {
        // Writers that declare an alpha mask and store zeros in it: the
        // picture shows opaque in browsers, not invisible.
        let (has_alpha, img) = avatar(&bmp32_alpha(|_| 0));
        assert!(!has_alpha);
        assert!(img.pixels().all(|p| p.0 == [255, 0, 0, 255]), "{:?}", img.get_pixel(0, 0));
    }

    #[test]
    fn alpha_with_any_non_zero_pixel_is_kept() {
        // One opaque pixel is enough for the alpha to be meant.
        let (has_alpha, img) = avatar(&bmp32_alpha(|i| if i == 0 { 255 } else { 0 }));
        assert!(has_alpha);
        assert!(img.pixels().any(|p| p[3] == 0));
    }
}
