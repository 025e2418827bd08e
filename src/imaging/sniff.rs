//! Identifies the upload by its magic bytes, never by name or Content-Type.

use super::codecs::phone::heif::{self, PhoneKind};
use super::error::{ImageError, Lookalike};
use super::format::SourceFormat;

/// Identifies the format from the first bytes of the file.
///
/// Only the accepted formats pass; anything else is refused with, when
/// cheap to tell, what the file looks like instead.
pub fn sniff(bytes: &[u8]) -> Result<SourceFormat, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(SourceFormat::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(SourceFormat::Png);
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Ok(SourceFormat::Gif);
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return Ok(SourceFormat::Webp);
    }
    if is_bmp(bytes) {
        return Ok(SourceFormat::Bmp);
    }
    // An icon: reserved 0, type 1 (2 would be a cursor), and room for the
    // picture count.
    if bytes.len() >= 6 && bytes.starts_with(b"\0\0\x01\0") {
        return Ok(SourceFormat::Ico);
    }
    // ISO-BMFF: AVIF or HEIC by the ftyp brands (or, for the generic HEIF
    // brands alone, by the primary item's codec); other ftyp files (MP4,
    // QuickTime) are named below.
    if bytes.get(4..8) == Some(b"ftyp") {
        match heif::sniff(bytes) {
            Some(PhoneKind::Avif) => return Ok(SourceFormat::Avif),
            Some(PhoneKind::Heic) => return Ok(SourceFormat::Heic),
            None => {}
        }
    }
    Err(ImageError::Unsupported { looks_like: looks_like(bytes) })
}

/// "BM" alone is too weak (a text file may start with it): also require one
/// of the known DIB header sizes at offset 14.
fn is_bmp(bytes: &[u8]) -> bool {
    if !bytes.starts_with(b"BM") {
        return false;
    }
    match bytes.get(14..18) {
        Some(&[a, b, c, d]) => matches!(u32::from_le_bytes([a, b, c, d]), 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124),
        _ => false,
    }
}

/// A best-effort name for common non-images people upload by mistake.
fn looks_like(bytes: &[u8]) -> Option<Lookalike> {
    // ISO-BMFF brands (HEIC/AVIF photos from phones).
    if bytes.get(4..8) == Some(b"ftyp") {
        let brand = bytes.get(8..12).unwrap_or_default();
        return Some(match brand {
            b"avif" | b"avis" => Lookalike::Avif,
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => Lookalike::Heic,
            b"qt  " => Lookalike::QuickTime,
            _ => Lookalike::IsoMedia,
        });
    }
    let magic: &[(&[u8], Lookalike)] = &[
        (b"%PDF-", Lookalike::Pdf),
        (b"II*\0", Lookalike::Tiff),
        (b"MM\0*", Lookalike::Tiff),
        (b"8BPS", Lookalike::Photoshop),
        (b"\xFF\x0A", Lookalike::JpegXl),
        (b"\0\0\0\x0CJXL ", Lookalike::JpegXl),
        (b"PK\x03\x04", Lookalike::Zip),
        (b"\x1F\x8B", Lookalike::Gzip),
        (b"RIFF", Lookalike::Riff),
    ];
    for &(m, kind) in magic {
        if bytes.starts_with(m) {
            return Some(kind);
        }
    }
    looks_like_text(bytes)
}

/// SVG / HTML / XML / plain text, judged from the first 1 KiB.
fn looks_like_text(bytes: &[u8]) -> Option<Lookalike> {
    let head = bytes.get(..bytes.len().min(1024)).unwrap_or_default();
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    // Text has no NUL and few control characters; allow a cut multibyte
    // character at the end of the window.
    let text = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(head.get(..e.valid_up_to())?).ok()?,
        Err(_) => return None,
    };
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0C')) {
        return None;
    }
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.contains("<svg") {
        Some(Lookalike::Svg)
    } else if lower.starts_with("<!doctype html") || lower.contains("<html") || lower.contains("<body") {
        Some(Lookalike::Html)
    } else if lower.starts_with("<?xml") {
        Some(Lookalike::Xml)
    } else if lower.starts_with('{') || lower.starts_with('[') {
        Some(Lookalike::JsonOrText)
    } else {
        Some(Lookalike::Text)
    }
}
