//! Crop and resize, in gamma-encoded sRGB (the default) or in linear light.
//!
//! Two steps, both on 16-bit samples (alpha-premultiplied), so the box
//! pre-shrink and the Lanczos step keep more precision than 8 bits:
//!
//! 1. [`Collector`] receives decoded rows in order, keeps only the bounding
//!    box of the crop square, converts colour to sRGB and then to 16-bit
//!    samples in the chosen [`ResizeSpace`], and box-averages k×k blocks when
//!    the square is much larger than the avatar (k is chosen so ≥ 2× the
//!    avatar size remains for the Lanczos step, and the kept region fits
//!    [`REGION_BUDGET`]). Streaming decoders (PNG) therefore never hold more
//!    than a few rows.
//! 2. [`finish`] runs a Lanczos3 convolution ([`super::lanczos`]: in 16-bit
//!    fixed point straight to 8 bits for opaque sRGB, else in `f32`) from
//!    the exact, sub-pixel crop square to `size`×`size`, then converts back
//!    to 8-bit sRGB (un-premultiplying alpha).
//!
//! The fixed-point resize of an opaque sRGB region takes rows one at a
//! time, so the pipeline's collectors hand it each region row as it is
//! made ([`Collector::resize_as_rows_arrive`]) and hold a Lanczos window
//! of rows, not the region; [`finish`] then only hands the avatar on.
//! Regions with alpha, or in linear light, are held and resized whole.

use std::sync::OnceLock;

use super::colour::ColourConverter;
use super::lanczos;
use super::limits::REGION_BUDGET;
use super::options::ResizeSpace;
use super::work::{cost, Spent, Work};

impl ResizeSpace {
    /// sRGB code value → 16-bit sample in this space.
    fn samples(self) -> &'static [u16; 256] {
        /// c × 257 maps 0..=255 exactly onto 0..=65535.
        static WIDENED: [u16; 256] = {
            let mut t = [0u16; 256];
            let mut i = 0;
            while i < 256 {
                t[i] = (i * 257) as u16;
                i += 1;
            }
            t
        };
        match self {
            ResizeSpace::Srgb => &WIDENED,
            ResizeSpace::Linear => to_linear(),
        }
    }
}

/// sRGB code value → 16-bit linear light.
fn to_linear() -> &'static [u16; 256] {
    static T: OnceLock<[u16; 256]> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = [0u16; 256];
        for (i, v) in t.iter_mut().enumerate() {
            let c = i as f64 / 255.0;
            let l = if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) };
            *v = (l * 65535.0).round() as u16;
        }
        t
    })
}

/// 16-bit linear light → nearest sRGB code value (65 536-entry table built
/// from the midpoints of [`to_linear`], no `powf` per entry).
///
/// Kept in static memory, not on the heap: built lazily in the middle of
/// the first upload, a heap table would sit above that upload's body buffer
/// for the life of the isolate, so the freed body could not coalesce with
/// the free top of the heap and the next upload's body would go above it
/// (wasm memory never shrinks: a large upload's peak would double;
/// docs/benchmark.md, "What the estimates rest on").
fn to_srgb() -> &'static [u8; 65536] {
    static T: OnceLock<[u8; 65536]> = OnceLock::new();
    T.get_or_init(|| {
        let lin = to_linear();
        let mut t = [0u8; 65536];
        let mut c = 0usize;
        for (v, out) in t.iter_mut().enumerate() {
            // Advance while the next code value is nearer.
            while c < 255 && (v as u32) * 2 > u32::from(lin[c]) + u32::from(lin[c + 1]) {
                c += 1;
            }
            *out = c as u8;
        }
        t
    })
}

/// 16-bit sRGB sample (c × 257) → nearest code value: `(v + 128) / 257`,
/// by [`lanczos::DIV257_MUL`].
#[inline(always)]
fn srgb_u16_to_u8(v: u16) -> u8 {
    (((u32::from(v) + 128) * lanczos::DIV257_MUL) >> 24) as u8
}

#[inline(always)]
fn lin_to_u8(v: u16) -> u8 {
    to_srgb()[usize::from(v)]
}

/// The square to extract, in the decoded image's pixel coordinates
/// (fractional: a JPEG decoded at 1/8 scale maps source pixels to eighths).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegionSpec {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// The crop square's neighbourhood as 16-bit samples, ready for Lanczos.
#[derive(Clone)]
pub struct Region {
    /// Samples in `space`; colour premultiplied by alpha when `ch == 4`.
    pub buf: Vec<u16>,
    pub space: ResizeSpace,
    pub width: u32,
    pub height: u32,
    pub ch: usize,
    /// The exact crop square inside `buf`'s image.
    pub crop: RegionSpec,
    /// Some pixel of the kept region is not fully opaque.
    pub transparent: bool,
    /// The avatar, when the collector resized the rows as they arrived
    /// ([`Collector::resize_as_rows_arrive`]; `buf` is then empty):
    /// [`finish`] hands it on.
    pub resized: Option<Vec<u8>>,
}

/// The box-shrink factor for a `bw`×`bh` bounding box: leave at least 2×
/// the avatar size for Lanczos; shrink more only if the region would not
/// fit [`REGION_BUDGET`].
fn shrink_factor(bw: u32, bh: u32, ch: usize, size: u32) -> u32 {
    let side = f64::from(bw.max(bh));
    let mut k = ((side / (2.0 * f64::from(size.max(1)))).floor() as u32).max(1);
    loop {
        let (w, h) = (bw.div_ceil(k), bh.div_ceil(k));
        if u64::from(w) * u64::from(h) * ch as u64 * 2 <= REGION_BUDGET || k >= bw.max(bh) {
            return k;
        }
        k += 1;
    }
}

