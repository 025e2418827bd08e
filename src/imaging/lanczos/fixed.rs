//! Lanczos3 for opaque sRGB regions in 16-bit fixed point, straight to
//! 8-bit RGB: the taps of the `f32` passes ([`Taps`]), each output pixel's
//! weights rounded to [`WEIGHT_BITS`] fractional bits (the rounding's
//! remainder put on the largest tap, so that they sum to exactly one and a
//! flat image stays flat), the samples halved to 15 bits.
//!
//! Two taps of a channel make one lane of simd128's `i32x4.dot_i16x8_s`:
//! the horizontal pass reads each source row as *pairs* (entry `p` holds
//! pixels `p` and `p + 1` side by side per channel), the vertical pass
//! interleaves two filtered rows. About half the instructions of the `f32`
//! passes, and the filtered rows hold three channels, not four lanes.
//! Integer sums are exact in any order, so the native build makes the
//! Worker's bytes; a test measures the distance to the `f32` passes.
//!
//! Between the passes rows are rounded to 15-bit samples and clamped, as
//! the `f32` passes clamp theirs. [`resize_to_rgb8`] declines (`None`)
//! weights that could leave 32 bits: every weight under 2 in magnitude,
//! their magnitudes summing to at most 4 (a window cut by the image's edge
//! and renormalised can weigh more than 1).

use super::{holds_image, Crop, RingSchedule, Taps, BATCH};

/// Fractional bits of a weight: one is `1 << WEIGHT_BITS`.
const WEIGHT_BITS: u32 = 14;
const ONE: i32 = 1 << WEIGHT_BITS;
/// The most a pixel's weights may add up to in magnitude: a sum of 15-bit
/// samples times them stays inside `i32`.
const MAX_ABS_SUM: i32 = 4 * ONE;
/// A filtered row's samples: 16-bit samples halved, `0..=SAMPLE_MAX`.
const SAMPLE_MAX: i32 = i16::MAX as i32;

/// `(x + 128) / 257` as `((x + 128) × DIV257_MUL) >> 24`, exact for every
/// 16-bit `x` and within 32 bits (a test checks all of them): SIMD has no
/// integer division.
pub(crate) const DIV257_MUL: u32 = 65281;

/// Two taps of one output pixel, `[w(2j), w(2j + 1)]` repeated over the
/// four lanes of a dot product; a missing odd tap weighs 0.
type PairWeights = [i16; 8];

/// [`Taps`] in fixed point, in pairs.
struct FixedTaps {
    starts: Vec<usize>,
    /// Taps of each output pixel.
    lens: Vec<usize>,
    /// `stride` pairs per output pixel; the first `lens[o].div_ceil(2)`
    /// are its own.
    weights: Vec<PairWeights>,
    stride: usize,
}

impl FixedTaps {
    /// `None` when a weight or their sum is too large (see the module).
    fn new(taps: &Taps) -> Option<FixedTaps> {
        let out = taps.lens.len();
        let stride = taps.window.div_ceil(2);
        let mut fixed = FixedTaps {
            starts: taps.starts.clone(),
            lens: taps.lens.clone(),
            weights: vec![[0; 8]; stride * out],
            stride,
        };
        let mut q = Vec::with_capacity(taps.window);
        for o in 0..out {
            q.clear();
            q.extend(taps.of(o).1.iter().map(|&w| (f64::from(w) * f64::from(ONE)).round() as i32));
            let rest = ONE - q.iter().sum::<i32>();
            let largest = (0..q.len()).max_by_key(|&i| q[i].abs())?;
            q[largest] += rest;
            if q.iter().any(|w| w.abs() > i32::from(i16::MAX)) || q.iter().map(|w| w.abs()).sum::<i32>() > MAX_ABS_SUM {
                return None;
            }
            for (slot, pair) in fixed.weights[o * stride..].iter_mut().zip(q.chunks(2)) {
                let (a, b) = (pair[0] as i16, pair.get(1).map_or(0, |&w| w as i16));
                *slot = [a, b, a, b, a, b, a, b];
            }
        }
        Some(fixed)
    }

    /// Output pixel `o`'s first tap and its pairs of weights.
    fn of(&self, o: usize) -> (usize, &[PairWeights]) {
        let pairs = self.lens[o].div_ceil(2);
        (self.starts[o], &self.weights[o * self.stride..o * self.stride + pairs])
    }
}

