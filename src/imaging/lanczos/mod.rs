//! Lanczos3 from a sub-pixel crop of 16-bit samples to a square, in `f32`;
//! opaque sRGB regions, the common case, in fixed point ([`fixed`]) with
//! the same taps.
//!
//! The region's samples are 3 (RGB) or 4 (RGBA, premultiplied) channels of
//! `u16`. Each pixel is carried as four `f32` lanes (`[f32; 4]`), one SIMD
//! vector (simd128 on wasm, SSE on x86_64); every lane is computed by the
//! same sequence of multiplies and adds on every target, so native tests
//! see the bytes the Worker makes.
//!
//! Rows are filtered horizontally a few at a time, when the vertical pass
//! first needs them, and kept in a ring a few rows longer than one output
//! row's window, so the memory is that window, not an intermediate image.
//!
//! The weights are those of `fast_image_resize`'s convolution (which this
//! replaces: its 16-bit path accumulates in 64-bit integers, two lanes at
//! a time on wasm): the Lanczos3 kernel widened by the scale when
//! shrinking, centred on each output pixel's centre in the crop, taps
//! clamped to the image, normalised to sum to 1.

use std::f64::consts::PI;

mod fixed;
#[cfg(feature = "test-hooks")]
pub(crate) use fixed::self_check as fixed_self_check;
pub(crate) use fixed::{resize_to_rgb8, RgbStream, DIV257_MUL};

/// Lanczos3's support, in source pixels at scale 1.
const SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * PI;
        x.sin() / x
    }
}

fn lanczos3(x: f64) -> f64 {
    if (-SUPPORT..SUPPORT).contains(&x) {
        sinc(x) * sinc(x / SUPPORT)
    } else {
        0.0
    }
}

/// `sin(πx)` and `sin(πx / 3)` along a window's taps, which are evenly
/// spaced: each step turns both by a fixed angle (a rotation), so a
/// window costs four sines and cosines instead of two sines a tap. wasm
/// has no sine instruction, and the library's took more time than the
/// rest of the weights.
struct Sines {
    /// `(sin, cos)` of `πx` and of `πx / 3` at the current tap.
    whole: (f64, f64),
    third: (f64, f64),
    /// `(sin, cos)` of the turn per tap, for each.
    step_whole: (f64, f64),
    step_third: (f64, f64),
}

impl Sines {
    /// The sines at `x`, the first tap, stepping by `dx`.
    fn new(x: f64, dx: f64) -> Sines {
        Sines {
            whole: (x * PI).sin_cos(),
            third: (x / SUPPORT * PI).sin_cos(),
            step_whole: (dx * PI).sin_cos(),
            step_third: (dx / SUPPORT * PI).sin_cos(),
        }
    }

    /// Lanczos3 at `x`, the current tap, then a step on. Integers (where
    /// the sines are zero and the library's are not quite) and the
    /// centre go through [`lanczos3`], so that a tap that weighs nothing
    /// there weighs the same here.
    fn lanczos3(&mut self, x: f64) -> f64 {
        let w = if !(-SUPPORT..SUPPORT).contains(&x) {
            0.0
        } else if x == x.trunc() {
            lanczos3(x)
        } else {
            let (a, b) = (x * PI, x / SUPPORT * PI);
            (self.whole.0 / a) * (self.third.0 / b)
        };
        self.whole = turn(self.whole, self.step_whole);
        self.third = turn(self.third, self.step_third);
        w
    }
}

/// The `(sin, cos)` of an angle plus a step, from those of each.
fn turn((s, c): (f64, f64), (ds, dc): (f64, f64)) -> (f64, f64) {
    (s * dc + c * ds, c * dc - s * ds)
}

/// The taps of every output pixel along one axis.
#[derive(Debug)]
struct Taps {
    /// First source pixel of each output pixel's window.
    starts: Vec<usize>,
    /// Window length of each output pixel.
    lens: Vec<usize>,
    /// `window` weights per output pixel (the first `lens[i]` are used).
    weights: Vec<f32>,
    window: usize,
}

