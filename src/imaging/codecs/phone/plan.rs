//! The pure decisions around a decode of an AVIF or HEIC file, all made
//! from the header:
//!
//! * the scale ([`scale_shift`]): the decoder module averages blocks of
//!   2^shift pixels of the part the avatar keeps, so a 12 MP photo for a
//!   256 px avatar is converted at 1/4 or 1/8 and its RGB never exists at
//!   full size;
//! * the memory ([`decoder_bytes`], [`arena_bytes`]): the arena the
//!   decoder gets is all it can use;
//! * the work ([`work_units`], [`decoded`]): a decode's cost in the
//!   upload's work units;
//! * the orientation ([`orientation`], from `irot`/`imir`; the Exif
//!   orientation inside a HEIF file is ignored, as browsers and libheif
//!   do: iPhones write both, and applying both would turn the photo twice);
//! * the colour ([`colour`]: the ICC profile, else the
//!   `nclx`/bitstream primaries as an ICC profile made by moxcms).

use super::heif::{Grid, HeifHeader, PhoneKind, Transform};
use crate::imaging::orient::{Orient, Orientation};

/// Bytes of the arena the decoder's static data may take
/// (`js/phone.mjs`'s STATIC_RESERVE; the AVIF module has 0.3 MB).
pub const STATIC_RESERVE: u64 = 1 << 20;
/// The decoder's stack (`js/phone.mjs`'s STACK).
pub const STACK: u64 = 1 << 20;
/// What the arena holds beyond the estimates: allocator rounding, the
/// decoder's small structures.
pub const ARENA_SLACK: u64 = 1 << 20;
/// The finest scale the decoder modules average to: 1/8.
pub const MAX_SHIFT: u32 = 3;

/// The orientation that turns the stored picture upright: `irot`/`imir` in
/// the order the file lists them, as one of the eight EXIF orientations.
pub fn orientation(transforms: &[Transform]) -> Orientation {
    // The 2×2 square of labels [0, 1 / 2, 3] is moved like the picture;
    // the dihedral group's eight elements move it eight different ways, so
    // the result names the orientation (the one whose `apply_square` gives
    // the same square).
    let mut sq = [0u8, 1, 2, 3];
    for t in transforms {
        let [a, b, c, d] = sq;
        sq = match *t {
            // A quarter turn anticlockwise: the top-right corner comes to the top left.
            Transform::Rotate(k) => (0..k % 4).fold([a, b, c, d], |[a, b, c, d], _| [b, d, a, c]),
            // Top and bottom exchanged.
            Transform::Mirror(0) => [c, d, a, b],
            // Left and right exchanged.
            Transform::Mirror(_) => [b, a, d, c],
        };
    }
    (1..=8)
        .filter_map(Orientation::from_exif)
        .find(|o| o.apply_square(vec![0, 1, 2, 3], 2, 1) == sq)
        .unwrap_or(Orientation::NoTransforms)
}

/// The scale at which the decoder module converts a `side` px crop square
/// for a `size` px avatar, as a shift (blocks of 2^shift pixels averaged):
/// the coarsest that still leaves at least twice the avatar's size for the
/// Lanczos step (as the JPEG path's DCT scaling), at most 1/8; for a grid,
/// also one whose blocks do not straddle tiles.
pub fn scale_shift(side: u32, size: u32, grid: Option<Grid>) -> u32 {
    let want = 2 * u64::from(size.max(1));
    let mut s = 0;
    while s < MAX_SHIFT && u64::from(side) >> (s + 1) >= want {
        s += 1;
    }
    if let Some(g) = grid {
        while s > 0 && (g.tile_w % (1 << s) != 0 || g.tile_h % (1 << s) != 0) {
            s -= 1;
        }
    }
    s
}

/// The output the decoder module writes for the stored-image rectangle
/// `x, y, w, h` at `shift`: its first block and its size in blocks (blocks
/// are aligned to multiples of 2^shift in the full image).
pub fn output_blocks(x: u32, y: u32, w: u32, h: u32, shift: u32) -> (u32, u32, u32, u32) {
    let range = |a: u32, n: u32| {
        let first = a >> shift;
        let end = ((u64::from(a) + u64::from(n) + (1 << shift) - 1) >> shift) as u32;
        (first, end - first)
    };
    let (bx, bw) = range(x, w);
    let (by, bh) = range(y, h);
    (bx, by, bw, bh)
}

