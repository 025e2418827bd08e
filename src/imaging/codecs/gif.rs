//! GIF: the logical screen gives the size; only the first frame is
//! decoded (`image`'s decoder, whole), and its rectangle, which may
//! differ from the screen (even be larger), decides the memory.

use image::codecs::gif::GifDecoder;

use super::image_crate::decode_first_frame;
use crate::imaging::bytes::le16;
use crate::imaging::decoding::{damaged, Header, Image, Plan};
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::resize::Region;
use crate::imaging::work::{cost, per_byte};

const F: SourceFormat = SourceFormat::Gif;

/// An opened GIF.
pub(crate) struct Gif<'a> {
    bytes: &'a [u8],
    header: Header,
    /// The first image descriptor's rectangle, if there is one.
    first_frame: Option<Rect>,
}

/// A frame's rectangle on the logical screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rect {
    left: u16,
    top: u16,
    width: u16,
    height: u16,
}

impl<'a> Gif<'a> {
    /// Reads the logical screen and finds the first frame.
    pub(crate) fn open(b: &'a [u8]) -> Result<Self, ImageError> {
        let w = le16(b, 6).ok_or_else(|| damaged(F, "short header"))?;
        let h = le16(b, 8).ok_or_else(|| damaged(F, "short header"))?;
        let header = Header::upright(u32::from(w), u32::from(h));
        Ok(Gif { bytes: b, header, first_frame: first_frame(b) })
    }

    /// Pixels of the first frame (of the screen when there is none).
    fn frame_pixels(&self) -> u64 {
        let screen = u64::from(self.header.width) * u64::from(self.header.height);
        self.first_frame.map_or(screen, |f| u64::from(f.width) * u64::from(f.height))
    }

    /// Estimated peak bytes of the decode: RGBA out (4 × screen) + the
    /// frame's indices (1 × frame) + an RGBA frame buffer when the frame
    /// does not span the screen's width at its left edge (4 × frame).
    fn memory_need(&self) -> u64 {
        let (w, h) = (self.header.width, self.header.height);
        let px = u64::from(w) * u64::from(h);
        let f = self.first_frame.unwrap_or(Rect { left: 0, top: 0, width: w as u16, height: h as u16 });
        let frame = u64::from(f.width) * u64::from(f.height);
        let direct = f.left == 0 && u32::from(f.width) == w && u32::from(f.top) + u32::from(f.height) <= h;
        4 * px + frame + if direct { 0 } else { 4 * frame }
    }
}

impl Image for Gif<'_> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn work_rate(&self) -> u64 {
        per_byte::GIF
    }

    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        let screen = u64::from(plan.width) * u64::from(plan.height);
        let frame = self.frame_pixels();
        let decoder_units = frame.max(screen) * cost::GIF_PIXEL;
        let collector_units = Plan::collector_units(plan.width, plan.height);
        let budget = plan.admit_whole_frame(F, None, self.memory_need(), decoder_units, collector_units)?;
        // image's own limit (enforced by its GIF decoder, for the frame
        // buffer): what the output and the frame's indices leave.
        let max_alloc = budget.saturating_sub(4 * screen + frame);
        decode_first_frame(GifDecoder::new, self.bytes, F, plan, max_alloc)
    }
}

/// The rectangle of the first image descriptor, skipping the global
/// colour table and extension blocks; `None` if there is none.
fn first_frame(b: &[u8]) -> Option<Rect> {
    let flags = *b.get(10)?;
    let mut pos = 13usize;
    if flags & 0x80 != 0 {
        pos += 3 << ((flags & 7) + 1);
    }
    loop {
        match *b.get(pos)? {
            0x2C => {
                return Some(Rect {
                    left: le16(b, pos + 1)?,
                    top: le16(b, pos + 3)?,
                    width: le16(b, pos + 5)?,
                    height: le16(b, pos + 7)?,
                });
            }
            0x21 => {
                // Extension: label, then data sub-blocks up to a zero length.
                pos += 2;
                loop {
                    let n = usize::from(*b.get(pos)?);
                    pos += 1 + n;
                    if n == 0 {
                        break;
                    }
                }
            }
            _ => return None, // trailer or garbage: no frame
        }
    }
}
