//! A small, strict `multipart/form-data` parser over a body already in
//! memory (read with a size cap by the Worker layer).
//!
//! Why our own: the runtime's `formData()` reads the whole body before we
//! can enforce the byte limit, and copies each part; this parser works on
//! the one buffer and hands out slices, so the image bytes are read once.

use memchr::memmem;

/// One form part: its name, optional filename and content type, and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: &'a [u8],
}

/// Why a body is not usable multipart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// The Content-Type is not multipart/form-data or has no boundary.
    NotMultipart,
    /// The body does not follow the multipart framing.
    Malformed(&'static str),
}

/// Most parts a form may have: an avatar form has a handful.
const MAX_PARTS: usize = 64;
/// Largest header block of one part.
const MAX_PART_HEADER: usize = 8 * 1024;

/// Extracts the boundary from a `Content-Type` header value.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut params = content_type.split(';');
    let mime = params.next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(MultipartError::NotMultipart);
    }
    for p in params {
        let Some((k, v)) = p.split_once('=') else { continue };
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(v);
            // RFC 2046: 1 to 70 characters.
            if v.is_empty() || v.len() > 70 {
                return Err(MultipartError::NotMultipart);
            }
            return Ok(v.to_string());
        }
    }
    Err(MultipartError::NotMultipart)
}

/// Parses the parts of `body` separated by `boundary`.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, MultipartError> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    // Delimiters after the first are preceded by CRLF.
    let inner = format!("\r\n--{boundary}");
    let inner_finder = memmem::Finder::new(inner.as_bytes());

    // The preamble (usually empty) ends at the first delimiter.
    let first = memmem::find(body, delim).ok_or(MultipartError::Malformed("no boundary"))?;
    let mut pos = first + delim.len();
    let mut parts = Vec::new();
    loop {
        let rest = body.get(pos..).ok_or(MultipartError::Malformed("truncated"))?;
        if rest.starts_with(b"--") {
            return Ok(parts); // closing delimiter
        }
        // Skip transport padding and the CRLF after the delimiter.
        let line_end = memmem::find(rest, b"\r\n").ok_or(MultipartError::Malformed("truncated"))?;
        if rest.get(..line_end).is_some_and(|pad| pad.iter().any(|b| *b != b' ' && *b != b'\t')) {
            return Err(MultipartError::Malformed("bad delimiter line"));
        }
        pos += line_end + 2;
        let rest = body.get(pos..).ok_or(MultipartError::Malformed("truncated"))?;
        let header_end = memmem::find(rest, b"\r\n\r\n").ok_or(MultipartError::Malformed("part without header end"))?;
        if header_end > MAX_PART_HEADER {
            return Err(MultipartError::Malformed("part header too large"));
        }
        let headers = std::str::from_utf8(rest.get(..header_end).unwrap_or_default())
            .map_err(|_| MultipartError::Malformed("part header is not UTF-8"))?;
        let data_start = pos + header_end + 4;
        let data_rest = body.get(data_start..).ok_or(MultipartError::Malformed("truncated"))?;
        let data_len =
            inner_finder.find(data_rest).ok_or(MultipartError::Malformed("part without closing boundary"))?;
        let data = data_rest.get(..data_len).unwrap_or_default();

        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in headers.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else { continue };
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-disposition") {
                let (n, f) = disposition(v);
                name = n;
                filename = f;
            } else if k.eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_string());
            }
        }
        let name = name.ok_or(MultipartError::Malformed("part without a name"))?;
        if parts.len() >= MAX_PARTS {
            return Err(MultipartError::Malformed("too many parts"));
        }
        parts.push(Part { name, filename, content_type, data });
        pos = data_start + data_len + inner.len();
    }
}

/// Reads `name` and `filename` from a Content-Disposition value such as
/// `form-data; name="file"; filename="me.jpg"`.
fn disposition(value: &str) -> (Option<String>, Option<String>) {
    let mut name = None;
    let mut filename = None;
    for param in split_params(value) {
        let Some((k, v)) = param.split_once('=') else { continue };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .map(|s| s.replace("\\\"", "\""))
            .unwrap_or_else(|| v.to_string());
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            "filename" => filename = Some(v),
            _ => {}
        }
    }
    (name, filename)
}

/// Splits on `;` outside double quotes (a filename may contain `;`).
fn split_params(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        match c {
            '\\' if in_quotes && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_quotes = !in_quotes,
            ';' if !in_quotes => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        escaped = false;
    }
    out.push(&value[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])], b: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, filename, data) in parts {
            out.extend_from_slice(format!("--{b}\r\n").as_bytes());
            match filename {
                Some(f) => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/jpeg\r\n\r\n")
                        .as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
        out
    }

    #[test]
    fn boundary_from_header() {
        assert_eq!(boundary("multipart/form-data; boundary=abc").unwrap(), "abc");
        assert_eq!(boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"").unwrap(), "a b");
        assert_eq!(boundary("application/json"), Err(MultipartError::NotMultipart));
        assert_eq!(boundary("multipart/form-data"), Err(MultipartError::NotMultipart));
    }

    #[test]
    fn parses_file_and_fields() {
        let img: &[u8] = b"\xff\xd8\xff\r\n--not-the-boundary\r\n\x00binary";
        let b = "----WebKitFormBoundaryX";
        let raw = body(&[("crop_x", None, b"10"), ("file", Some("me;1.jpg"), img)], b);
        let parts = parse(&raw, b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "crop_x");
        assert_eq!(parts[0].data, b"10");
        assert_eq!(parts[1].name, "file");
        assert_eq!(parts[1].filename.as_deref(), Some("me;1.jpg"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(parts[1].data, img);
    }

    #[test]
    fn empty_file_part() {
        let raw = body(&[("file", Some("a.jpg"), b"")], "b");
        let parts = parse(&raw, "b").unwrap();
        assert_eq!(parts[0].data, b"");
    }

    #[test]
    fn truncated_bodies_are_errors() {
        let raw = body(&[("file", Some("a.jpg"), b"0123456789")], "b");
        for cut in [0, 5, 20, raw.len() - 12] {
            assert!(parse(&raw[..cut], "b").is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for raw in [&b""[..], b"--b", b"--b\r\n", b"--b\r\nX: y\r\n\r\nabc", b"--bxx\r\n\r\n\r\n--b--"] {
            assert!(parse(raw, "b").is_err());
        }
    }

    #[test]
    fn part_without_name_is_an_error() {
        let raw = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--";
        assert_eq!(parse(raw, "b"), Err(MultipartError::Malformed("part without a name")));
    }
}
