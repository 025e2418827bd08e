//! The full-size inverse DCT: a block's 64 coefficients to 8×8 pixels,
//! with the arithmetic jpeg-decoder uses wherever it has SIMD (its SSSE3
//! and wasm simd128 code, which agree): 16-bit lanes, saturating adds,
//! Q15 multiplies rounded to nearest, the passes of stb_image's integer
//! transform with the constants split into whole and Q15 parts. Same
//! arithmetic, same samples: the full-size decode gives jpeg-decoder's
//! pixels on the Worker and in the native tests alike. Eight lanes are
//! one wasm simd128 vector; elsewhere they are plain arrays.

/// The Q15 fractions the transform multiplies by (what is left of each
/// stb_image constant once its whole part is added or subtracted apart).
mod q15 {
    pub(super) const R0_541: i16 = 17734;
    pub(super) const R0_847: i16 = 27779;
    pub(super) const R0_765: i16 = 25079;
    pub(super) const R0_175: i16 = 5763;
    pub(super) const R0_298: i16 = 9786;
    pub(super) const R0_053: i16 = 1741;
    pub(super) const R0_072: i16 = 2383;
    pub(super) const R0_501: i16 = 16427;
    pub(super) const R0_899: i16 = 29490;
    pub(super) const R0_562: i16 = 18446;
    pub(super) const M0_961: i16 = -31509;
    pub(super) const M0_390: i16 = -12785;
}

/// Left shift of the dequantised coefficients (fractional bits kept
/// through both passes).
const SHIFT: u32 = 3;

/// Eight 16-bit lanes: one row (or, transposed, one column) of a block,
/// with the operations the transform needs.
trait Lanes: Copy {
    /// Row `r` of the dequantised coefficients, each wrapped to 16 bits
    /// and shifted left by `shift`, as jpeg-decoder's 16-bit multiply and
    /// shift leave them.
    fn load(c: &[i32; 64], r: usize, shift: u32) -> Self;
    /// Saturating.
    fn add(self, o: Self) -> Self;
    /// Saturating.
    fn sub(self, o: Self) -> Self;
    /// `a × k / 2¹⁵` rounded to nearest, saturated (simd128's
    /// `q15mulr_sat`, SSSE3's `mulhrs`).
    fn mul_q15(self, k: i16) -> Self;
    /// Each lane plus `bias` (saturating), shifted right by `shift`,
    /// clamped to 0..=255, written to `out[..8]`.
    fn store(self, bias: i16, shift: u32, out: &mut [u8]);
    /// Rows become columns.
    fn transpose(m: [Self; 8]) -> [Self; 8];
}

/// Plain arrays: the native build's lanes, and on wasm (tests, test
/// build) the reference the vector code is checked against.
#[cfg(any(test, feature = "test-hooks", not(all(target_arch = "wasm32", target_feature = "simd128"))))]
mod scalar {
    #[derive(Clone, Copy)]
    pub(super) struct Scalar([i16; 8]);

    impl Scalar {
        #[inline(always)]
        fn zip(self, o: Scalar, f: impl Fn(i16, i16) -> i16) -> Scalar {
            Scalar(std::array::from_fn(|i| f(self.0[i], o.0[i])))
        }
    }

