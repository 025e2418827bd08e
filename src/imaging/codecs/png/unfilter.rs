//! PNG row unfiltering (filter method 0: None, Sub, Up, Average, Paeth),
//! from the inflated row into a separate output row.
//!
//! Sub, Average and Paeth depend on the pixel just decoded, so a row is a
//! chain through its pixels. On wasm simd128 the three- and four-byte
//! pixels (8-bit RGB and RGBA, nearly every photo) go through that chain
//! one pixel per vector, all channels at once; the rest, and the native
//! build, a pixel at a time with each channel in its own register.
//! Reading the filtered bytes from one buffer and writing another keeps a
//! pixel's four-byte store from overlapping the next pixel's load, which
//! would stall on store forwarding.

/// Undoes filter type `filter` (the row's first byte in the file) of the
/// row `input`, writing the pixels' bytes to `out`. `prev` is the row above
/// as unfiltered (all zeros for the first row), at least as long as
/// `input`; `bpp` the bytes per complete pixel, 1 or more, and `input`
/// whole pixels. `out` is at least as long as `input`; nothing after the
/// row is written. Returns the filter type back as an error when it is
/// not one of the five.
pub(super) fn unfilter(filter: u8, bpp: usize, prev: &[u8], input: &[u8], out: &mut [u8]) -> Result<(), u8> {
    let n = input.len();
    let prev = &prev[..n];
    match filter {
        0 => out[..n].copy_from_slice(input),
        1 => sub(bpp, input, out),
        2 => {
            for ((o, &x), &b) in out[..n].iter_mut().zip(input).zip(prev) {
                *o = x.wrapping_add(b);
            }
        }
        3 => average(bpp, prev, input, out),
        4 => paeth(bpp, prev, input, out),
        other => return Err(other),
    }
    Ok(())
}

fn sub(bpp: usize, input: &[u8], out: &mut [u8]) {
    let done = wide::sub(bpp, input, out);
    by_pixels(bpp, done, None, input, out, |x, left, _, _| x.wrapping_add(left));
}

fn average(bpp: usize, prev: &[u8], input: &[u8], out: &mut [u8]) {
    let done = wide::average(bpp, prev, input, out);
    by_pixels(bpp, done, Some(prev), input, out, |x, left, above, _| {
        x.wrapping_add(((u16::from(left) + u16::from(above)) >> 1) as u8)
    });
}

fn paeth(bpp: usize, prev: &[u8], input: &[u8], out: &mut [u8]) {
    let done = wide::paeth(bpp, prev, input, out);
    by_pixels(bpp, done, Some(prev), input, out, |x, left, above, above_left| {
        x.wrapping_add(paeth_predictor(left, above, above_left))
    });
}

/// Bytes `done..` of the row (`done` a whole number of pixels), each
/// `byte(filtered, left, above, above-left)`. The usual pixel sizes go a
/// pixel at a time, each channel's chain in its own register.
#[inline(always)]
fn by_pixels(
    bpp: usize,
    done: usize,
    prev: Option<&[u8]>,
    input: &[u8],
    out: &mut [u8],
    byte: impl Fn(u8, u8, u8, u8) -> u8,
) {
    match bpp {
        1 => pixels::<1>(done, prev, input, out, byte),
        2 => pixels::<2>(done, prev, input, out, byte),
        3 => pixels::<3>(done, prev, input, out, byte),
        4 => pixels::<4>(done, prev, input, out, byte),
        _ => {
            let above = |i: usize| prev.map_or(0, |p| p[i]);
            for i in done..input.len() {
                let (left, above_left) = if i >= bpp { (out[i - bpp], above(i - bpp)) } else { (0, 0) };
                out[i] = byte(input[i], left, above(i), above_left);
            }
        }
    }
}

