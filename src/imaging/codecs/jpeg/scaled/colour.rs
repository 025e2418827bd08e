//! JFIF YCbCr → RGB in the two roundings our decoders need.
//!
//! The DC-only path converts as libjpeg(-turbo) does (`jdcolor.c`: 16-bit
//! fixed point, rounded). The reduced-scale path stands in for
//! jpeg-decoder at 1/4 and 1/2, so it converts a row exactly as
//! jpeg-decoder does on the same target: its SIMD kernel (15-bit
//! multiplies on samples scaled by 64) for the leading pixels, its 20-bit
//! fixed point for the rest. The two differ by up to two levels, enough to
//! move the avatar's SSIM.

use std::ops::Range;

const SCALE_BITS: u32 = 16;
const HALF: i32 = 1 << (SCALE_BITS - 1);
/// 1.402, 0.34414, 0.71414 and 1.772 in 16-bit fixed point.
const CR_R: i32 = 91_881;
const CB_G: i32 = 22_554;
const CR_G: i32 = 46_802;
const CB_B: i32 = 116_130;

/// One pixel, libjpeg's way.
#[inline(always)]
pub(super) fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let y = i32::from(y) << SCALE_BITS;
    let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
    let r = (y + CR_R * cr + HALF) >> SCALE_BITS;
    let g = (y - CB_G * cb - CR_G * cr + HALF) >> SCALE_BITS;
    let b = (y + CB_B * cb + HALF) >> SCALE_BITS;
    [r.clamp(0, 255) as u8, g.clamp(0, 255) as u8, b.clamp(0, 255) as u8]
}

/// A row, jpeg-decoder's way: `out` (3 bytes a pixel) from equally long
/// planes' rows, the pixels in `columns` only (each rounded as it would
/// be in the whole row; the others left as they are).
pub(super) fn ycc_row(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8], columns: Range<usize>) {
    let n = out.len() / 3;
    let end = columns.end.min(n);
    let lead = kernel_span(n);
    let (from, to) = (columns.start, end.min(lead));
    if from < to {
        kernel::run(&y[from..to], &cb[from..to], &cr[from..to], &mut out[from * 3..to * 3]);
    }
    let from = columns.start.max(lead);
    if from < end {
        each_pixel(&y[from..end], &cb[from..end], &cr[from..end], &mut out[from * 3..end * 3], fixed20::pixel);
    }
}