/// Resizes the `crop` of an opaque `width`×`height` image of `ch` (3, or 4
/// with the alpha ignored) 16-bit sRGB samples to `size`×`size` 8-bit RGB.
/// `None` when the buffer does not hold that image or the weights do not
/// fit 16 bits (the `f32` passes then do it).
pub fn resize_to_rgb8(src: &[u16], width: usize, height: usize, ch: usize, crop: Crop, size: usize) -> Option<Vec<u8>> {
    resize_with::<Platform>(src, width, height, ch, crop, size)
}

/// The kernels of this build: simd128 in the Worker, plain natively.
#[cfg(target_arch = "wasm32")]
type Platform = simd::Simd128;
#[cfg(not(target_arch = "wasm32"))]
type Platform = Scalar;

/// [`resize_to_rgb8`] fed one source row at a time, top to bottom, as a
/// decoder makes them: each output row is made as soon as the rows its
/// window reads have arrived, so only a window's rows are ever held, not
/// the image. The bytes are [`resize_to_rgb8`]'s (which feeds it).
pub struct RgbStream(StreamWith<Platform>);

impl RgbStream {
    /// For a `width`×`height` image of `ch` samples a pixel; `None` where
    /// [`resize_to_rgb8`] declines.
    pub fn new(width: usize, height: usize, ch: usize, crop: Crop, size: usize) -> Option<RgbStream> {
        StreamWith::new(width, height, ch, crop, size).map(RgbStream)
    }

    /// The next source row (`width × ch` samples; extra ones are ignored,
    /// rows past the image's height too).
    pub fn push_row(&mut self, row: &[u16]) {
        self.0.push_row(row);
    }

    /// The avatar's pixels; `None` if fewer rows than the image's height
    /// arrived.
    pub fn finish(self) -> Option<Vec<u8>> {
        self.0.finish()
    }
}

/// The steps that have a simd128 version, so that the Worker's build can
/// check its own against the plain ones ([`self_check`]).
trait Kernels {
    /// Source row `row` (`ch` samples a pixel) as pairs: entry `p` is
    /// `[r, r', g, g', b, b', _, _]`, the halved samples of pixels `p` and
    /// `p + 1` (the last pixel's own twice); the last two lanes are
    /// unspecified.
    fn pair_up(row: &[u16], ch: usize, out: &mut [[i16; 8]]);
    /// `acc` plus, per lane `c`, `p[2c] × w[2c] + p[2c + 1] × w[2c + 1]`.
    fn dot_add(acc: [i32; 4], p: [i16; 8], w: PairWeights) -> [i32; 4];
    /// A horizontal sum as the row's sample: rounded, clamped to
    /// `0..=SAMPLE_MAX`.
    fn between_passes(acc: [i32; 4]) -> [i16; 4];
    /// One output row: sample `i` is the sum over taps `t` of
    /// `weights[t / 2][t % 2] × ring[lines[t] + i]` as an 8-bit code value
    /// ([`code_value`]); `samples` of them appended to `out`.
    fn filter_column(ring: &[i16], lines: &[usize], weights: &[PairWeights], samples: usize, out: &mut Vec<u8>);
}

/// [`resize_to_rgb8`] with the given kernels.
fn resize_with<K: Kernels>(
    src: &[u16],
    width: usize,
    height: usize,
    ch: usize,
    crop: Crop,
    size: usize,
) -> Option<Vec<u8>> {
    if !holds_image(src, width, height, ch, size) {
        return None;
    }
    let mut stream = StreamWith::<K>::new(width, height, ch, crop, size)?;
    for row in src.chunks_exact(width * ch) {
        stream.push_row(row);
    }
    stream.finish()
}

/// [`RgbStream`] with the given kernels.
struct StreamWith<K> {
    width: usize,
    height: usize,
    ch: usize,
    size: usize,
    across: FixedTaps,
    down: FixedTaps,
    schedule: RingSchedule,
    /// The source rows received and not yet filtered, each in the slot of
    /// the filtered ring it will go to (`schedule.rows` of them).
    held: Vec<u16>,
    received: usize,
    /// Filtered rows: three samples a pixel, one spare (each pixel is
    /// written as four), whole vectors of eight.
    ring: Vec<i16>,
    stride: usize,
    /// Up to `BATCH` source rows as pairs, filtered together.
    pairs: Vec<[i16; 8]>,
    lines: Vec<usize>,
    /// The next output row.
    y: usize,
    out: Vec<u8>,
    kernels: std::marker::PhantomData<K>,
}