impl Taps {
    /// Weights mapping source pixels `in0..in1` (fractional, of an axis of
    /// `in_size` pixels) onto `out_size` output pixels.
    /// `in_size` and `out_size` are at least 1.
    fn new(in_size: usize, in0: f64, in1: f64, out_size: usize) -> Taps {
        let scale = (in1 - in0) / out_size as f64;
        let filter_scale = scale.max(1.0);
        let radius = SUPPORT * filter_scale;
        let window = (radius.ceil() as usize * 2 + 1).min(in_size);
        let recip = 1.0 / filter_scale;
        let mut taps = Taps {
            starts: Vec::with_capacity(out_size),
            lens: Vec::with_capacity(out_size),
            weights: vec![0.0; window * out_size],
            window,
        };
        let mut w = vec![0.0f64; window];
        for out in 0..out_size {
            let centre = in0 + (out as f64 + 0.5) * scale;
            let lo = ((centre - radius).floor().max(0.0) as usize).min(in_size - 1);
            let hi = ((centre + radius).ceil().min(in_size as f64) as usize).max(lo + 1);
            let n = hi - lo;
            let mut sum = 0.0;
            let at = |i: usize| ((lo + i) as f64 - (centre - 0.5)) * recip;
            let mut sines = Sines::new(at(0), recip);
            for (i, wi) in w[..n].iter_mut().enumerate() {
                *wi = sines.lanczos3(at(i));
                sum += *wi;
            }
            // Taps at the kernel's edge weigh exactly 0 and add exactly
            // nothing, so they are left out. The first non-zero tap, like
            // the window, only moves forward as `out` grows (the vertical
            // ring relies on it).
            let first = w[..n].iter().position(|&wi| wi != 0.0).unwrap_or(0);
            let end = w[..n].iter().rposition(|&wi| wi != 0.0).map_or(n, |last| last + 1);
            let kept = &w[first..end];
            let row = &mut taps.weights[out * window..out * window + kept.len()];
            for (dst, &wi) in row.iter_mut().zip(kept) {
                *dst = if sum != 0.0 { (wi / sum) as f32 } else { 0.0 };
            }
            taps.starts.push(lo + first);
            taps.lens.push(kept.len());
        }
        taps
    }

    fn of(&self, out: usize) -> (usize, &[f32]) {
        let (start, len) = (self.starts[out], self.lens[out]);
        (start, &self.weights[out * self.window..out * self.window + len])
    }

    /// The first `n` weights of `out`'s window (`n` at most the window),
    /// zeros past its length.
    fn padded(&self, out: usize, n: usize) -> &[f32] {
        &self.weights[out * self.window..out * self.window + n]
    }
}

/// Where the square comes from in the source.
#[derive(Clone, Copy, Debug)]
pub struct Crop {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Resizes the `crop` of a `width`×`height` image of `ch` (3 or 4)
/// interleaved `u16` samples to `size`×`size`, rounding and clamping back
/// to `u16`. `None` when the buffer does not hold that image.
pub fn resize(src: &[u16], width: usize, height: usize, ch: usize, crop: Crop, size: usize) -> Option<Vec<u16>> {
    let mut out = Vec::with_capacity(size * size * ch);
    resize_rows(src, width, height, ch, crop, size, |row| {
        for a in row {
            out.extend(a[..ch].iter().map(|&v| to_sample(v)));
        }
    })?;
    Some(out)
}

/// A lane of an output row as a 16-bit sample. `as` saturates: negative
/// ringing becomes 0, overshoot 65535.
#[inline(always)]
pub fn to_sample(v: f32) -> u16 {
    (v + 0.5) as u16
}

/// [`resize`], handing each output row to `row` as it is made: `size`
/// pixels of four lanes, not yet rounded (see [`to_sample`]), so that the
/// caller can narrow them straight to its own output.
pub fn resize_rows(
    src: &[u16],
    width: usize,
    height: usize,
    ch: usize,
    crop: Crop,
    size: usize,
    mut row: impl FnMut(&[[f32; 4]]),
) -> Option<()> {
    if !holds_image(src, width, height, ch, size) {
        return None;
    }
    let across = Taps::new(width, crop.x, crop.x + crop.w, size);
    let down = Taps::new(height, crop.y, crop.y + crop.h, size);
    let mut schedule = RingSchedule::new(down.window, height);
    // One horizontally filtered row: `size` pixels of four lanes.
    let mut ring = vec![[0.0f32; 4]; schedule.rows * size];
    // Up to `BATCH` source rows widened, filtered together.
    let mut wide = vec![[0.0f32; 4]; BATCH * width];
    let mut acc = vec![[0.0f32; 4]; size];
    for y in 0..size {
        let (start, weights) = down.of(y);
        schedule.fill(start, start + weights.len(), |first, slots| {
            for (k, wide) in wide.chunks_exact_mut(width).take(slots.len()).enumerate() {
                let r = first + k;
                widen(&src[r * width * ch..(r + 1) * width * ch], ch, wide);
            }
            match *slots {
                [a, b, c, d] => filter_rows::<4>(&wide, &across, &mut ring, [a, b, c, d]),
                [a, b, c] => filter_rows::<3>(&wide, &across, &mut ring, [a, b, c]),
                [a, b] => filter_rows::<2>(&wide, &across, &mut ring, [a, b]),
                _ => filter_row(&wide[..width], &across, &mut ring[slots[0] * size..(slots[0] + 1) * size]),
            }
        });
        let line = |i: usize| {
            let slot = schedule.slot(start + i);
            &ring[slot * size..(slot + 1) * size]
        };
        filter_column(weights, line, &mut acc);
        row(&acc);
    }
    Some(())
}

/// Whether `src` is a `width`×`height` image of `ch` (3 or 4) samples a
/// pixel, to be resized to a non-empty square of `size`.
fn holds_image(src: &[u16], width: usize, height: usize, ch: usize, size: usize) -> bool {
    (ch == 3 || ch == 4) && width > 0 && height > 0 && size > 0 && src.len() == width * height * ch
}

/// How many source rows the horizontal pass filters together.
const BATCH: usize = 4;

/// When each source row is filtered horizontally, and where in the ring
/// of filtered rows it goes: the same for the `f32` and the fixed-point
/// passes. The ring holds a window's rows and room to filter the next
/// batch ahead of it whole; a row is only overwritten by the one `rows`
/// further down the image, filtered when no output row from then on
/// starts at or before it.
struct RingSchedule {
    /// Rows in the ring.
    rows: usize,
    height: usize,
    /// Source rows below this one have been filtered.
    next: usize,
}

impl RingSchedule {
    /// For windows of at most `window` rows of an image `height` rows high.
    fn new(window: usize, height: usize) -> RingSchedule {
        RingSchedule { rows: window + BATCH - 1, height, next: 0 }
    }

