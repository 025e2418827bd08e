//! Identifies the upload by its magic bytes, never by name or Content-Type.

use super::error::ImageError;
use super::format::SourceFormat;

/// Identifies the format from the first bytes of the file.
///
/// Only the five accepted formats pass; anything else is refused with, when
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
fn looks_like(bytes: &[u8]) -> Option<&'static str> {
    // ISO-BMFF brands (HEIC/AVIF photos from phones).
    if bytes.get(4..8) == Some(b"ftyp") {
        let brand = bytes.get(8..12).unwrap_or_default();
        return Some(match brand {
            b"avif" | b"avis" => "AVIF",
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => "HEIC",
            b"qt  " => "a QuickTime video",
            _ => "an MP4/ISO media file",
        });
    }
    let magic: &[(&[u8], &'static str)] = &[
        (b"%PDF-", "PDF"),
        (b"II*\0", "TIFF"),
        (b"MM\0*", "TIFF"),
        (b"8BPS", "a Photoshop document (PSD)"),
        (b"\0\0\x01\0", "an icon (ICO)"),
        (b"\xFF\x0A", "JPEG XL"),
        (b"\0\0\0\x0CJXL ", "JPEG XL"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"RIFF", "a RIFF file (audio/video), not WebP"),
    ];
    for (m, name) in magic {
        if bytes.starts_with(m) {
            return Some(name);
        }
    }
    looks_like_text(bytes)
}

/// SVG / HTML / XML / plain text, judged from the first 1 KiB.
fn looks_like_text(bytes: &[u8]) -> Option<&'static str> {
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
        Some("SVG")
    } else if lower.starts_with("<!doctype html") || lower.contains("<html") || lower.contains("<body") {
        Some("HTML")
    } else if lower.starts_with("<?xml") {
        Some("XML")
    } else if lower.starts_with('{') || lower.starts_with('[') {
        Some("JSON or text")
    } else {
        Some("text")
    }
}
