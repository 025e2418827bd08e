//! AVIF and HEIC, the formats phones write. The container is read here in
//! Rust ([`heif`]: size, grid, codec configuration, colour, orientation),
//! and every limit is checked on it before a decoder runs. The pictures
//! are decoded by C decoders compiled to two separate WebAssembly modules
//! (dav1d + libavif, libde265; `decoders/README.md`) that run inside the
//! Worker's own memory, in an arena allocated here under the heap ceiling
//! ([`ffi`]); they hand back the crop square's rectangle already averaged
//! down to the scale the avatar needs, which goes to the collector like
//! any decoder's rows. The decisions (scale, memory, work, orientation,
//! colour) are in [`plan`].
//!
//! Natively (`cargo test`) there are no decoder modules: the container,
//! the decisions and the ABI are tested here, the decodes in workerd
//! (tests/integration/phone*.test.mjs).

// Natively only the structs and checks are used (by the tests): the call
// itself is the Worker's.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod ffi;
pub(crate) mod heif;
mod plan;
#[cfg(test)]
mod tests;

use self::ffi::{Request, Status};
use self::heif::{HeifError, HeifHeader, PhoneKind};
use crate::imaging::colour::{ColourConverter, Layout};
use crate::imaging::decoding::{damaged, Header, Image, Plan};
use crate::imaging::error::{ImageError, Variant};
use crate::imaging::format::SourceFormat;
use crate::imaging::limits::{too_much_memory, MAX_ICC_BYTES};
use crate::imaging::resize::{Collector, Region, RegionSpec};
use crate::imaging::work::per_byte;

/// An opened AVIF or HEIC file: its container read, nothing decoded.
pub(crate) struct Phone<'a> {
    bytes: &'a [u8],
    format: SourceFormat,
    kind: PhoneKind,
    heif: HeifHeader,
    header: Header,
}

impl<'a> Phone<'a> {
    /// Reads the container of a sniffed AVIF or HEIC file.
    pub(crate) fn open(bytes: &'a [u8], format: SourceFormat) -> Result<Self, ImageError> {
        let kind = if format == SourceFormat::Avif { PhoneKind::Avif } else { PhoneKind::Heic };
        let heif = heif::read(bytes, kind).map_err(|e| match e {
            HeifError::Damaged(detail) => damaged(format, detail),
            HeifError::Unsupported(variant) => ImageError::UnsupportedVariant { format, variant },
        })?;
        let header =
            Header { width: heif.width, height: heif.height, orientation: plan::orientation(&heif.transforms) };
        Ok(Phone { bytes, format, kind, heif, header })
    }

    /// The refusal for a decode that ended in `f`.
    fn refusal(&self, f: ffi::Failure) -> ImageError {
        let format = self.format;
        match f.status {
            Status::Unsupported | Status::Unavailable => {
                ImageError::UnsupportedVariant { format, variant: Variant::UnusualEncoding }
            }
            Status::Frames => ImageError::UnsupportedVariant { format, variant: Variant::SeveralPictures },
            // The arena was all the memory the header promised the decoder
            // would need (or the heap ceiling left no room for it): the file
            // needs more than it says, as a file built to exhaust memory does.
            Status::Memory | Status::Trap | Status::NoArena | Status::Loader => {
                ImageError::HeapExhausted { format, width: self.header.width, height: self.header.height }
            }
            Status::Damaged | Status::Limit | Status::Mismatch | Status::Other(_) => {
                damaged(format, format!("{:?}: {}", f.status, f.detail))
            }
        }
    }
}