    /// Before an output row's window `start..end` is summed: the source
    /// rows of it not yet filtered, in batches of up to [`BATCH`]:
    /// `filter(first, slots)` puts rows `first..first + slots.len()` in
    /// ring slots `slots`. Windows only move forward.
    fn fill(&mut self, start: usize, end: usize, mut filter: impl FnMut(usize, &[usize])) {
        self.next = self.next.max(start);
        while self.next < end {
            // Rows up to `rows` past this output row's first tap have
            // slots of their own; the output rows that follow need them
            // (all but at most `BATCH - 1` at the crop's end).
            let batch = (self.next + BATCH).min(start + self.rows).min(self.height) - self.next;
            let slots: [usize; BATCH] = std::array::from_fn(|k| self.slot(self.next + k));
            filter(self.next, &slots[..batch]);
            self.next += batch;
        }
    }

    /// The source rows [`RingSchedule::fill`] would have filtered, all of
    /// them below the one returned, for the window `start..end`: what a
    /// resize fed one row at a time must have received first.
    fn reach(&self, start: usize, end: usize) -> usize {
        let mut next = self.next.max(start);
        while next < end {
            next = (next + BATCH).min(start + self.rows).min(self.height);
        }
        next
    }

    /// The ring slot of source row `row`.
    fn slot(&self, row: usize) -> usize {
        row % self.rows
    }
}

/// One source row as four `f32` lanes per pixel (the fourth 0 for RGB).
#[cfg(not(target_arch = "wasm32"))]
fn widen(row: &[u16], ch: usize, wide: &mut [[f32; 4]]) {
    widen_scalar(row, ch, wide);
}

fn widen_scalar(row: &[u16], ch: usize, wide: &mut [[f32; 4]]) {
    if ch == 4 {
        for (w, px) in wide.iter_mut().zip(row.chunks_exact(4)) {
            *w = [f32::from(px[0]), f32::from(px[1]), f32::from(px[2]), f32::from(px[3])];
        }
    } else {
        for (w, px) in wide.iter_mut().zip(row.chunks_exact(3)) {
            *w = [f32::from(px[0]), f32::from(px[1]), f32::from(px[2]), 0.0];
        }
    }
}

/// [`widen_scalar`] with simd128: each pixel is one load of four samples
/// widened to four lanes (an RGB pixel's fourth, the next pixel's red,
/// masked to 0). Every `u16` is exact as an `f32`, so the lanes are the
/// scalar version's.
#[cfg(target_arch = "wasm32")]
fn widen(row: &[u16], ch: usize, wide: &mut [[f32; 4]]) {
    use core::arch::wasm32::{f32x4_convert_u32x4, u32x4, u32x4_load_extend_u16x4, v128, v128_and};
    let pixels = wide.len().min(row.len() / ch);
    // The last RGB pixel has no fourth sample after it to load.
    let loaded = if ch == 4 { pixels } else { pixels.saturating_sub(1) };
    let mask = if ch == 4 { u32x4(!0, !0, !0, !0) } else { u32x4(!0, !0, !0, 0) };
    for (i, w) in wide[..loaded].iter_mut().enumerate() {
        // SAFETY: pixel `i < loaded` reads samples `i * ch .. i * ch + 4`,
        // inside `row` (for RGB, `i + 1 < pixels` leaves at least one more
        // pixel); wasm loads need no alignment. `v128` and `[f32; 4]` are
        // both 16 plain bytes.
        unsafe {
            let lanes = u32x4_load_extend_u16x4(row.as_ptr().add(i * ch));
            *w = std::mem::transmute::<v128, [f32; 4]>(f32x4_convert_u32x4(v128_and(lanes, mask)));
        }
    }
    widen_scalar(&row[loaded * ch..], ch, &mut wide[loaded..]);
}

/// The horizontal pass of one row, rounded to samples.
///
/// Each output pixel's sum is a chain of dependent adds, so pixels are
/// summed four at a time, in four independent chains, each still in tap
/// order. The four windows are read to the longest one's length; a shorter
/// window's extra taps weigh 0 and add exactly nothing, so every sum is
/// the one made a pixel at a time.
fn filter_row(wide: &[[f32; 4]], across: &Taps, out: &mut [[f32; 4]]) {
    let mut x = 0;
    while x + 4 <= out.len() {
        let n = (x..x + 4).map(|o| across.lens[o]).max().unwrap_or(0);
        let starts = [0, 1, 2, 3].map(|k| across.starts[x + k]);
        if starts[3] + n > wide.len() {
            break;
        }
        // Every slice cut to `n` here, so the loop below needs no bounds
        // checks.
        let [p0, p1, p2, p3] = starts.map(|start| &wide[start..start + n]);
        let [w0, w1, w2, w3] = [0, 1, 2, 3].map(|k| across.padded(x + k, n));
        let (mut a0, mut a1, mut a2, mut a3) = ([0.0f32; 4], [0.0f32; 4], [0.0f32; 4], [0.0f32; 4]);
        for t in 0..n {
            a0 = lanes::mul_add(a0, p0[t], w0[t]);
            a1 = lanes::mul_add(a1, p1[t], w1[t]);
            a2 = lanes::mul_add(a2, p2[t], w2[t]);
            a3 = lanes::mul_add(a3, p3[t], w3[t]);
        }
        out[x..x + 4].copy_from_slice(&[a0, a1, a2, a3].map(lanes::to_sample));
        x += 4;
    }
    for (x, o) in out.iter_mut().enumerate().skip(x) {
        let (start, weights) = across.of(x);
        *o = filter_pixel(&wide[start..start + weights.len()], weights);
    }
}

/// The horizontal pass of `N` rows (`wide`, one after another) into the
/// ring's `slots`. Each output pixel's weights are read once for all `N`
/// rows, whose sums are independent chains, each in tap order as
/// [`filter_pixel`] sums it: the same bits, with a weight load shared by
/// `N` multiplies.
fn filter_rows<const N: usize>(wide: &[[f32; 4]], across: &Taps, ring: &mut [[f32; 4]], slots: [usize; N]) {
    let width = wide.len() / BATCH;
    let size = across.lens.len();
    let rows: [&[[f32; 4]]; N] = std::array::from_fn(|k| &wide[k * width..(k + 1) * width]);
    for x in 0..size {
        let (start, weights) = across.of(x);
        let taps = rows.map(|row| &row[start..start + weights.len()]);
        let mut acc = [[0.0f32; 4]; N];
        for (t, &w) in weights.iter().enumerate() {
            for (a, pixels) in acc.iter_mut().zip(&taps) {
                // SAFETY: every `pixels` was cut to `weights.len()` above,
                // and `t` is below it (LLVM keeps the check otherwise).
                *a = lanes::mul_add(*a, unsafe { *pixels.get_unchecked(t) }, w);
            }
        }
        for (a, &slot) in acc.iter().zip(&slots) {
            ring[slot * size + x] = lanes::to_sample(*a);
        }
    }
}

/// The vertical pass of one output row: `acc[x]` is the sum, in tap
/// order, of pixel `x` of each tap's filtered row (`line(t)`) times its
/// weight. Up to four taps per sweep along the row, each sum carried from
/// one to the next in registers: a quarter of the loads and stores of
/// `acc` of a sweep per tap, the same additions in the same order.
fn filter_column<'r>(weights: &[f32], line: impl Fn(usize) -> &'r [[f32; 4]], acc: &mut [[f32; 4]]) {
    acc.fill([0.0; 4]);
    let mut t = 0;
    while t + 4 <= weights.len() {
        let (l0, l1, l2, l3) = (line(t), line(t + 1), line(t + 2), line(t + 3));
        let w = &weights[t..t + 4];
        for ((((a, p0), p1), p2), p3) in acc.iter_mut().zip(l0).zip(l1).zip(l2).zip(l3) {
            let s = lanes::mul_add(*a, *p0, w[0]);
            let s = lanes::mul_add(s, *p1, w[1]);
            let s = lanes::mul_add(s, *p2, w[2]);
            *a = lanes::mul_add(s, *p3, w[3]);
        }
        t += 4;
    }
    if t + 2 <= weights.len() {
        let (l0, l1) = (line(t), line(t + 1));
        let (w0, w1) = (weights[t], weights[t + 1]);
        for ((a, p0), p1) in acc.iter_mut().zip(l0).zip(l1) {
            *a = lanes::mul_add(lanes::mul_add(*a, *p0, w0), *p1, w1);
        }
        t += 2;
    }
    if t < weights.len() {
        let w0 = weights[t];
        for (a, p0) in acc.iter_mut().zip(line(t)) {
            *a = lanes::mul_add(*a, *p0, w0);
        }
    }
}