#[inline(always)]
fn pixels<const B: usize>(
    done: usize,
    prev: Option<&[u8]>,
    input: &[u8],
    out: &mut [u8],
    byte: impl Fn(u8, u8, u8, u8) -> u8,
) {
    let n = input.len() / B * B;
    let (mut left, mut above_left) = ([0u8; B], [0u8; B]);
    if done >= B {
        left.copy_from_slice(&out[done - B..done]);
        if let Some(prev) = prev {
            above_left.copy_from_slice(&prev[done - B..done]);
        }
    }
    let above = prev.map(|p| &p[done..n]);
    let rows = input[done..n].chunks_exact(B).zip(out[done..n].chunks_exact_mut(B));
    for (i, (x, o)) in rows.enumerate() {
        let b: [u8; B] = match above {
            Some(above) => above[i * B..i * B + B].try_into().unwrap_or([0; B]),
            None => [0; B],
        };
        for k in 0..B {
            left[k] = byte(x[k], left[k], b[k], above_left[k]);
            o[k] = left[k];
        }
        above_left = b;
    }
}

/// The specification's Paeth predictor (a: left, b: above, c: above left)
/// in an equivalent form whose dependency on `a`, the byte just decoded,
/// is short: one subtraction before the comparisons.
#[inline(always)]
fn paeth_predictor(a: u8, b: u8, c: u8) -> u8 {
    let (a, b, c) = (i16::from(a), i16::from(b), i16::from(c));
    let threshold = 3 * c - (a + b);
    let (lo, hi) = (a.min(b), a.max(b));
    let low_or_c = if hi <= threshold { lo } else { c };
    (if threshold <= lo { hi } else { low_or_c }) as u8
}

/// Without simd128 nothing is done a pixel at a time: the byte loops
/// start at 0.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod wide {
    pub(super) fn sub(_: usize, _: &[u8], _: &mut [u8]) -> usize {
        0
    }
    pub(super) fn average(_: usize, _: &[u8], _: &[u8], _: &mut [u8]) -> usize {
        0
    }
    pub(super) fn paeth(_: usize, _: &[u8], _: &[u8], _: &mut [u8]) -> usize {
        0
    }
}

/// One pixel per vector for bpp 3 and 4. Each returns how many bytes of
/// the row it did (whole pixels from the start); the byte loops finish it.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wide {
    use core::arch::wasm32::*;

    /// Bytes done a pixel at a time. Every pixel is loaded and stored as
    /// four bytes (the last one of an RGB pixel belongs to the next), so
    /// the vectors stop at the last pixel whose four bytes fit in the row
    /// (for RGB, one before the row's last pixel), and nothing past the
    /// row is read or written. Zero unless `prev` and `out` are as long as
    /// `input`: the bounds the loops' `unsafe` relies on are checked here.
    fn span(bpp: usize, input: usize, prev: usize, out: usize) -> usize {
        if !(bpp == 3 || bpp == 4) || input < 4 || prev < input || out < input {
            return 0;
        }
        (input - 4) / bpp * bpp + bpp
    }

    /// The four bytes at `p`, zero-extended into a vector.
    ///
    /// # Safety
    /// `p` must have four readable bytes.
    #[inline(always)]
    unsafe fn load(p: *const u8) -> v128 {
        // SAFETY: the caller's promise.
        unsafe { v128_load32_zero(p.cast()) }
    }

    pub(super) fn sub(bpp: usize, input: &[u8], out: &mut [u8]) -> usize {
        let end = span(bpp, input.len(), input.len(), out.len());
        let (x, o) = (input.as_ptr(), out.as_mut_ptr());
        let mut left = u32x4_splat(0);
        let mut i = 0;
        while i < end {
            // SAFETY: i + 4 <= input.len() <= out.len() for every i < end (`span`).
            unsafe {
                left = u8x16_add(load(x.add(i)), left);
                v128_store32_lane::<0>(left, o.add(i).cast());
            }
            i += bpp;
        }
        end
    }

    pub(super) fn average(bpp: usize, prev: &[u8], input: &[u8], out: &mut [u8]) -> usize {
        let end = span(bpp, input.len(), prev.len(), out.len());
        let (x, q, o) = (input.as_ptr(), prev.as_ptr(), out.as_mut_ptr());
        let one = u8x16_splat(1);
        let mut left = u32x4_splat(0);
        let mut i = 0;
        while i < end {
            // SAFETY: i + 4 <= input.len() <= prev.len(), out.len() for every i < end (`span`).
            unsafe {
                let up = load(q.add(i));
                // (left + up) >> 1: the rounded-up average less the odd bit.
                let floor = u8x16_sub(u8x16_avgr(left, up), v128_and(v128_xor(left, up), one));
                left = u8x16_add(load(x.add(i)), floor);
                v128_store32_lane::<0>(left, o.add(i).cast());
            }
            i += bpp;
        }
        end
    }

    pub(super) fn paeth(bpp: usize, prev: &[u8], input: &[u8], out: &mut [u8]) -> usize {
        let end = span(bpp, input.len(), prev.len(), out.len());
        let (x, q, o) = (input.as_ptr(), prev.as_ptr(), out.as_mut_ptr());
        let (mut a, mut c) = (u16x8_splat(0), u16x8_splat(0));
        let mut i = 0;
        while i < end {
            // SAFETY: i + 4 <= input.len() <= prev.len(), out.len() for every i < end (`span`).
            unsafe {
                // `paeth_predictor`, lane by lane in 16 bits.
                let b = u16x8_extend_low_u8x16(load(q.add(i)));
                let threshold = i16x8_sub(i16x8_sub(i16x8_add(c, i16x8_add(c, c)), b), a);
                let (lo, hi) = (i16x8_min(a, b), i16x8_max(a, b));
                let low_or_c = v128_bitselect(lo, c, i16x8_le(hi, threshold));
                let predicted = v128_bitselect(hi, low_or_c, i16x8_le(threshold, lo));
                let pixel = u8x16_add(load(x.add(i)), u8x16_narrow_i16x8(predicted, predicted));
                v128_store32_lane::<0>(pixel, o.add(i).cast());
                a = u16x8_extend_low_u8x16(pixel);
                c = b;
            }
            i += bpp;
        }
        end
    }
}