impl<K: Kernels> StreamWith<K> {
    fn new(width: usize, height: usize, ch: usize, crop: Crop, size: usize) -> Option<Self> {
        if !((ch == 3 || ch == 4) && width > 0 && height > 0 && size > 0) {
            return None;
        }
        let across = FixedTaps::new(&Taps::new(width, crop.x, crop.x + crop.w, size))?;
        let down_taps = Taps::new(height, crop.y, crop.y + crop.h, size);
        let down = FixedTaps::new(&down_taps)?;
        let schedule = RingSchedule::new(down_taps.window, height);
        let stride = (3 * size + 1).next_multiple_of(8);
        Some(StreamWith {
            width,
            height,
            ch,
            size,
            held: vec![0; schedule.rows * width * ch],
            received: 0,
            ring: vec![0; schedule.rows * stride],
            stride,
            pairs: vec![[0; 8]; BATCH * width],
            lines: Vec::with_capacity(2 * down.stride),
            y: 0,
            out: Vec::with_capacity(3 * size * size),
            across,
            down,
            schedule,
            kernels: std::marker::PhantomData,
        })
    }

    fn push_row(&mut self, row: &[u16]) {
        let n = self.width * self.ch;
        if self.received >= self.height || row.len() < n {
            return;
        }
        let at = self.schedule.slot(self.received) * n;
        self.held[at..at + n].copy_from_slice(&row[..n]);
        self.received += 1;
        self.make_ready_rows();
    }

    /// Makes every output row whose window's rows (and those filtered
    /// with them) have arrived.
    fn make_ready_rows(&mut self) {
        let (width, n, stride) = (self.width, self.width * self.ch, self.stride);
        while self.y < self.size {
            let (start, weights) = self.down.of(self.y);
            let end = start + self.down.lens[self.y];
            if self.schedule.reach(start, end) > self.received {
                return;
            }
            let (held, pairs, ring, across, ch) = (&self.held, &mut self.pairs, &mut self.ring, &self.across, self.ch);
            // A held row waits in the slot of the ring it is filtered into.
            self.schedule.fill(start, end, |_, slots| {
                for (&slot, pairs) in slots.iter().zip(pairs.chunks_exact_mut(width)) {
                    K::pair_up(&held[slot * n..(slot + 1) * n], ch, pairs);
                }
                match *slots {
                    [a, b, c, d] => filter_rows::<K, 4>(pairs, width, across, ring, stride, [a, b, c, d]),
                    [a, b, c] => filter_rows::<K, 3>(pairs, width, across, ring, stride, [a, b, c]),
                    [a, b] => filter_rows::<K, 2>(pairs, width, across, ring, stride, [a, b]),
                    _ => filter_rows::<K, 1>(pairs, width, across, ring, stride, [slots[0]]),
                }
            });
            // An odd window's missing tap: its last row again, weighing 0.
            self.lines.clear();
            self.lines.extend((0..2 * weights.len()).map(|t| self.schedule.slot((start + t).min(end - 1)) * stride));
            K::filter_column(&self.ring, &self.lines, weights, 3 * self.size, &mut self.out);
            self.y += 1;
        }
    }

    fn finish(self) -> Option<Vec<u8>> {
        (self.y == self.size).then_some(self.out)
    }
}

/// The horizontal pass of `N` paired rows (`pairs`, `width` entries each)
/// into the ring's `slots`: each output pixel's weights are read once for
/// all `N` rows.
fn filter_rows<K: Kernels, const N: usize>(
    pairs: &[[i16; 8]],
    width: usize,
    across: &FixedTaps,
    ring: &mut [i16],
    stride: usize,
    slots: [usize; N],
) {
    let rows: [&[[i16; 8]]; N] = std::array::from_fn(|k| &pairs[k * width..(k + 1) * width]);
    for x in 0..across.starts.len() {
        let (start, weights) = across.of(x);
        // Pair j starts at tap 2j: the last one at most at the window's
        // last tap, inside the row.
        let taps = rows.map(|row| &row[start..start + 2 * weights.len() - 1]);
        let mut acc = [[0i32; 4]; N];
        for (j, &w) in weights.iter().enumerate() {
            for (a, pairs) in acc.iter_mut().zip(&taps) {
                // SAFETY: `2j <= 2 * weights.len() - 2`, inside every
                // `pairs` as cut above (LLVM keeps the check otherwise).
                *a = K::dot_add(*a, unsafe { *pairs.get_unchecked(2 * j) }, w);
            }
        }
        for (a, &slot) in acc.iter().zip(&slots) {
            // Four samples written, the fourth the next pixel's first (or
            // the row's spare), rewritten after.
            let at = slot * stride + 3 * x;
            ring[at..at + 4].copy_from_slice(&K::between_passes(*a));
        }
    }
}

