//! Animated WebP output: libwebp's `WebPAnimEncoder` (the one `gif2webp`
//! and `img2webp` use), fed one finished avatar frame at a time, so only
//! the encoder's own state and the frame at hand are in memory.

use core::ffi::c_int;
use libwebp_sys as sys;

use super::encode::{lossy_config, MAX_DIMENSION};

/// An animation being encoded: square frames of `size` px, lossy at
/// `quality` (alpha kept, as for stills).
pub(crate) struct AnimEncoder {
    encoder: *mut sys::WebPAnimEncoder,
    config: sys::WebPConfig,
    size: u32,
    /// Where the next frame starts, ms from the animation's start.
    timestamp: i32,
}

impl AnimEncoder {
    /// An encoder whose animation plays `loop_count` times (0: forever).
    pub(crate) fn new(size: u32, loop_count: u32, quality: u8) -> Result<Self, String> {
        if !(1..=MAX_DIMENSION).contains(&size) || !(1..=100).contains(&quality) {
            return Err(format!("webp animation: size {size} or quality {quality} out of range"));
        }
        let config = lossy_config(quality)?;
        // SAFETY: the options struct is plain C data for which all zeroes is
        // valid; libwebp's init fills it in (checking the ABI version).
        let mut options: sys::WebPAnimEncoderOptions = unsafe { core::mem::zeroed() };
        // SAFETY: `options` is a live struct of the type the function fills.
        let ok = unsafe { sys::WebPAnimEncoderOptionsInitInternal(&mut options, sys::WEBP_MUX_ABI_VERSION as c_int) };
        if ok == 0 {
            return Err("webp animation: libwebp version mismatch".into());
        }
        // libwebp holds at most 65,535 (0 is forever).
        options.anim_params.loop_count = c_int::try_from(loop_count.min(65_535)).unwrap_or(0);
        // Transparent black behind the frames, as browsers composite.
        options.anim_params.bgcolor = 0;
        // SAFETY: the options were initialised above; the size is in range.
        let encoder = unsafe {
            sys::WebPAnimEncoderNewInternal(size as c_int, size as c_int, &options, sys::WEBP_MUX_ABI_VERSION as c_int)
        };
        if encoder.is_null() {
            return Err("webp animation: the encoder could not be created (out of memory?)".into());
        }
        Ok(AnimEncoder { encoder, config, size, timestamp: 0 })
    }

    /// Adds a frame (`size`² RGBA8) shown for `duration_ms`.
    pub(crate) fn add(&mut self, rgba: &[u8], duration_ms: u32) -> Result<(), String> {
        let stride = self.size as usize * 4;
        if rgba.len() != stride * self.size as usize {
            return Err(format!(
                "webp animation: frame of {} bytes, expected {}",
                rgba.len(),
                stride * self.size as usize
            ));
        }
        let mut picture = Picture(sys::WebPPicture::new().map_err(|_| "webp: libwebp version mismatch".to_string())?);
        picture.0.width = self.size as c_int;
        picture.0.height = self.size as c_int;
        // The animation encoder works on ARGB canvases.
        picture.0.use_argb = 1;
        // SAFETY: `rgba` holds `size` rows of `stride` bytes (checked) and
        // outlives the call, which copies them into the picture.
        if unsafe { sys::WebPPictureImportRGBA(&mut picture.0, rgba.as_ptr(), stride as c_int) } == 0 {
            return Err("webp animation: importing a frame failed (out of memory?)".into());
        }
        // SAFETY: the encoder is live; the picture holds the frame; the
        // configuration was validated.
        if unsafe { sys::WebPAnimEncoderAdd(self.encoder, &mut picture.0, self.timestamp, &self.config) } == 0 {
            return Err(format!("webp animation: adding a frame failed ({})", self.error()));
        }
        let duration = i32::try_from(duration_ms).unwrap_or(i32::MAX);
        self.timestamp = self.timestamp.saturating_add(duration);
        Ok(())
    }