/// Upper bound of the bytes a [`Collector`] holds for a crop square of
/// `side` decoded pixels (`ch` = 3, or 4 with alpha) and an avatar of
/// `size`: the region (resizing as rows arrive holds less, or is not
/// done), its accumulator row, and a row's worth of each of the converted
/// samples, the column sums and (with alpha) the premultiplied samples.
/// Known before decoding, so the decoders' budget can leave room for it.
pub fn region_bytes(side: f64, size: u32, ch: usize) -> u64 {
    // A fractional square's bounding box spans ceil(side) or ceil(side) + 1
    // pixels (one less if rounding clamps it to the image's edge). Not
    // monotone (a pixel more can double k), so take the largest.
    let c = side.max(1.0).ceil().min(f64::from(u32::MAX - 2)) as u32;
    (c.saturating_sub(1).max(1)..=c + 1)
        .map(|b| {
            let out = u64::from(b.div_ceil(shrink_factor(b, b, ch, size)));
            out * out * ch as u64 * 2 + out * ch as u64 * 8 + u64::from(b) * ch as u64 * 7
        })
        .max()
        .unwrap_or(0)
}

/// Upper bound of what resizing a region of at most `out` pixels a side
/// (`ch` samples a pixel) to `size`×`size` holds while the rows arrive
/// ([`Collector::resize_as_rows_arrive`]): the taps of both axes, the
/// rows of a window and a batch ahead (as received, and filtered), a
/// batch of rows in pairs, and the avatar. Small next to the region it
/// replaces, except for regions not much larger than the avatar, which
/// are held instead.
fn resized_as_rows_arrive_bytes(out: u64, size: u32, ch: usize) -> u64 {
    let (out, size, ch) = (out as f64, f64::from(size.max(1)), ch as f64);
    // Lanczos3's window: 2 × ceil(3 × scale) + 1 taps, one batch more in
    // the ring.
    let window = 6.0 * (out / size).max(1.0) + 3.0;
    let rows = window + 4.0;
    // Per axis: the `f32` weights, the fixed-point pairs, where each
    // window starts and how long it is (twice), and the scratch.
    let taps = 2.0 * (window * size * 4.0 + (window / 2.0 + 1.0) * size * 16.0 + 3.0 * size * 16.0 + window * 24.0);
    let held = rows * out * ch * 2.0;
    let filtered = rows * (3.0 * size + 8.0) * 2.0;
    let pairs = 4.0 * (out + 1.0) * 16.0;
    (taps + held + filtered + pairs + 3.0 * size * size).ceil() as u64
}

/// Receives the decoded rows top to bottom; see the module docs. Every row
/// is charged to the upload's work counter.
pub struct Collector<'w> {
    conv: ColourConverter,
    space: ResizeSpace,
    /// Bounding box of the crop square in decoded pixels.
    bx: u32,
    by: u32,
    bw: u32,
    bh: u32,
    /// Box-shrink factor.
    k: u32,
    ch: usize,
    out_w: u32,
    out_h: u32,
    acc: Vec<u64>,
    /// Column sums of the rows since the last flush, when the samples are
    /// sRGB (see [`Collector::new`]); empty otherwise.
    columns: Vec<u32>,
    /// What [`Collector::columns`] adds up: code values (RGB) or
    /// premultiplied 16-bit samples (RGBA).
    column_sums: ColumnSums,
    /// One RGBA row premultiplied, on its way into the column sums.
    premultiplied: Vec<u16>,
    acc_rows: u32,
    /// The region's rows so far, or (resizing as rows arrive) the one
    /// being made.
    out: Vec<u16>,
    out_row: u32,
    /// Where the region's rows go as they are made, instead of `out`.
    stream: Option<lanczos::RgbStream>,
    size: u32,
    /// One converted row slice (sRGB 8-bit).
    srgb: Vec<u8>,
    next_y: u32,
    transparent: bool,
    crop: RegionSpec,
    work: &'w Work,
}

