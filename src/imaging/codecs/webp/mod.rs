//! WebP: the RIFF container's first chunk gives the size (VP8X canvas, VP8
//! key frame or VP8L header), the chunk list what the bitstream holds
//! ([`WebpKind`]). A still lossy WebP without alpha is decoded by libwebp,
//! which crops and shrinks while decoding; every other kind by `image`'s
//! decoder, whole (`decode.rs`). Lossy output is encoded by libwebp
//! (`encode.rs`).

mod anim_decode;
pub(crate) mod anim_encode;
mod decode;
pub(crate) mod encode;
// The C functions libwebp needs on wasm32-unknown-unknown (unit-tested
// natively).
#[cfg(any(test, all(target_arch = "wasm32", target_os = "unknown")))]
mod libc_shim;

use crate::imaging::bytes::{le16, le24, le32};
use crate::imaging::decoding::{damaged, Frames, Header, Image, Plan};
use crate::imaging::error::{ImageError, Kind};
use crate::imaging::format::SourceFormat;
use crate::imaging::limits::MAX_ICC_BYTES;
use crate::imaging::orient::orientation_in_exif;
use crate::imaging::resize::Region;
use crate::imaging::work::{cost, per_byte};

const F: SourceFormat = SourceFormat::Webp;

/// What a WebP file contains, from its chunk list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WebpKind {
    pub lossless: bool,
    pub alpha: bool,
    pub animated: bool,
    /// An ICCP chunk (read into memory by the decoder).
    pub icc: bool,
}

impl WebpKind {
    /// A still lossy WebP without alpha goes to libwebp. Alpha (often a
    /// lossless-coded plane) and lossless images stay with `image`:
    /// libwebp's lossless decoder allocates Huffman tables per group of
    /// the entropy image, which a small hostile file can make hundreds of
    /// MB, and its allocations cannot be counted natively, where the
    /// memory tests run.
    fn for_libwebp(self) -> bool {
        !self.animated && !self.lossless && !self.alpha
    }
}

/// An opened WebP.
pub(crate) struct Webp<'a> {
    bytes: &'a [u8],
    header: Header,
    kind: WebpKind,
    /// The first ICCP chunk's data, `start..end` in the file (it may run
    /// past the end of a cut file).
    icc: Option<(usize, usize)>,
    /// Some chunk is lossless-coded (VP8L, an ALPH plane, animation frames
    /// of either kind): the file's work rate is lossless WebP's.
    lossless_part: bool,
    /// Animation frames (ANMF chunks).
    frames: u32,
}

impl<'a> Webp<'a> {
    /// Reads the size from the first chunk, then walks every chunk: EXIF
    /// for the orientation, the others for the decoder's memory estimate
    /// and the work rate.
    pub(crate) fn open(b: &'a [u8]) -> Result<Self, ImageError> {
        let first = b.get(12..16).ok_or_else(|| damaged(F, "no chunk"))?;
        let data = 20usize;
        let (w, h) = match first {
            b"VP8X" => {
                let w = le24(b, data + 4).ok_or_else(|| damaged(F, "short VP8X"))? + 1;
                let h = le24(b, data + 7).ok_or_else(|| damaged(F, "short VP8X"))? + 1;
                (w, h)
            }
            b"VP8 " => {
                if b.get(data + 3..data + 6) != Some(&[0x9D, 0x01, 0x2A]) {
                    return Err(damaged(F, "bad VP8 start code"));
                }
                let w = le16(b, data + 6).ok_or_else(|| damaged(F, "short VP8"))? & 0x3FFF;
                let h = le16(b, data + 8).ok_or_else(|| damaged(F, "short VP8"))? & 0x3FFF;
                (u32::from(w), u32::from(h))
            }
            b"VP8L" => {
                if b.get(data) != Some(&0x2F) {
                    return Err(damaged(F, "bad VP8L signature"));
                }
                let bits = le32(b, data + 1).ok_or_else(|| damaged(F, "short VP8L"))?;
                ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
            }
            _ => return Err(damaged(F, "unknown first chunk")),
        };
        let mut webp = Webp {
            bytes: b,
            header: Header::upright(w, h),
            kind: WebpKind::default(),
            icc: None,
            lossless_part: false,
            frames: 0,
        };
        let kind = &mut webp.kind;
        let mut first_frame_seen = false;
        for (fourcc, start, end) in riff_chunks(b, 12) {
            webp.lossless_part |= matches!(fourcc, b"VP8L" | b"ALPH" | b"ANMF");
            match fourcc {
                b"EXIF" => {
                    if let Some(o) = b.get(start..end).and_then(orientation_in_exif) {
                        webp.header.orientation = o;
                    }
                }
                b"VP8L" => {
                    kind.lossless = true;
                    kind.alpha = true; // decoded as RGBA unless proven opaque
                }
                b"ALPH" => kind.alpha = true,
                b"ICCP" => {
                    kind.icc = true;
                    webp.icc.get_or_insert((start, end));
                }
                b"ANIM" => kind.animated = true,
                // The lossy decoder allocates for the size in its own frame
                // header and compares it with the canvas only afterwards: a
                // tiny file could claim the largest frame there. Check first.
                b"VP8 " => check_vp8_size(b.get(start..end), w, h)?,
                b"ANMF" => {
                    webp.frames = webp.frames.saturating_add(1);
                    if !std::mem::replace(&mut first_frame_seen, true) {
                        // Only the first frame is decoded.
                        check_anmf(b.get(start..end))?;
                    }
                    kind.animated = true;
                }
                _ => {}
            }
        }
        Ok(webp)
    }

