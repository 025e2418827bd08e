//! JFIF YCbCr → RGB as libjpeg(-turbo) computes it (`jdcolor.c`: 16-bit
//! fixed point, rounded), for both of our decoders.

const SCALE_BITS: u32 = 16;
const HALF: i32 = 1 << (SCALE_BITS - 1);
/// 1.402, 0.34414, 0.71414 and 1.772 in 16-bit fixed point.
const CR_R: i32 = 91_881;
const CB_G: i32 = 22_554;
const CR_G: i32 = 46_802;
const CB_B: i32 = 116_130;

/// One pixel.
#[inline(always)]
pub(super) fn ycc_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let y = i32::from(y) << SCALE_BITS;
    let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
    let r = (y + CR_R * cr + HALF) >> SCALE_BITS;
    let g = (y - CB_G * cb - CR_G * cr + HALF) >> SCALE_BITS;
    let b = (y + CB_B * cb + HALF) >> SCALE_BITS;
    [r.clamp(0, 255) as u8, g.clamp(0, 255) as u8, b.clamp(0, 255) as u8]
}

/// A row: `out` (3 bytes a pixel) from equally long planes' rows.
pub(super) fn ycc_row(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    for (((px, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        px.copy_from_slice(&ycc_to_rgb(y, cb, cr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_rounding_of_the_exact_transform() {
        for y in (0..=255u8).step_by(3) {
            for cb in (0..=255u8).step_by(5) {
                for cr in (0..=255u8).step_by(7) {
                    let (yf, cbf, crf) = (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
                    let exact = [yf + 1.402 * crf, yf - 0.344_136 * cbf - 0.714_136 * crf, yf + 1.772 * cbf];
                    let got = ycc_to_rgb(y, cb, cr);
                    for (g, e) in got.iter().zip(exact) {
                        let e = e.round().clamp(0.0, 255.0);
                        assert!((f64::from(*g) - e).abs() <= 1.0, "{y} {cb} {cr}: {got:?} vs {exact:?}");
                    }
                }
            }
        }
    }
}