impl<'w> Collector<'w> {
    /// `dw`×`dh`: decoded image size; `spec`: crop square in decoded pixels;
    /// `size`: avatar edge; `space`: what the samples hold; `work`: the
    /// counter each row is charged to.
    pub fn new(
        conv: ColourConverter,
        space: ResizeSpace,
        dw: u32,
        dh: u32,
        spec: RegionSpec,
        size: u32,
        work: &'w Work,
    ) -> Self {
        let clampf = |v: f64, max: u32| v.max(0.0).min(f64::from(max));
        let x0 = clampf(spec.x, dw);
        let y0 = clampf(spec.y, dh);
        let x1 = clampf(spec.x + spec.w, dw);
        let y1 = clampf(spec.y + spec.h, dh);
        let bx = x0.floor() as u32;
        let by = y0.floor() as u32;
        let bw = ((x1.ceil() as u32).saturating_sub(bx)).max(1).min(dw.saturating_sub(bx).max(1));
        let bh = ((y1.ceil() as u32).saturating_sub(by)).max(1).min(dh.saturating_sub(by).max(1));
        let ch = conv.layout().out_channels();
        let k = shrink_factor(bw, bh, ch, size);
        let column_sums = match (k > 1 && space == ResizeSpace::Srgb, ch) {
            (true, 3) => ColumnSums::CodeValues,
            (true, 4) => ColumnSums::Premultiplied,
            _ => ColumnSums::None,
        };
        let (out_w, out_h) = (bw.div_ceil(k), bh.div_ceil(k));
        let kf = f64::from(k);
        let crop = RegionSpec {
            x: (x0 - f64::from(bx)) / kf,
            y: (y0 - f64::from(by)) / kf,
            w: ((x1 - x0) / kf).max(f64::MIN_POSITIVE),
            h: ((y1 - y0) / kf).max(f64::MIN_POSITIVE),
        };
        // Only rows that need converting are written to `srgb`.
        let converted = if conv.is_identity() { 0 } else { bw as usize * ch };
        Collector {
            conv,
            space,
            bx,
            by,
            bw,
            bh,
            k,
            ch,
            out_w,
            out_h,
            acc: vec![0; out_w as usize * ch],
            // k rows of sRGB samples are summed column by column (a loop
            // that vectorises), and across each block only once per k rows:
            // opaque ones as bytes (they widen as c × 257), RGBA ones as
            // premultiplied samples (made with simd128).
            columns: if column_sums == ColumnSums::None { Vec::new() } else { vec![0; bw as usize * ch] },
            column_sums,
            premultiplied: Vec::new(),
            acc_rows: 0,
            // Made room for with the first row, once it is known whether
            // the region is held.
            out: Vec::new(),
            out_row: 0,
            stream: None,
            size,
            srgb: vec![0; converted],
            next_y: 0,
            transparent: false,
            crop,
            work,
        }
    }

    /// Resizes the region's rows as they are made instead of holding the
    /// region (when `wanted`, the region is opaque sRGB RGB, which
    /// [`finish`] resizes in fixed point, and that holds less than the
    /// region, so that [`region_bytes`] bounds either): the avatar's bytes
    /// are the same, and only the rows of a Lanczos window are held, not
    /// the crop.
    pub fn resize_as_rows_arrive(mut self, wanted: bool) -> Self {
        let region = u64::from(self.out_w) * u64::from(self.out_h) * self.ch as u64 * 2;
        let streamed = resized_as_rows_arrive_bytes(u64::from(self.out_w.max(self.out_h)), self.size, self.ch);
        if wanted && self.space == ResizeSpace::Srgb && self.ch == 3 && streamed < region {
            let (w, h) = (self.out_w as usize, self.out_h as usize);
            let crop = lanczos_crop(self.crop, self.out_w, self.out_h);
            self.stream = lanczos::RgbStream::new(w, h, self.ch, crop, self.size as usize);
        }
        self
    }

    /// Room in `out` for the region's rows (or, resizing as rows arrive,
    /// for one), made with the first row.
    fn make_room(&mut self) {
        if self.out.capacity() == 0 {
            let rows = if self.stream.is_some() { 1 } else { self.out_h as usize };
            self.out.reserve_exact(self.out_w as usize * rows * self.ch);
        }
    }

    /// After a region row was added to `out`: resizing as rows arrive, it
    /// goes on to the resize.
    fn row_made(&mut self) {
        self.out_row += 1;
        if let Some(stream) = &mut self.stream {
            stream.push_row(&self.out);
            self.out.clear();
        }
    }

    /// True once every row the region needs has arrived (the decoder may
    /// stop early).
    pub fn done(&self) -> bool {
        self.next_y >= self.by.saturating_add(self.bh)
    }

    /// The decoded columns the region is made of: a decoder may leave the
    /// rest of each row unconverted.
    pub fn columns(&self) -> std::ops::Range<usize> {
        self.bx as usize..(self.bx as usize).saturating_add(self.bw as usize)
    }

    /// The decoded rows the region is made of: a decoder may hand on any
    /// bytes in place of the others.
    pub fn rows(&self) -> std::ops::Range<usize> {
        self.by as usize..(self.by as usize).saturating_add(self.bh as usize)
    }

    /// Takes the next decoded row (all of it, in the converter's layout);
    /// `Err` when the upload's work budget does not cover it.
    pub fn push_row(&mut self, row: &[u8]) -> Result<(), Spent> {
        let y = self.next_y;
        let inside = self.rows().contains(&(y as usize));
        let pixels = if inside { u64::from(self.bw) } else { 0 };
        self.work.charge(cost::COLLECT_ROW + pixels * cost::COLLECT_PIXEL)?;
        self.next_y = self.next_y.saturating_add(1);
        if !inside {
            return Ok(());
        }
        self.make_room();
        let in_ch = self.conv.layout().channels();
        let start = self.bx as usize * in_ch;
        let Some(src) = row.get(start..start + self.bw as usize * in_ch) else { return Ok(()) };
        // sRGB rows are read where they are; others are converted first.
        let srgb: &[u8] = if self.conv.is_identity() {
            src
        } else {
            self.conv.convert(src, &mut self.srgb);
            &self.srgb
        };
        if self.k == 1 {
            // No box to average: the samples go straight into the region.
            self.transparent |= widen_row(srgb, self.ch, self.space, &mut self.out);
            self.row_made();
            return Ok(());
        }
        match self.column_sums {
            ColumnSums::None => {
                self.transparent |= accumulate(&mut self.acc, srgb, self.space.samples(), self.k as usize, self.ch);
            }
            ColumnSums::CodeValues => {
                for (sum, &c) in self.columns.iter_mut().zip(srgb) {
                    *sum += u32::from(c);
                }
            }
            ColumnSums::Premultiplied => {
                self.transparent = self.transparent || !opaque(srgb);
                self.premultiplied.clear();
                premultiply_srgb(srgb, &mut self.premultiplied);
                for (sum, &c) in self.columns.iter_mut().zip(&self.premultiplied) {
                    *sum += u32::from(c);
                }
            }
        }
        self.acc_rows += 1;
        if self.acc_rows == self.k || y + 1 == self.by + self.bh {
            self.flush();
        }
        Ok(())
    }

