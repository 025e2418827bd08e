//! Colour: decoded samples in the file's colour space → sRGB, row by row.
//!
//! An embedded ICC profile (Display P3, Adobe RGB, a CMYK press profile, a
//! grey profile) is honoured with `moxcms` (pure Rust, already a dependency
//! of `image`, so it costs no extra build time). A profile that is missing,
//! too large or unparsable, or that does not match the pixel layout, falls
//! back to treating the samples as sRGB: a broken profile must not lose the
//! photo.

use std::sync::Arc;

use moxcms::{ColorProfile, DataColorSpace, Layout as CmsLayout, TransformExecutor, TransformOptions};

use super::limits::MAX_ICC_BYTES;

/// Sample layout of decoded rows (8 bits per sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Gray,
    GrayAlpha,
    Rgb,
    Rgba,
    /// Device CMYK with 0 = no ink (the JPEG decoder already undid Adobe's
    /// inverted storage).
    Cmyk,
}

impl Layout {
    pub fn channels(self) -> usize {
        match self {
            Layout::Gray => 1,
            Layout::GrayAlpha => 2,
            Layout::Rgb => 3,
            Layout::Rgba | Layout::Cmyk => 4,
        }
    }
    pub fn has_alpha(self) -> bool {
        matches!(self, Layout::GrayAlpha | Layout::Rgba)
    }
    /// Channels after conversion: RGB, or RGBA when there is alpha.
    pub fn out_channels(self) -> usize {
        if self.has_alpha() {
            4
        } else {
            3
        }
    }
}

type Transform = Arc<dyn TransformExecutor<u8> + Send + Sync>;

/// Converts rows of one layout/profile to sRGB RGB8 or RGBA8.
pub struct ColourConverter {
    layout: Layout,
    transform: Option<Transform>,
}

impl ColourConverter {
    /// Builds the converter; never fails (see module docs for fallbacks).
    pub fn new(layout: Layout, icc: Option<&[u8]>) -> Self {
        let transform = icc.and_then(|p| build_transform(layout, p));
        ColourConverter { layout, transform }
    }

    /// The converter for samples in `profile`, a profile built rather than
    /// read (an AVIF/HEIC file's CICP primaries, `codecs::phone`).
    pub fn with_profile(layout: Layout, profile: &ColorProfile) -> Self {
        ColourConverter { layout, transform: transform_from(layout, profile) }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The rows are sRGB RGB8 or RGBA8 already: [`Self::convert`] would
    /// copy them unchanged, so a caller may read them in place.
    pub fn is_identity(&self) -> bool {
        self.transform.is_none() && matches!(self.layout, Layout::Rgb | Layout::Rgba)
    }

    /// Converts `src` (whole pixels of `self.layout`) into `dst` (the same
    /// number of pixels, [`Layout::out_channels`] each).
    pub fn convert(&self, src: &[u8], dst: &mut [u8]) {
        if let Some(t) = &self.transform {
            if t.transform(src, dst).is_ok() {
                return;
            }
            // A transform that refuses the buffer: fall through to the
            // profile-less conversion rather than failing the upload.
        }
        naive(self.layout, src, dst);
    }
}

fn build_transform(layout: Layout, icc: &[u8]) -> Option<Transform> {
    if icc.len() > MAX_ICC_BYTES || icc.is_empty() {
        return None;
    }
    transform_from(layout, &ColorProfile::new_from_slice(icc).ok()?)
}

fn transform_from(layout: Layout, src: &ColorProfile) -> Option<Transform> {
    let srgb = ColorProfile::new_srgb();
    let (src_layout, dst_layout) = match (layout, src.color_space) {
        (Layout::Rgb, DataColorSpace::Rgb) => (CmsLayout::Rgb, CmsLayout::Rgb),
        (Layout::Rgba, DataColorSpace::Rgb) => (CmsLayout::Rgba, CmsLayout::Rgba),
        (Layout::Gray, DataColorSpace::Gray) => (CmsLayout::Gray, CmsLayout::Rgb),
        (Layout::GrayAlpha, DataColorSpace::Gray) => (CmsLayout::GrayAlpha, CmsLayout::Rgba),
        // moxcms takes 4-channel CMYK through the 4-channel layout.
        (Layout::Cmyk, DataColorSpace::Cmyk) => (CmsLayout::Rgba, CmsLayout::Rgb),
        _ => return None,
    };
    src.create_transform_8bit(src_layout, &srgb, dst_layout, TransformOptions::default()).ok()
}

/// Profile-less conversion: samples are taken as sRGB already; CMYK uses the
/// textbook formula R = (1 − C)(1 − K).
fn naive(layout: Layout, src: &[u8], dst: &mut [u8]) {
    let out = layout.out_channels();
    let pixels = src.chunks_exact(layout.channels()).zip(dst.chunks_exact_mut(out));
    match layout {
        Layout::Gray => pixels.for_each(|(s, d)| d.fill(s[0])),
        Layout::GrayAlpha => pixels.for_each(|(s, d)| {
            d[..3].fill(s[0]);
            d[3] = s[1];
        }),
        Layout::Rgb | Layout::Rgba => {
            let n = src.len().min(dst.len());
            dst[..n].copy_from_slice(&src[..n]);
        }
        Layout::Cmyk => pixels.for_each(|(s, d)| {
            let k = 255 - u32::from(s[3]);
            for i in 0..3 {
                d[i] = ((255 - u32::from(s[i])) * k / 255) as u8;
            }
        }),
    }
}
