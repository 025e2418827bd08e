//! A component's decoded plane and its rows stretched to the output grid:
//! jpeg-decoder's (and libjpeg's) "fancy" upsampling, a triangle filter
//! that puts each chroma sample between the luma samples it covers, with
//! the same rounding, so that both decoders give the same samples.

use std::ops::Range;

/// One component's samples at the decoded scale.
pub(super) struct Plane {
    samples: Vec<u8>,
    /// Samples per stored row (the MCU-padded block grid's width).
    pub(super) stride: usize,
    /// Rows stored: plane row `r` is stored row `r % held` (a ring of the
    /// last rows decoded, or the whole plane).
    held: usize,
    /// Rows an MCU row makes.
    per_mcu_row: usize,
    /// The component's own size at the decoded scale.
    pub(super) width: usize,
    pub(super) height: usize,
    /// Stretched 2× across / down (half the largest sampling factor).
    pub(super) wide: bool,
    pub(super) tall: bool,
}

impl Plane {
    /// A plane of `grid` blocks (across, down) of `n`×`n` samples, `v`
    /// rows of blocks an MCU row, of which it stores the last
    /// `held_mcu_rows` MCU rows (at most the grid's), for a component of
    /// `width`×`height` samples; `wide`/`tall` as jpeg-decoder chooses them
    /// (never for an output one sample across / down).
    pub(super) fn new(
        grid: (usize, usize),
        (v, held_mcu_rows): (usize, usize),
        n: usize,
        size: (usize, usize),
        stretch: (bool, bool),
    ) -> Plane {
        let stride = grid.0 * n;
        let held = (held_mcu_rows * v).clamp(1, grid.1.max(1)) * n;
        Plane {
            samples: vec![0; stride * held],
            stride,
            held,
            per_mcu_row: v * n,
            width: size.0,
            height: size.1,
            wide: stretch.0,
            tall: stretch.1,
        }
    }

    fn row(&self, r: usize) -> &[u8] {
        &self.samples[(r % self.held) * self.stride..][..self.width]
    }

    /// The stored samples from plane row `y`, column `x` on, for a block's
    /// transform to write (its row stride is [`Plane::stride`]).
    pub(super) fn block_mut(&mut self, x: usize, y: usize) -> Option<&mut [u8]> {
        self.samples.get_mut((y % self.held) * self.stride + x..)
    }

    /// Whether output row `y`'s plane rows are among those the first
    /// `mcu_rows` MCU rows make.
    pub(super) fn has_rows_for(&self, y: usize, mcu_rows: usize) -> bool {
        let (near, far) = self.source_rows(y);
        near.max(far) < mcu_rows * self.per_mcu_row
    }

    /// The plane rows output row `y` is made of: the nearer and the farther.
    pub(super) fn source_rows(&self, y: usize) -> (usize, usize) {
        if !self.tall {
            return (y, y);
        }
        let near = y / 2;
        let far = if y.is_multiple_of(2) { near.saturating_sub(1) } else { (near + 1).min(self.height - 1) };
        (near, far)
    }

    /// Samples in a stretched row: at least the output width (a wide
    /// plane's last sample may stretch past it).
    pub(super) fn stretched_width(&self) -> usize {
        if self.wide {
            2 * self.width
        } else {
            self.width
        }
    }

    /// Output row `y`'s samples `columns` into `out` (at least
    /// [`Plane::stretched_width`] long; the samples outside `columns` are
    /// left as they were).
    pub(super) fn stretch_row(&self, y: usize, out: &mut [u8], columns: Range<usize>) {
        let (near, far) = self.source_rows(y);
        let (near, far) = (self.row(near), self.row(far));
        let end = columns.end.min(self.stretched_width());
        let from = columns.start.min(end);
        match (self.wide, self.tall) {
            (false, false) => out[from..end].copy_from_slice(&near[from..end]),
            (false, true) => {
                for ((o, &a), &b) in out[from..end].iter_mut().zip(&near[from..end]).zip(&far[from..end]) {
                    *o = ((3 * u32::from(a) + u32::from(b) + 2) >> 2) as u8;
                }
            }
            // Output samples `2m` and `2m + 1` both come from input `m`:
            // the pairs that hold `from..end`.
            (true, false) => wide_row(near, out, from / 2..end.div_ceil(2)),
            (true, true) => wide_tall_row(near, far, out, from / 2..end.div_ceil(2)),
        }
    }
}