    impl super::Lanes for Scalar {
        #[inline(always)]
        fn load(c: &[i32; 64], r: usize, shift: u32) -> Scalar {
            Scalar(std::array::from_fn(|i| (c[r * 8 + i] as i16).wrapping_shl(shift)))
        }
        #[inline(always)]
        fn add(self, o: Scalar) -> Scalar {
            self.zip(o, i16::saturating_add)
        }
        #[inline(always)]
        fn sub(self, o: Scalar) -> Scalar {
            self.zip(o, i16::saturating_sub)
        }
        #[inline(always)]
        fn mul_q15(self, k: i16) -> Scalar {
            Scalar(self.0.map(|a| ((i32::from(a) * i32::from(k) + (1 << 14)) >> 15).clamp(-32768, 32767) as i16))
        }
        #[inline(always)]
        fn store(self, bias: i16, shift: u32, out: &mut [u8]) {
            for (o, v) in out[..8].iter_mut().zip(self.0) {
                *o = (v.saturating_add(bias) >> shift).clamp(0, 255) as u8;
            }
        }
        #[inline(always)]
        fn transpose(m: [Scalar; 8]) -> [Scalar; 8] {
            std::array::from_fn(|j| Scalar(std::array::from_fn(|i| m[i].0[j])))
        }
    }
}
#[cfg(any(test, feature = "test-hooks", not(all(target_arch = "wasm32", target_feature = "simd128"))))]
use scalar::Scalar;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod vector {
    use std::arch::wasm32::*;

    /// One simd128 vector.
    #[derive(Clone, Copy)]
    pub(super) struct Vector(v128);

    impl super::Lanes for Vector {
        #[inline(always)]
        fn load(c: &[i32; 64], r: usize, shift: u32) -> Vector {
            let row: &[i32; 8] = c[r * 8..][..8].try_into().expect("a row has eight coefficients");
            // SAFETY: `row` is eight readable i32s; unaligned loads are allowed.
            let (lo, hi) = unsafe { (v128_load(row.as_ptr().cast()), v128_load(row.as_ptr().add(4).cast())) };
            // The low half of each 32-bit lane: wrapping, not saturating.
            let wrapped = i8x16_shuffle::<0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29>(lo, hi);
            Vector(i16x8_shl(wrapped, shift))
        }
        #[inline(always)]
        fn add(self, o: Vector) -> Vector {
            Vector(i16x8_add_sat(self.0, o.0))
        }
        #[inline(always)]
        fn sub(self, o: Vector) -> Vector {
            Vector(i16x8_sub_sat(self.0, o.0))
        }
        #[inline(always)]
        fn mul_q15(self, k: i16) -> Vector {
            Vector(i16x8_q15mulr_sat(self.0, i16x8_splat(k)))
        }
        #[inline(always)]
        fn store(self, bias: i16, shift: u32, out: &mut [u8]) {
            let out: &mut [u8; 8] = (&mut out[..8]).try_into().expect("eight samples");
            let v = i16x8_shr(i16x8_add_sat(self.0, i16x8_splat(bias)), shift);
            let bytes = u8x16_narrow_i16x8(v, v);
            // SAFETY: `out` is eight writable bytes; unaligned stores are allowed.
            unsafe { v128_store64_lane::<0>(bytes, out.as_mut_ptr().cast()) };
        }
        /// Three rounds of interleaving (16-, 32- and 64-bit pairs).
        #[inline(always)]
        fn transpose(m: [Vector; 8]) -> [Vector; 8] {
            let m = m.map(|l| l.0);
            let lo16 = |a, b| i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(a, b);
            let hi16 = |a, b| i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(a, b);
            let lo32 = |a, b| i32x4_shuffle::<0, 4, 1, 5>(a, b);
            let hi32 = |a, b| i32x4_shuffle::<2, 6, 3, 7>(a, b);
            let lo64 = |a, b| i64x2_shuffle::<0, 2>(a, b);
            let hi64 = |a, b| i64x2_shuffle::<1, 3>(a, b);
            let a = [lo16(m[0], m[1]), lo16(m[2], m[3]), lo16(m[4], m[5]), lo16(m[6], m[7])];
            let b = [hi16(m[0], m[1]), hi16(m[2], m[3]), hi16(m[4], m[5]), hi16(m[6], m[7])];
            let c = [lo32(a[0], a[1]), hi32(a[0], a[1]), lo32(a[2], a[3]), hi32(a[2], a[3])];
            let d = [lo32(b[0], b[1]), hi32(b[0], b[1]), lo32(b[2], b[3]), hi32(b[2], b[3])];
            [
                lo64(c[0], c[2]),
                hi64(c[0], c[2]),
                lo64(c[1], c[3]),
                hi64(c[1], c[3]),
                lo64(d[0], d[2]),
                hi64(d[0], d[2]),
                lo64(d[1], d[3]),
                hi64(d[1], d[3]),
            ]
            .map(Vector)
        }
    }
}

/// The lanes the transform runs on.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
type Fastest = vector::Vector;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
type Fastest = Scalar;

