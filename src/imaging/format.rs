//! The formats the pipeline reads ([`SourceFormat`]) and writes ([`OutputFormat`]).

use std::fmt;

/// Format of the avatar written to storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Webp,
    Jpeg,
    Png,
}

impl OutputFormat {
    /// File extension used in the storage key and URL (`uploads/user/{id}.{ext}`).
    pub fn ext(self) -> &'static str {
        match self {
            OutputFormat::Webp => "webp",
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
        }
    }

    /// `Content-Type` of the stored object.
    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Webp => "image/webp",
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
        }
    }

    /// Parses the `OUTPUT_FORMAT` setting (case-insensitive, surrounding
    /// spaces ignored): `webp`, `jpeg`/`jpg`, `png`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "webp" => Some(OutputFormat::Webp),
            "jpeg" | "jpg" => Some(OutputFormat::Jpeg),
            "png" => Some(OutputFormat::Png),
            _ => None,
        }
    }

    /// Whether the format can carry transparency.
    pub fn supports_alpha(self) -> bool {
        !matches!(self, OutputFormat::Jpeg)
    }

    /// Upper-case name for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Webp => "WebP",
            OutputFormat::Jpeg => "JPEG",
            OutputFormat::Png => "PNG",
        }
    }
}

/// Format of the uploaded image, identified by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    Jpeg,
    Png,
    Webp,
    Gif,
    Bmp,
    Ico,
    /// AV1 in HEIF (`codecs::phone`).
    Avif,
    /// HEVC in HEIF, as phones write it (`codecs::phone`; the `HEIC` setting).
    Heic,
}

impl SourceFormat {
    /// Name as users know it, for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "JPEG",
            SourceFormat::Png => "PNG",
            SourceFormat::Webp => "WebP",
            SourceFormat::Gif => "GIF",
            SourceFormat::Bmp => "BMP",
            SourceFormat::Ico => "ICO",
            SourceFormat::Avif => "AVIF",
            SourceFormat::Heic => "HEIC",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The list of accepted formats as shown in messages.
pub const ACCEPTED_FORMATS: &str = "JPEG, PNG, WebP, GIF, BMP, ICO, HEIC, AVIF";