/// A vertical sum (15-bit samples times weights of [`WEIGHT_BITS`]) as an
/// 8-bit code value: to a 16-bit sample, clamped, then as the `f32` path
/// narrows one, `(x + 128) / 257`. The 16-bit sample is rounded half a
/// unit up: halving the source samples dropped half a unit on average
/// (their lowest bit), and without it the avatar comes out a little
/// darker than the `f32` passes make it.
#[inline(always)]
fn code_value(sum: i32) -> u8 {
    let sample = ((sum + (1 << (WEIGHT_BITS - 1))) >> (WEIGHT_BITS - 1)).clamp(0, 65535) as u32;
    (((sample + 128) * DIV257_MUL) >> 24) as u8
}

/// Sample `i` of an output row, the plain way: [`Kernels::filter_column`]'s
/// sum over every tap's line, as a code value.
fn column_sample(ring: &[i16], lines: &[usize], weights: &[PairWeights], i: usize) -> u8 {
    let sum =
        lines.iter().enumerate().map(|(t, &line)| i32::from(ring[line + i]) * i32::from(weights[t / 2][t % 2])).sum();
    code_value(sum)
}

/// [`Kernels::pair_up`]'s entries from `first` on, the plain way.
fn pair_up_from(first: usize, row: &[u16], ch: usize, out: &mut [[i16; 8]]) {
    let half = |p: usize, c: usize| (row[p * ch + c] >> 1) as i16;
    let last = out.len().saturating_sub(1);
    for (p, pair) in out.iter_mut().enumerate().skip(first) {
        let q = (p + 1).min(last);
        *pair = [half(p, 0), half(q, 0), half(p, 1), half(q, 1), half(p, 2), half(q, 2), 0, 0];
    }
}

/// The plain kernels: the native build's, and the reference the simd128
/// ones are checked against (the Worker's build without the self-check
/// has no use for them).
#[cfg_attr(all(target_arch = "wasm32", not(feature = "test-hooks")), allow(dead_code))]
struct Scalar;

impl Kernels for Scalar {
    fn pair_up(row: &[u16], ch: usize, out: &mut [[i16; 8]]) {
        pair_up_from(0, row, ch, out);
    }

    #[inline(always)]
    fn dot_add(acc: [i32; 4], p: [i16; 8], w: PairWeights) -> [i32; 4] {
        std::array::from_fn(|c| {
            let two = |k: usize| i32::from(p[2 * c + k]) * i32::from(w[2 * c + k]);
            acc[c] + two(0) + two(1)
        })
    }

    #[inline(always)]
    fn between_passes(acc: [i32; 4]) -> [i16; 4] {
        acc.map(|a| ((a + (1 << (WEIGHT_BITS - 1))) >> WEIGHT_BITS).clamp(0, SAMPLE_MAX) as i16)
    }

    fn filter_column(ring: &[i16], lines: &[usize], weights: &[PairWeights], samples: usize, out: &mut Vec<u8>) {
        out.extend((0..samples).map(|i| column_sample(ring, lines, weights, i)));
    }
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use super::{column_sample, pair_up_from, Kernels, PairWeights, DIV257_MUL, SAMPLE_MAX, WEIGHT_BITS};
    use core::arch::wasm32::{
        i16x8_narrow_i32x4, i16x8_shuffle, i32x4_add, i32x4_dot_i16x8, i32x4_max, i32x4_min, i32x4_mul, i32x4_shr,
        i32x4_splat, i8x16_shuffle, u16x8_shr, u32x4_shr, u8x16_narrow_i16x8, v128, v128_load,
    };