    /// The finished file.
    pub(crate) fn finish(self) -> Result<Vec<u8>, String> {
        // SAFETY: a null frame tells the live encoder the last frame's end.
        if unsafe { sys::WebPAnimEncoderAdd(self.encoder, core::ptr::null_mut(), self.timestamp, &self.config) } == 0 {
            return Err(format!("webp animation: closing failed ({})", self.error()));
        }
        let mut data = sys::WebPData::default();
        // SAFETY: the encoder is live; libwebp fills `data` with a buffer
        // it allocated, freed below by WebPDataClear.
        if unsafe { sys::WebPAnimEncoderAssemble(self.encoder, &mut data) } == 0 || data.bytes.is_null() {
            return Err(format!("webp animation: assembling failed ({})", self.error()));
        }
        // SAFETY: after a successful assemble `data.bytes` (checked
        // non-null) holds `data.size` bytes, read before they are freed.
        let out = unsafe { core::slice::from_raw_parts(data.bytes, data.size) }.to_vec();
        // SAFETY: `data` holds libwebp's buffer, freed once, here.
        unsafe { sys::WebPDataClear(&mut data) };
        Ok(out)
    }

    fn error(&self) -> String {
        // SAFETY: the encoder is live; the string it returns is
        // NUL-terminated and lives as long as the encoder.
        let text = unsafe { sys::WebPAnimEncoderGetError(self.encoder) };
        if text.is_null() {
            return String::new();
        }
        // SAFETY: as above, non-null.
        unsafe { core::ffi::CStr::from_ptr(text) }.to_string_lossy().into_owned()
    }
}

impl Drop for AnimEncoder {
    fn drop(&mut self) {
        // SAFETY: created by WebPAnimEncoderNewInternal, deleted once, here.
        unsafe { sys::WebPAnimEncoderDelete(self.encoder) };
    }
}

/// A picture freed on every path.
struct Picture(sys::WebPPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: initialised by WebPPicture::new; freed once, here.
        unsafe { sys::WebPPictureFree(&mut self.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(webp: &[u8]) -> Vec<[u8; 4]> {
        let mut out = Vec::new();
        let mut pos = 12;
        while pos + 8 <= webp.len() {
            let len = u32::from_le_bytes(webp[pos + 4..pos + 8].try_into().unwrap()) as usize;
            out.push(webp[pos..pos + 4].try_into().unwrap());
            pos += 8 + len + (len & 1);
        }
        out
    }

    #[test]
    fn frames_timing_and_loops_are_kept() {
        let size = 16;
        let mut enc = AnimEncoder::new(size, 3, 80).unwrap();
        for (i, ms) in [(0u8, 100u32), (255, 250), (0, 40)] {
            let mut px = vec![0u8; (size * size * 4) as usize];
            px.chunks_exact_mut(4).for_each(|p| p.copy_from_slice(&[i, 255 - i, 0, 255]));
            enc.add(&px, ms).unwrap();
        }
        let out = enc.finish().unwrap();
        let c = chunks(&out);
        assert_eq!(c.first(), Some(b"VP8X"));
        assert!(c.contains(b"ANIM"));
        assert_eq!(c.iter().filter(|n| *n == b"ANMF").count(), 3, "{c:?}");
        let anim = out.windows(4).position(|w| w == b"ANIM").unwrap();
        assert_eq!(u16::from_le_bytes([out[anim + 12], out[anim + 13]]), 3, "loop count");
        // image-webp reads it back as an animation of three frames with the durations.
        use image::AnimationDecoder;
        let dec = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&out)).unwrap();
        let frames = dec.into_frames().collect_frames().unwrap();
        let delays: Vec<u32> = frames.iter().map(|f| f.delay().numer_denom_ms().0).collect();
        assert_eq!(delays, [100, 250, 40]);
    }

    #[test]
    fn a_wrong_frame_is_an_error() {
        let mut enc = AnimEncoder::new(8, 0, 80).unwrap();
        assert!(enc.add(&[0; 10], 100).is_err());
        assert!(AnimEncoder::new(0, 0, 80).is_err());
    }
}
