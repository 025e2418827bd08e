//! BMP: the DIB header gives the size; decoded whole by `image`'s decoder.
//! An alpha channel that is zero in every pixel is no alpha at all (a
//! writer that declared an alpha mask and stored nothing in it): the
//! image is opaque, as browsers show it. A palette declared longer than
//! the bit depth can index is read for the entries it can (browsers show
//! such files; the extra entries are never used).

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

impl Bmp<'_> {
    /// A copy of the file whose colour count is at most what its bit
    /// depth indexes, when it declares more (image's decoder refuses that;
    /// the pixels are found from the file header's offset, wherever the
    /// palette ends); `None` when there is nothing to clamp.
    fn palette_clamped(&self) -> Option<Vec<u8>> {
        let b = self.bytes;
        let (dib, bpp, used) = (le32(b, 14)?, le16(b, 28)?, le32(b, 46)?);
        if dib < 40 || !matches!(bpp, 1 | 2 | 4 | 8) || used <= 1 << bpp {
            return None;
        }
        let mut copy = b.to_vec();
        copy[46..50].copy_from_slice(&(1u32 << bpp).to_le_bytes());
        Some(copy)
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
        // With a palette to clamp, a copy of the file too.
        let clamped = self.palette_clamped();
        let copy = clamped.as_ref().map_or(0, |c| c.len() as u64);
        let need = 4 * px + copy;
        let collector_units = Plan::collector_units(plan.width, plan.height);
        let decoder_units = px * (cost::BMP_PIXEL + cost::ALPHA_PIXEL);
        let budget = plan.admit_whole_frame(F, None, need, decoder_units, collector_units)?;
        let max_alloc = budget.saturating_sub(5 * px + copy);
        let bytes = clamped.as_deref().unwrap_or(self.bytes);
        let mut decoded = read_first_frame(BmpDecoder::new as OpenBmp<'_>, bytes, F, plan, max_alloc)?;
        decoded.opaque_if_alpha_all_zero();
        decoded.feed(F, plan)
    }
}

#[cfg(test)]
mod tests {
    use crate::imaging::tests::png_avatar;

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
        let (a, img) = png_avatar(file, 8);
        (a.has_alpha, img)
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
    fn a_palette_longer_than_the_bit_depth_indexes_is_clamped() {
        // 8-bit, 300 colours declared and stored (bmpsuite's
        // pal8oversizepal): entry 0 red, 1 blue, the rest green, unused.
        let (w, h) = (4u32, 2u32);
        let offset: u32 = 14 + 40 + 300 * 4;
        let mut b = Vec::new();
        b.extend_from_slice(b"BM");
        b.extend_from_slice(&(offset + 8).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&offset.to_le_bytes());
        for v in [40, w, h] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        for v in [0u32, 8, 2835, 2835, 300, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[0, 0, 255, 0, 255, 0, 0, 0]);
        for _ in 2..300 {
            b.extend_from_slice(&[0, 255, 0, 0]);
        }
        // Bottom row blue, top row red.
        b.extend_from_slice(&[1, 1, 1, 1, 0, 0, 0, 0]);
        let (_, img) = avatar(&b);
        assert_eq!(img.get_pixel(4, 0).0, [255, 0, 0, 255]);
        assert_eq!(img.get_pixel(4, 7).0, [0, 0, 255, 255]);
    }

    #[test]
    fn alpha_with_any_non_zero_pixel_is_kept() {
        // One opaque pixel is enough for the alpha to be meant.
        let (has_alpha, img) = avatar(&bmp32_alpha(|i| if i == 0 { 255 } else { 0 }));
        assert!(has_alpha);
        assert!(img.pixels().any(|p| p[3] == 0));
    }
}