    pub(super) struct Simd128;

    /// `[f32; 4]`-style views: the kernels' arrays and `v128` are both 16
    /// plain bytes, every bit pattern valid for either.
    #[inline(always)]
    fn v<T: Copy>(a: T) -> v128 {
        const { assert!(size_of::<T>() == 16) };
        // SAFETY: see above; the size is checked at compile time.
        unsafe { std::mem::transmute_copy(&a) }
    }

    impl Kernels for Simd128 {
        /// Eight samples loaded from pixel `p` hold pixel `p + 1` too: one
        /// shift and one shuffle make the pair. The row's last pixels (no
        /// eight samples left, or no pixel after) go the plain way.
        fn pair_up(row: &[u16], ch: usize, out: &mut [[i16; 8]]) {
            let pixels = out.len();
            let loaded = if row.len() >= 8 { ((row.len() - 8) / ch + 1).min(pixels.saturating_sub(1)) } else { 0 };
            for (p, pair) in out[..loaded].iter_mut().enumerate() {
                // SAFETY: `p < loaded` reads samples `p * ch .. p * ch + 8`,
                // inside `row`; wasm loads need no alignment.
                let samples = u16x8_shr(unsafe { v128_load(row.as_ptr().add(p * ch).cast()) }, 1);
                let paired = if ch == 4 {
                    i16x8_shuffle::<0, 4, 1, 5, 2, 6, 3, 7>(samples, samples)
                } else {
                    i16x8_shuffle::<0, 3, 1, 4, 2, 5, 6, 7>(samples, samples)
                };
                // SAFETY: as in `v`.
                *pair = unsafe { std::mem::transmute::<v128, [i16; 8]>(paired) };
            }
            pair_up_from(loaded, row, ch, out);
        }

        #[inline(always)]
        fn dot_add(acc: [i32; 4], p: [i16; 8], w: PairWeights) -> [i32; 4] {
            // SAFETY: as in `v`.
            unsafe { std::mem::transmute::<v128, [i32; 4]>(i32x4_add(v(acc), i32x4_dot_i16x8(v(p), v(w)))) }
        }

        #[inline(always)]
        fn between_passes(acc: [i32; 4]) -> [i16; 4] {
            let rounded = i32x4_shr(i32x4_add(v(acc), i32x4_splat(1 << (WEIGHT_BITS - 1))), WEIGHT_BITS);
            let clamped = i32x4_min(i32x4_max(rounded, i32x4_splat(0)), i32x4_splat(SAMPLE_MAX));
            // SAFETY: as in `v`.
            let narrow = unsafe { std::mem::transmute::<v128, [i16; 8]>(i16x8_narrow_i32x4(clamped, clamped)) };
            [narrow[0], narrow[1], narrow[2], narrow[3]]
        }

        /// Eight samples at a time, every tap's pair summed in registers:
        /// the two rows' samples interleaved (low four, high four), each
        /// half one dot product with the pair's weights.
        fn filter_column(ring: &[i16], lines: &[usize], weights: &[PairWeights], samples: usize, out: &mut Vec<u8>) {
            let vectors = samples / 8;
            let rows = &lines[..2 * weights.len()];
            // Checked once here, not per load below.
            assert!(rows.iter().all(|&line| line + 8 * vectors <= ring.len()));
            for i in (0..vectors).map(|k| 8 * k) {
                let (mut lo, mut hi) = (i32x4_splat(0), i32x4_splat(0));
                for (pair, &w) in rows.chunks_exact(2).zip(weights) {
                    // SAFETY: every line holds `8 * vectors` samples (the
                    // assertion above), `i + 8` at most that; wasm loads
                    // need no alignment.
                    let (a, b) = unsafe {
                        (
                            v128_load(ring.as_ptr().add(pair[0] + i).cast()),
                            v128_load(ring.as_ptr().add(pair[1] + i).cast()),
                        )
                    };
                    let w = v(w);
                    lo = i32x4_add(lo, i32x4_dot_i16x8(i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(a, b), w));
                    hi = i32x4_add(hi, i32x4_dot_i16x8(i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(a, b), w));
                }
                let codes = |sum: v128| {
                    let rounded = i32x4_shr(i32x4_add(sum, i32x4_splat(1 << (WEIGHT_BITS - 1))), WEIGHT_BITS - 1);
                    let sample = i32x4_min(i32x4_max(rounded, i32x4_splat(0)), i32x4_splat(65535));
                    // The product can pass i32::MAX; the shift reads it unsigned.
                    u32x4_shr(i32x4_mul(i32x4_add(sample, i32x4_splat(128)), i32x4_splat(DIV257_MUL as i32)), 24)
                };
                let bytes = u8x16_narrow_i16x8(i16x8_narrow_i32x4(codes(lo), codes(hi)), i32x4_splat(0));
                let bytes = i8x16_shuffle::<0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0>(bytes, bytes);
                // SAFETY: as in `v`.
                let bytes = unsafe { std::mem::transmute::<v128, [u8; 16]>(bytes) };
                out.extend_from_slice(&bytes[..8]);
            }
            // The row's last samples (fewer than eight), one at a time.
            out.extend((8 * vectors..samples).map(|i| column_sample(ring, rows, weights, i)));
        }
    }
}

