//! EXIF orientation: which way the stored pixels must be turned to be upright.
//!
//! The pipeline never rotates the full image. It maps the crop square from
//! upright to stored coordinates ([`Orientation::to_stored_rect`]), crops
//! and resizes in stored orientation, and turns only the final `size`×`size`
//! square ([`Orientation::apply_square`]). Flips and quarter turns commute
//! with a separable symmetric filter on a square, so the result is the same
//! as rotating first, at a fraction of the memory.

use super::bytes::{be16, be32, le16, le32};

/// The eight EXIF orientations (tag 0x0112).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Orientation {
    #[default]
    Normal = 1,
    FlipH = 2,
    Rotate180 = 3,
    FlipV = 4,
    Transpose = 5,
    /// Rotate 90° clockwise to display.
    Rotate90 = 6,
    Transverse = 7,
    /// Rotate 90° counter-clockwise (270° clockwise) to display.
    Rotate270 = 8,
}

impl Orientation {
    pub fn from_exif(v: u16) -> Option<Self> {
        use Orientation::*;
        Some(match v {
            1 => Normal,
            2 => FlipH,
            3 => Rotate180,
            4 => FlipV,
            5 => Transpose,
            6 => Rotate90,
            7 => Transverse,
            8 => Rotate270,
            _ => return None,
        })
    }

    /// Whether width and height trade places when made upright.
    pub fn swaps_axes(self) -> bool {
        matches!(
            self,
            Orientation::Transpose | Orientation::Rotate90 | Orientation::Transverse | Orientation::Rotate270
        )
    }

    /// Upright size of a stored `w`×`h` image.
    pub fn upright_size(self, w: u32, h: u32) -> (u32, u32) {
        if self.swaps_axes() {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// Maps the square `[u, u+s) × [v, v+s)` of the upright image to the
    /// square it comes from in the stored `w`×`h` image (top-left corner).
    /// The caller guarantees the square lies inside the upright image, so no
    /// subtraction underflows.
    pub fn to_stored_rect(self, u: u32, v: u32, s: u32, w: u32, h: u32) -> (u32, u32) {
        use Orientation::*;
        let rx = |a: u32| w.saturating_sub(a).saturating_sub(s);
        let ry = |a: u32| h.saturating_sub(a).saturating_sub(s);
        match self {
            Normal => (u, v),
            FlipH => (rx(u), v),
            Rotate180 => (rx(u), ry(v)),
            FlipV => (u, ry(v)),
            Transpose => (v, u),
            Rotate90 => (v, ry(u)),
            Transverse => (rx(v), ry(u)),
            Rotate270 => (rx(v), u),
        }
    }

    /// Turns an `n`×`n` square of `ch`-byte pixels from stored to upright.
    pub fn apply_square(self, src: &[u8], n: usize, ch: usize) -> Vec<u8> {
        if self == Orientation::Normal {
            return src.to_vec();
        }
        let mut out = vec![0u8; src.len()];
        let last = n.saturating_sub(1);
        for v in 0..n {
            for u in 0..n {
                // Upright pixel (u, v) comes from stored pixel (x, y).
                let (x, y) = match self {
                    Orientation::Normal => (u, v),
                    Orientation::FlipH => (last - u, v),
                    Orientation::Rotate180 => (last - u, last - v),
                    Orientation::FlipV => (u, last - v),
                    Orientation::Transpose => (v, u),
                    Orientation::Rotate90 => (v, last - u),
                    Orientation::Transverse => (last - v, last - u),
                    Orientation::Rotate270 => (last - v, u),
                };
                let s = (y * n + x) * ch;
                let d = (v * n + u) * ch;
                if let (Some(dst), Some(px)) = (out.get_mut(d..d + ch), src.get(s..s + ch)) {
                    dst.copy_from_slice(px);
                }
            }
        }
        out
    }
}

/// The orientation tag (0x0112) of IFD0 of a TIFF/EXIF block, as JPEG
/// (APP1), PNG (eXIf) and WebP (EXIF) carry it. Tolerates an "Exif\0\0"
/// prefix (some writers put it in PNG/WebP chunks too). Any inconsistency
/// gives `None` (= upright): a broken EXIF must not lose the photo.
pub fn orientation_in_exif(tiff: &[u8]) -> Option<Orientation> {
    let t = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    let le = match t.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let r16 = |at: usize| if le { le16(t, at) } else { be16(t, at) };
    let r32 = |at: usize| if le { le32(t, at) } else { be32(t, at) };
    if r16(2)? != 42 {
        return None;
    }
    let ifd = r32(4)? as usize;
    let count = usize::from(r16(ifd)?);
    for i in 0..count {
        let entry = ifd.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        if r16(entry)? == 0x0112 {
            let typ = r16(entry + 2)?;
            let value = match typ {
                3 => r16(entry + 8)?,        // SHORT, value inline
                4 => r32(entry + 8)? as u16, // LONG (non-standard writers)
                _ => return None,
            };
            return Orientation::from_exif(value);
        }
    }
    None
}