/// 2× across: output pairs `pairs` (`out[2m]`, `out[2m + 1]` for each `m`),
/// each ¾ input `m` and ¼ its neighbour on that side. At the ends the
/// neighbour is the sample itself, which leaves the edge samples as they
/// are, as libjpeg does.
fn wide_row(input: &[u8], out: &mut [u8], pairs: Range<usize>) {
    let n = input.len();
    let pair = |m: usize| {
        let a = 3 * u32::from(input[m]);
        let (left, right) = (u32::from(input[m.saturating_sub(1)]), u32::from(input[(m + 1).min(n - 1)]));
        [((a + left + 2) >> 2) as u8, ((a + right + 2) >> 2) as u8]
    };
    stretch_pairs(n, out, pairs, pair, |m, out| simd::wide(input, m, out));
}

/// 2× across and down: the rows mixed ¾ : ¼ into columns, then each pair
/// as in [`wide_row`], rounded once.
fn wide_tall_row(near: &[u8], far: &[u8], out: &mut [u8], pairs: Range<usize>) {
    let n = near.len();
    let col = |i: usize| 3 * u32::from(near[i]) + u32::from(far[i]);
    let pair = |m: usize| {
        let a = 3 * col(m);
        let (left, right) = (col(m.saturating_sub(1)), col((m + 1).min(n - 1)));
        [((a + left + 8) >> 4) as u8, ((a + right + 8) >> 4) as u8]
    };
    stretch_pairs(n, out, pairs, pair, |m, out| simd::wide_tall(near, far, m, out));
}

/// Output pairs `pairs` of an `n`-sample input: [`simd::PAIRS`] at a time
/// by `vector` where every input it reads (`m - 1 ..= m + PAIRS`) is inside
/// the row, one at a time by `pair` elsewhere (the ends).
#[inline(always)]
fn stretch_pairs(
    n: usize,
    out: &mut [u8],
    pairs: Range<usize>,
    pair: impl Fn(usize) -> [u8; 2],
    vector: impl Fn(usize, &mut [u8]) -> bool,
) {
    let pairs = pairs.start..pairs.end.min(n);
    let mut m = pairs.start;
    if m == 0 && m < pairs.end {
        // No left neighbour for a vector to load.
        out[..2].copy_from_slice(&pair(0));
        m = 1;
    }
    while m + simd::PAIRS <= pairs.end && m + simd::PAIRS < n && vector(m, &mut out[2 * m..2 * (m + simd::PAIRS)]) {
        m += simd::PAIRS;
    }
    for m in m..pairs.end {
        out[2 * m..2 * m + 2].copy_from_slice(&pair(m));
    }
}

/// [`wide_row`] and [`wide_tall_row`] eight pairs at a time with simd128:
/// the same sums in 16-bit lanes (at most `16 × 255 + 8`), the even and
/// odd samples interleaved. Elsewhere they decline and the pairs are made
/// one at a time.
mod simd {
    /// Pairs made by one call.
    pub(super) const PAIRS: usize = 8;

    #[cfg(target_arch = "wasm32")]
    mod lanes {
        use core::arch::wasm32::{
            i8x16_shuffle, u16x8_add, u16x8_load_extend_u8x8, u16x8_shl, u16x8_shr, u16x8_splat, u8x16_narrow_i16x8,
            v128, v128_store,
        };

        /// Inputs `at .. at + 8` of `row`, widened to 16 bits.
        ///
        /// # Safety
        /// `at + 8 <= row.len()`.
        #[inline(always)]
        unsafe fn load(row: &[u8], at: usize) -> v128 {
            // SAFETY: the caller keeps the eight bytes inside `row`; wasm
            // loads need no alignment.
            unsafe { u16x8_load_extend_u8x8(row.as_ptr().add(at)) }
        }

        /// `3 × centre + side + bias`, shifted right by `shift`.
        #[inline(always)]
        fn blend(centre: v128, side: v128, bias: u16, shift: u32) -> v128 {
            let triple = u16x8_add(u16x8_shl(centre, 1), centre);
            u16x8_shr(u16x8_add(u16x8_add(triple, side), u16x8_splat(bias)), shift)
        }

        /// The eight even and eight odd samples, interleaved into `out`.
        #[inline(always)]
        fn store(even: v128, odd: v128, out: &mut [u8]) {
            assert!(out.len() >= 16);
            let packed = u8x16_narrow_i16x8(even, odd);
            let mixed = i8x16_shuffle::<0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15>(packed, packed);
            // SAFETY: `out` holds at least 16 bytes (asserted above).
            unsafe { v128_store(out.as_mut_ptr().cast::<v128>(), mixed) }
        }

