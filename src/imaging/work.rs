//! The work an upload may make the CPU do, counted, so that the cost of a
//! decode follows the size of the file rather than what its header claims.
//!
//! A file can declare far more than it holds: a 150-byte JPEG declaring
//! 10000×10000, a 34-byte lossless WebP of one-symbol codes, a PNG of
//! zeros at deflate's limit. The clock cannot bound that (on Cloudflare
//! `Date.now()` does not advance while the isolate computes), so every
//! decoding loop charges a [`Work`] counter instead, created per upload
//! with a budget of [`BASE`] + [`per_byte`] × the file's bytes, and a
//! loop that finds it spent stops with [`ImageError::TooMuchWork`]. Loops
//! we run charge as they go (per row, per MCU row); third-party decoders
//! that decode a whole frame at once are charged what they will do before
//! they are called.
//!
//! How much picture a byte can carry depends on the codec: the same
//! screenshot is many times smaller as lossless WebP than as PNG, and
//! costs about the same to decode. So the per-byte allowance is the
//! codec's ([`per_byte`], each codec's `work_rate`), each set above the
//! densest real content of that codec, and the fixed allowance [`BASE`] lets a flat logo of a few
//! megapixels through in any format.
//!
//! A unit is calibrated to be about a nanosecond of the Worker's CPU on
//! the reference machine: each charge below is a count of what a loop
//! handles (bytes, blocks, pixels) times its measured cost. What does not
//! depend on the file (the Lanczos step on the kept region, the encoder,
//! both bounded by `AVATAR_SIZE`) is not charged. The figures,
//! the method and the legitimate worst cases the budget was set against are
//! in docs/benchmark.md ("CPU bound"), measured by `bench/cpu-bound.mjs`.

use std::cell::Cell;

use super::error::ImageError;
use super::format::SourceFormat;

/// Units any upload may spend, whatever its size: a flat logo of a few
/// megapixels decodes within it, and a file of a few bytes costs no more
/// than that.
pub const BASE: u64 = 25_000_000;

/// Units per byte on top of [`BASE`], per codec: a little over twice what
/// the densest real content of each needs (screenshots for PNG, GIF and
/// lossless WebP, progressive photos cropped for JPEG, screenshots for
/// lossy WebP), so that such files are never refused.
pub mod per_byte {
    pub const JPEG: u64 = 200;
    pub const PNG: u64 = 250;
    pub const GIF: u64 = 500;
    pub const BMP: u64 = 250;
    pub const WEBP_LOSSY: u64 = 700;
    /// Lossless WebP, and any WebP with a lossless part (an alpha plane,
    /// animation frames of either kind).
    pub const WEBP_LOSSLESS: u64 = 4_000;
    /// AVIF and HEIC cost the same per pixel whatever they hold (the AV1
    /// and HEVC decoders reconstruct every pixel), and compress well. An
    /// iPhone HEIC has about ten times what it needs; a 12 MP AVIF needs
    /// about 95 KB at 8 bits and 125 KB at 10, which AV1 undercuts on
    /// smooth pictures (docs/benchmark.md, "AVIF and HEIC"): such a file
    /// is refused with the size its bytes allow.
    pub const AVIF: u64 = 4_000;
    pub const HEIC: u64 = 5_000;
    /// An animation kept as one (any format), on top of its codec's rate:
    /// what its output pictures may cost ([`super::cost::ANIMATION_PICTURE_PIXEL`]),
    /// about one picture at the default avatar size per kilobyte of file.
    /// An animation whose file is too small for its pictures is kept as
    /// a still, so that a tiny file of many flat frames cannot make the
    /// encoder run for each of them.
    pub const ANIMATION: u64 = 20_000;
}

/// What each loop is charged, in units per item handled (measured, see
/// the module docs).
pub mod cost {
    /// Collector: a pixel of the crop square's bounding box converted to
    /// the resize's samples and box-averaged.
    pub const COLLECT_PIXEL: u64 = 3;
    /// Collector: any row handed over (also the ones it skips).
    pub const COLLECT_ROW: u64 = 50;
    /// PNG: a byte of the file (inflating its compressed data).
    pub const PNG_FILE_BYTE: u64 = 4;
    /// PNG: a byte of inflated, unfiltered image data.
    pub const PNG_RAW_BYTE: u64 = 1;
    /// PNG: a pixel expanded or reduced to 8-bit samples.
    pub const PNG_PIXEL: u64 = 2;
    /// JPEG, our DC-only decoder and the check before jpeg-decoder: an
    /// 8×8 block walked (codes read past, one DC value kept).
    pub const JPEG_DC_BLOCK: u64 = 14;
    /// JPEG, our DC-only decoder and the check: a byte of entropy-coded data.
    pub const JPEG_ENTROPY_BYTE: u64 = 5;
    /// JPEG, our DC-only decoder: a byte of an AC scan skipped unread.
    pub const JPEG_SKIPPED_BYTE: u64 = 1;
    /// JPEG, jpeg-decoder: a byte of entropy-coded data decoded into
    /// coefficients.
    pub const JPEG_DECODER_BYTE: u64 = 20;
    /// JPEG, jpeg-decoder: a block visited by a sequential scan whose data
    /// is known to cover it (checked, see [`JPEG_UNCHECKED_VISIT`]).
    pub const JPEG_VISIT: u64 = 20;
    /// JPEG, jpeg-decoder: a block visited by a progressive scan (checked).
    pub const JPEG_PROGRESSIVE_VISIT: u64 = 100;
    /// JPEG, jpeg-decoder: a block visited by a scan whose data was not
    /// checked: jpeg-decoder reads zero bits past the end of a scan's data,
    /// and with a hostile table every block then takes 63 of its slowest
    /// codes (the slowest measured: a progressive AC scan).
    pub const JPEG_UNCHECKED_VISIT: u64 = 1_700;
    /// JPEG, jpeg-decoder: a block's inverse DCT at scale n/8 (index n).
    pub const JPEG_IDCT: [u64; 9] = [0, 5, 10, 0, 20, 0, 0, 0, 60];
    /// JPEG, jpeg-decoder: a pixel upsampled and converted to RGB.
    pub const JPEG_PIXEL: u64 = 6;
    /// GIF: a pixel of the first frame decompressed and expanded to RGBA.
    pub const GIF_PIXEL: u64 = 7;
    /// Lossless WebP: a pixel decoded (no bits needed in the worst case).
    pub const WEBP_LOSSLESS_PIXEL: u64 = 7;
    /// Lossy WebP through `image` (alpha, animation): a pixel decoded.
    pub const WEBP_LOSSY_PIXEL: u64 = 12;
    /// Lossy WebP through libwebp: a pixel decoded (every macroblock row
    /// down to the crop square's last is decoded, then cropped and shrunk),
    /// and a byte of the file (its coefficients).
    pub const LIBWEBP_PIXEL: u64 = 3;
    pub const LIBWEBP_BYTE: u64 = 60;
    /// BMP: a pixel decoded (RLE runs and skips cost no bytes).
    pub const BMP_PIXEL: u64 = 5;
    /// An animation's output picture: a pixel of the avatar resized from
    /// the crop region, turned upright and encoded by the animation
    /// encoder (which tries more than one way of coding each picture).
    pub const ANIMATION_PICTURE_PIXEL: u64 = 300;
    /// BMP and ICO: a pixel's alpha checked or set after the decode (an
    /// alpha channel zero everywhere, an icon's AND mask); a byte compared
    /// or written, estimated at a fifth of a decoded pixel.
    pub const ALPHA_PIXEL: u64 = 1;
}

