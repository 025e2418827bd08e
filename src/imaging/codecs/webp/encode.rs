//! Lossy WebP encoding with libwebp (the reference encoder, the one sharp
//! and `cwebp` use), through `libwebp-sys`, which compiles libwebp's C
//! sources with the `cc` crate.
//!
//! Why libwebp and not a pure-Rust encoder: `docs/webp-encoder.md` (fewer
//! bytes than `zenwebp` at equal SSIM/PSNR, faster, an MIT-compatible
//! licence). Natively it builds with the system `cc`; for
//! `wasm32-unknown-unknown` it needs clang + wasi-libc headers, set up by
//! `scripts/setup-webp-toolchain.sh` and wired in `.cargo/config.toml`.
//! The few libc functions libwebp calls that wasm32-unknown-unknown lacks
//! are provided in Rust by `libc_shim`.

use core::ffi::c_int;
use libwebp_sys as sys;

/// libwebp's `WEBP_MAX_DIMENSION`.
pub const MAX_DIMENSION: u32 = 16383;

/// Encodes tightly packed RGB8 (`has_alpha == false`) or RGBA8
/// (`has_alpha == true`) pixels as a lossy WebP.
///
/// `quality` is 1..=100 with libwebp's (`cwebp -q`) meaning; the rest of the
/// settings are libwebp's defaults (method 4, lossless alpha plane). The
/// output is a plain `RIFF/WEBP` file with a `VP8 ` chunk, and, when the
/// image has any pixel with alpha < 255, a `VP8X` header and an `ALPH`
/// chunk (a fully opaque RGBA input is written like RGB, as libwebp does).
/// No metadata is written. Errors (never panics) on bad input.
pub fn encode_lossy(pixels: &[u8], width: u32, height: u32, has_alpha: bool, quality: u8) -> Result<Vec<u8>, String> {
    if !(1..=MAX_DIMENSION).contains(&width) || !(1..=MAX_DIMENSION).contains(&height) {
        return Err(format!("webp: dimensions {width}x{height} out of range 1..={MAX_DIMENSION}"));
    }
    if !(1..=100).contains(&quality) {
        return Err(format!("webp: quality {quality} out of range 1..=100"));
    }
    let channels: usize = if has_alpha { 4 } else { 3 };
    // Both dimensions are <= 16383, so none of this can overflow, even on
    // 32-bit wasm (16383 * 16383 * 4 < 2^31).
    let stride = width as usize * channels;
    let expected = stride * height as usize;
    if pixels.len() != expected {
        return Err(format!(
            "webp: pixel buffer is {} bytes, expected {expected} ({width}x{height}x{channels})",
            pixels.len()
        ));
    }

    let config = lossy_config(quality)?;

    // Boxed so that `picture.custom_ptr` (pointing at `writer`) stays valid;
    // `Drop` frees both on every path.
    let mut job = Box::new(Job {
        picture: sys::WebPPicture::new().map_err(|_| "webp: libwebp version mismatch".to_string())?,
        // SAFETY: WebPMemoryWriter is a C struct of a pointer and sizes, for
        // which all zeroes is valid; it is initialised right below.
        writer: unsafe { core::mem::zeroed() },
    });
    // SAFETY: `job.writer` is a live WebPMemoryWriter, boxed so it does not move.
    unsafe { sys::WebPMemoryWriterInit(&mut job.writer) };
    job.picture.width = width as c_int;
    job.picture.height = height as c_int;
    job.picture.use_argb = 0; // import straight to YUV(A) 4:2:0, as cwebp does for lossy
    job.picture.writer = Some(sys::WebPMemoryWrite);
    job.picture.custom_ptr = (&mut job.writer as *mut sys::WebPMemoryWriter).cast();

    // SAFETY: `pixels` holds `height` rows of `stride` bytes (its length
    // was checked above) and outlives the call, which copies them into the
    // picture; `job.picture` is a live, initialised WebPPicture.
    let imported = unsafe {
        if has_alpha {
            sys::WebPPictureImportRGBA(&mut job.picture, pixels.as_ptr(), stride as c_int)
        } else {
            sys::WebPPictureImportRGB(&mut job.picture, pixels.as_ptr(), stride as c_int)
        }
    };
    if imported == 0 {
        return Err(format!("webp: importing pixels failed ({})", error_text(job.picture.error_code)));
    }
    // SAFETY: the configuration was validated; the picture holds the
    // imported pixels and writes through `custom_ptr` to `job.writer`,
    // which lives in the same box as long as the picture does.
    if unsafe { sys::WebPEncode(&config, &mut job.picture) } == 0 {
        return Err(format!("webp: encoding failed ({})", error_text(job.picture.error_code)));
    }
    if job.writer.mem.is_null() || job.writer.size < 12 {
        return Err("webp: encoder produced no output".into());
    }

    // SAFETY: after a successful encode, `mem` (checked non-null) holds
    // `size` bytes written by libwebp, owned by `job.writer` until it is
    // cleared when `job` drops, after this copy.
    let encoded = unsafe { core::slice::from_raw_parts(job.writer.mem, job.writer.size) };
    let mut out = Vec::new();
    out.try_reserve_exact(encoded.len()).map_err(|_| "webp: out of memory copying the output".to_string())?;
    out.extend_from_slice(encoded);
    Ok(out)
}