/// One pass of the transform over eight columns side by side (a lane
/// each): `d[r]` is row `r` in, row `r` out.
#[inline(always)]
fn pass<L: Lanes>(d: [L; 8]) -> [L; 8] {
    use q15::*;
    // Even part.
    let (p2, p3) = (d[2], d[6]);
    let p1 = p2.add(p3).mul_q15(R0_541);
    let t2 = p1.sub(p3).sub(p3.mul_q15(R0_847));
    let t3 = p1.add(p2.mul_q15(R0_765));
    let (t0, t1) = (d[0].add(d[4]), d[0].sub(d[4]));
    let (x0, x3, x1, x2) = (t0.add(t3), t0.sub(t3), t1.add(t2), t1.sub(t2));
    // Odd part.
    let (t0, t1, t2, t3) = (d[7], d[5], d[3], d[1]);
    let (p3, p4, p1, p2) = (t0.add(t2), t1.add(t3), t0.add(t3), t1.add(t2));
    let p5 = p3.add(p4);
    let p5 = p5.add(p5.mul_q15(R0_175));
    let t0 = t0.mul_q15(R0_298);
    let t1 = t1.add(t1).add(t1.mul_q15(R0_053));
    let t2 = t2.add(t2.add(t2)).add(t2.mul_q15(R0_072));
    let t3 = t3.add(t3.mul_q15(R0_501));
    let p1 = p5.sub(p1.mul_q15(R0_899));
    let p2 = p5.sub(p2).sub(p2).sub(p2.mul_q15(R0_562));
    let p3 = p3.mul_q15(M0_961).sub(p3);
    let p4 = p4.mul_q15(M0_390);
    let t3 = p1.add(p4).add(t3);
    let t2 = p2.add(p3).add(t2);
    let t1 = p2.add(p4).add(t1);
    let t0 = p1.add(p3).add(t0);
    [x0.add(t3), x1.add(t2), x2.add(t1), x3.add(t0), x3.sub(t0), x2.sub(t1), x1.sub(t2), x0.sub(t3)]
}

/// 8×8 pixels from a block's dequantised coefficients `c` (row-major),
/// written at `out[row * stride..][..8]`.
pub(super) fn idct_8x8(c: &[i32; 64], out: &mut [u8], stride: usize) {
    transform::<Fastest>(c, out, stride);
}

#[inline(always)]
fn transform<L: Lanes>(c: &[i32; 64], out: &mut [u8], stride: usize) {
    let rows: [L; 8] = std::array::from_fn(|r| L::load(c, r, SHIFT));
    let done = L::transpose(pass(L::transpose(pass(rows))));
    // Both passes scale by √8 each: three more bits to drop; and the
    // samples are centred on 128.
    const FINAL: u32 = SHIFT + 3;
    const BIAS: i16 = (128 << FINAL) + (1 << (FINAL - 1));
    for (r, row) in done.into_iter().enumerate() {
        row.store(BIAS, FINAL, &mut out[r * stride..]);
    }
}

/// Pseudo-random blocks: sparse ones like a photo's, dense ones, and
/// large ones whose sums saturate (within what a baseline JPEG codes:
/// DC ±2047, AC ±1023).
#[cfg(any(test, feature = "test-hooks"))]
fn test_blocks() -> impl Iterator<Item = [i32; 64]> {
    let mut seed = 0x2545_F491u32;
    (0..4_000).map(move |i| {
        let mut c = [0i32; 64];
        for (j, v) in c.iter_mut().enumerate() {
            let random = super::xorshift(&mut seed);
            let range: i32 = match i % 4 {
                0 if j > 0 => 0,
                0 => 2047,
                1 => 1023 >> (j / 8),
                2 => 1023,
                _ => (1023 >> (j / 6)).max(1),
            };
            *v = (random % (2 * range as u32 + 1)) as i32 - range;
        }
        c
    })
}

/// The transform the build uses against the plain-array one, block by
/// block: on wasm simd128 the first is the vector code, which native tests
/// cannot run, so the Worker's test build runs this there (`GET
/// /api/__test/simd`). The blocks compared, or the first that differs.
#[cfg(feature = "test-hooks")]
pub(crate) fn idct_self_check() -> Result<usize, String> {
    let mut compared = 0;
    for c in test_blocks() {
        let (mut got, mut want) = ([0u8; 64], [0u8; 64]);
        idct_8x8(&c, &mut got, 8);
        transform::<Scalar>(&c, &mut want, 8);
        if got != want {
            return Err(format!("coefficients {c:?}: {got:?}, plain arrays {want:?}"));
        }
        compared += 1;
    }
    Ok(compared)
}

