//! Languages and what members are told: the envelope codes, the
//! [`UserFacing`] contract every error implements, the success notices, and
//! the rule that a message is entirely in one language.
//!
//! A leaf: it imports nothing from the crate, so any module (imaging,
//! storage, auth) can describe its own errors without knowing about HTTP.

/// Success.
pub const CODE_OK: i32 = 0;
/// Any error the member can act on; `msg` says what and how.
pub const CODE_ERROR: i32 = -1;
/// Not logged in (missing, invalid, expired or revoked token; unknown user).
pub const CODE_NOT_LOGGED_IN: i32 = 1001;
/// Logged in but not allowed (banned member).
pub const CODE_NOT_AUTHORIZED: i32 = 1002;

/// Language of the messages: Chinese by default, as AnqiCMS; English when
/// the request's `Accept-Language` prefers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Both languages, for tests that check every message in each.
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// Picks the language from an `Accept-Language` header value.
    ///
    /// The first listed language decides (browsers list the preferred one
    /// first): `en`, `en-US`, ... give English; anything else (including
    /// `zh-CN`, or no header) gives Chinese.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let first = header
            .and_then(|h| h.split(',').next())
            .map(|tag| tag.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .unwrap_or_default();
        if first == "en" || first.starts_with("en-") || first.starts_with("en_") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// Chooses between the two texts of a message.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// An error that can be shown to the member: its envelope code and its
/// message in words they can act on. (`Display`, where an error has it, is
/// for the log and may carry causes the member never sees.)
pub trait UserFacing {
    /// The envelope code (-1, 1001 or 1002).
    fn code(&self) -> i32 {
        CODE_ERROR
    }
    /// The message in the requested language.
    fn message(&self, lang: Lang) -> String;
}

/// What a successful request says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// An avatar was stored (AnqiCMS's own words: "上传成功").
    Uploaded,
    /// The profile was read.
    Detail,
    /// The token (and its family) was logged out.
    LoggedOut,
}

impl Notice {
    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            Notice::Uploaded => lang.pick("上传成功", "Upload succeeded"),
            Notice::Detail => lang.pick("获取成功", "OK"),
            Notice::LoggedOut => lang.pick("已退出登录", "Logged out"),
        }
    }
}

/// Formats a byte count the way people read it (`20 MiB`, `1.5 MiB`, `300 KiB`).
pub fn human_bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if f >= KIB * KIB {
        let v = f / (KIB * KIB);
        if (v - v.round()).abs() < 0.05 {
            format!("{} MiB", v.round())
        } else {
            format!("{v:.1} MiB")
        }
    } else if f >= KIB {
        format!("{} KiB", (f / KIB).round())
    } else {
        format!("{n} bytes")
    }
}

/// Latin words a Chinese message may contain: names of formats, units,
/// HTTP fields and form fields, which Chinese text writes as they are.
const NAMES_IN_CHINESE: &[&str] = &[
    "JPEG", "JPG", "PNG", "WebP", "GIF", "BMP", "ICO", "HEIC", "HEIF", "AVIF", "SVG", "HTML", "PDF", "TIFF", "ICC",
    "EXIF", "DNL", "MP", "MB", "MiB", "KiB", "KB", "bytes", "px", "Cookie", "Token", "file", "crop_x", "crop_y",
    "crop_w", "crop_h", "x", "y", "on", "off", "webp", "jpeg", "png", "srgb", "linear", "keep", "first",
];

/// Why `text` is not entirely in `lang`, if it is not: Chinese text may
/// hold digits, punctuation, the names in [`NAMES_IN_CHINESE`], setting
/// names (`UPPER_SNAKE`), URLs, paths and MIME types (anything with a `/`)
/// and quoted values (`"..."`, `“...”`), but no other Latin word; English
/// text holds no Chinese character.
pub fn mixed_language(text: &str, lang: Lang) -> Option<String> {
    match lang {
        Lang::En => text
            .chars()
            .find(|c| ('\u{3000}'..='\u{9fff}').contains(c) || ('\u{ff00}'..='\u{ffef}').contains(c))
            .map(|c| format!("Chinese character {c:?} in an English message")),
        Lang::Zh => {
            if !text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
                return Some("no Chinese in a Chinese message".into());
            }
            let unquoted = without_quoted_and_urls(text);
            unquoted
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
                .find(|w| {
                    let setting =
                        w.len() > 2 && w.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                    let figure = w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.len() <= 12;
                    !(setting || figure || NAMES_IN_CHINESE.contains(w))
                })
                .map(|w| format!("English word {w:?} in a Chinese message"))
        }
    }
}

/// `text` with `"quoted values"`, URLs and paths blanked.
fn without_quoted_and_urls(text: &str) -> String {
    let unquoted = without_quoted(text);
    unquoted
        .split(|c: char| c.is_whitespace() || matches!(c, '）' | '（' | '，' | '。' | '；' | '：'))
        .filter(|piece| !piece.contains('/'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` with quoted values blanked: `"..."`, `“...”` (commands, values).
fn without_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let Some((start, close)) = rest.char_indices().find_map(|(i, c)| match c {
            '"' => Some((i, '"')),
            '“' => Some((i, '”')),
            _ => None,
        }) else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        out.push(' ');
        let tail = &rest[start + rest[start..].chars().next().map_or(1, char::len_utf8)..];
        rest = tail.find(close).map_or("", |end| &tail[end + close.len_utf8()..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_from_header() {
        assert_eq!(Lang::from_accept_language(None), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("  EN-gb ; q=1")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("eng")), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("")), Lang::Zh);
    }

    #[test]
    fn human_bytes_formats() {
        assert_eq!(human_bytes(20971520), "20 MiB");
        assert_eq!(human_bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
    }

    #[test]
    fn the_language_rule_sees_mixed_messages() {
        // The refusal issue 14 quotes, and other mixtures.
        assert!(mixed_language("该文件看起来是 an icon (ICO)，不是图片", Lang::Zh).is_some());
        assert!(mixed_language("扫描次数过多 (too many scans)", Lang::Zh).is_some());
        assert!(mixed_language("Upload succeeded 上传成功", Lang::En).is_some());
        assert!(mixed_language("Upload succeeded", Lang::Zh).is_some());
        // What Chinese text may hold.
        for ok in [
            "图片像素过多：30000×30000 = 900 MP，最大允许 100 MP",
            "服务配置错误：设置项 OUTPUT_FORMAT 的值 \"tiff\" 无效，应为webp、jpeg 或 png",
            "来自其他网站（https://evil.example）的请求不能使用登录 Cookie",
            "文件太大: 25 MiB，最大允许 20 MiB",
            "请以 multipart/form-data 表单上传，图片放在 file 字段",
        ] {
            assert_eq!(mixed_language(ok, Lang::Zh), None, "{ok}");
        }
        for n in [Notice::Uploaded, Notice::Detail, Notice::LoggedOut] {
            for lang in Lang::ALL {
                assert_eq!(mixed_language(n.message(lang), lang), None);
            }
        }
    }
}
