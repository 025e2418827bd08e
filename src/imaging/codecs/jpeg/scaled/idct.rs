//! Reduced inverse DCTs: a block's low frequencies to 4×4 or 2×2 pixels
//! (the full-size one is [`super::idct8`]; [`idct_nxn`] picks by scale),
//! with jpeg-decoder's arithmetic (the Dugad–Ahuja scheme of libjpeg's
//! `jidctred.c`, in stb_image's fixed point), so that both decoders give
//! the same samples. Wrapping arithmetic, as there: a hostile file's
//! coefficients may overflow, and must not panic.

use super::idct8::idct_8x8;
use std::num::Wrapping as W;

/// The natural (row-major) index of each zigzag position.
pub(super) const UNZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// The last zigzag position inside the top-left `n`×`n` coefficients (the
/// ones an `n`×`n` reduced IDCT reads): coefficients after it are only
/// read past.
pub(super) const fn last_needed(n: usize) -> usize {
    match n {
        1 => 0,
        2 => 4,
        4 => 24,
        _ => 63,
    }
}

/// Where zigzag position `k` goes in an `n`×`n` block of coefficients,
/// if it is inside it.
pub(super) fn slot(k: usize, n: usize) -> Option<usize> {
    let natural = *UNZIGZAG.get(k)?;
    let (row, col) = (natural / 8, natural % 8);
    (row < n && col < n).then_some(row * n + col)
}

/// stb_image's fixed-point constants (12 fractional bits, rounded as
/// its `f2f` does: half added, then truncated toward zero) of 0.5411961,
/// -1.847759065 and 0.765366865.
const K0: i32 = 2217;
const K1: i32 = -7567;
const K2: i32 = 3135;

fn clamp(x: W<i32>) -> u8 {
    x.0.clamp(0, 255) as u8
}

/// The 4×4 transform's fixed point: constants, first pass, and the final
/// shift (both passes and the two √8 factors).
const CONST_BITS: usize = 12;
const PASS1_BITS: usize = 2;
const FINAL_BITS: usize = CONST_BITS + PASS1_BITS + 3;