#[cfg(test)]
mod tests {
    use super::idct_8x8;
    use std::io::Cursor;

    use super::super::idct::UNZIGZAG;

    #[test]
    fn matches_jpeg_decoders_full_size_transform() {
        // jpeg-decoder's SIMD transform (its scalar one, without SSSE3,
        // rounds differently) is the one the Worker's wasm build has.
        if !std::is_x86_feature_detected!("ssse3") {
            return;
        }
        for (i, c) in super::test_blocks().enumerate() {
            let mut got = [0u8; 64];
            idct_8x8(&c, &mut got, 8);
            assert_eq!(got, reference(&c), "block {i}: {c:?}");
        }
    }

    /// jpeg-decoder's pixels for coefficients `c` (row-major): a one-block
    /// grayscale JPEG with a quantisation table of ones.
    fn reference(c: &[i32; 64]) -> [u8; 64] {
        let mut d = jpeg_decoder::Decoder::new(Cursor::new(one_block_jpeg(c)));
        let px = d.decode().expect("jpeg-decoder decodes the block");
        px.try_into().expect("64 samples")
    }

    /// Baseline, 8×8, one component, unit quantisation; Huffman tables in
    /// which every DC size has a 4-bit code and every AC (run, size) an
    /// 8-bit one. DC up to ±2047, AC up to ±1023.
    fn one_block_jpeg(c: &[i32; 64]) -> Vec<u8> {
        let ac_symbols: Vec<u8> =
            [0x00, 0xF0].into_iter().chain((0..16u8).flat_map(|r| (1..=10u8).map(move |s| r << 4 | s))).collect();
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xDB, 0, 67, 0];
        out.extend([1u8; 64]);
        out.extend([0xFF, 0xC0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
        let table = |out: &mut Vec<u8>, class_id: u8, len: usize, symbols: &[u8]| {
            let mut counts = [0u8; 16];
            counts[len - 1] = symbols.len() as u8;
            out.extend([0xFF, 0xC4]);
            out.extend(((2 + 1 + 16 + symbols.len()) as u16).to_be_bytes());
            out.push(class_id);
            out.extend(counts);
            out.extend(symbols);
        };
        table(&mut out, 0x00, 4, &(0..12).collect::<Vec<u8>>());
        table(&mut out, 0x10, 8, &ac_symbols);
        out.extend([0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0]);
        // Entropy-coded data, MSB first.
        let mut bits: Vec<bool> = Vec::new();
        let mut put = |value: u32, n: u32| bits.extend((0..n).rev().map(|i| value >> i & 1 == 1));
        let category = |v: i32| 32 - v.unsigned_abs().leading_zeros();
        let magnitude = |v: i32, size: u32| if v < 0 { (v - 1) as u32 & ((1 << size) - 1) } else { v as u32 };
        let code = |symbol: u8| ac_symbols.iter().position(|&s| s == symbol).unwrap() as u32;
        let dc = c[0];
        put(category(dc), 4);
        put(magnitude(dc, category(dc)), category(dc));
        let mut run = 0;
        for &natural in &UNZIGZAG[1..] {
            let v = c[natural];
            if v == 0 {
                run += 1;
                continue;
            }
            while run > 15 {
                put(code(0xF0), 8);
                run -= 16;
            }
            let size = category(v);
            put(code((run << 4 | size) as u8), 8);
            put(magnitude(v, size), size);
            run = 0;
        }
        if run > 0 {
            put(code(0x00), 8);
        }
        while !bits.len().is_multiple_of(8) {
            bits.push(true);
        }
        for byte in bits.chunks(8).map(|b| b.iter().fold(0u8, |a, &bit| a << 1 | u8::from(bit))) {
            out.push(byte);
            if byte == 0xFF {
                out.push(0);
            }
        }
        out.extend([0xFF, 0xD9]);
        out
    }
}