/// `out` (3 bytes a pixel) from equally long rows, one pixel at a time.
#[inline(always)]
fn each_pixel(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8], pixel: impl Fn(u8, u8, u8) -> [u8; 3]) {
    for (((px, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        px.copy_from_slice(&pixel(y, cb, cr));
    }
}

/// How many leading pixels of an `n`-pixel row jpeg-decoder hands to its
/// SIMD kernel on this target (whole groups of eight; its x86 kernel
/// leaves one more group to the scalar code, and targets without a kernel
/// convert every pixel in scalar code).
const fn kernel_span(n: usize) -> usize {
    if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
        n / 8 * 8
    } else if cfg!(any(target_arch = "x86", target_arch = "x86_64")) {
        (n / 8).saturating_sub(1) * 8
    } else {
        0
    }
}

/// jpeg-decoder's SIMD conversion, one lane: samples times 64 in 16 bits,
/// the coefficients as rounded 15-bit fractions (1.402 and 1.772 as one
/// plus a fraction). No intermediate reaches the 16-bit limits the
/// kernel saturates at, so `i32` arithmetic gives its lanes exactly.
mod kernel {
    pub(super) const SHIFT: u32 = 6;
    pub(super) const CR_R: i32 = 13_173;
    pub(super) const CB_G: i32 = 11_276;
    pub(super) const CR_G: i32 = 23_401;
    pub(super) const CB_B: i32 = 25_297;

    /// A rounded 15-bit fixed-point product.
    #[inline(always)]
    pub(super) fn mul_q15(a: i32, k: i32) -> i32 {
        (a * k + (1 << 14)) >> 15
    }

    #[inline(always)]
    pub(super) fn pixel(y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let y = (i32::from(y) << SHIFT) + (1 << (SHIFT - 1));
        let (cb, cr) = ((i32::from(cb) - 128) << SHIFT, (i32::from(cr) - 128) << SHIFT);
        let r = y + mul_q15(cr, CR_R) + cr;
        let g = y - (mul_q15(cb, CB_G) + mul_q15(cr, CR_G));
        let b = y + mul_q15(cb, CB_B) + cb;
        [r, g, b].map(|v| (v >> SHIFT).clamp(0, 255) as u8)
    }

    /// Every pixel of equally long rows through [`pixel`].
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    pub(super) fn run(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
        super::each_pixel(y, cb, cr, out, pixel);
    }

    /// [`pixel`] eight at a time with simd128, the same operations lane
    /// by lane (`q15mulr` is [`mul_q15`] while nothing saturates; the
    /// narrowing to bytes is the clamp); the pixels past the last whole
    /// eight one by one.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    pub(super) fn run(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
        use core::arch::wasm32::{
            i16x8_add, i16x8_q15mulr_sat, i16x8_shl, i16x8_shr, i16x8_splat, i16x8_sub, i8x16_shuffle,
            u16x8_load_extend_u8x8, u8x16_narrow_i16x8, v128, v128_store, v128_store64_lane,
        };
        let n = y.len().min(cb.len()).min(cr.len()).min(out.len() / 3);
        let groups = n / 8;
        let load = |row: &[u8], at: usize| -> v128 {
            let eight = &row[at..at + 8];
            // SAFETY: `eight` is eight readable bytes; wasm loads need no
            // alignment.
            let v = unsafe { u16x8_load_extend_u8x8(eight.as_ptr()) };
            i16x8_shl(v, SHIFT)
        };
        let centred = |row: &[u8], at: usize| i16x8_sub(load(row, at), i16x8_splat(128 << SHIFT));
        let q15 = |a: v128, k: i32| i16x8_q15mulr_sat(a, i16x8_splat(k as i16));
        for g in 0..groups {
            let at = g * 8;
            let luma = i16x8_add(load(y, at), i16x8_splat(1 << (SHIFT - 1)));
            let (b_diff, r_diff) = (centred(cb, at), centred(cr, at));
            let r = i16x8_add(i16x8_add(luma, q15(r_diff, CR_R)), r_diff);
            let g_ = i16x8_sub(luma, i16x8_add(q15(b_diff, CB_G), q15(r_diff, CR_G)));
            let b = i16x8_add(i16x8_add(luma, q15(b_diff, CB_B)), b_diff);
            let bytes = |v: v128| {
                let v = i16x8_shr(v, SHIFT);
                u8x16_narrow_i16x8(v, v)
            };
            let (r, g_, b) = (bytes(r), bytes(g_), bytes(b));
            // r0 g0 r1 g1 … r7 g7, then with blue: 16 bytes and 8 more.
            let rg = i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(r, g_);
            let head = i8x16_shuffle::<0, 1, 16, 2, 3, 17, 4, 5, 18, 6, 7, 19, 8, 9, 20, 10>(rg, b);
            let tail = i8x16_shuffle::<11, 21, 12, 13, 22, 14, 15, 23, 0, 0, 0, 0, 0, 0, 0, 0>(rg, b);
            let dst = &mut out[at * 3..at * 3 + 24];
            // SAFETY: `dst` is 24 writable bytes: 16 from its start, 8
            // from its 16th; wasm stores need no alignment.
            unsafe {
                v128_store(dst.as_mut_ptr().cast(), head);
                v128_store64_lane::<0>(tail, dst.as_mut_ptr().add(16).cast());
            }
        }
        let done = groups * 8;
        super::each_pixel(&y[done..], &cb[done..], &cr[done..], &mut out[done * 3..], pixel);
    }
}

/// jpeg-decoder's scalar conversion: 20-bit fixed point, the coefficients
/// rounded from `f32` as it rounds them.
mod fixed20 {
    const BITS: u32 = 20;

    const fn coefficient(x: f32) -> i32 {
        (x * (1 << BITS) as f32 + 0.5) as i32
    }

    const CR_R: i32 = coefficient(1.402);
    const CB_G: i32 = coefficient(0.34414);
    const CR_G: i32 = coefficient(0.71414);
    const CB_B: i32 = coefficient(1.772);

    #[inline(always)]
    pub(super) fn pixel(y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let y = (i32::from(y) << BITS) + (1 << (BITS - 1));
        let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
        let r = y + CR_R * cr;
        let g = y - CB_G * cb - CR_G * cr;
        let b = y + CB_B * cb;
        [r, g, b].map(|v| (v >> BITS).clamp(0, 255) as u8)
    }
}