    /// Writes the averaged block row and resets the accumulators. Column
    /// sums are first added up across each block into them (code values
    /// times 257, the sRGB widening).
    fn flush(&mut self) {
        let (k, ch) = (u64::from(self.k), self.ch);
        let scale = match self.column_sums {
            ColumnSums::None => None,
            ColumnSums::CodeValues => Some(257),
            ColumnSums::Premultiplied => Some(1),
        };
        if let Some(scale) = scale {
            for (acc, block) in self.acc.chunks_exact_mut(ch).zip(self.columns.chunks(k as usize * ch)) {
                for (c, a) in acc.iter_mut().enumerate() {
                    *a = scale * block.iter().skip(c).step_by(ch).map(|&v| u64::from(v)).sum::<u64>();
                }
            }
            self.columns.fill(0);
        }
        // Whole blocks share one count, so they are averaged in one pass
        // over the slice (a loop per block cost more than its divisions);
        // a narrower last block has its own.
        let rows = u64::from(self.acc_rows);
        let whole = (u64::from(self.bw) / k) as usize * ch;
        let (full, last) = self.acc.split_at(whole.min(self.acc.len()));
        for (sums, cols) in [(full, k), (last, u64::from(self.bw) % k)] {
            let n = (cols * rows).max(1);
            self.out.extend(sums.iter().map(|&a| rounded_mean(a, n)));
        }
        self.acc.fill(0);
        self.acc_rows = 0;
        self.row_made();
    }

    /// The collected region; `None` if the decoder delivered too few rows.
    pub fn into_region(self) -> Option<Region> {
        if self.out_row != self.out_h {
            return None;
        }
        let (buf, resized) = match self.stream {
            Some(stream) => (Vec::new(), Some(stream.finish()?)),
            None if self.out.len() == self.out_w as usize * self.out_h as usize * self.ch => (self.out, None),
            None => return None,
        };
        Some(Region {
            buf,
            space: self.space,
            width: self.out_w,
            height: self.out_h,
            ch: self.ch,
            crop: self.crop,
            transparent: self.transparent,
            resized,
        })
    }
}

/// What a collector's per-column sums hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ColumnSums {
    /// No column sums: in linear light every pixel goes into its block's
    /// accumulators; without a box (k = 1) rows widen straight into the
    /// region.
    None,
    /// Opaque sRGB code values (RGB).
    CodeValues,
    /// sRGB RGBA samples, colour premultiplied by alpha.
    Premultiplied,
}

/// `sum / n` rounded to nearest, as a 16-bit sample. Through `f64`, as a
/// wasm division of 64-bit integers by a variable is slow: below 2^52 a
/// quotient's rounding error is under half of 1 / n, too little to carry
/// it across an integer, so truncating gives the integer quotient. A block
/// sum is at most k² × 65535 with k ≤ [`MAX_DIMENSION`](super::limits::MAX_DIMENSION),
/// under 2^48.
#[inline(always)]
fn rounded_mean(sum: u64, n: u64) -> u16 {
    let x = sum + n / 2;
    debug_assert!(x < 1 << 52);
    ((x as f64 / n as f64) as u64).min(65535) as u16
}

/// Whether every pixel of an RGBA8 row has alpha 255.
fn opaque(rgba: &[u8]) -> bool {
    rgba.chunks_exact(4).all(|px| px[3] == 255)
}

/// Adds a row of 8-bit sRGB pixels (`ch` = 3, or 4 with alpha) to the
/// accumulators of their blocks of `k` (colour premultiplied by alpha, as
/// 16-bit samples from `lin`). Returns whether some pixel is not fully
/// opaque.
fn accumulate(acc: &mut [u64], srgb: &[u8], lin: &[u16; 256], k: usize, ch: usize) -> bool {
    let mut transparent = false;
    // One accumulator per k source pixels (walked block by block: a
    // division per pixel cost more than the rest of the loop).
    for (acc, block) in acc.chunks_exact_mut(ch).zip(srgb.chunks(k * ch)) {
        if ch == 4 {
            for px in block.chunks_exact(4) {
                let a = u64::from(px[3]);
                transparent |= a < 255;
                for c in 0..3 {
                    acc[c] += u64::from(lin[usize::from(px[c])]) * a / 255;
                }
                acc[3] += a * 257;
            }
        } else {
            for px in block.chunks_exact(ch) {
                for c in 0..3 {
                    acc[c] += u64::from(lin[usize::from(px[c])]);
                }
            }
        }
    }
    transparent
}

