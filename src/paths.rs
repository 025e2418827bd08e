//! Where avatars live: R2 keys, public URLs and parsing the serve path.

/// R2 key (and URL path without the leading slash) of a user's avatar.
pub fn avatar_key(user_id: u64, ext: &str) -> String {
    format!("uploads/user/{user_id}.{ext}")
}

/// The public URL of an avatar. `version` is derived from the stored bytes,
/// so the URL changes with every new image and caches never show an old one.
pub fn avatar_url(base: &str, user_id: u64, ext: &str, version: &str) -> String {
    format!("{}/{}?v={version}", base.trim_end_matches('/'), avatar_key(user_id, ext))
}

/// Short hex version of the avatar bytes (first 6 bytes of SHA-256).
pub fn content_version(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// File extensions we ever store (one per output format).
pub const STORED_EXTS: [&str; 3] = ["webp", "jpg", "png"];

/// Parses `/uploads/user/{id}.{ext}` into the user id and extension; only
/// positive decimal ids (every id a token can carry: any `u64`) and stored
/// extensions match, so nothing else in the bucket can be reached through
/// this route.
pub fn parse_avatar_path(path: &str) -> Option<(u64, &str)> {
    let file = path.strip_prefix("/uploads/user/")?;
    let (id, ext) = file.split_once('.')?;
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) || id.starts_with('0') {
        return None;
    }
    let ext = STORED_EXTS.iter().find(|e| **e == ext)?;
    let id: u64 = id.parse().ok()?;
    Some((id, ext))
}

/// The path of a request's URL, as the runtime serialises it (WHATWG:
/// `scheme://host[:port]/path[?query][#fragment]`, the path never empty
/// and any `?` or `#` inside it percent-encoded), without parsing the URL.
pub fn request_path(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    let path = match after_scheme.find(['/', '?', '#']) {
        Some(start) if after_scheme[start..].starts_with('/') => &after_scheme[start..],
        _ => return "/",
    };
    &path[..path.find(['?', '#']).unwrap_or(path.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths() {
        assert_eq!(request_path("https://e.com/api/user/avatar"), "/api/user/avatar");
        assert_eq!(request_path("http://127.0.0.1:8787/uploads/user/1.webp?v=ab#x"), "/uploads/user/1.webp");
        assert_eq!(request_path("https://e.com/a%3Fb/c#f"), "/a%3Fb/c");
        assert_eq!(request_path("https://e.com"), "/");
        assert_eq!(request_path("https://e.com?q=/1"), "/");
        assert_eq!(request_path("https://user:pw@e.com:8443/"), "/");
    }

    #[test]
    fn keys_and_urls() {
        assert_eq!(avatar_key(7, "webp"), "uploads/user/7.webp");
        assert_eq!(avatar_url("https://e.com/", 7, "webp", "abc"), "https://e.com/uploads/user/7.webp?v=abc");
    }

    #[test]
    fn version_changes_with_content() {
        let a = content_version(b"one");
        assert_eq!(a.len(), 12);
        assert_ne!(a, content_version(b"two"));
        assert_eq!(a, content_version(b"one"));
    }

    #[test]
    fn serve_path_parsing() {
        assert_eq!(parse_avatar_path("/uploads/user/12.webp"), Some((12, "webp")));
        assert_eq!(parse_avatar_path("/uploads/user/12.png"), Some((12, "png")));
        // The largest id a token may carry (20 digits).
        assert_eq!(parse_avatar_path("/uploads/user/18446744073709551615.webp"), Some((u64::MAX, "webp")));
        for bad in [
            "/uploads/user/12.gif",
            "/uploads/user/../x.webp",
            "/uploads/user/012.webp",
            "/uploads/user/.webp",
            "/uploads/user/1.webp.png",
            "/uploads/user/99999999999999999999.webp",
            "/uploads/other/1.webp",
        ] {
            assert_eq!(parse_avatar_path(bad), None, "{bad}");
        }
    }
}