/// 4×4 pixels from the dequantised top-left 4×4 coefficients `c`
/// (row-major), written at `out[row * stride..][..4]`.
pub(super) fn idct_4x4(c: &[i32; 16], out: &mut [u8], stride: usize) {
    let bias = W(1 << (FINAL_BITS - 1)) + W(128 << FINAL_BITS);
    if c[1..].iter().all(|&v| v == 0) {
        // Only the DC: every pass below reduces to this one value.
        let v = clamp(((W(c[0]) << PASS1_BITS << CONST_BITS) + bias) >> FINAL_BITS);
        for row in out.chunks_mut(stride).take(4) {
            row[..4].fill(v);
        }
        return;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    vector::idct_4x4_passes(c, out, stride);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    idct_4x4_passes(c, out, stride);
}

/// Four columns (or rows) of the 4×4 transform side by side, written
/// lane-wise so that the compiler can keep them in one SIMD register.
#[cfg(any(test, feature = "test-hooks", not(all(target_arch = "wasm32", target_feature = "simd128"))))]
#[derive(Clone, Copy)]
struct Lanes([i32; 4]);

#[cfg(any(test, feature = "test-hooks", not(all(target_arch = "wasm32", target_feature = "simd128"))))]
impl Lanes {
    #[inline(always)]
    fn zip(self, other: Lanes, f: impl Fn(i32, i32) -> i32) -> Lanes {
        Lanes(std::array::from_fn(|i| f(self.0[i], other.0[i])))
    }
    #[inline(always)]
    fn each(self, f: impl Fn(i32) -> i32) -> Lanes {
        Lanes(self.0.map(f))
    }
    #[inline(always)]
    fn add(self, o: Lanes) -> Lanes {
        self.zip(o, i32::wrapping_add)
    }
    #[inline(always)]
    fn sub(self, o: Lanes) -> Lanes {
        self.zip(o, i32::wrapping_sub)
    }
    #[inline(always)]
    fn times(self, k: i32) -> Lanes {
        self.each(|v| v.wrapping_mul(k))
    }
    #[inline(always)]
    fn plus(self, k: i32) -> Lanes {
        self.each(|v| v.wrapping_add(k))
    }
    #[inline(always)]
    fn shl(self, n: usize) -> Lanes {
        self.each(|v| v.wrapping_shl(n as u32))
    }
    #[inline(always)]
    fn shr(self, n: usize) -> Lanes {
        self.each(|v| v >> n)
    }
}

#[cfg(any(test, feature = "test-hooks", not(all(target_arch = "wasm32", target_feature = "simd128"))))]
#[inline(always)]
fn transpose(m: [Lanes; 4]) -> [Lanes; 4] {
    std::array::from_fn(|j| Lanes(std::array::from_fn(|i| m[i].0[j])))
}

/// [`idct_4x4`] without its shortcut for a block of only the DC.
#[cfg(any(test, feature = "test-hooks", not(all(target_arch = "wasm32", target_feature = "simd128"))))]
fn idct_4x4_passes(c: &[i32; 16], out: &mut [u8], stride: usize) {
    let row = |r: usize| Lanes(std::array::from_fn(|i| c[r * 4 + i]));
    // Columns, four at a time (a lane per column).
    let (s0, s1, s2, s3) = (row(0), row(1), row(2), row(3));
    let x0 = s0.add(s2).shl(PASS1_BITS);
    let x2 = s0.sub(s2).shl(PASS1_BITS);
    let p1 = s1.add(s3).times(K0);
    let t0 = p1.add(s3.times(K1)).plus(512).shr(CONST_BITS - PASS1_BITS);
    let t2 = p1.add(s1.times(K2)).plus(512).shr(CONST_BITS - PASS1_BITS);
    let t = [x0.add(t2), x2.add(t0), x2.sub(t0), x0.sub(t2)];
    // Rows, four at a time (a lane per row).
    let [s0, s1, s2, s3] = transpose(t);
    let bias = (1 << (FINAL_BITS - 1)) + (128 << FINAL_BITS);
    let x0 = s0.add(s2).shl(CONST_BITS).plus(bias);
    let x2 = s0.sub(s2).shl(CONST_BITS).plus(bias);
    let p1 = s1.add(s3).times(K0);
    let t0 = p1.add(s3.times(K1));
    let t2 = p1.add(s1.times(K2));
    let columns = [x0.add(t2), x2.add(t0), x2.sub(t0), x0.sub(t2)].map(|v| v.shr(FINAL_BITS).each(|v| v.clamp(0, 255)));
    for (line, values) in out.chunks_mut(stride).zip(transpose(columns)) {
        for (o, v) in line[..4].iter_mut().zip(values.0) {
            *o = v as u8;
        }
    }
}

/// [`idct_4x4_passes`] in simd128 instructions: the same wrapping `i32`
/// operations lane by lane (LLVM leaves the plain version scalar), the
/// transposes as shuffles, the 16 clamped samples narrowed into one vector.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod vector {
    use super::{CONST_BITS, FINAL_BITS, K0, K1, K2, PASS1_BITS};
    use core::arch::wasm32::{
        i16x8_narrow_i32x4, i32x4_add, i32x4_max, i32x4_min, i32x4_mul, i32x4_shl, i32x4_shr, i32x4_shuffle,
        i32x4_splat, i32x4_sub, i8x16_shuffle, u8x16_narrow_i16x8, v128, v128_load, v128_store,
    };

    /// One pass over four columns (or rows), a lane each.
    #[inline(always)]
    fn pass(s: [v128; 4], first: bool) -> [v128; 4] {
        let [s0, s1, s2, s3] = s;
        let p1 = i32x4_mul(i32x4_add(s1, s3), i32x4_splat(K0));
        let t0 = i32x4_add(p1, i32x4_mul(s3, i32x4_splat(K1)));
        let t2 = i32x4_add(p1, i32x4_mul(s1, i32x4_splat(K2)));
        let (x0, x2, t0, t2) = if first {
            let round = |t: v128| i32x4_shr(i32x4_add(t, i32x4_splat(512)), (CONST_BITS - PASS1_BITS) as u32);
            let scale = |x: v128| i32x4_shl(x, PASS1_BITS as u32);
            (scale(i32x4_add(s0, s2)), scale(i32x4_sub(s0, s2)), round(t0), round(t2))
        } else {
            let bias = i32x4_splat((1 << (FINAL_BITS - 1)) + (128 << FINAL_BITS));
            let scale = |x: v128| i32x4_add(i32x4_shl(x, CONST_BITS as u32), bias);
            (scale(i32x4_add(s0, s2)), scale(i32x4_sub(s0, s2)), t0, t2)
        };
        [i32x4_add(x0, t2), i32x4_add(x2, t0), i32x4_sub(x2, t0), i32x4_sub(x0, t2)]
    }

    #[inline(always)]
    fn transpose([a, b, c, d]: [v128; 4]) -> [v128; 4] {
        let ab_lo = i32x4_shuffle::<0, 4, 1, 5>(a, b);
        let ab_hi = i32x4_shuffle::<2, 6, 3, 7>(a, b);
        let cd_lo = i32x4_shuffle::<0, 4, 1, 5>(c, d);
        let cd_hi = i32x4_shuffle::<2, 6, 3, 7>(c, d);
        [
            i32x4_shuffle::<0, 1, 4, 5>(ab_lo, cd_lo),
            i32x4_shuffle::<2, 3, 6, 7>(ab_lo, cd_lo),
            i32x4_shuffle::<0, 1, 4, 5>(ab_hi, cd_hi),
            i32x4_shuffle::<2, 3, 6, 7>(ab_hi, cd_hi),
        ]
    }

    pub(super) fn idct_4x4_passes(c: &[i32; 16], out: &mut [u8], stride: usize) {
        assert!(out.len() >= 3 * stride + 4);
        // SAFETY: `c` is 16 `i32`s, four vectors; wasm loads need no
        // alignment.
        let rows: [v128; 4] = std::array::from_fn(|r| unsafe { v128_load(c.as_ptr().add(4 * r).cast::<v128>()) });
        // Lane `i` of the second pass's results is row `i`, each vector
        // one column.
        let columns = pass(transpose(pass(rows, true)), false).map(|v| {
            let v = i32x4_shr(v, FINAL_BITS as u32);
            i32x4_min(i32x4_max(v, i32x4_splat(0)), i32x4_splat(255))
        });
        // Every value is 0..=255: the narrowings keep it. Bytes column by
        // column, then shuffled row by row.
        let bytes =
            u8x16_narrow_i16x8(i16x8_narrow_i32x4(columns[0], columns[1]), i16x8_narrow_i32x4(columns[2], columns[3]));
        let rows = i8x16_shuffle::<0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15>(bytes, bytes);
        let mut packed = [0u8; 16];
        // SAFETY: `packed` is 16 bytes; wasm stores need no alignment.
        unsafe { v128_store(packed.as_mut_ptr().cast::<v128>(), rows) };
        for (r, four) in packed.chunks_exact(4).enumerate() {
            out[r * stride..r * stride + 4].copy_from_slice(four);
        }
    }
}

