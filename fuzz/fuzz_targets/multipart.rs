//! `multipart/form-data`: the boundary from the Content-Type, the parts of
//! the body, then the upload form (file + crop fields), as the upload route
//! runs them. Never a panic; parts are slices of the body.
//!
//! Input: the Content-Type header value, `\n`, the body.
#![no_main]

use avatar_edge::multipart::{boundary, parse};
use avatar_edge::upload_form::read_form;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else { return };
    let Ok(content_type) = std::str::from_utf8(&data[..nl]) else { return };
    let body = &data[nl + 1..];
    let Ok(b) = boundary(content_type) else { return };
    assert!(!b.is_empty() && b.len() <= 70);
    let Ok(parts) = parse(body, &b) else { return };
    assert!(parts.len() <= 64);
    let range = body.as_ptr_range();
    for p in &parts {
        let r = p.data.as_ptr_range();
        assert!(range.start <= r.start && r.end <= range.end, "part outside the body");
        // Part data never contains the delimiter that ends it.
        let delim = format!("\r\n--{b}");
        assert!(!p.data.windows(delim.len()).any(|w| w == delim.as_bytes()));
    }
    if let Ok(form) = read_form(&parts, 1 << 20) {
        assert!(!form.file.is_empty());
        let _ = form.crop;
    }
});