/// One output pixel of the horizontal pass: its taps summed in order,
/// rounded and clamped to a 16-bit sample between the passes, as libvips
/// and fast_image_resize store their rows (a bright edge's overshoot does
/// not ring on along the other axis).
#[inline(always)]
fn filter_pixel(pixels: &[[f32; 4]], weights: &[f32]) -> [f32; 4] {
    let mut a = [0.0f32; 4];
    for (p, &wt) in pixels.iter().zip(weights) {
        a = lanes::mul_add(a, *p, wt);
    }
    lanes::to_sample(a)
}

/// The two operations on a pixel's four lanes, as SIMD instructions where
/// the target has them (simd128 on wasm, SSE on x86_64). Lane by lane,
/// every version does the same IEEE operations (multiply then add, no
/// fused multiply-add), so their results are bit-identical.
mod lanes {
    #[cfg(target_arch = "wasm32")]
    use core::arch::wasm32::{f32x4_add, f32x4_floor, f32x4_max, f32x4_min, f32x4_mul, f32x4_splat, v128};

    /// `acc + p × w`, lane by lane.
    #[cfg(target_arch = "wasm32")]
    #[inline(always)]
    pub fn mul_add(acc: [f32; 4], p: [f32; 4], w: f32) -> [f32; 4] {
        // SAFETY: `[f32; 4]` and `v128` are both 16 plain bytes; every bit
        // pattern is valid for either.
        let (acc, p) =
            unsafe { (std::mem::transmute::<[f32; 4], v128>(acc), std::mem::transmute::<[f32; 4], v128>(p)) };
        let r = f32x4_add(acc, f32x4_mul(p, f32x4_splat(w)));
        // SAFETY: as above.
        unsafe { std::mem::transmute::<v128, [f32; 4]>(r) }
    }