/// One row of 8-bit sRGB pixels (`ch` = 3, or 4 with alpha) appended to
/// `out` as 16-bit samples in `space`, colour premultiplied by alpha: what
/// the box average of a single pixel gives, written without accumulators.
/// Returns whether some pixel is not fully opaque.
fn widen_row(srgb: &[u8], ch: usize, space: ResizeSpace, out: &mut Vec<u16>) -> bool {
    let lin = space.samples();
    if ch == 4 && opaque(srgb) {
        // An opaque row (a GIF canvas, a PNG with an unused alpha channel):
        // nothing to premultiply, alpha widens to 65535 like a colour 255.
        match space {
            ResizeSpace::Srgb => out.extend(srgb.iter().map(|&c| u16::from(c) * 257)),
            ResizeSpace::Linear => out.extend(
                srgb.chunks_exact(4)
                    .flat_map(|px| [lin[usize::from(px[0])], lin[usize::from(px[1])], lin[usize::from(px[2])], 65535]),
            ),
        }
        return false;
    }
    if ch == 4 && space == ResizeSpace::Srgb {
        // Not every pixel is opaque (checked above).
        premultiply_srgb(srgb, out);
        return true;
    }
    if ch == 4 {
        let mut transparent = false;
        for px in srgb.chunks_exact(4) {
            let a = u32::from(px[3]);
            transparent |= a < 255;
            for &c in &px[..3] {
                out.push((u32::from(lin[usize::from(c)]) * a / 255) as u16);
            }
            out.push((a * 257) as u16);
        }
        return transparent;
    }
    match space {
        // The sRGB table is c × 257: computed, so the loop vectorises.
        ResizeSpace::Srgb => out.extend(srgb.iter().map(|&c| u16::from(c) * 257)),
        ResizeSpace::Linear => out.extend(srgb.iter().map(|&c| lin[usize::from(c)])),
    }
    false
}

/// Transparent sRGB RGBA8 pixels as 16-bit samples, colour premultiplied:
/// each colour `c` becomes `c × 257 × a / 255` rounded down, alpha `a × 257`
/// (what [`ResizeSpace::samples`] and the division give), eight samples at a
/// time with simd128.
fn premultiply_srgb(rgba: &[u8], out: &mut Vec<u16>) {
    #[cfg(target_arch = "wasm32")]
    let rgba = premultiply_srgb_simd128(rgba, out);
    out.extend(rgba.chunks_exact(4).flat_map(|px| [px[0], px[1], px[2], 255].map(|c| premultiplied(c, px[3]))));
}

/// `c × 257 × a / 255` rounded down, in 16-bit steps that SIMD has (it has
/// no division): with m = c × a it is m + ⌊2m / 255⌋; q = ⌊m / 255⌋ is
/// (m + 1 + (m >> 8)) >> 8, and ⌊2m / 255⌋ is 2q, plus one when the
/// remainder m − 255q is at least 128. Exact for every `c` and `a` (a test
/// checks them all); `c` = 255 gives `a × 257`, the widened alpha.
#[inline(always)]
fn premultiplied(c: u8, a: u8) -> u16 {
    let m = u16::from(c) * u16::from(a);
    let q = (m + 1 + (m >> 8)) >> 8;
    let r = m - 255 * q;
    m + 2 * q + u16::from(r >= 128)
}

/// [`premultiply_srgb`]'s pixels four at a time: each half of a 16-byte
/// load widened to two pixels of 16-bit lanes, alpha copied across its
/// pixel, the alpha lane's colour set to 255, then [`premultiplied`] lane by
/// lane. Returns the pixels left over (fewer than four).
#[cfg(target_arch = "wasm32")]
fn premultiply_srgb_simd128<'a>(rgba: &'a [u8], out: &mut Vec<u16>) -> &'a [u8] {
    use core::arch::wasm32::{
        i16x8_add, i16x8_mul, i16x8_sub, i8x16_shuffle, u16x8, u16x8_extend_high_u8x16, u16x8_extend_low_u8x16,
        u16x8_gt, u16x8_shr, u16x8_splat, v128, v128_load, v128_or,
    };
    let lanes = |two_pixels: v128| -> v128 {
        let a = i8x16_shuffle::<6, 7, 6, 7, 6, 7, 6, 7, 14, 15, 14, 15, 14, 15, 14, 15>(two_pixels, two_pixels);
        let c = v128_or(two_pixels, u16x8(0, 0, 0, 255, 0, 0, 0, 255));
        let m = i16x8_mul(c, a);
        let q = u16x8_shr(i16x8_add(i16x8_add(m, u16x8_splat(1)), u16x8_shr(m, 8)), 8);
        let r = i16x8_sub(m, i16x8_mul(q, u16x8_splat(255)));
        // A true comparison is all ones, -1: subtracting it adds one.
        i16x8_sub(i16x8_add(m, i16x8_add(q, q)), u16x8_gt(r, u16x8_splat(127)))
    };
    let mut quads = rgba.chunks_exact(16);
    out.reserve(rgba.len());
    for quad in &mut quads {
        // SAFETY: `quad` is 16 bytes; wasm loads need no alignment.
        let v = unsafe { v128_load(quad.as_ptr().cast::<v128>()) };
        for half in [lanes(u16x8_extend_low_u8x16(v)), lanes(u16x8_extend_high_u8x16(v))] {
            // SAFETY: `v128` and `[u16; 8]` are both 16 plain bytes.
            out.extend_from_slice(&unsafe { core::mem::transmute::<v128, [u16; 8]>(half) });
        }
    }
    quads.remainder()
}