/// The 4×4 transform the build uses against the plain-lane one, block by
/// block (overflowing ones among them): on wasm simd128 the first is the
/// vector code, which native tests cannot run, so the Worker's test build
/// runs this there (`GET /api/__test/simd`). The blocks compared, or the
/// first that differs.
#[cfg(any(test, feature = "test-hooks"))]
pub(crate) fn idct4_self_check() -> Result<usize, String> {
    let mut compared = 0;
    for c in test_blocks() {
        let (mut got, mut want) = ([0u8; 16], [0u8; 16]);
        idct_4x4(&c, &mut got, 4);
        idct_4x4_passes(&c, &mut want, 4);
        if got != want {
            return Err(format!("coefficients {c:?}: {got:?}, plain lanes {want:?}"));
        }
        compared += 1;
    }
    Ok(compared)
}

/// Pseudo-random coefficients, DC-only blocks among them, and some whose
/// sums overflow (wrapping, never a panic).
#[cfg(any(test, feature = "test-hooks"))]
fn test_blocks() -> impl Iterator<Item = [i32; 16]> {
    let mut seed = 0x9E37_79B9u32;
    (0..20_000).map(move |i| {
        let mut c = [0i32; 16];
        for (j, v) in c.iter_mut().enumerate() {
            let random = super::xorshift(&mut seed);
            let range = if i % 3 == 0 && j > 0 { 1 } else { 2048 >> (j / 4) };
            *v = (random % (2 * range as u32 + 1)) as i32 - range;
        }
        if i % 97 == 0 {
            c[0] = i32::MAX - i;
        }
        if i % 89 == 0 {
            c[5] = i32::MIN + i;
        }
        c
    })
}

/// 2×2 pixels from the dequantised top-left 2×2 coefficients, `c[..4]`
/// (row-major), written at `out[row * stride..][..2]`.
pub(super) fn idct_2x2(c: &[i32; 16], out: &mut [u8], stride: usize) {
    const SCALE_BITS: usize = 3;
    let bias = W(1 << (SCALE_BITS - 1)) + W(128 << SCALE_BITS);
    let (s00, s01, s10, s11) = (W(c[0]), W(c[1]), W(c[2]), W(c[3]));
    let x0 = s00 + s10 + bias;
    let x2 = s00 - s10 + bias;
    let x1 = s01 + s11;
    let x3 = s01 - s11;
    out[0] = clamp((x0 + x1) >> SCALE_BITS);
    out[1] = clamp((x0 - x1) >> SCALE_BITS);
    out[stride] = clamp((x2 + x3) >> SCALE_BITS);
    out[stride + 1] = clamp((x2 - x3) >> SCALE_BITS);
}

/// `n`×`n` pixels (`n` 2, 4 or 8) at `out[row * stride..]` from a
/// block's dequantised coefficients, the top-left `n`×`n` of it in
/// row-major order at the start of `c`.
#[inline(always)]
pub(super) fn idct_nxn(n: usize, c: &[i32; 64], out: &mut [u8], stride: usize) {
    let square: &[i32; 16] = c.first_chunk().expect("64 coefficients hold 16");
    match n {
        8 => idct_8x8(c, out, stride),
        4 => idct_4x4(square, out, stride),
        _ => idct_2x2(square, out, stride),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dc_only_shortcut_matches_the_two_passes() {
        assert_eq!(idct4_self_check(), Ok(20_000));
    }

    #[test]
    fn zigzag_slots_cover_the_top_left_square() {
        for n in [1, 2, 4, 8] {
            let slots: Vec<usize> = (0..64).filter_map(|k| slot(k, n)).collect();
            assert_eq!(slots.len(), n * n);
            let mut sorted = slots.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n * n).collect::<Vec<_>>());
            assert_eq!((0..64).filter(|&k| slot(k, n).is_some()).max(), Some(last_needed(n)));
        }
    }
}