    /// Estimated peak bytes of the decoder and the refusal's kind. Tenths of
    /// a byte per pixel, measured on the largest accepted inputs
    /// (scripts/worst-case-memory.py; docs/benchmark.md, "Worst-case
    /// memory") and rounded up: lossy (YUV planes + RGB out), lossy with
    /// alpha (the alpha plane is decoded as a lossless image, then kept as
    /// a plane, + RGBA out), lossless (ARGB + RGB out; RGBA is decoded in
    /// place), animated (the first frame as RGBA + canvas + output). An
    /// ICC profile is read into memory (at most [`MAX_ICC_BYTES`] kept).
    /// libwebp holds a few macroblock rows (its caches grow with the
    /// width) and the shrunk square: a tenth of a byte a pixel bounds it
    /// with room to spare.
    fn memory_need(&self) -> (u64, Option<Kind>) {
        let px = u64::from(self.header.width) * u64::from(self.header.height);
        let tenths = |t: u64| (px * t).div_ceil(10);
        let k = self.kind;
        let icc = if k.icc { MAX_ICC_BYTES as u64 } else { 0 };
        let (t, kind) = match k {
            k if k.for_libwebp() => (1, None),
            k if k.animated => (130, Some(Kind::Animated)),
            k if k.lossless => (80, Some(Kind::Lossless)),
            k if k.alpha => (110, None),
            _ => (50, None),
        };
        (tenths(t) + icc, kind)
    }

    /// Work units of the decoder, which decodes at once (so it is charged
    /// before it is called), and what the collector will be charged for
    /// the rows it gets. libwebp decodes every macroblock row down to the
    /// crop square's last (and the file's coefficients) and hands over
    /// only the square, shrunk to twice the avatar.
    fn work_units(&self, plan: &Plan<'_>) -> (u64, u64) {
        let (w, h) = (u64::from(plan.width), u64::from(plan.height));
        if self.kind.for_libwebp() {
            let rows = (u64::from(plan.y) + u64::from(plan.side) + 16).min(h);
            let out = (2 * plan.size).min(plan.side);
            let decoder = w * rows * cost::LIBWEBP_PIXEL + self.bytes.len() as u64 * cost::LIBWEBP_BYTE;
            return (decoder, Plan::collector_units(out, out));
        }
        // Lossy with alpha: the alpha plane is a lossless image.
        let per = if self.kind.lossless {
            cost::WEBP_LOSSLESS_PIXEL
        } else {
            cost::WEBP_LOSSY_PIXEL + cost::WEBP_LOSSLESS_PIXEL
        };
        (w * h * per, Plan::collector_units(plan.width, plan.height))
    }
}