/// [`premultiply_srgb`] (simd128 in the Worker) against the division it
/// stands for: every (colour, alpha) pair, in rows of every length up to a
/// few vectors. Returns the number of pixels compared.
#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
pub(crate) fn premultiply_self_check() -> Result<usize, String> {
    let all: Vec<u8> = (0..=255u8).flat_map(|c| (0..=255u8).flat_map(move |a| [c, 255 - c, c / 3, a])).collect();
    let mut compared = 0;
    for row in std::iter::once(&all[..]).chain((0..=12).map(|n| &all[4 * 1000..4 * (1000 + n)])) {
        let mut fast = Vec::new();
        premultiply_srgb(row, &mut fast);
        if fast.len() != row.len() {
            return Err(format!("{} samples for {} pixels", fast.len(), row.len() / 4));
        }
        for (i, (px, got)) in row.chunks_exact(4).zip(fast.chunks_exact(4)).enumerate() {
            let a = u32::from(px[3]);
            let want = [px[0], px[1], px[2]].map(|c| (u32::from(c) * 257 * a / 255) as u16);
            if got[..3] != want || u32::from(got[3]) != a * 257 {
                return Err(format!("pixel {i} {px:?}: {got:?}, expected {want:?} and alpha {}", a * 257));
            }
        }
        compared += row.len() / 4;
    }
    Ok(compared)
}

/// Lanczos3 from the region's crop square to `size`×`size`, back to 8-bit
/// sRGB. Returns the pixels and their channel count: 4 only when the region
/// has real transparency, else 3.
///
/// Takes the region by value, so that it is freed before the pixels are
/// encoded.
pub fn finish(region: Region, size: u32) -> Result<(Vec<u8>, usize), String> {
    let Region { buf, space, width, height, ch, crop, transparent, resized } = region;
    if let Some(rgb) = resized {
        let size = size as usize;
        return if rgb.len() == size * size * 3 {
            Ok((rgb, 3))
        } else {
            Err(format!("the region was resized to {} samples, not {size} × {size} × 3", rgb.len()))
        };
    }
    let crop = lanczos_crop(crop, width, height);
    let wrong_buffer = || format!("region buffer of {} samples is not {width} × {height} × {ch}", buf.len());
    if space == ResizeSpace::Srgb && !transparent {
        // The common case, opaque sRGB: in fixed point, straight to 8 bits
        // (the f32 passes below when its weights do not fit 16 bits).
        if let Some(rgb) = lanczos::resize_to_rgb8(&buf, width as usize, height as usize, ch, crop, size as usize) {
            return Ok((rgb, 3));
        }
    }
    let samples =
        lanczos::resize(&buf, width as usize, height as usize, ch, crop, size as usize).ok_or_else(wrong_buffer)?;
    drop(buf);
    let keep_alpha = ch == 4 && transparent;
    let out_ch = if keep_alpha { 4 } else { 3 };
    let mut out = Vec::with_capacity(size as usize * size as usize * out_ch);
    match (ch, space) {
        // An opaque region's alpha is 65535 throughout: nothing to divide.
        (4, ResizeSpace::Linear) if !transparent => {
            out.extend(samples.chunks_exact(4).flat_map(|px| [px[0], px[1], px[2]].map(lin_to_u8)))
        }
        (4, ResizeSpace::Srgb) => unpremultiply(&samples, keep_alpha, srgb_u16_to_u8, &mut out),
        (4, ResizeSpace::Linear) => unpremultiply(&samples, keep_alpha, lin_to_u8, &mut out),
        // Matched once, not per sample, so that the sRGB loop vectorises.
        (_, ResizeSpace::Srgb) => out.extend(samples.iter().map(|&v| srgb_u16_to_u8(v))),
        (_, ResizeSpace::Linear) => out.extend(samples.iter().map(|&v| lin_to_u8(v))),
    }
    Ok((out, out_ch))
}

/// The crop square as the Lanczos step takes it: inside the region.
fn lanczos_crop(crop: RegionSpec, width: u32, height: u32) -> lanczos::Crop {
    let (fw, fh) = (f64::from(width), f64::from(height));
    let x = crop.x.clamp(0.0, fw);
    let y = crop.y.clamp(0.0, fh);
    lanczos::Crop { x, y, w: crop.w.min(fw - x), h: crop.h.min(fh - y) }
}