struct Job {
    picture: sys::WebPPicture,
    writer: sys::WebPMemoryWriter,
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: both were initialised by libwebp (WebPPicture::new,
        // WebPMemoryWriterInit) and are freed once, here; each accepts a
        // struct that holds nothing.
        unsafe {
            sys::WebPPictureFree(&mut self.picture);
            sys::WebPMemoryWriterClear(&mut self.writer);
        }
    }
}

fn error_text(code: sys::WebPEncodingError) -> &'static str {
    use sys::WebPEncodingError::*;
    match code {
        VP8_ENC_OK => "no error code",
        VP8_ENC_ERROR_OUT_OF_MEMORY => "out of memory",
        VP8_ENC_ERROR_BITSTREAM_OUT_OF_MEMORY => "out of memory flushing the bitstream",
        VP8_ENC_ERROR_NULL_PARAMETER => "null parameter",
        VP8_ENC_ERROR_INVALID_CONFIGURATION => "invalid configuration",
        VP8_ENC_ERROR_BAD_DIMENSION => "bad dimension",
        VP8_ENC_ERROR_PARTITION0_OVERFLOW => "partition 0 overflow (> 512 KiB)",
        VP8_ENC_ERROR_PARTITION_OVERFLOW => "partition overflow (> 16 MiB)",
        VP8_ENC_ERROR_BAD_WRITE => "error writing the output",
        VP8_ENC_ERROR_FILE_TOO_BIG => "file too big (> 4 GiB)",
        VP8_ENC_ERROR_USER_ABORT => "aborted",
        VP8_ENC_ERROR_LAST => "unknown error",
    }
}