impl Image for Webp<'_> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn work_rate(&self) -> u64 {
        if self.lossless_part {
            per_byte::WEBP_LOSSLESS
        } else {
            per_byte::WEBP_LOSSY
        }
    }

    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        let (need, kind) = self.memory_need();
        let (decoder_units, collector_units) = self.work_units(plan);
        let budget = plan.admit_whole_frame(F, kind, need, decoder_units, collector_units)?;
        if self.kind.for_libwebp() {
            let icc = self.icc.and_then(|(start, end)| self.bytes.get(start..end));
            return decode::with_libwebp(self.bytes, icc, plan);
        }
        let screen = u64::from(plan.width) * u64::from(plan.height);
        decode::with_image(self.bytes, plan, budget.saturating_sub(5 * screen))
    }

    fn frame_count(&self) -> u32 {
        if self.kind.animated {
            self.frames.max(1)
        } else {
            1
        }
    }

    fn frames<'p>(&'p self, plan: Plan<'p>) -> Result<Box<dyn Frames + 'p>, ImageError> {
        let (need, kind) = self.memory_need();
        let canvas = u64::from(plan.width) * u64::from(plan.height);
        // Each frame may be lossy with a lossless alpha plane, composited
        // on the whole canvas.
        let frame_units = canvas * (cost::WEBP_LOSSY_PIXEL + cost::WEBP_LOSSLESS_PIXEL);
        let collector_units = u64::from(self.frames) * Plan::collector_units(plan.width, plan.height);
        let need = need + plan.animation_encoder_bytes();
        plan.admit_whole_frame(F, kind, need, 0, collector_units + u64::from(self.frames) * frame_units)?;
        let icc = self.icc.and_then(|(start, end)| self.bytes.get(start..end)).filter(|p| p.len() <= MAX_ICC_BYTES);
        Ok(Box::new(anim_decode::WebpFrames::new(self.bytes, icc, plan, frame_units)?))
    }
}

/// The RIFF chunks of `b` from offset `pos` on (12 after a WebP file's
/// RIFF header, 16 inside an ANMF frame): `(fourcc, start, end)` of each
/// chunk's data, which may run past the end of `b`. Chunks are padded to
/// even length; the walk stops at the first incomplete chunk header.
fn riff_chunks(b: &[u8], pos: usize) -> impl Iterator<Item = (&[u8], usize, usize)> {
    let mut next = Some(pos);
    std::iter::from_fn(move || {
        let pos = next?;
        let fourcc = b.get(pos..pos.checked_add(4)?)?;
        let len = le32(b, pos.checked_add(4)?)? as usize;
        let start = pos.checked_add(8)?;
        let end = start.checked_add(len)?;
        next = end.checked_add(len & 1);
        Some((fourcc, start, end))
    })
}

/// Refuses a VP8 (lossy) bitstream whose key frame header gives another
/// size than `w`×`h` (the canvas or the animation frame). Data that is not
/// a key frame header is left to the decoder (it refuses it before
/// allocating).
fn check_vp8_size(data: Option<&[u8]>, w: u32, h: u32) -> Result<(), ImageError> {
    let Some(d) = data else { return Ok(()) };
    if d.get(3..6) != Some(&[0x9D, 0x01, 0x2A]) {
        return Ok(());
    }
    let (Some(fw), Some(fh)) = (le16(d, 6), le16(d, 8)) else { return Ok(()) };
    if (u32::from(fw & 0x3FFF), u32::from(fh & 0x3FFF)) != (w, h) {
        return Err(damaged(F, "the lossy frame's size differs from the image's"));
    }
    Ok(())
}

/// An animation frame: its size, then its sub-chunks (ALPH, VP8, VP8L);
/// a VP8 sub-chunk must be that size.
fn check_anmf(data: Option<&[u8]>) -> Result<(), ImageError> {
    let Some(d) = data else { return Ok(()) };
    let (Some(w), Some(h)) = (le24(d, 6), le24(d, 9)) else { return Ok(()) };
    match riff_chunks(d, 16).find(|(fourcc, ..)| fourcc == b"VP8 ") {
        Some((_, start, end)) => check_vp8_size(d.get(start..end), w + 1, h + 1),
        None => Ok(()),
    }
}
