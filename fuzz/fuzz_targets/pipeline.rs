//! The image pipeline's entry: bytes → avatar or error, never a panic, a
//! hang or an out-of-memory.
//!
//! Input layout:
//! * starts with the first byte of an accepted format's magic (`FF` JPEG,
//!   `89` PNG, `G` GIF, `R` RIFF/WebP, `B` BMP): the whole input is the
//!   upload; centre crop, WebP output (the Worker's default).
//! * anything else: a 10-byte parameter block, then the upload:
//!   `[mode, size, x, x, y, y, w, w, h, h]` — `mode % 3` picks WebP / JPEG /
//!   PNG, bit 2 of `mode` sends the crop box (four little-endian u16),
//!   bits 3..7 pick the quality, `size % 64 + 1` the avatar edge, bit 6 of
//!   `size` the resize space (set: linear light).
//!
//! Options are small (≤ 64 px avatar, 4 MP source limit) so no legal input
//! can take long; a `-timeout` or `-rss_limit_mb` report is a finding.
#![no_main]

use avatar_edge::imaging::{process, Animation, CropBox, ImageError, Options, OutputFormat, ResizeSpace};
use libfuzzer_sys::fuzz_target;

const MAX_PIXELS: u64 = 4_000_000;

fuzz_target!(|data: &[u8]| {
    let Some(&first) = data.first() else {
        assert_eq!(process(data, None, &opts(OutputFormat::Webp, 64, 85, ResizeSpace::Srgb)), Err(ImageError::Empty));
        return;
    };
    let (bytes, crop, o) = if matches!(first, 0xFF | 0x89 | b'G' | b'R' | b'B') {
        (data, None, opts(OutputFormat::Webp, 64, 85, ResizeSpace::Srgb))
    } else {
        let Some((p, rest)) = data.split_first_chunk::<10>() else { return };
        let format = [OutputFormat::Webp, OutputFormat::Jpeg, OutputFormat::Png][usize::from(p[0] % 3)];
        let quality = 1 + (p[0] >> 3) * 3; // 1..=94
        let size = u32::from(p[1] % 64) + 1;
        let space = if p[1] & 64 != 0 { ResizeSpace::Linear } else { ResizeSpace::Srgb };
        let u = |i: usize| u32::from(u16::from_le_bytes([p[i], p[i + 1]]));
        let crop = (p[0] & 4 != 0).then(|| CropBox { x: u(2), y: u(4), w: u(6), h: u(8) });
        (rest, crop, opts(format, size, quality, space))
    };
    match process(bytes, crop, &o) {
        Ok(a) => {
            assert_eq!(a.format, o.format);
            assert!(!a.bytes.is_empty());
            assert!(a.width > 0 && a.height > 0);
            assert!(u64::from(a.width) * u64::from(a.height) <= MAX_PIXELS);
            assert!(!(a.has_alpha && o.format == OutputFormat::Jpeg));
            if let Some(c) = crop {
                assert!(c.w > 0 && c.h > 0 && c.x + c.w <= a.width && c.y + c.h <= a.height, "{c:?} {a:?}");
            }
            // The output is a well-formed size×size image of the asked format.
            let img = image::load_from_memory(&a.bytes).expect("our own output decodes");
            assert_eq!((img.width(), img.height()), (o.size, o.size));
        }
        Err(e) => {
            // Every error has a user-facing text (no panic in formatting).
            let _ = e.to_string();
            if let ImageError::Encode { detail, .. } = &e {
                panic!("encoder failed on a valid square: {detail}");
            }
        }
    }
});

fn opts(format: OutputFormat, size: u32, quality: u8, space: ResizeSpace) -> Options {
    Options {
        size,
        format,
        quality,
        max_pixels: MAX_PIXELS,
        held_bytes: 0,
        space,
        animation: Animation::Keep,
        heic: true,
    }
}