        pub(in super::super) fn wide(input: &[u8], m: usize, out: &mut [u8]) -> bool {
            assert!(m >= 1 && m + 9 <= input.len());
            // SAFETY: the loads read `m - 1 .. m + 9`, inside `input`
            // (asserted above).
            let (left, centre, right) = unsafe { (load(input, m - 1), load(input, m), load(input, m + 1)) };
            store(blend(centre, left, 2, 2), blend(centre, right, 2, 2), out);
            true
        }

        pub(in super::super) fn wide_tall(near: &[u8], far: &[u8], m: usize, out: &mut [u8]) -> bool {
            assert!(m >= 1 && m + 9 <= near.len() && near.len() <= far.len());
            // SAFETY: every load reads inside `m - 1 .. m + 9` of a row
            // that long (asserted above).
            let col = |at: usize| unsafe { blend(load(near, at), load(far, at), 0, 0) };
            let (left, centre, right) = (col(m - 1), col(m), col(m + 1));
            store(blend(centre, left, 8, 4), blend(centre, right, 8, 4), out);
            true
        }
    }

    #[cfg(target_arch = "wasm32")]
    pub(super) use lanes::{wide, wide_tall};

    #[cfg(not(target_arch = "wasm32"))]
    pub(super) fn wide(_input: &[u8], _m: usize, _out: &mut [u8]) -> bool {
        false
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(super) fn wide_tall(_near: &[u8], _far: &[u8], _m: usize, _out: &mut [u8]) -> bool {
        false
    }
}

/// The whole stretched row as jpeg-decoder makes it (every pair from its
/// two inputs, the edge samples copied): what [`Plane::stretch_row`] must
/// give on any columns.
#[cfg(any(test, feature = "test-hooks"))]
fn reference_row(near: &[u8], far: Option<&[u8]>) -> Vec<u8> {
    let n = near.len();
    let col = |i: usize| match far {
        Some(far) => 3 * u32::from(near[i]) + u32::from(far[i]),
        None => 4 * u32::from(near[i]),
    };
    let mut out = vec![0u8; 2 * n];
    out[0] = ((col(0) + 2) >> 2) as u8;
    out[2 * n - 1] = ((col(n - 1) + 2) >> 2) as u8;
    for m in 0..n - 1 {
        let (a, b) = (col(m), col(m + 1));
        out[2 * m + 1] = ((3 * a + b + 8) >> 4) as u8;
        out[2 * m + 2] = ((3 * b + a + 8) >> 4) as u8;
    }
    out
}

/// The 2× stretches this build uses (on wasm simd128, eight pairs at a
/// time) against [`reference_row`], for rows of every length up to 40 and
/// every span of columns in them, on pseudo-random samples with runs of 0
/// and 255: native tests run it, and the Worker's test build runs it
/// where the vector code is (`GET /api/__test/simd`). The spans compared,
/// or the first that differs.
#[cfg(any(test, feature = "test-hooks"))]
pub(crate) fn stretch_self_check() -> Result<usize, String> {
    let mut seed = 0x9e37_79b9_u32;
    let mut sample = move || {
        let random = super::xorshift(&mut seed);
        match random % 8 {
            0 => 0,
            1 => 255,
            _ => (random >> 8) as u8,
        }
    };
    let mut compared = 0;
    for n in 1..=40usize {
        for _ in 0..4 {
            let near: Vec<u8> = (0..n).map(|_| sample()).collect();
            let far: Vec<u8> = (0..n).map(|_| sample()).collect();
            for tall in [false, true] {
                let want = reference_row(&near, tall.then_some(&far[..]));
                for from in 0..=2 * n {
                    for end in from..=2 * n {
                        let mut got = vec![0xAAu8; 2 * n];
                        let pairs = from / 2..end.div_ceil(2);
                        if tall {
                            wide_tall_row(&near, &far, &mut got, pairs);
                        } else {
                            wide_row(&near, &mut got, pairs);
                        }
                        if got[from..end] != want[from..end] {
                            return Err(format!(
                                "{n} samples, tall {tall}, columns {from}..{end}: {:?}, reference {:?} (near {near:?}, far {far:?})",
                                &got[from..end],
                                &want[from..end]
                            ));
                        }
                        compared += 1;
                    }
                }
            }
        }
    }
    Ok(compared)
}

#[cfg(test)]
mod tests {
    #[test]
    fn stretching_some_columns_gives_those_of_the_whole_row() {
        let compared = super::stretch_self_check().unwrap();
        assert!(compared > 10_000, "{compared}");
    }
}