/// Premultiplied 16-bit RGBA → 8-bit sRGB pixels (RGBA when `keep_alpha`,
/// else RGB), through `to_u8`.
fn unpremultiply(rgba: &[u16], keep_alpha: bool, to_u8: impl Fn(u16) -> u8, out: &mut Vec<u8>) {
    for px in rgba.chunks_exact(4) {
        let a = u32::from(px[3]);
        for &v in &px[..3] {
            // An opaque pixel's colour is as it is; a fully transparent
            // pixel has none.
            let v = if a == 65535 { u32::from(v) } else { (u32::from(v) * 65535 + a / 2).checked_div(a).unwrap_or(0) };
            out.push(to_u8(v.min(65535) as u16));
        }
        if keep_alpha {
            out.push(((a + 128) / 257).min(255) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::colour::Layout;

    /// The region a collector keeps of `rows` (`w` pixels each, RGB8 or
    /// RGBA8 as `layout`), for an avatar of `size`.
    fn collect(layout: Layout, rows: &[Vec<u8>], w: u32, size: u32) -> Region {
        let h = rows.len() as u32;
        let work = Work::for_file(u64::MAX / 4, 1);
        let spec = RegionSpec { x: 0.0, y: 0.0, w: f64::from(w), h: f64::from(h) };
        let mut c = Collector::new(ColourConverter::new(layout, None), ResizeSpace::Srgb, w, h, spec, size, &work);
        for row in rows {
            c.push_row(row).unwrap();
        }
        c.into_region().unwrap()
    }

    /// The rounded mean of each 3×3 block of a `w`×`h` picture of `ch`
    /// channels, the narrower blocks at the right and bottom edges too,
    /// from `sample(y, x, c)`, block row by block row.
    fn block_means(w: usize, h: usize, ch: usize, sample: impl Fn(usize, usize, usize) -> u64) -> Vec<u16> {
        let mean = |bx: usize, by: usize, c: usize| {
            let (xs, ys) = (bx * 3..(bx * 3 + 3).min(w), by * 3..(by * 3 + 3).min(h));
            let n = (xs.len() * ys.len()) as u64;
            let sum: u64 = ys.flat_map(|y| xs.clone().map(move |x| (y, x))).map(|(y, x)| sample(y, x, c)).sum();
            ((sum + n / 2) / n) as u16
        };
        (0..h.div_ceil(3))
            .flat_map(|by| (0..w.div_ceil(3)).flat_map(move |bx| (0..ch).map(move |c| (bx, by, c))))
            .map(|(bx, by, c)| mean(bx, by, c))
            .collect()
    }

    #[test]
    fn opaque_rows_average_the_same_by_column_sums() {
        // 31×22 at k = 3: partial blocks at the right and bottom edges.
        let (w, h, size) = (31u32, 22u32, 5u32);
        let mut seed = 7u32;
        let rgb: Vec<Vec<u8>> = (0..h)
            .map(|_| {
                (0..w * 3)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        (seed >> 16) as u8
                    })
                    .collect()
            })
            .collect();
        let rgba: Vec<Vec<u8>> =
            rgb.iter().map(|r| r.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect()).collect();
        // RGB sums code values by column, RGBA premultiplied samples.
        let by_columns = collect(Layout::Rgb, &rgb, w, size);
        let by_pixels = collect(Layout::Rgba, &rgba, w, size);
        assert_eq!((by_columns.width, by_columns.height), (11, 8));
        let colour: Vec<u16> = by_pixels.buf.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        assert_eq!(by_columns.buf, colour);
        // And every block is the rounded mean of its pixels, the narrower
        // ones at the right and bottom edges too.
        let want = block_means(w as usize, h as usize, 3, |y, x, c| u64::from(rgb[y][x * 3 + c]) * 257);
        assert_eq!(by_columns.buf, want);
    }
    #[test]
    fn transparent_rows_average_premultiplied() {
        // 31×22 RGBA at k = 3, alpha from 0 to 255 (some rows opaque): each
        // block is the rounded mean of c × 257 × a / 255 over its pixels,
        // and alpha's of a × 257.
        let (w, h, size) = (31u32, 22u32, 5u32);
        let mut seed = 11u32;
        let rows: Vec<Vec<u8>> = (0..h)
            .map(|y| {
                (0..w * 4)
                    .map(|i| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        if i % 4 == 3 && y % 5 == 0 {
                            255
                        } else {
                            (seed >> 16) as u8
                        }
                    })
                    .collect()
            })
            .collect();
        let region = collect(Layout::Rgba, &rows, w, size);
        assert!(region.transparent);
        assert_eq!((region.width, region.height), (11, 8));
        let want = block_means(w as usize, h as usize, 4, |y, x, c| {
            let a = u64::from(rows[y][x * 4 + 3]);
            if c == 3 {
                a * 257
            } else {
                u64::from(rows[y][x * 4 + c]) * 257 * a / 255
            }
        });
        assert_eq!(region.buf, want);
    }
    #[test]
    fn rounded_means_through_f64_are_the_integer_ones() {
        let integer = |sum: u64, n: u64| ((sum + n / 2) / n).min(65535) as u16;
        let mut seed = 3u64;
        for n in (1..=300u64).chain([1 << 20, 65_535 * 65_535, 1 << 32]) {
            for _ in 0..200 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                // Means from 0 to past 65535, and sums up to k² × 65535.
                let sum = (seed >> 16) % (n * 70_000).min(1 << 48);
                assert_eq!(rounded_mean(sum, n), integer(sum, n), "{sum} / {n}");
            }
            for sum in [0, n / 2, n * 65_535, n * 65_535 + n / 2 - 1, n * 65_535 + n / 2, (1u64 << 48) - 1] {
                assert_eq!(rounded_mean(sum, n), integer(sum, n), "{sum} / {n}");
            }
        }
    }
    #[test]
    fn opaque_rgba_rows_widen_as_premultiplied_ones() {
        // Every code value, opaque; the same row with one pixel at alpha
        // 254 takes the premultiplying path. Pixel for pixel, colours that
        // alpha does not scale must come out the same, in both spaces.
        let opaque: Vec<u8> = (0..=255u8).flat_map(|c| [c, 255 - c, c / 2, 255]).collect();
        let mut almost = opaque.clone();
        almost[3] = 254;
        for space in [ResizeSpace::Srgb, ResizeSpace::Linear] {
            let (mut fast, mut slow, mut acc) = (Vec::new(), Vec::new(), vec![0u64; opaque.len()]);
            assert!(!widen_row(&opaque, 4, space, &mut fast));
            assert!(widen_row(&almost, 4, space, &mut slow));
            assert!(!accumulate(&mut acc, &opaque, space.samples(), 1, 4));
            assert_eq!(fast.len(), opaque.len());
            assert_eq!(fast[4..], slow[4..], "{space:?}");
            assert!(fast.iter().zip(&acc).all(|(&f, &a)| u64::from(f) == a), "{space:?}");
        }
    }
    #[test]
    fn premultiplied_widening_is_the_division_it_replaces() {
        for c in 0..=255u8 {
            for a in 0..=255u8 {
                let exact = (u32::from(c) * 257 * u32::from(a) / 255) as u16;
                assert_eq!(premultiplied(c, a), exact, "c {c}, a {a}");
            }
        }
        assert_eq!(premultiply_self_check(), Ok(65536 + (0..=12).sum::<usize>()));
    }
    #[test]
    fn opaque_rgba_finishes_as_rgb() {
        // The same opaque picture as RGB and as RGBA: the RGBA region's
        // colour lanes are the RGB region's, so the avatars must match,
        // shrunk (k = 1 and k > 1) and enlarged, and match the general
        // path's.
        let (w, h) = (40u32, 30u32);
        let rgb: Vec<Vec<u8>> = (0..h).map(|y| (0..w * 3).map(|i| ((i * 7 + y * 13) % 251) as u8).collect()).collect();
        let rgba: Vec<Vec<u8>> =
            rgb.iter().map(|r| r.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect()).collect();
        for size in [7, 16, 64] {
            let from_rgb = finish(collect(Layout::Rgb, &rgb, w, size), size).unwrap();
            let from_rgba = finish(collect(Layout::Rgba, &rgba, w, size), size).unwrap();
            assert_eq!(from_rgba.1, 3, "an opaque avatar has no alpha channel");
            assert!(from_rgb == from_rgba, "size {size}");
            // And what the general path (16-bit samples, un-premultiplied)
            // makes of the same region: the shortcut's fixed point is at
            // most a code value away.
            let mut region = collect(Layout::Rgba, &rgba, w, size);
            region.transparent = true;
            let (general, ch) = finish(region, size).unwrap();
            assert_eq!(ch, 4);
            let colour: Vec<u8> = general.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
            let worst = from_rgb.0.iter().zip(&colour).map(|(&a, &b)| a.abs_diff(b)).max();
            assert!(worst.is_some_and(|d| d <= 1), "size {size}: the shortcut is {worst:?} from the general path");
        }
    }

    #[test]
    fn resizing_as_rows_arrive_makes_the_avatar_finish_makes() {
        // Opaque sRGB regions, with and without a box to average (k = 1,
        // k > 1), whole and fractional crops at the image's edges: the
        // avatar made row by row is the held region's, byte for byte, and
        // nothing of the region is held. Regions not much larger than the
        // avatar (enlarged ones too) are held: resizing them as rows
        // arrive would hold more.
        let mut seed = 0x9e37_79b9_u32;
        let cases = [
            (300, 200, RegionSpec { x: 50.25, y: 0.5, w: 199.5, h: 199.5 }, 37, true),
            (1100, 900, RegionSpec { x: 100.0, y: 0.0, w: 900.0, h: 900.0 }, 64, true),
            (700, 700, RegionSpec { x: 0.0, y: 0.0, w: 700.0, h: 700.0 }, 256, true),
            (40, 30, RegionSpec { x: 5.0, y: 0.0, w: 30.0, h: 30.0 }, 16, false),
            (9, 5, RegionSpec { x: 2.0, y: 0.0, w: 5.0, h: 5.0 }, 256, false),
        ];
        for (w, h, spec, size, streams) in cases {
            let rows: Vec<Vec<u8>> =
                (0..h).map(|_| (0..w * 3).map(|_| crate::imaging::xorshift(&mut seed) as u8).collect()).collect();
            let work = Work::for_file(u64::MAX / 4, 1);
            let collector = |streamed: bool| {
                let conv = ColourConverter::new(Layout::Rgb, None);
                let mut c =
                    Collector::new(conv, ResizeSpace::Srgb, w, h, spec, size, &work).resize_as_rows_arrive(streamed);
                for row in &rows {
                    c.push_row(row).unwrap();
                }
                c.into_region().unwrap()
            };
            let (held, streamed) = (collector(false), collector(true));
            assert!(held.resized.is_none() && !held.buf.is_empty());
            assert_eq!(streamed.resized.is_some(), streams, "{w}×{h} → {size}: resized as rows arrive");
            assert_eq!(streamed.buf.is_empty(), streams, "{w}×{h} → {size}: the region held");
            assert!(finish(held, size).unwrap() == finish(streamed, size).unwrap(), "{w}×{h} {spec:?} → {size}");
        }
    }

    #[test]
    fn regions_with_alpha_or_in_linear_light_are_held() {
        // Only what `finish` resizes in fixed point is resized as rows
        // arrive, however much larger than the avatar the region is.
        let work = Work::for_file(u64::MAX / 4, 1);
        let spec = RegionSpec { x: 0.0, y: 0.0, w: 600.0, h: 600.0 };
        for (layout, space) in [(Layout::Rgba, ResizeSpace::Srgb), (Layout::Rgb, ResizeSpace::Linear)] {
            let px = layout.channels();
            let mut c = Collector::new(ColourConverter::new(layout, None), space, 600, 600, spec, 256, &work)
                .resize_as_rows_arrive(true);
            for _ in 0..600 {
                c.push_row(&vec![200; 600 * px]).unwrap();
            }
            let region = c.into_region().unwrap();
            let held = region.buf.len() == (region.width * region.height) as usize * region.ch;
            assert!(region.resized.is_none() && held, "{layout:?} {space:?}");
        }
    }

    #[test]
    fn code_values_by_multiplying_as_by_dividing() {
        for x in 0..=65535u16 {
            assert_eq!(u32::from(srgb_u16_to_u8(x)), (u32::from(x) + 128) / 257, "{x}");
        }
    }
}
