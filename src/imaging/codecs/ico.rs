//! ICO: a directory of pictures of one icon at several sizes; the avatar
//! is made from the largest (ties: the highest bit depth, then the first),
//! as browsers choose. An entry is a PNG file, decoded by the PNG codec,
//! or a BMP without its file header (a DIB) whose height is doubled: the
//! colour bitmap is followed by a 1-bit AND mask, whose set bits are
//! transparent pixels. A 32-bit entry carries its own alpha; when that is
//! zero in every pixel (old writers), the AND mask decides instead.
//!
//! The header read is the chosen entry's own (PNG's IHDR, the DIB's
//! header), not the directory's byte-sized guess, so the limits are checked
//! on the size that will be decoded.

use image::codecs::bmp::BmpDecoder;

use super::image_crate::{read_first_frame, OpenBmp};
use super::png::Png;
use crate::imaging::bytes::{le16, le32};
use crate::imaging::colour::Layout;
use crate::imaging::decoding::{damaged, Header, Image, Plan};
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::resize::Region;
use crate::imaging::work::{cost, per_byte};

const F: SourceFormat = SourceFormat::Ico;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// An opened icon: its chosen entry, header read.
pub(crate) struct Ico<'a> {
    entry: Entry<'a>,
}

enum Entry<'a> {
    Png(Png<'a>),
    Dib(Dib<'a>),
}

/// A BMP entry: the DIB header and the data after it, as the directory
/// delimits them (cut at the end of the file).
struct Dib<'a> {
    data: &'a [u8],
    header: Header,
    /// The DIB header's size (the pixels' offset, palette aside).
    header_size: u32,
    /// The height field is negative: rows top-down.
    top_down: bool,
    bpp: u16,
    compression: u32,
    colours_used: u32,
}

/// A directory entry: its size (0 means 256), bit depth and data.
#[derive(Clone, Copy)]
struct DirEntry {
    area: u32,
    depth: u32,
    size: u32,
    offset: u32,
}

impl<'a> Ico<'a> {
    /// Reads the directory, chooses the entry, reads its header.
    pub(crate) fn open(b: &'a [u8]) -> Result<Self, ImageError> {
        let count = le16(b, 4).ok_or_else(|| damaged(F, "short header"))?;
        if count == 0 {
            return Err(damaged(F, "no pictures in the directory"));
        }
        let mut best: Option<DirEntry> = None;
        for i in 0..usize::from(count) {
            let at = 6 + 16 * i;
            let e = b.get(at..at + 16).ok_or_else(|| damaged(F, "directory cut short"))?;
            let side = |v: u8| if v == 0 { 256 } else { u32::from(v) };
            let colours = u32::from(e[2]);
            let bpp = u32::from(le16(e, 6).unwrap_or(0));
            // A bit depth of 0 is told by the colour count, as Pillow does
            // (neither given: taken as 8).
            let depth = match (bpp, colours) {
                (0, 0) => 8,
                (0, c) => 32 - (c - 1).leading_zeros(),
                (d, _) => d,
            };
            let entry = DirEntry {
                area: side(e[0]) * side(e[1]),
                depth,
                size: le32(e, 8).unwrap_or(0),
                offset: le32(e, 12).unwrap_or(0),
            };
            if best.is_none_or(|b| (entry.area, entry.depth) > (b.area, b.depth)) {
                best = Some(entry);
            }
        }
        let e = best.ok_or_else(|| damaged(F, "no pictures in the directory"))?;
        let start = e.offset as usize;
        let end = start.saturating_add(e.size as usize).min(b.len());
        let data = b.get(start..end).filter(|d| !d.is_empty()).ok_or_else(|| damaged(F, "picture outside the file"))?;
        let entry = if data.starts_with(PNG_SIGNATURE) {
            Entry::Png(Png::open(data).map_err(|e| e.in_container(F))?)
        } else {
            Entry::Dib(Dib::open(data)?)
        };
        Ok(Ico { entry })
    }
}