/// The kernel's row code against [`kernel::pixel`] one pixel at a time,
/// for every (Y, Cb, Cr): on wasm simd128 the rows take the vector code,
/// so the Worker's test build runs this there (`GET /api/__test/simd`).
/// The pixels compared, or the first that differs.
#[cfg(any(test, feature = "test-hooks"))]
pub(crate) fn kernel_self_check() -> Result<usize, String> {
    // Row (a, b), pixel i: Cr = i, Y = a + i, Cb = b + 3i (wrapping), so
    // every (Y, Cb, Cr) comes up once and all three vary along each row,
    // which also ends in a part group (converted one by one).
    let n = 256 + 5;
    let crs: Vec<u8> = (0..n).map(|i| i as u8).collect();
    let (mut ys, mut cbs, mut out) = (vec![0u8; n], vec![0u8; n], vec![0u8; n * 3]);
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            for (i, (y, cb)) in ys.iter_mut().zip(&mut cbs).enumerate() {
                (*y, *cb) = (a.wrapping_add(i as u8), b.wrapping_add((3 * i) as u8));
            }
            kernel::run(&ys, &cbs, &crs, &mut out);
            for (((px, &y), &cb), &cr) in out.chunks_exact(3).zip(&ys).zip(&cbs).zip(&crs) {
                let want = kernel::pixel(y, cb, cr);
                if *px != want {
                    return Err(format!("Y {y} Cb {cb} Cr {cr}: {px:?}, one by one {want:?}"));
                }
            }
        }
    }
    Ok(256 * 256 * n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (Y, Cb, Cr) on a coarse grid, through `convert`, within one
    /// level of the exact JFIF transform.
    fn near_exact(convert: fn(u8, u8, u8) -> [u8; 3]) {
        for y in (0..=255u8).step_by(3) {
            for cb in (0..=255u8).step_by(5) {
                for cr in (0..=255u8).step_by(7) {
                    let (yf, cbf, crf) = (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
                    let exact = [yf + 1.402 * crf, yf - 0.344_136 * cbf - 0.714_136 * crf, yf + 1.772 * cbf];
                    let got = convert(y, cb, cr);
                    for (g, e) in got.iter().zip(exact) {
                        let e = e.round().clamp(0.0, 255.0);
                        assert!((f64::from(*g) - e).abs() <= 1.0, "{y} {cb} {cr}: {got:?} vs {exact:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_kernels_rows_convert_as_its_pixels() {
        assert!(kernel_self_check().unwrap() > 0);
    }

    #[test]
    fn every_rounding_is_within_a_level_of_the_exact_transform() {
        near_exact(ycc_to_rgb);
        near_exact(fixed20::pixel);
        near_exact(kernel::pixel);
    }

    #[test]
    fn the_kernel_never_leaves_sixteen_bits() {
        // The kernel's lanes saturate at i16; ours do not, so they agree
        // only while no intermediate leaves that range.
        use kernel::{mul_q15, CB_B, CB_G, CR_G, CR_R, SHIFT};
        let lanes = |y: i32, cb: i32, cr: i32| {
            let (y, cb, cr) = ((y << SHIFT) + (1 << (SHIFT - 1)), (cb - 128) << SHIFT, (cr - 128) << SHIFT);
            let (cr_r, cb_b) = (mul_q15(cr, CR_R) + cr, mul_q15(cb, CB_B) + cb);
            let cg = mul_q15(cb, CB_G) + mul_q15(cr, CR_G);
            [y, cb, cr, cr_r, cb_b, cg, y + cr_r, y - cg, y + cb_b]
        };
        for (y, cb, cr) in [(0, 0, 0), (255, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 255, 255)] {
            for v in lanes(y, cb, cr) {
                assert!(i32::from(i16::MIN) <= v && v <= i32::from(i16::MAX), "{y} {cb} {cr}: {v}");
            }
        }
    }

    #[test]
    fn a_row_switches_to_the_scalar_rounding_where_the_kernel_stops() {
        // Values at which the two roundings disagree, so the switch shows.
        let (y, cb, cr) = find_disagreement();
        for n in [1usize, 7, 8, 9, 16, 17, 33] {
            let ys = vec![y; n];
            let (cbs, crs) = (vec![cb; n], vec![cr; n]);
            let mut out = vec![0; n * 3];
            ycc_row(&ys, &cbs, &crs, &mut out, 0..n);
            let lead = kernel_span(n);
            for (i, px) in out.chunks_exact(3).enumerate() {
                let want = if i < lead { kernel::pixel(y, cb, cr) } else { fixed20::pixel(y, cb, cr) };
                assert_eq!(px, want, "pixel {i} of {n}");
            }
            // Part of the row: those pixels as in the whole row, the
            // others untouched.
            for (from, to) in [(0, n / 2), (n / 3, n), (1, n.saturating_sub(1)), (n, n), (2, usize::MAX)] {
                let mut part = vec![7; n * 3];
                ycc_row(&ys, &cbs, &crs, &mut part, from..to);
                for (i, (got, whole)) in part.chunks_exact(3).zip(out.chunks_exact(3)).enumerate() {
                    let want = if (from..to).contains(&i) { whole } else { &[7, 7, 7][..] };
                    assert_eq!(got, want, "pixel {i} of {n}, columns {from}..{to}");
                }
            }
        }
    }

    fn find_disagreement() -> (u8, u8, u8) {
        for y in 0..=255u8 {
            for cb in 0..=255u8 {
                for cr in (0..=255u8).step_by(3) {
                    if kernel::pixel(y, cb, cr) != fixed20::pixel(y, cb, cr) {
                        return (y, cb, cr);
                    }
                }
            }
        }
        unreachable!("the two roundings always agree");
    }
}