/// Checks the pixel-at-a-time code against the byte loops it stands for,
/// for the test build inside workerd (native tests only run the byte
/// loops): Sub, Average and Paeth for three- and four-byte pixels, first
/// on three-pixel rows whose second pixel sees every (left, above,
/// above-left) triple in one of its lanes (an RGB row's last pixel is
/// never done four bytes at a time, hence the third), then on
/// pseudo-random rows of every length up to a few vectors. Returns the
/// number of rows compared.
#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
pub(crate) fn self_check() -> Result<usize, String> {
    let mut rows = 0;
    let mut check = |filter: u8, bpp: usize, prev: &[u8], input: &[u8]| -> Result<(), String> {
        // A marker after the row: the vectors must not store past it.
        let mut fast = [0xa5u8; 68];
        let mut slow = [0u8; 64];
        let n = input.len();
        unfilter(filter, bpp, prev, input, &mut fast[..n]).map_err(|f| format!("filter {f} refused"))?;
        by_bytes(filter, bpp, prev, input, &mut slow[..n]);
        rows += 1;
        if fast[n..].iter().any(|&b| b != 0xa5) {
            return Err(format!("filter {filter}, {bpp} bytes a pixel, {n}-byte row: bytes after the row written"));
        }
        if fast[..n] != slow[..n] {
            return Err(format!(
                "filter {filter}, {bpp} bytes a pixel, above {prev:?}, filtered {input:?}: {:?}, byte by byte {:?}",
                &fast[..n],
                &slow[..n]
            ));
        }
        Ok(())
    };
    for bpp in [3usize, 4] {
        let (mut prev, mut input) = ([0u8; 12], [0u8; 12]);
        for left in 0..=255u8 {
            for above in 0..=255u8 {
                for first_c in (0..256usize).step_by(bpp) {
                    for filter in [1u8, 3, 4] {
                        for lane in 0..bpp {
                            let c = ((first_c + lane) & 255) as u8;
                            prev[lane] = c;
                            prev[bpp + lane] = above;
                            // The first pixel (nothing on its left) must
                            // come out as `left`.
                            let first_predicted = match filter {
                                1 => 0,
                                3 => c >> 1,
                                _ => c,
                            };
                            input[lane] = left.wrapping_sub(first_predicted);
                            input[bpp + lane] = left ^ above;
                        }
                        check(filter, bpp, &prev[..3 * bpp], &input[..3 * bpp])?;
                    }
                }
            }
        }
        let mut state = 0x9e37_79b9u32;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        };
        for pixels in 0..=60 / bpp {
            let len = pixels * bpp;
            let prev: Vec<u8> = (0..len).map(|_| random()).collect();
            let input: Vec<u8> = (0..len).map(|_| random()).collect();
            for filter in 0..=4 {
                check(filter, bpp, &prev, &input)?;
            }
        }
    }
    Ok(rows)
}