impl<'a> Dib<'a> {
    fn open(data: &'a [u8]) -> Result<Self, ImageError> {
        let short = || damaged(F, "short bitmap header");
        let header_size = le32(data, 0).ok_or_else(short)?;
        if !matches!(header_size, 40 | 52 | 56 | 108 | 124) {
            return Err(damaged(F, format!("bitmap header of {header_size} bytes")));
        }
        let w = le32(data, 4).ok_or_else(short)? as i32;
        let h = le32(data, 8).ok_or_else(short)? as i32;
        if w < 0 {
            return Err(damaged(F, "negative width"));
        }
        let bpp = le16(data, 14).ok_or_else(short)?;
        let compression = le32(data, 16).ok_or_else(short)?;
        let colours_used = le32(data, 32).ok_or_else(short)?;
        // The height counts the colour bitmap and the mask.
        let header = Header::upright(w.unsigned_abs(), h.unsigned_abs() / 2);
        Ok(Dib { data, header, header_size, top_down: h < 0, bpp, compression, colours_used })
    }

    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        let Header { width: w, height: h, .. } = self.header;
        let px = u64::from(w) * u64::from(h);
        // The copy of the entry (its height halved) and the decoder's
        // output, RGB(A), at most 4 bytes a pixel; rows are given their
        // alpha one at a time as they go to the collector.
        let need = self.data.len() as u64 + 4 * px;
        let decoder_units = px * (cost::BMP_PIXEL + cost::ALPHA_PIXEL);
        let budget = plan.admit_whole_frame(F, None, need, decoder_units, Plan::collector_units(w, h))?;
        let max_alloc = budget.saturating_sub(self.data.len() as u64);

        // image's BMP decoder reads a DIB without the file header; the
        // height it is given is the colour bitmap's, so the mask after it
        // is left alone.
        let mut dib = self.data.to_vec();
        let half = (self.header.height as i32) * if self.top_down { -1 } else { 1 };
        dib[8..12].copy_from_slice(&half.to_le_bytes());
        let mut decoded =
            read_first_frame(BmpDecoder::new_without_file_header as OpenBmp<'_>, &dib, F, plan, max_alloc)?;
        drop(dib);

        // Where each pixel's alpha comes from: the decoded alpha (a
        // bit-field bitmap with an alpha mask), or the fourth bytes of a
        // 32-bit BI_RGB bitmap (image reads those as RGB) unless zero
        // everywhere, else the AND mask, else none (opaque).
        let own = match decoded.layout {
            Layout::Rgba => decoded.buf.chunks_exact(4).any(|p| p[3] != 0),
            Layout::Rgb if self.bpp == 32 && self.compression == 0 => {
                self.alpha_bytes()?.chunks_exact(4).any(|p| p[3] != 0)
            }
            Layout::Rgb => false,
            _ => return Err(damaged(F, "unexpected colour type")),
        };
        let alpha: Alpha = if own && decoded.layout == Layout::Rgba {
            return decoded.feed(F, plan);
        } else if own {
            Alpha::Bytes(self.alpha_bytes()?)
        } else if let Some(mask) = self.mask() {
            Alpha::Mask(mask)
        } else {
            decoded.opaque_if_alpha_all_zero();
            return decoded.feed(F, plan);
        };

        let ch = decoded.layout.channels();
        let (wu, hu) = (w as usize, h as usize);
        if wu == 0 {
            return Err(damaged(F, "empty row"));
        }
        let mut collector = plan.collector(w, h, Layout::Rgba, None);
        let whole = plan.work.spent() + Plan::collector_units(w, h);
        let mut row = vec![0u8; 4 * wu];
        for (y, src) in decoded.buf.chunks_exact(ch * wu).enumerate() {
            // The alpha sources' rows are bottom-up unless the height was
            // negative.
            let stored_y = if self.top_down { y } else { hu - 1 - y };
            for (x, (o, s)) in row.chunks_exact_mut(4).zip(src.chunks_exact(ch)).enumerate() {
                o[..3].copy_from_slice(&s[..3]);
                o[3] = match &alpha {
                    Alpha::Bytes(b) => b[(stored_y * wu + x) * 4 + 3],
                    Alpha::Mask(m) => {
                        let stride = wu.div_ceil(32) * 4;
                        if m[stored_y * stride + x / 8] & (0x80 >> (x % 8)) != 0 {
                            0
                        } else {
                            255
                        }
                    }
                };
            }
            collector.push_row(&row).map_err(|_| plan.work_refusal(F, whole))?;
            if collector.done() {
                break;
            }
        }
        collector.into_region().ok_or_else(|| damaged(F, "fewer rows than the header says"))
    }

    /// The pixels of a 32-bit BI_RGB bitmap as stored (BGRA rows).
    fn alpha_bytes(&self) -> Result<&'a [u8], ImageError> {
        let (w, h) = (self.header.width as usize, self.header.height as usize);
        let start = self.header_size as usize + 4 * self.colours_used.min(256) as usize;
        self.data.get(start..start + 4 * w * h).ok_or_else(|| damaged(F, "bitmap cut short"))
    }

    /// The AND mask: the entry's last bytes, rows of whole 32-bit words
    /// (Pillow's reading; a well-formed entry has it right after the
    /// bitmap). A set bit is a transparent pixel. An entry too short for
    /// one has none.
    fn mask(&self) -> Option<&'a [u8]> {
        let (w, h) = (self.header.width as usize, self.header.height as usize);
        let len = w.div_ceil(32) * 4 * h;
        let data: &'a [u8] = self.data;
        (data.len() >= self.header_size as usize + len).then(|| &data[data.len() - len..])
    }
}