/// The lossy encoder's settings at `quality`, shared by stills and
/// animations: libwebp's defaults (method 4), one thread.
pub(super) fn lossy_config(quality: u8) -> Result<sys::WebPConfig, String> {
    let mut config = sys::WebPConfig::new().map_err(|_| "webp: libwebp version mismatch".to_string())?;
    config.quality = f32::from(quality);
    config.method = 4;
    config.thread_level = 0;
    // SAFETY: `config` is a valid, initialised WebPConfig; libwebp only reads it.
    if unsafe { sys::WebPValidateConfig(&config) } == 0 {
        return Err("webp: invalid encoder configuration".into());
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth, photo-like test pattern: gradients plus a soft disc.
    fn pattern(w: u32, h: u32, alpha: bool) -> Vec<u8> {
        let mut v = Vec::with_capacity((w * h * 4) as usize);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
                let d = ((fx - 0.5).powi(2) + (fy - 0.5).powi(2)).sqrt();
                let r = (255.0 * fx) as u8;
                let g = (255.0 * fy) as u8;
                let b = if d < 0.3 { 200 } else { (80.0 + 100.0 * (fx * fy)) as u8 };
                v.extend_from_slice(&[r, g, b]);
                if alpha {
                    // Left quarter fully transparent, the rest opaque.
                    v.push(if x < w / 4 { 0 } else { 255 });
                }
            }
        }
        v
    }

    fn le32(b: &[u8]) -> usize {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    /// (fourcc, payload) of each top-level chunk; checks the RIFF sizes.
    fn chunks(webp: &[u8]) -> Vec<([u8; 4], &[u8])> {
        assert!(webp.len() >= 20);
        assert_eq!(&webp[0..4], b"RIFF");
        assert_eq!(le32(&webp[4..8]) + 8, webp.len(), "RIFF size");
        assert_eq!(&webp[8..12], b"WEBP");
        let mut out = Vec::new();
        let mut at = 12;
        while at < webp.len() {
            let fourcc: [u8; 4] = webp[at..at + 4].try_into().unwrap();
            let len = le32(&webp[at + 4..at + 8]);
            out.push((fourcc, &webp[at + 8..at + 8 + len]));
            at += 8 + len + (len & 1);
        }
        assert_eq!(at, webp.len());
        out
    }

    fn decode(webp: &[u8]) -> image::DynamicImage {
        image::load_from_memory_with_format(webp, image::ImageFormat::WebP).expect("decodes")
    }

    fn mean_abs_diff(a: &[u8], b: &[u8], channels: usize) -> f64 {
        let mut sum = 0u64;
        let mut n = 0u64;
        for (pa, pb) in a.chunks(channels).zip(b.chunks(channels)) {
            for c in 0..3 {
                sum += u64::from(pa[c].abs_diff(pb[c]));
                n += 1;
            }
        }
        sum as f64 / n as f64
    }

    #[test]
    fn rgb_is_lossy_vp8_and_round_trips() {
        let (w, h) = (96, 64);
        let px = pattern(w, h, false);
        let webp = encode_lossy(&px, w, h, false, 85).unwrap();
        assert_eq!(&webp[12..16], b"VP8 ", "simple lossy format, not VP8L/VP8X");
        let cs = chunks(&webp);
        assert_eq!(cs.len(), 1, "no metadata or extra chunks");
        let img = decode(&webp);
        assert_eq!((img.width(), img.height()), (w, h));
        assert!(!img.color().has_alpha());
        let rgb = img.to_rgb8();
        let mad = mean_abs_diff(&px, rgb.as_raw(), 3);
        assert!(mad < 4.0, "mean abs diff {mad}");
    }

    #[test]
    fn odd_and_tiny_sizes() {
        for (w, h) in [(1, 1), (1, 7), (17, 3), (33, 33)] {
            let px = pattern(w, h, false);
            let img = decode(&encode_lossy(&px, w, h, false, 75).unwrap());
            assert_eq!((img.width(), img.height()), (w, h));
            let pxa = pattern(w, h, true);
            let img = decode(&encode_lossy(&pxa, w, h, true, 75).unwrap());
            assert_eq!((img.width(), img.height()), (w, h));
        }
    }

    #[test]
    fn alpha_has_alph_chunk_and_keeps_transparency() {
        let (w, h) = (64, 48);
        let px = pattern(w, h, true);
        let webp = encode_lossy(&px, w, h, true, 80).unwrap();
        let cs = chunks(&webp);
        let names: Vec<&[u8; 4]> = cs.iter().map(|(n, _)| n).collect();
        assert_eq!(names, [b"VP8X", b"ALPH", b"VP8 "], "lossy with alpha, no metadata");
        let flags = cs[0].1[0];
        assert_ne!(flags & 0x10, 0, "VP8X alpha flag");
        assert_eq!(flags & !0x10, 0, "no ICC/EXIF/XMP/animation flags");
        let img = decode(&webp);
        assert_eq!((img.width(), img.height()), (w, h));
        let rgba = img.to_rgba8();
        for (i, (src, out)) in px.chunks(4).zip(rgba.as_raw().chunks(4)).enumerate() {
            // Alpha is stored losslessly by default.
            assert_eq!(src[3], out[3], "alpha at pixel {i}");
        }
        // Colour is compared on the opaque pixels only (libwebp may rewrite
        // the RGB of fully transparent pixels to compress better).
        let (mut sum, mut n) = (0u64, 0u64);
        for (src, out) in px.chunks(4).zip(rgba.as_raw().chunks(4)) {
            if src[3] == 255 {
                for c in 0..3 {
                    sum += u64::from(src[c].abs_diff(out[c]));
                    n += 1;
                }
            }
        }
        let mad = sum as f64 / n as f64;
        assert!(mad < 4.0, "mean abs diff on opaque pixels {mad}");
    }

    #[test]
    fn opaque_rgba_is_written_like_rgb() {
        let (w, h) = (32, 32);
        let rgb = pattern(w, h, false);
        let rgba: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
        let webp = encode_lossy(&rgba, w, h, true, 85).unwrap();
        assert_eq!(&webp[12..16], b"VP8 ");
        assert_eq!(webp, encode_lossy(&rgb, w, h, false, 85).unwrap());
    }

    #[test]
    fn higher_quality_means_more_bytes() {
        let (w, h) = (128, 128);
        let px = pattern(w, h, false);
        let sizes: Vec<usize> =
            [10u8, 50, 85, 100].iter().map(|&q| encode_lossy(&px, w, h, false, q).unwrap().len()).collect();
        assert!(sizes.windows(2).all(|s| s[0] < s[1]), "sizes by quality: {sizes:?}");
    }

    #[test]
    fn deterministic() {
        let px = pattern(40, 30, true);
        assert_eq!(encode_lossy(&px, 40, 30, true, 85), encode_lossy(&px, 40, 30, true, 85));
    }

    #[test]
    fn bad_input_is_an_error() {
        let px = pattern(8, 8, false);
        // Wrong lengths.
        assert!(encode_lossy(&px[..px.len() - 1], 8, 8, false, 85).is_err());
        assert!(encode_lossy(&[px.clone(), vec![0]].concat(), 8, 8, false, 85).is_err());
        assert!(encode_lossy(&px, 8, 8, true, 85).is_err(), "RGB buffer passed as RGBA");
        assert!(encode_lossy(&[], 0, 0, false, 85).is_err());
        // Dimensions.
        assert!(encode_lossy(&px, 0, 64, false, 85).is_err());
        assert!(encode_lossy(&px, 64, 0, false, 85).is_err());
        assert!(encode_lossy(&[0; 16384 * 3], 16384, 1, false, 85).is_err());
        assert!(encode_lossy(&[0; 3], u32::MAX, 1, false, 85).is_err());
        // Quality.
        assert!(encode_lossy(&px, 8, 8, false, 0).is_err());
        assert!(encode_lossy(&px, 8, 8, false, 101).is_err());
        assert!(encode_lossy(&px, 8, 8, false, 1).is_ok());
        assert!(encode_lossy(&px, 8, 8, false, 100).is_ok());
    }

    #[test]
    fn max_width_strip() {
        let w = MAX_DIMENSION;
        let px = vec![128u8; w as usize * 2 * 4];
        let img = decode(&encode_lossy(&px, w, 2, true, 50).unwrap());
        assert_eq!((img.width(), img.height()), (w, 2));
    }
}