/// The byte loops alone: what [`unfilter`] does without simd128.
fn by_bytes(filter: u8, bpp: usize, prev: &[u8], input: &[u8], out: &mut [u8]) {
    for i in 0..input.len() {
        let a = if i >= bpp { out[i - bpp] } else { 0 };
        let c = if i >= bpp { prev[i - bpp] } else { 0 };
        let predicted = match filter {
            1 => a,
            2 => prev[i],
            3 => ((u16::from(a) + u16::from(prev[i])) >> 1) as u8,
            4 => paeth_predictor(a, prev[i], c),
            _ => 0,
        };
        out[i] = input[i].wrapping_add(predicted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PNG specification's predictor, as written there.
    fn paeth_as_specified(a: u8, b: u8, c: u8) -> u8 {
        let p = i16::from(a) + i16::from(b) - i16::from(c);
        let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }

    #[test]
    fn paeth_predictor_is_the_specifications_for_every_triple() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in 0..=255u8 {
                    assert_eq!(paeth_predictor(a, b, c), paeth_as_specified(a, b, c), "a {a} b {b} c {c}");
                }
            }
        }
    }

    /// Filters `rows` (each `bpp`-byte pixels) with `filter` as an encoder
    /// does, from the specification.
    fn filter_rows(filter: u8, bpp: usize, rows: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut prev = vec![0u8; rows[0].len()];
        let mut out = Vec::new();
        for row in rows {
            let filtered = (0..row.len())
                .map(|i| {
                    let a = if i >= bpp { row[i - bpp] } else { 0 };
                    let c = if i >= bpp { prev[i - bpp] } else { 0 };
                    let b = prev[i];
                    let predicted = match filter {
                        0 => 0,
                        1 => a,
                        2 => b,
                        3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                        _ => paeth_as_specified(a, b, c),
                    };
                    row[i].wrapping_sub(predicted)
                })
                .collect();
            out.push(filtered);
            prev = row.clone();
        }
        out
    }

    #[test]
    fn every_filter_undoes_what_an_encoder_did() {
        let mut state = 12345u32;
        let mut random = move || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        };
        for bpp in 1..=8 {
            for pixels in [1usize, 2, 3, 7, 33] {
                let rows: Vec<Vec<u8>> = (0..4).map(|_| (0..pixels * bpp).map(|_| random()).collect()).collect();
                for filter in 0..=4 {
                    let filtered = filter_rows(filter, bpp, &rows);
                    let mut prev = vec![0u8; pixels * bpp];
                    for (want, input) in rows.iter().zip(&filtered) {
                        let mut out = vec![0u8; input.len() + 3];
                        unfilter(filter, bpp, &prev, input, &mut out).unwrap();
                        assert_eq!(&out[..input.len()], &want[..], "filter {filter}, bpp {bpp}, {pixels} px");
                        prev = want.clone();
                    }
                }
            }
        }
    }

    #[test]
    fn an_unknown_filter_type_is_named() {
        let mut out = [0u8; 6];
        assert_eq!(unfilter(5, 3, &[0; 3], &[1, 2, 3], &mut out), Err(5));
        assert_eq!(unfilter(255, 1, &[0; 3], &[1, 2, 3], &mut out), Err(255));
    }
}
