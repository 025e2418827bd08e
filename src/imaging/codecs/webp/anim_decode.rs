//! Animated WebP input: libwebp's `WebPAnimDecoder`, which composites
//! each frame on the canvas as browsers do (blending, disposal, offsets)
//! and hands back the whole canvas, one shown picture at a time. Its
//! memory comes from the same allocator as everything else (on the Worker
//! the capped heap, through the libc shim).

use libwebp_sys as sys;

use crate::imaging::colour::Layout;
use crate::imaging::decoding::{damaged, feed_buffer, out_of_memory, shown_ms, Frames, Plan};
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::resize::Region;

const F: SourceFormat = SourceFormat::Webp;

/// The decoder over a file's bytes, deleted on every path.
pub(super) struct WebpFrames<'a, 'p> {
    decoder: *mut sys::WebPAnimDecoder,
    info: sys::WebPAnimInfo,
    plan: Plan<'p>,
    /// Work units of one frame (charged before it is decoded).
    frame_units: u64,
    /// Where the last frame ended (ms).
    last_timestamp: i32,
    /// The file's ICC profile, applied to every frame.
    icc: Option<&'a [u8]>,
}

impl<'a, 'p> WebpFrames<'a, 'p> {
    /// Opens the animation (`icc`: its ICCP chunk's data); `frame_units`
    /// is what one frame's decode is charged.
    pub(super) fn new(
        bytes: &'a [u8],
        icc: Option<&'a [u8]>,
        plan: Plan<'p>,
        frame_units: u64,
    ) -> Result<Self, ImageError> {
        // SAFETY: the options struct is plain C data; the init fills it in.
        let mut options: sys::WebPAnimDecoderOptions = unsafe { core::mem::zeroed() };
        // SAFETY: `options` is live, of the type the function fills.
        if unsafe { sys::WebPAnimDecoderOptionsInit(&mut options) } == 0 {
            return Err(damaged(F, "libwebp version mismatch"));
        }
        options.color_mode = sys::WEBP_CSP_MODE::MODE_RGBA;
        options.use_threads = 0;
        let data = sys::WebPData { bytes: bytes.as_ptr(), size: bytes.len() };
        // SAFETY: `data` points at `bytes`, which outlive the decoder (the
        // lifetime `'a` ties them); libwebp only reads them.
        let decoder = unsafe { sys::WebPAnimDecoderNew(&data, &options) };
        if decoder.is_null() {
            return Err(damaged(F, "libwebp could not read the animation"));
        }
        let mut frames =
            WebpFrames { decoder, info: sys::WebPAnimInfo::default(), plan, frame_units, last_timestamp: 0, icc };
        // SAFETY: the decoder is live; `info` is a struct it fills.
        if unsafe { sys::WebPAnimDecoderGetInfo(frames.decoder, &mut frames.info) } == 0 {
            return Err(damaged(F, "no animation info"));
        }
        if (frames.info.canvas_width, frames.info.canvas_height) != (plan.width, plan.height) {
            return Err(damaged(F, "the animation's canvas differs from the image's size"));
        }
        Ok(frames)
    }
}

impl Frames for WebpFrames<'_, '_> {
    fn loop_count(&self) -> u32 {
        self.info.loop_count
    }

    fn next_frame(&mut self) -> Result<Option<(Region, u32)>, ImageError> {
        // SAFETY: the decoder is live.
        if unsafe { sys::WebPAnimDecoderHasMoreFrames(self.decoder) } == 0 {
            return Ok(None);
        }
        self.plan.charge(F, self.frame_units, self.plan.work.spent() + self.frame_units)?;
        let mut canvas: *mut u8 = core::ptr::null_mut();
        let mut timestamp = 0;
        // SAFETY: the decoder is live; it points `canvas` at its own RGBA
        // canvas (valid until the next call or its deletion).
        if unsafe { sys::WebPAnimDecoderGetNext(self.decoder, &mut canvas, &mut timestamp) } == 0 || canvas.is_null() {
            return Err(damaged(F, "an animation frame could not be decoded (damaged, or out of memory)"));
        }
        let (w, h) = (self.info.canvas_width, self.info.canvas_height);
        let len = usize::try_from(u64::from(w) * u64::from(h) * 4).map_err(|_| out_of_memory(F, &self.plan))?;
        // SAFETY: libwebp's canvas is `w`×`h` RGBA, non-null (checked),
        // alive until the next GetNext, and only read here.
        let pixels = unsafe { core::slice::from_raw_parts(canvas, len) };
        let collector = self.plan.collector(w, h, Layout::Rgba, self.icc);
        let region = feed_buffer(collector, pixels, w, Layout::Rgba, F, &self.plan)?;
        let duration = u32::try_from(timestamp.saturating_sub(self.last_timestamp)).unwrap_or(0);
        self.last_timestamp = timestamp;
        Ok(Some((region, shown_ms(duration))))
    }
}

impl Drop for WebpFrames<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: created by WebPAnimDecoderNew, deleted once, here.
        unsafe { sys::WebPAnimDecoderDelete(self.decoder) };
    }
}
