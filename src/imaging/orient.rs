//! EXIF orientation: which way the stored pixels must be turned to be
//! upright. The orientation is `image`'s [`Orientation`]; what the
//! pipeline does with it that `image` does not is [`Orient`].
//!
//! The pipeline never rotates the full image. It maps the crop square from
//! upright to stored coordinates ([`Orient::to_stored_rect`]), crops and
//! resizes in stored orientation, and turns only the final `size`×`size`
//! square ([`Orient::apply_square`]). Flips and quarter turns commute
//! with a separable symmetric filter on a square, so the result is the same
//! as rotating first, at a fraction of the memory.

pub use image::metadata::Orientation;

use super::bytes::{be16, be32, le16, le32};

/// The pipeline's uses of an [`Orientation`].
pub trait Orient: Copy {
    /// Whether width and height trade places when made upright.
    fn swaps_axes(self) -> bool;

    /// Upright size of a stored `w`×`h` image.
    fn upright_size(self, w: u32, h: u32) -> (u32, u32) {
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
    fn to_stored_rect(self, u: u32, v: u32, s: u32, w: u32, h: u32) -> (u32, u32);

    /// Turns an `n`×`n` square of `ch`-byte pixels from stored to upright
    /// (an upright square is handed back as it is, not copied).
    fn apply_square(self, src: Vec<u8>, n: usize, ch: usize) -> Vec<u8>;
}

impl Orient for Orientation {
    fn swaps_axes(self) -> bool {
        use Orientation::*;
        matches!(self, Rotate90FlipH | Rotate90 | Rotate270FlipH | Rotate270)
    }

    fn to_stored_rect(self, u: u32, v: u32, s: u32, w: u32, h: u32) -> (u32, u32) {
        use Orientation::*;
        let rx = |a: u32| w.saturating_sub(a).saturating_sub(s);
        let ry = |a: u32| h.saturating_sub(a).saturating_sub(s);
        match self {
            NoTransforms => (u, v),
            FlipHorizontal => (rx(u), v),
            Rotate180 => (rx(u), ry(v)),
            FlipVertical => (u, ry(v)),
            Rotate90FlipH => (v, u),
            Rotate90 => (v, ry(u)),
            Rotate270FlipH => (rx(v), ry(u)),
            Rotate270 => (rx(v), u),
        }
    }

    /// A permutation of the raw square, not `image`'s `apply_orientation`
    /// (or `imageops::rotate90`): those take an `ImageBuffer` (the square
    /// copied into one, their code instantiated per pixel type in the
    /// wasm) and were slower on the orient stage's benchmark, for the
    /// same pixels (docs/benchmark.md, "Native stage benchmark").
    fn apply_square(self, src: Vec<u8>, n: usize, ch: usize) -> Vec<u8> {
        use Orientation::*;
        if self == NoTransforms {
            return src;
        }
        let mut out = vec![0u8; src.len()];
        let last = n.saturating_sub(1);
        for v in 0..n {
            for u in 0..n {
                // Upright pixel (u, v) comes from stored pixel (x, y).
                let (x, y) = match self {
                    NoTransforms => (u, v),
                    FlipHorizontal => (last - u, v),
                    Rotate180 => (last - u, last - v),
                    FlipVertical => (u, last - v),
                    Rotate90FlipH => (v, u),
                    Rotate90 => (v, last - u),
                    Rotate270FlipH => (last - v, last - u),
                    Rotate270 => (last - v, u),
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
///
/// Not `image`'s `Orientation::from_exif_chunk`: that one takes only a
/// SHORT value with a count of 1 and skips a tag it does not take, where
/// this reads the LONG value some writers use and stops at the first tag.
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
            return u8::try_from(value).ok().and_then(Orientation::from_exif);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_square_turns_as_image_turns_a_picture() {
        // The same pixels as `image`'s own orientation, for all eight.
        let n = 5;
        let src: Vec<u8> = (0..n * n * 3).map(|i| i as u8).collect();
        for exif in 1..=8 {
            let o = Orientation::from_exif(exif).unwrap();
            let mut img = image::DynamicImage::ImageRgb8(image::RgbImage::from_raw(5, 5, src.clone()).unwrap());
            img.apply_orientation(o);
            assert_eq!(o.apply_square(src.clone(), n, 3), img.into_rgb8().into_raw(), "{o:?}");
            assert_eq!(o.swaps_axes(), o.upright_size(4, 3) == (3, 4), "{o:?}");
        }
    }

    #[test]
    fn orientation_values_outside_a_byte_are_upright() {
        let block = |value: u16| {
            let mut t = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
            t.extend_from_slice(&value.to_be_bytes());
            t.extend_from_slice(&[0; 6]);
            t
        };
        assert_eq!(orientation_in_exif(&block(6)), Some(Orientation::Rotate90));
        assert_eq!(orientation_in_exif(&block(0x0106)), None);
        assert_eq!(orientation_in_exif(&block(9)), None);
    }
}