impl Image for Phone<'_> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn work_rate(&self) -> u64 {
        match self.kind {
            PhoneKind::Avif => per_byte::AVIF,
            PhoneKind::Heic => per_byte::HEIC,
        }
    }

    fn decode(&self, plan: &Plan<'_>) -> Result<Region, ImageError> {
        let (h, format) = (&self.heif, self.format);
        // The crop square's rectangle, averaged down by 2^shift.
        let shift = plan::scale_shift(plan.side, plan.size, h.grid);
        let (bx, by, bw, bh) = plan::output_blocks(plan.x, plan.y, plan.side, plan.side, shift);
        let layout = if h.alpha.is_some() { Layout::Rgba } else { Layout::Rgb };
        let ch = layout.channels();

        // Memory: the decoder's arena (its need from the header, its
        // output, its static data and stack) next to the collector's
        // region at the output's scale.
        let out_bytes = u64::from(bw) * u64::from(bh) * ch as u64;
        let arena = plan::arena_bytes(h, out_bytes);
        let budget = plan.decode_budget(1.0 / f64::from(1u32 << shift), ch);
        if arena > budget {
            return Err(too_much_memory(format, None, plan.width, plan.height, arena, budget));
        }

        // Work: what the decoder decodes (every coded pixel of an AVIF, the
        // HEIC tiles the crop meets), the conversion of the rectangle, and
        // the collector's rows; charged before the decoder runs.
        let (coded, pictures) = plan::decoded(h, plan.x, plan.y, plan.side, plan.side);
        let converted = (u64::from(bw) * u64::from(bh)) << (2 * shift);
        let units = plan::work_units(h, coded, pictures, converted);
        let collector_units = Plan::collector_units(bw, bh);
        plan.charge(format, units, plan.work.spent() + units + collector_units)?;

        let req = Request {
            x: plan.x,
            y: plan.y,
            w: plan.side,
            h: plan.side,
            shift,
            // The header's size passed MAX_PIXELS; the decoder is held to it
            // (or to a grid's tile, which may reach past the image's edge).
            max_pixels: plan::max_pixels(h),
            expect_w: plan.width,
            expect_h: plan.height,
            want_alpha: u32::from(h.alpha.is_some()),
        };
        let arena = test_hooks::arena(self.bytes).unwrap_or(arena);
        let decoded = ffi::decode(self.kind, self.bytes, &req, arena as usize).map_err(|f| self.refusal(f))?;

        // Colour: the file's ICC profile, else its CICP primaries.
        let r = &decoded.result;
        let layout = if decoded.channels() == 4 { Layout::Rgba } else { Layout::Rgb };
        let conv = match plan::colour(self.bytes, h, r.primaries as u16, r.transfer as u16) {
            plan::Colour::Icc(icc) => ColourConverter::new(layout, Some(icc).filter(|p| p.len() <= MAX_ICC_BYTES)),
            plan::Colour::Cicp(profile) => ColourConverter::with_profile(layout, &profile),
            plan::Colour::Srgb => ColourConverter::new(layout, None),
        };
        // The crop square within the output, in output pixels.
        let s = f64::from(1u32 << shift);
        let spec = RegionSpec {
            x: f64::from(plan.x) / s - f64::from(bx),
            y: f64::from(plan.y) / s - f64::from(by),
            w: f64::from(plan.side) / s,
            h: f64::from(plan.side) / s,
        };
        let mut collector = Collector::new(conv, plan.space, bw, bh, spec, plan.size, plan.work)
            .resize_as_rows_arrive(plan.resize_as_decoded);
        let whole = plan.work.spent() + collector_units;
        for y in 0..bh {
            collector.push_row(decoded.row(y)).map_err(|_| plan.work_refusal(format, whole))?;
            if collector.done() {
                break;
            }
        }
        collector.into_region().ok_or_else(|| damaged(format, "fewer rows than asked for"))
    }
}

/// Test builds only (cargo feature `test-hooks`): a file holding
/// `AVATAR-EDGE-TEST-ARENA:<bytes>` (in a `free` box, say) is decoded in
/// an arena of that many bytes instead of its estimate: a decoder starved
/// on purpose (tests/integration/phone.test.mjs).
mod test_hooks {
    #[cfg(all(target_arch = "wasm32", feature = "test-hooks"))]
    pub fn arena(file: &[u8]) -> Option<u64> {
        const TAG: &[u8] = b"AVATAR-EDGE-TEST-ARENA:";
        let at = file.windows(TAG.len()).rposition(|w| w == TAG)? + TAG.len();
        let digits = file[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        std::str::from_utf8(&file[at..at + digits]).ok()?.parse().ok()
    }

    #[cfg(not(all(target_arch = "wasm32", feature = "test-hooks")))]
    pub fn arena(_file: &[u8]) -> Option<u64> {
        None
    }
}