/// Where an entry's alpha comes from.
enum Alpha<'a> {
    /// A 32-bit bitmap's stored BGRA pixels.
    Bytes(&'a [u8]),
    /// The AND mask.
    Mask(&'a [u8]),
}

impl Image for Ico<'_> {
    fn header(&self) -> &Header {
        match &self.entry {
            Entry::Png(p) => p.header(),
            Entry::Dib(d) => &d.header,
        }
    }

    fn work_rate(&self) -> u64 {
        match &self.entry {
            Entry::Png(p) => p.work_rate(),
            Entry::Dib(_) => per_byte::BMP,
        }
    }

    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        match &self.entry {
            Entry::Png(p) => p.decode(plan).map_err(|e| e.in_container(F)),
            Entry::Dib(d) => d.decode(plan),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, UserFacing};
    use crate::imaging::options::Options;
    use crate::imaging::pipeline::process;
    use crate::imaging::sniff::sniff;
    use crate::imaging::tests::png_avatar;

    /// A DIB entry `w`×`h`: `bpp` 24 or 32, every pixel `bgra` (the fourth
    /// byte only at 32 bits), and an AND mask setting the pixels where
    /// `masked(x, y)` (y from the top).
    fn dib(w: u32, h: u32, bpp: u16, bgra: [u8; 4], masked: impl Fn(u32, u32) -> bool) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [40, w, 2 * h] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&bpp.to_le_bytes());
        b.extend_from_slice(&[0; 24]);
        let bytes = usize::from(bpp / 8);
        let stride = (w as usize * bytes).div_ceil(4) * 4;
        for _ in 0..h {
            let mut row: Vec<u8> = (0..w).flat_map(|_| bgra[..bytes].to_vec()).collect();
            row.resize(stride, 0);
            b.extend_from_slice(&row);
        }
        let mask_stride = w.div_ceil(32) as usize * 4;
        for y in (0..h).rev() {
            let mut row = vec![0u8; mask_stride];
            for x in 0..w {
                if masked(x, y) {
                    row[x as usize / 8] |= 0x80 >> (x % 8);
                }
            }
            b.extend_from_slice(&row);
        }
        b
    }

    /// An icon of `entries`: (directory width, height, bit depth, data).
    fn ico(entries: &[(u8, u8, u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = vec![0, 0, 1, 0];
        b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        let mut offset = 6 + 16 * entries.len() as u32;
        for (w, h, bpp, data) in entries {
            b.extend_from_slice(&[*w, *h, 0, 0, 1, 0]);
            b.extend_from_slice(&bpp.to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(&offset.to_le_bytes());
            offset += data.len() as u32;
        }
        for (.., data) in entries {
            b.extend_from_slice(data);
        }
        b
    }

    fn avatar(file: &[u8]) -> (bool, image::RgbaImage) {
        let (a, img) = png_avatar(file, 16);
        assert_eq!(a.source, SourceFormat::Ico);
        (a.has_alpha, img)
    }

    const BLUE: [u8; 4] = [255, 0, 0, 255];
    const RED: [u8; 4] = [0, 0, 255, 255];

    #[test]
    fn sniffed_as_an_icon() {
        let file = ico(&[(16, 16, 24, dib(16, 16, 24, BLUE, |_, _| false))]);
        assert_eq!(sniff(&file), Ok(SourceFormat::Ico));
        // A cursor (type 2) is not an icon.
        assert!(sniff(b"\0\0\x02\0\x01\0").is_err());
    }

    #[test]
    fn the_largest_entry_with_its_and_mask() {
        // 16 px red, then 32 px blue whose left half is masked out.
        let file = ico(&[
            (16, 16, 24, dib(16, 16, 24, RED, |_, _| false)),
            (32, 32, 24, dib(32, 32, 24, BLUE, |x, _| x < 16)),
        ]);
        let (has_alpha, img) = avatar(&file);
        assert!(has_alpha);
        assert_eq!(img.get_pixel(2, 8)[3], 0);
        assert_eq!(img.get_pixel(13, 8).0, [0, 0, 255, 255]);
        // The mask's rows are bottom-up like the bitmap's: top half masked.
        let file = ico(&[(32, 32, 24, dib(32, 32, 24, BLUE, |_, y| y < 16))]);
        let (_, img) = avatar(&file);
        assert_eq!((img.get_pixel(8, 2)[3], img.get_pixel(8, 13)[3]), (0, 255));
    }

    #[test]
    fn same_size_entries_take_the_highest_bit_depth() {
        let file = ico(&[
            (32, 32, 24, dib(32, 32, 24, RED, |_, _| false)),
            (32, 32, 32, dib(32, 32, 32, BLUE, |_, _| false)),
            (32, 32, 24, dib(32, 32, 24, RED, |_, _| false)),
        ]);
        assert_eq!(avatar(&file).1.get_pixel(8, 8).0, [0, 0, 255, 255]);
    }

    #[test]
    fn a_32_bit_entry_uses_its_alpha_unless_it_is_zero_everywhere() {
        // Half-transparent alpha, and a mask saying otherwise: the alpha wins.
        let file = ico(&[(16, 16, 32, dib(16, 16, 32, [255, 0, 0, 128], |x, _| x < 8))]);
        let (has_alpha, img) = avatar(&file);
        assert!(has_alpha);
        assert!(img.pixels().all(|p| p[3] == 128), "{:?}", img.get_pixel(0, 0));
        // Alpha zero everywhere: the mask decides.
        let file = ico(&[(16, 16, 32, dib(16, 16, 32, [255, 0, 0, 0], |x, _| x < 8))]);
        let (_, img) = avatar(&file);
        assert_eq!((img.get_pixel(2, 8)[3], img.get_pixel(13, 8).0), (0, [0, 0, 255, 255]));
    }

    #[test]
    fn a_png_entry_goes_through_the_png_codec() {
        let mut png = Vec::new();
        let red = image::RgbaImage::from_pixel(24, 24, image::Rgba([255, 0, 0, 255]));
        red.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        let file = ico(&[(16, 16, 24, dib(16, 16, 24, BLUE, |_, _| false)), (24, 24, 32, png.clone())]);
        let (has_alpha, img) = avatar(&file);
        assert!(!has_alpha);
        assert_eq!(img.get_pixel(8, 8).0, [255, 0, 0, 255]);
        // A damaged PNG inside is a damaged icon.
        let cut = ico(&[(24, 24, 32, png[..40].to_vec())]);
        let e = process(&cut, None, &Options::default()).unwrap_err();
        assert!(matches!(e, ImageError::Damaged { format: F, .. }), "{e:?}");
    }

    #[test]
    fn sizes_are_checked_on_the_entry_header_before_decoding() {
        // 20000×20000 (400 MP) in a 70-byte file: the pixel limit, from
        // the DIB header, not the directory's byte.
        let mut big = dib(1, 1, 24, BLUE, |_, _| false);
        big[4..8].copy_from_slice(&20_000u32.to_le_bytes());
        big[8..12].copy_from_slice(&40_000u32.to_le_bytes());
        let e = process(&ico(&[(0, 0, 24, big.clone())]), None, &Options::default()).unwrap_err();
        assert!(matches!(e, ImageError::TooManyPixels { width: 20000, height: 20000, .. }), "{e:?}");
        // 9000×9000 within the pixel limit: over the memory budget of a
        // whole-frame decode.
        big[4..8].copy_from_slice(&9_000u32.to_le_bytes());
        big[8..12].copy_from_slice(&18_000u32.to_le_bytes());
        let e = process(&ico(&[(0, 0, 24, big.clone())]), None, &Options::default()).unwrap_err();
        assert!(matches!(e, ImageError::TooMuchMemory { format: F, .. }), "{e:?}");
        // 3000×3000 fits the memory but not the work budget of a tiny
        // file: refused before the decoder runs, nothing spent.
        big[4..8].copy_from_slice(&3_000u32.to_le_bytes());
        big[8..12].copy_from_slice(&6_000u32.to_le_bytes());
        let e = process(&ico(&[(0, 0, 24, big)]), None, &Options::default()).unwrap_err();
        assert!(matches!(e, ImageError::TooMuchWork { format: F, .. }), "{e:?}");
        assert!(e.message(Lang::En).contains("ICO"), "{}", e.message(Lang::En));
    }

    #[test]
    fn damaged_icons_are_refused_naming_the_format() {
        let one = dib(16, 16, 24, BLUE, |_, _| false);
        let mut outside = ico(&[(16, 16, 24, one.clone())]);
        outside[18..22].copy_from_slice(&1_000_000u32.to_le_bytes());
        let cut_bitmap = ico(&[(16, 16, 24, one[..200].to_vec())]);
        for file in [&b"\0\0\x01\0\0\0"[..], b"\0\0\x01\0\x04\0", &outside, &cut_bitmap] {
            let e = process(file, None, &Options::default()).unwrap_err();
            assert!(matches!(e, ImageError::Damaged { format: F, .. }), "{e:?}");
            assert!(e.message(Lang::Zh).contains("ICO 文件已损坏"), "{}", e.message(Lang::Zh));
        }
    }
}