/// The work counter of one upload. Loops share it by reference (through
/// the decoding plan), so it counts with a `Cell`.
#[derive(Debug)]
pub struct Work {
    budget: Cell<u64>,
    spent: Cell<u64>,
    /// The file's size, for the refusal's message.
    bytes: u64,
}

impl Work {
    /// The counter of an uploaded file of `bytes` bytes whose codec allows
    /// `per_byte` units a byte ([`per_byte`]): [`BASE`] + `per_byte` × its
    /// bytes.
    pub fn for_file(per_byte: u64, bytes: u64) -> Work {
        Work::with_budget(BASE.saturating_add(per_byte.saturating_mul(bytes)), bytes)
    }

    /// A counter with an explicit budget (tests, benchmarks).
    pub fn with_budget(budget: u64, bytes: u64) -> Work {
        Work { budget: Cell::new(budget), spent: Cell::new(0), bytes }
    }

    #[cfg(any(test, feature = "internals"))]
    pub fn budget(&self) -> u64 {
        self.budget.get()
    }

    /// The file's size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Adds `units` to the budget (an allowance for work beyond the decode:
    /// an animation's pictures).
    pub fn grant(&self, units: u64) {
        self.budget.set(self.budget.get().saturating_add(units));
    }

    pub fn spent(&self) -> u64 {
        self.spent.get()
    }

    /// Units still available.
    pub fn left(&self) -> u64 {
        self.budget.get().saturating_sub(self.spent.get())
    }

    /// Whether `units` more would still be within the budget.
    pub fn fits(&self, units: u64) -> bool {
        units <= self.left()
    }

    /// Counts `units`; `Err(Spent)` (and nothing counted) when they do not
    /// fit. The caller turns that into the refusal with
    /// [`Work::refusal`], which needs the image's size.
    pub fn charge(&self, units: u64) -> Result<(), Spent> {
        if !self.fits(units) {
            return Err(Spent);
        }
        self.spent.set(self.spent.get() + units);
        Ok(())
    }

    /// The refusal of a `width`×`height` `format` image whose whole decode
    /// would cost `whole` units: names the file's size and the largest
    /// image of the same kind its budget would decode.
    pub fn refusal(&self, format: SourceFormat, width: u32, height: u32, whole: u64) -> ImageError {
        let px = u128::from(width) * u128::from(height);
        let max_pixels =
            (u128::from(self.budget.get()) * px / u128::from(whole.max(1))).min(u128::from(u64::MAX)) as u64;
        ImageError::TooMuchWork { format, width, height, bytes: self.bytes, max_pixels }
    }
}

/// A charge that did not fit the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spent;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_add_up_until_the_budget_and_a_refused_charge_counts_nothing() {
        let w = Work::with_budget(100, 10);
        assert_eq!(w.charge(60), Ok(()));
        assert_eq!(w.charge(40), Ok(()));
        assert_eq!((w.spent(), w.left()), (100, 0));
        assert_eq!(w.charge(1), Err(Spent));
        assert_eq!(w.spent(), 100);
        assert!(w.fits(0) && !w.fits(1));
        assert_eq!(w.charge(0), Ok(()));
    }

    #[test]
    fn the_refusal_names_the_size_the_budget_allows() {
        // A decode of 1000 units for a 100×100 image, on a budget of 250:
        // a quarter of the pixels would fit.
        let w = Work::with_budget(250, 150);
        let e = w.refusal(SourceFormat::Jpeg, 100, 100, 1000);
        assert_eq!(
            e,
            ImageError::TooMuchWork {
                format: SourceFormat::Jpeg,
                width: 100,
                height: 100,
                bytes: 150,
                max_pixels: 2500
            }
        );
    }
}