/// The most pixels the decoder may find in a picture: the image's, or a
/// grid tile's when that is larger (tiles may reach past the image's edge,
/// as a 1×1 grid of a 360×240 tile for a 360×239 photo does).
pub fn max_pixels(h: &HeifHeader) -> u32 {
    let image = u64::from(h.width) * u64::from(h.height);
    let tile = h.grid.map_or(0, |g| u64::from(g.tile_w) * u64::from(g.tile_h));
    image.max(tile).min(u64::from(u32::MAX)) as u32
}

/// Bytes the decoder module needs besides its output, static data and
/// stack, from the header alone (the arena's size is built on it: a file
/// whose header lies fails inside its arena).
///
/// AVIF (dav1d + libavif): dav1d's picture, planes padded by 128 pixels
/// (each tile's, for a grid, plus the grid's full-size image libavif
/// assembles), the alpha picture, and dav1d's frame state, measured at
/// 0.55–0.6 byte a pixel (1 taken), + 2 MiB. Measured peaks (the module's
/// heap, scaled output): 12 MP 8-bit 4:2:0 25 MB against 35 estimated,
/// 10-bit 46 against 55, an 8×6 grid 20 against 27.
///
/// HEIC (libde265): one coded picture at a time (a grid's tile, or the
/// whole picture): its planes, CTB/PU/TU metadata and SAO copy, measured
/// 4.3 bytes a pixel of the coded picture at 8 bits (+2.3 at 10), 4.5 and
/// 2.5 taken, + 5 MiB; + the container reader's items.
pub fn decoder_bytes(h: &HeifHeader) -> u64 {
    let (w, ht) = (u64::from(h.width), u64::from(h.height));
    let bps = if h.depth > 8 { 2 } else { 1 };
    let planes = |pw: u64, ph: u64| pw * ph * bps * h.chroma.samples_per_pixel_x2() / 2;
    match h.kind {
        PhoneKind::Avif => {
            let (pw, ph) = match h.grid {
                None => (w + 128, ht + 128),
                Some(g) => (u64::from(g.tile_w) + 128, u64::from(g.tile_h) + 128),
            };
            let alpha_bps = match h.alpha {
                Some(d) if d > 8 => 2,
                Some(_) => 1,
                None => 0,
            };
            let picture = planes(pw, ph) + pw * ph * alpha_bps + pw * ph;
            let assembled = if h.grid.is_some() { planes(w, ht) + w * ht * alpha_bps + w * ht / 4 } else { 0 };
            picture * if h.grid.is_some() { 2 } else { 1 } + assembled + (2 << 20)
        }
        PhoneKind::Heic => {
            let (tw, th) = h.grid.map_or((w, ht), |g| (u64::from(g.tile_w), u64::from(g.tile_h)));
            let px = (tw + 64) * (th + 64);
            let bytes = if h.depth > 8 { px * 7 } else { px * 9 / 2 };
            bytes + (5 << 20) + u64::from(h.items) * 640
        }
    }
}

/// The arena for a decode whose output is `out_bytes`: static data, stack,
/// the decoder's need, the output and slack.
pub fn arena_bytes(h: &HeifHeader, out_bytes: u64) -> u64 {
    STATIC_RESERVE + STACK + decoder_bytes(h) + out_bytes + ARENA_SLACK
}

/// Work units (`imaging::work`, about a nanosecond of Worker CPU each) of
/// a decode that makes the decoder decode `decoded_pixels` coded pixels in
/// `pictures` coded pictures ([`decoded`]: every pixel of an AVIF, alpha
/// too; the HEIC tiles that meet the crop) and convert `converted` pixels
/// of the crop's rectangle. Rates in [`rate`].
pub fn work_units(h: &HeifHeader, decoded_pixels: u64, pictures: u64, converted: u64) -> u64 {
    let per = match (h.kind, h.depth > 8) {
        (PhoneKind::Avif, false) => rate::AVIF_8BIT,
        (PhoneKind::Avif, true) => rate::AVIF_HIGH,
        (PhoneKind::Heic, false) => rate::HEIC_8BIT,
        (PhoneKind::Heic, true) => rate::HEIC_HIGH,
    } + if h.kind == PhoneKind::Avif && h.grid.is_some() { rate::AVIF_GRID } else { 0 };
    decoded_pixels * per + pictures * rate::PICTURE + converted * rate::CONVERT
}