    /// Each lane rounded (half up) and clamped to `0..=65535` (the lanes
    /// are never NaN).
    #[cfg(target_arch = "wasm32")]
    #[inline(always)]
    pub fn to_sample(v: [f32; 4]) -> [f32; 4] {
        // SAFETY: as in `mul_add`.
        let v = unsafe { std::mem::transmute::<[f32; 4], v128>(v) };
        let rounded = f32x4_floor(f32x4_add(v, f32x4_splat(0.5)));
        let r = f32x4_min(f32x4_max(rounded, f32x4_splat(0.0)), f32x4_splat(65535.0));
        // SAFETY: as in `mul_add`.
        unsafe { std::mem::transmute::<v128, [f32; 4]>(r) }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub fn mul_add(acc: [f32; 4], p: [f32; 4], w: f32) -> [f32; 4] {
        use core::arch::x86_64::{__m128, _mm_add_ps, _mm_mul_ps, _mm_set1_ps};
        // SAFETY: SSE is part of every x86_64 CPU (the target's baseline);
        // `[f32; 4]` and `__m128` are both 16 plain bytes, every bit
        // pattern valid for either.
        unsafe {
            let (acc, p) = (std::mem::transmute::<[f32; 4], __m128>(acc), std::mem::transmute::<[f32; 4], __m128>(p));
            std::mem::transmute::<__m128, [f32; 4]>(_mm_add_ps(acc, _mm_mul_ps(p, _mm_set1_ps(w))))
        }
    }

    #[cfg(not(any(target_arch = "wasm32", target_arch = "x86_64")))]
    #[inline(always)]
    pub fn mul_add(acc: [f32; 4], p: [f32; 4], w: f32) -> [f32; 4] {
        [acc[0] + p[0] * w, acc[1] + p[1] * w, acc[2] + p[2] * w, acc[3] + p[3] * w]
    }

    /// Truncating after the clamp is flooring: the lanes are then
    /// non-negative (SSE2 has no floor; `f32::floor` would be a libm call).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub fn to_sample(v: [f32; 4]) -> [f32; 4] {
        use core::arch::x86_64::{
            __m128, _mm_add_ps, _mm_cvtepi32_ps, _mm_cvttps_epi32, _mm_max_ps, _mm_min_ps, _mm_set1_ps, _mm_setzero_ps,
        };
        // SAFETY: as in `mul_add`.
        unsafe {
            let v = std::mem::transmute::<[f32; 4], __m128>(v);
            let clamped =
                _mm_min_ps(_mm_max_ps(_mm_add_ps(v, _mm_set1_ps(0.5)), _mm_setzero_ps()), _mm_set1_ps(65535.0));
            std::mem::transmute::<__m128, [f32; 4]>(_mm_cvtepi32_ps(_mm_cvttps_epi32(clamped)))
        }
    }