/// The Worker's simd128 resize against the plain kernels, byte for byte,
/// on pseudo-random images of every shape the pairing and the vectors of
/// eight have edge cases for. Returns the number of output pixels compared.
#[cfg(any(test, feature = "test-hooks"))]
pub(crate) fn self_check() -> Result<usize, String> {
    let mut seed = 0x1234_5678_u32;
    let mut compared = 0;
    for (w, h, ch, crop, size) in check_cases() {
        let src: Vec<u16> = (0..w * h * ch).map(|_| crate::imaging::xorshift(&mut seed) as u16).collect();
        #[cfg(target_arch = "wasm32")]
        let fast = resize_with::<simd::Simd128>(&src, w, h, ch, crop, size);
        #[cfg(not(target_arch = "wasm32"))]
        let fast = resize_with::<Scalar>(&src, w, h, ch, crop, size);
        let plain = resize_with::<Scalar>(&src, w, h, ch, crop, size);
        if fast != plain {
            return Err(format!("{w}x{h}x{ch} -> {size}: the simd128 resize differs from the plain one"));
        }
        compared += size * size;
    }
    Ok(compared)
}

/// Sources, crops and sizes for [`self_check`]: rows of one to a few
/// pixels (the pairing's tail), sizes whose rows are not whole vectors,
/// shrinking and enlarging, RGB and RGBA.
#[cfg(any(test, feature = "test-hooks"))]
fn check_cases() -> Vec<(usize, usize, usize, Crop, usize)> {
    let whole = |side: usize| Crop { x: 0.0, y: 0.0, w: side as f64, h: side as f64 };
    let mut cases = Vec::new();
    for ch in [3, 4] {
        for side in 1..=9 {
            for size in [1, 3, 5, 8, 11] {
                cases.push((side, side, ch, whole(side), size));
            }
        }
        cases.push((300, 257, ch, Crop { x: 21.5, y: 0.25, w: 256.75, h: 256.75 }, 256));
        cases.push((1000, 990, ch, Crop { x: 20.5, y: 10.25, w: 960.0, h: 960.0 }, 37));
        cases.push((40, 7, ch, Crop { x: 3.0, y: 0.0, w: 7.0, h: 7.0 }, 29));
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::super::resize;
    use super::*;

    fn noise(n: usize, seed: &mut u32) -> Vec<u16> {
        (0..n).map(|_| crate::imaging::xorshift(seed) as u16).collect()
    }

    /// The `f32` passes' code values, as the pipeline narrows them.
    fn float_codes(src: &[u16], w: usize, h: usize, ch: usize, crop: Crop, size: usize) -> Vec<u8> {
        let samples = resize(src, w, h, ch, crop, size).unwrap();
        samples
            .chunks_exact(ch)
            .flat_map(|px| [px[0], px[1], px[2]].map(|v| ((u32::from(v) + 128) / 257) as u8))
            .collect()
    }

    #[test]
    fn at_most_one_code_value_from_the_float_passes() {
        let mut seed = 0x2545_f491_u32;
        let mut cases = check_cases();
        // A photo's crop at 3.75:1, 8-bit samples widened as the region
        // widens them.
        cases.push((1000, 990, 3, Crop { x: 20.5, y: 10.25, w: 960.0, h: 960.0 }, 256));
        for (w, h, ch, crop, size) in cases {
            let mut src = noise(w * h * ch, &mut seed);
            if w == 1000 && size == 256 {
                src.iter_mut().for_each(|s| *s = (*s >> 8) * 257);
            }
            let fixed = resize_to_rgb8(&src, w, h, ch, crop, size).unwrap();
            let float = float_codes(&src, w, h, ch, crop, size);
            assert_eq!(fixed.len(), size * size * 3);
            let worst = fixed.iter().zip(&float).map(|(&a, &b)| a.abs_diff(b)).max().unwrap();
            assert!(worst <= 1, "{w}x{h}x{ch} -> {size}: off by {worst}");
        }
    }

    #[test]
    fn no_darker_or_lighter_than_the_float_passes() {
        // A photo-like crop of 8-bit samples: where the two differ (by one),
        // as often up as down.
        let mut seed = 0x51ed_270b_u32;
        let (w, h) = (400, 300);
        let src: Vec<u16> = (0..w * h * 3)
            .map(|i| {
                let (x, y) = ((i / 3) % w, (i / 3) / w);
                let smooth = (x * 255 / w + y * 255 / h) / 2;
                let grain = (crate::imaging::xorshift(&mut seed) % 41) as usize;
                ((smooth + grain).saturating_sub(20).min(255) * 257) as u16
            })
            .collect();
        let crop = Crop { x: 50.25, y: 0.0, w: 299.5, h: 299.5 };
        let fixed = resize_to_rgb8(&src, w, h, 3, crop, 128).unwrap();
        let float = float_codes(&src, w, h, 3, crop, 128);
        let signed: i64 = fixed.iter().zip(&float).map(|(&a, &b)| i64::from(a) - i64::from(b)).sum();
        let differing = fixed.iter().zip(&float).filter(|(a, b)| a != b).count();
        let mean = signed as f64 / fixed.len() as f64;
        assert!(mean.abs() < 0.0005, "mean difference {mean} ({differing} of {} differ)", fixed.len());
    }

    #[test]
    fn flat_colours_stay_exact() {
        for c in [0u8, 1, 17, 128, 254, 255] {
            for (side, size) in [(1, 256), (7, 3), (512, 256), (300, 256), (960, 256)] {
                let src = vec![u16::from(c) * 257; side * side * 3];
                let crop = Crop { x: 0.0, y: 0.0, w: side as f64, h: side as f64 };
                let out = resize_to_rgb8(&src, side, side, 3, crop, size).unwrap();
                assert!(out.iter().all(|&v| v == c), "{c} at {side} -> {size}");
            }
        }
    }

    #[test]
    fn rgba_reads_its_colour_and_ignores_alpha() {
        let mut seed = 0x9e37_79b9_u32;
        let rgb = noise(50 * 40 * 3, &mut seed);
        let rgba: Vec<u16> = rgb.chunks_exact(3).flat_map(|px| [px[0], px[1], px[2], 12345]).collect();
        let crop = Crop { x: 5.5, y: 0.0, w: 39.0, h: 39.0 };
        assert_eq!(resize_to_rgb8(&rgba, 50, 40, 4, crop, 17), resize_to_rgb8(&rgb, 50, 40, 3, crop, 17));
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (n, in0, in1, out) in
            [(512, 0.0, 512.0, 256), (864, 144.5, 864.0, 256), (3, 0.0, 3.0, 256), (1, 0.0, 1.0, 5)]
        {
            let fixed = FixedTaps::new(&Taps::new(n, in0, in1, out)).unwrap();
            for o in 0..out {
                let (start, pairs) = fixed.of(o);
                assert!(start + fixed.lens[o] <= n);
                let sum: i32 = pairs.iter().map(|p| i32::from(p[0]) + i32::from(p[1])).sum();
                assert_eq!(sum, ONE, "{n} -> {out}, pixel {o}");
            }
        }
    }

    #[test]
    fn wrong_buffers_are_refused() {
        let crop = Crop { x: 0.0, y: 0.0, w: 2.0, h: 2.0 };
        assert!(resize_to_rgb8(&[0; 10], 2, 2, 3, crop, 4).is_none());
        assert!(resize_to_rgb8(&[0; 8], 2, 2, 2, crop, 4).is_none());
    }

    #[test]
    fn the_self_check_cases_agree() {
        assert!(self_check().unwrap() > 0);
    }
}
