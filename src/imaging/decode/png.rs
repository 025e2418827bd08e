//! PNG via the `png` crate. Non-interlaced images are streamed row by row
//! (`next_row`), so memory grows with the width, not the area, and reading
//! stops as soon as the crop square's last row has arrived. Interlaced
//! (Adam7) rows arrive pass by pass, so those are decoded in full, within
//! the budget. 16-bit samples are reduced to 8 bits, palettes and tRNS
//! expanded.

use std::io::Cursor;

use png::{ColorType, Transformations};

use super::{damaged, feed_buffer, Plan};
use crate::imaging::colour::Layout;
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;
use crate::imaging::header::Header;
use crate::imaging::limits::{check_full_decode, DECODE_BUDGET, MAX_ICC_BYTES};
use crate::imaging::resize::Region;

const F: SourceFormat = SourceFormat::Png;

pub fn decode(bytes: &[u8], header: &Header, plan: &Plan) -> Result<Region, ImageError> {
    let mut dec = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: DECODE_BUDGET as usize });
    dec.set_transformations(Transformations::EXPAND | Transformations::STRIP_16);
    let mut reader = dec.read_info().map_err(|e| map_err(e, header))?;
    let (w, h) = (reader.info().width, reader.info().height);
    if (w, h) != (header.width, header.height) {
        return Err(damaged(F, "IHDR read twice with different sizes"));
    }
    let icc: Option<Vec<u8>> =
        reader.info().icc_profile.as_ref().filter(|p| p.len() <= MAX_ICC_BYTES).map(|p| p.to_vec());
    let layout = match reader.output_color_type().0 {
        ColorType::Grayscale => Layout::Gray,
        ColorType::GrayscaleAlpha => Layout::GrayAlpha,
        ColorType::Rgb => Layout::Rgb,
        ColorType::Rgba => Layout::Rgba,
        ColorType::Indexed => return Err(damaged(F, "palette not expanded")),
    };
    let mut collector = plan.collector(w, h, layout, icc.as_deref());

    if reader.info().interlaced {
        check_full_decode(F, "interlaced", w, h, layout.channels() as u64 * 10)?;
        let size = reader.output_buffer_size().ok_or_else(|| damaged(F, "image too large"))?;
        let mut buf = vec![0u8; size];
        reader.next_frame(&mut buf).map_err(|e| map_err(e, header))?;
        return feed_buffer(collector, &buf, w, layout, F);
    }

    while !collector.done() {
        match reader.next_row().map_err(|e| map_err(e, header))? {
            Some(row) => collector.push_row(row.data()),
            None => break,
        }
    }
    collector.into_region().ok_or_else(|| damaged(F, "fewer rows than the header says"))
}

fn map_err(e: png::DecodingError, header: &Header) -> ImageError {
    match e {
        png::DecodingError::LimitsExceeded => ImageError::TooMuchMemory {
            format: F,
            variant: "",
            width: header.width,
            height: header.height,
            max_mp: DECODE_BUDGET / 4 / 1_000_000,
        },
        other => damaged(F, other.to_string()),
    }
}