    #[cfg(not(any(target_arch = "wasm32", target_arch = "x86_64")))]
    #[inline(always)]
    pub fn to_sample(v: [f32; 4]) -> [f32; 4] {
        v.map(|x| (x + 0.5).floor().clamp(0.0, 65535.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(side: usize) -> Crop {
        Crop { x: 0.0, y: 0.0, w: side as f64, h: side as f64 }
    }

    #[test]
    fn a_flat_image_stays_flat() {
        for (side, size) in [(1, 256), (7, 3), (512, 256), (300, 256), (1000, 64)] {
            let src = vec![40000u16; side * side * 3];
            let out = resize(&src, side, side, 3, whole(side), size).unwrap();
            assert_eq!(out.len(), size * size * 3);
            assert!(out.iter().all(|&v| v == 40000), "{side} -> {size}");
        }
    }

    #[test]
    fn weights_sum_to_one_and_windows_move_forward_without_idle_taps() {
        for (n, in0, in1, out) in [
            (512, 0.0, 512.0, 256),
            (864, 144.5, 864.0, 256),
            (306, 0.0, 306.0, 256),
            (3, 0.0, 3.0, 256),
            (1, 0.0, 1.0, 5),
        ] {
            let t = Taps::new(n, in0, f64::min(in1, n as f64), out);
            for o in 0..out {
                let (start, w) = t.of(o);
                assert!(start + w.len() <= n);
                let sum: f32 = w.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "{sum}");
                assert!(w[0] != 0.0 && w[w.len() - 1] != 0.0, "a window of {n} -> {out} ends in a zero tap: {w:?}");
                if o > 0 {
                    let (prev, pw) = t.of(o - 1);
                    assert!(start >= prev && start + w.len() >= prev + pw.len());
                }
            }
        }
    }

    #[test]
    fn the_ring_holds_every_row_a_window_sums() {
        for (n, in0, in1, out) in [
            (960, 0.0, 960.0, 256),
            (1224, 100.5, 1124.5, 256),
            (300, 0.0, 300.0, 256),
            (7, 0.0, 7.0, 256),
            (2000, 0.0, 2000.0, 9),
            (1, 0.0, 1.0, 3),
        ] {
            let down = Taps::new(n, in0, in1, out);
            let mut schedule = RingSchedule::new(down.window, n);
            // Which source row each ring slot holds, and every row filtered.
            let mut held = vec![None; schedule.rows];
            let mut filtered = vec![0; n];
            for y in 0..out {
                let (start, weights) = down.of(y);
                let end = start + weights.len();
                schedule.fill(start, end, |first, slots| {
                    assert!((1..=BATCH).contains(&slots.len()));
                    for (k, &slot) in slots.iter().enumerate() {
                        held[slot] = Some(first + k);
                        filtered[first + k] += 1;
                    }
                });
                for r in start..end {
                    assert_eq!(held[schedule.slot(r)], Some(r), "{n} -> {out}: row {r} for output row {y}");
                }
            }
            assert!(filtered.iter().all(|&f| f <= 1), "{n} -> {out}: a row filtered twice");
        }
    }

    #[test]
    fn stepped_sines_give_the_kernel_of_direct_ones() {
        // Windows as the taps walk them: every fraction of a start, steps
        // of upscales, of the common shrinks and of a shrink wider than
        // any region is given (the longest walk, the most rounding).
        let mut worst = 0.0f64;
        for dx in [1.0, 0.75, 1.0 / 1.25, 1.0 / 2.4, 1.0 / 3.75, 0.5, 1.0 / 39.0] {
            for start in 0..64 {
                let x0 = -SUPPORT - f64::from(start) / 64.0;
                let mut sines = Sines::new(x0, dx);
                let mut i = 0;
                while x0 + dx * f64::from(i) <= SUPPORT + 1.0 {
                    let x = x0 + dx * f64::from(i);
                    let (stepped, direct) = (sines.lanczos3(x), lanczos3(x));
                    if x == x.trunc() {
                        // Where the weight is (all but) zero, the very same.
                        assert_eq!(stepped.to_bits(), direct.to_bits(), "x = {x}");
                    }
                    worst = worst.max((stepped - direct).abs());
                    i += 1;
                }
            }
        }
        assert!(worst < 1e-11, "stepped sines off by {worst:e}");
        // As f32 weights, the very same numbers almost always.
        for (n, in0, in1, out) in [(960, 160.0, 1120.0, 256), (612, 0.0, 612.0, 256), (100, 0.0, 100.0, 256)] {
            let t = Taps::new(n, in0, f64::min(in1, n as f64), out);
            let mut differ = 0;
            for o in 0..out {
                let scale = (in1.min(n as f64) - in0) / out as f64;
                let (recip, centre) = (1.0 / scale.max(1.0), in0 + (o as f64 + 0.5) * scale);
                let (start, w) = t.of(o);
                let direct: Vec<f64> =
                    (0..w.len()).map(|i| lanczos3(((start + i) as f64 - (centre - 0.5)) * recip)).collect();
                let sum: f64 = direct.iter().sum();
                for (&stepped, &d) in w.iter().zip(&direct) {
                    assert!((f64::from(stepped) - d / sum).abs() < 1e-7, "{n} -> {out}, pixel {o}");
                    differ += usize::from(stepped != (d / sum) as f32);
                }
            }
            assert!(differ <= 2, "{n} -> {out}: {differ} f32 weights differ");
        }
    }

    #[test]
    fn halving_averages_neighbours_and_keeps_edges() {
        // A vertical edge: left half black, right half white, 2:1.
        let (side, size) = (64, 32);
        let mut src = vec![0u16; side * side * 4];
        for (i, px) in src.chunks_exact_mut(4).enumerate() {
            let v = if i % side >= side / 2 { 65535 } else { 0 };
            px.copy_from_slice(&[v, v, v, 65535]);
        }
        let out = resize(&src, side, side, 4, whole(side), size).unwrap();
        let row: Vec<u16> = out[..size * 4].chunks_exact(4).map(|p| p[0]).collect();
        assert_eq!(row[0], 0);
        assert_eq!(row[size - 1], 65535);
        assert!(row[size / 2 - 1] < 32768 && row[size / 2] > 32768, "{row:?}");
        assert!(out.chunks_exact(4).all(|p| p[3] == 65535));
    }

    #[test]
    fn a_crop_takes_its_own_pixels() {
        // Left half 1000, right half 50000: the right half alone is flat.
        let side = 40;
        let mut src = vec![0u16; side * side * 3];
        for (i, px) in src.chunks_exact_mut(3).enumerate() {
            px.fill(if i % side >= side / 2 { 50000 } else { 1000 });
        }
        let crop = Crop { x: 26.0, y: 0.0, w: 14.0, h: 14.0 };
        let out = resize(&src, side, side, 3, crop, 7).unwrap();
        assert!(out.iter().all(|&v| v == 50000), "{out:?}");
    }

    /// The same resize in `f64`, written plainly: each output pixel's
    /// taps from [`Taps`], rows rounded and clamped between the passes.
    fn reference(src: &[u16], w: usize, h: usize, ch: usize, crop: Crop, size: usize) -> Vec<u16> {
        let (across, down) = (Taps::new(w, crop.x, crop.x + crop.w, size), Taps::new(h, crop.y, crop.y + crop.h, size));
        let rows: Vec<Vec<f64>> = (0..h)
            .map(|y| {
                (0..size * ch)
                    .map(|i| {
                        let (start, wts) = across.of(i / ch);
                        let v: f64 = wts
                            .iter()
                            .enumerate()
                            .map(|(k, &wt)| f64::from(src[(y * w + start + k) * ch + i % ch]) * f64::from(wt))
                            .sum();
                        (v + 0.5).floor().clamp(0.0, 65535.0)
                    })
                    .collect()
            })
            .collect();
        (0..size)
            .flat_map(|y| {
                let (start, wts) = down.of(y);
                let rows = &rows;
                (0..size * ch).map(move |i| {
                    let v: f64 = wts.iter().enumerate().map(|(k, &wt)| rows[start + k][i] * f64::from(wt)).sum();
                    (v + 0.5).floor().clamp(0.0, 65535.0) as u16
                })
            })
            .collect()
    }

    #[test]
    fn matches_a_plain_two_pass_resize_on_hard_edges() {
        // Black and white noise rings hard: each pass overshoots, and the
        // rounding and clamping between them shows in the result.
        let mut seed = 0x2545_f491_u32;
        let mut noise = |n: usize| -> Vec<u16> {
            (0..n).map(|_| if crate::imaging::xorshift(&mut seed) & 1 == 0 { 0 } else { 65535 }).collect()
        };
        for (w, h, ch, crop, size) in [
            (64, 48, 3, Crop { x: 8.25, y: 0.0, w: 47.5, h: 47.5 }, 20),
            (37, 37, 4, whole(37), 16),
            (5, 6, 3, Crop { x: 0.5, y: 0.5, w: 4.5, h: 4.5 }, 13),
        ] {
            let src = noise(w * h * ch);
            let ours = resize(&src, w, h, ch, crop, size).unwrap();
            let plain = reference(&src, w, h, ch, crop, size);
            let worst = ours.iter().zip(&plain).map(|(&a, &b)| a.abs_diff(b)).max().unwrap();
            assert!(worst <= 1, "{w}x{h}x{ch} -> {size}: off by {worst}");
        }
    }

    /// The resize one pixel at a time, in `f32`: each output pixel's taps
    /// summed in order, as the four-at-a-time passes must sum them.
    fn one_at_a_time(src: &[u16], w: usize, h: usize, ch: usize, crop: Crop, size: usize) -> Vec<u16> {
        let (across, down) = (Taps::new(w, crop.x, crop.x + crop.w, size), Taps::new(h, crop.y, crop.y + crop.h, size));
        let mut wide = vec![[0.0f32; 4]; w];
        let rows: Vec<Vec<[f32; 4]>> = (0..h)
            .map(|y| {
                widen_scalar(&src[y * w * ch..(y + 1) * w * ch], ch, &mut wide);
                (0..size)
                    .map(|x| {
                        let (start, wts) = across.of(x);
                        let mut a = [0.0f32; 4];
                        for (k, &wt) in wts.iter().enumerate() {
                            a = lanes::mul_add(a, wide[start + k], wt);
                        }
                        lanes::to_sample(a)
                    })
                    .collect()
            })
            .collect();
        let mut out = Vec::new();
        for y in 0..size {
            let (start, wts) = down.of(y);
            let mut acc = vec![[0.0f32; 4]; size];
            for (row, &wt) in rows[start..].iter().zip(wts) {
                for (a, p) in acc.iter_mut().zip(row) {
                    *a = lanes::mul_add(*a, *p, wt);
                }
            }
            out.extend(acc.iter().flat_map(|a| a[..ch].iter().map(|&v| to_sample(v))));
        }
        out
    }

    #[test]
    fn summing_four_pixels_at_a_time_changes_no_bit() {
        let mut seed = 0x9e37_79b9_u32;
        for (w, h, ch, crop, size) in [
            (512, 40, 3, Crop { x: 0.0, y: 0.0, w: 40.0, h: 40.0 }, 13),
            (61, 61, 4, whole(61), 30),
            (300, 257, 3, Crop { x: 21.5, y: 0.25, w: 256.75, h: 256.75 }, 256),
            (3, 3, 4, whole(3), 17),
            (1, 1, 3, whole(1), 9),
            // A photo's crop at 3.75:1, and one smaller than the avatar.
            (1000, 990, 3, Crop { x: 20.5, y: 10.25, w: 960.0, h: 960.0 }, 256),
            (40, 7, 3, Crop { x: 3.0, y: 0.0, w: 7.0, h: 7.0 }, 29),
        ] {
            let src: Vec<u16> = (0..w * h * ch).map(|_| crate::imaging::xorshift(&mut seed) as u16).collect();
            let ours = resize(&src, w, h, ch, crop, size).unwrap();
            assert!(ours == one_at_a_time(&src, w, h, ch, crop, size), "{w}x{h}x{ch} -> {size}");
        }
    }

    #[test]
    fn wrong_buffers_are_refused() {
        assert!(resize(&[0; 10], 2, 2, 3, whole(2), 4).is_none());
        assert!(resize(&[0; 8], 2, 2, 2, whole(2), 4).is_none());
        assert!(resize(&[], 0, 0, 3, whole(0), 4).is_none());
    }
}
