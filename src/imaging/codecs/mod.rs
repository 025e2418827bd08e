//! One module per accepted format, each behind [`Image`]: it reads its
//! format's header (size, orientation, and what its decoder's memory and
//! work depend on) and decodes the crop square. Adding a format is adding
//! a module here, a [`SourceFormat`] with its magic bytes (`sniff`), and
//! its line in [`open`].

mod bmp;
mod gif;
mod ico;
mod image_crate;
mod jpeg;
#[cfg(test)]
pub(crate) use jpeg::first_scale_of as jpeg_first_scale;
#[cfg(feature = "test-hooks")]
pub(crate) use jpeg::{
    idct4_self_check as jpeg_idct4_self_check, idct_self_check as jpeg_idct_self_check,
    kernel_self_check as jpeg_colour_self_check, stretch_self_check as jpeg_stretch_self_check,
};
pub(crate) mod phone;
mod png;
#[cfg(feature = "test-hooks")]
pub(crate) use png::unfilter_self_check as png_unfilter_self_check;
pub(crate) mod webp;

use crate::imaging::decoding::Image;
use crate::imaging::error::ImageError;
use crate::imaging::format::SourceFormat;

/// Opens a sniffed file: reads its header, decodes nothing.
pub(crate) fn open(bytes: &[u8], format: SourceFormat) -> Result<Box<dyn Image + '_>, ImageError> {
    Ok(match format {
        SourceFormat::Jpeg => Box::new(jpeg::Jpeg::open(bytes)?),
        SourceFormat::Png => Box::new(png::Png::open(bytes)?),
        SourceFormat::Gif => Box::new(gif::Gif::open(bytes)?),
        SourceFormat::Bmp => Box::new(bmp::Bmp::open(bytes)?),
        SourceFormat::Ico => Box::new(ico::Ico::open(bytes)?),
        SourceFormat::Webp => Box::new(webp::Webp::open(bytes)?),
        SourceFormat::Avif | SourceFormat::Heic => Box::new(phone::Phone::open(bytes, format)?),
    })
}