/// What a decode of the stored-image rectangle `x, y, w, h` makes the
/// decoder decode: `(coded pixels, coded pictures)`. The whole picture for
/// AVIF (libavif decodes every grid tile), and its alpha plane; the tiles
/// that meet the rectangle for HEIC.
pub fn decoded(h: &HeifHeader, x: u32, y: u32, w: u32, ht: u32) -> (u64, u64) {
    let full = u64::from(h.width) * u64::from(h.height);
    let planes = if h.alpha.is_some() { 2 } else { 1 };
    match (h.kind, h.grid) {
        (PhoneKind::Avif, None) => (full * planes, planes),
        (PhoneKind::Avif, Some(g)) => (full * planes, planes * u64::from(g.rows) * u64::from(g.cols)),
        (PhoneKind::Heic, None) => (full, 1),
        (PhoneKind::Heic, Some(g)) => {
            let span = |a: u32, n: u32, t: u32| u64::from((a + n.max(1) - 1) / t - a / t + 1);
            let tiles = span(x, w, g.tile_w) * span(y, ht, g.tile_h);
            (tiles * u64::from(g.tile_w) * u64::from(g.tile_h), tiles)
        }
    }
}

/// Work units per pixel, measured in workerd on the 12 MP photos
/// (docs/benchmark.md, "AVIF and HEIC"): a coded pixel decoded (dav1d /
/// libde265, C without assembly; AVIF 8-bit 28–30 ns, 10-bit 37–39,
/// a grid 8–10 more; HEIC 71–76 ns, 10-bit ~15 % more), a coded picture
/// set up (a decoder per HEIC tile: ~2 ms of a 512² tile's 25), a pixel
/// of the crop's rectangle converted from YCbCr and averaged. The 8-bit
/// HEIC rate predates libde265's SIMD inverse transforms, which made such
/// pictures decode in well under half the time; it is kept as it was, an
/// overestimate, because a high-bitrate picture's cost is mostly entropy
/// decoding, which they did not speed up.
pub mod rate {
    pub const AVIF_8BIT: u64 = 30;
    pub const AVIF_HIGH: u64 = 40;
    pub const AVIF_GRID: u64 = 10;
    pub const HEIC_8BIT: u64 = 75;
    pub const HEIC_HIGH: u64 = 85;
    pub const PICTURE: u64 = 2_000_000;
    pub const CONVERT: u64 = 4;
}

/// The colour space of the decoded RGB, for the pipeline's converter.
#[derive(Debug)]
pub enum Colour<'a> {
    /// The file's own ICC profile (`colr` `prof`/`rICC`).
    Icc(&'a [u8]),
    /// A profile moxcms builds from the CICP primaries (Display P3, BT.2020, …).
    Cicp(Box<moxcms::ColorProfile>),
    /// sRGB (BT.709 primaries, or unspecified): nothing to convert.
    Srgb,
}

/// The file's ICC profile, else, when the CICP primaries (`nclx`, else the
/// bitstream's) are not sRGB's, a profile for them. The transfer
/// characteristics of SDR video (BT.709/601 and sRGB's curve) are taken
/// as sRGB, as browsers do for images.
pub fn colour<'a>(file: &'a [u8], h: &HeifHeader, primaries: u16, transfer: u16) -> Colour<'a> {
    if let Some(icc) = h.icc.as_ref().and_then(|r| file.get(r.clone())) {
        return Colour::Icc(icc);
    }
    cicp_profile(primaries, transfer).map_or(Colour::Srgb, |p| Colour::Cicp(Box::new(p)))
}

fn cicp_profile(primaries: u16, transfer: u16) -> Option<moxcms::ColorProfile> {
    if matches!(primaries, 1 | 2) || primaries > 255 {
        return None;
    }
    use moxcms::{CicpColorPrimaries, CicpProfile, ColorProfile, MatrixCoefficients, TransferCharacteristics};
    let sdr = matches!(transfer, 1 | 2 | 6 | 13 | 14 | 15);
    let transfer = if sdr { 13 } else { transfer };
    let cicp = CicpProfile {
        color_primaries: CicpColorPrimaries::try_from(primaries as u8).ok()?,
        transfer_characteristics: TransferCharacteristics::try_from(u8::try_from(transfer).ok()?).ok()?,
        matrix_coefficients: MatrixCoefficients::try_from(0u8).ok()?,
        full_range: true,
    };
    // (moxcms 0.8.1's update_rgb_colorimetry_from_cicp returns false even
    // when it succeeds: what it set tells.)
    let p = ColorProfile::new_from_cicp(cicp);
    if p.cicp.is_none() || p.red_trc.is_none() {
        return None;
    }
    Some(p)
}
