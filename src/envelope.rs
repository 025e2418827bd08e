//! The AnqiCMS response envelope `{"code":int,"msg":string,"data":...}`.
//!
//! Every `/api/*` answer is HTTP 200 with this body; clients read `code`.
//! All errors of the service implement [`UserFacing`] so that exactly one
//! place ([`Envelope::error`]) turns them into what the client sees.

use serde::Serialize;
use serde_json::Value;

/// Success.
pub const CODE_OK: i32 = 0;
/// Any error the user can act on; `msg` says what and how.
pub const CODE_ERROR: i32 = -1;
/// Not logged in (missing, invalid, expired or revoked token; unknown user).
pub const CODE_NOT_LOGGED_IN: i32 = 1001;
/// Logged in but not allowed (banned user).
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

/// An error that can be shown to the client: its envelope code and its
/// message in words the user can act on.
pub trait UserFacing {
    /// The envelope code (-1, 1001 or 1002).
    fn code(&self) -> i32 {
        CODE_ERROR
    }
    /// The message in the requested language.
    fn message(&self, lang: Lang) -> String;
}

/// The JSON body of every `/api/*` response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    pub code: i32,
    pub msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Envelope {
    /// A success envelope with `data`.
    pub fn ok(msg: impl Into<String>, data: Value) -> Self {
        Envelope { code: CODE_OK, msg: msg.into(), data: Some(data) }
    }

    /// The one mapping from any service error to what the client sees.
    pub fn error(err: &dyn UserFacing, lang: Lang) -> Self {
        Envelope { code: err.code(), msg: err.message(lang), data: None }
    }

    /// Serialises the envelope (never fails: only strings and JSON values).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            // Unreachable for these types; keep a valid envelope regardless.
            r#"{"code":-1,"msg":"internal error"}"#.to_string()
        })
    }
}

/// Errors of the HTTP layer itself (routing, request shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// No route for this path.
    NotFound { path: String },
    /// The route exists but not for this method.
    MethodNotAllowed { method: String, allowed: &'static str },
    /// The request is not `multipart/form-data`.
    NotMultipart,
    /// The multipart body could not be parsed.
    BadMultipart,
    /// No part named `file`.
    MissingFile,
    /// The `file` part is empty.
    EmptyFile,
    /// The body or file exceeds `MAX_UPLOAD_BYTES`.
    TooLarge { limit: u64, actual: Option<u64> },
    /// A crop field is present but not a non-negative integer.
    BadCropField { field: &'static str },
    /// Some but not all crop fields are present.
    IncompleteCrop,
    /// The service is misconfigured (e.g. no `TOKEN_SECRET`); names the setting.
    Misconfigured { detail: String },
    /// Too many uploads by this user; retry after the period.
    RateLimited { retry_after_secs: u32 },
    /// Other uploads in this isolate hold as many body bytes as it may
    /// receive at once (`crate::inflight`); retry in a moment.
    Busy,
    /// A change (upload, logout) authenticated by the `token` cookie came
    /// from a page of another site (`Origin`), or from nowhere a browser
    /// would name: it may be a forged form, so the cookie is not honoured.
    CookieFromOtherSite { origin: Option<String> },
    /// An unexpected fault (a bug): nothing was changed.
    Internal,
}

impl std::fmt::Display for RequestError {
    /// The English message, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl std::error::Error for RequestError {}

/// Formats a byte count the way people read it (`20 MiB`, `1.5 MiB`, `300 KiB`).
pub fn human_bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if f >= KIB * KIB {
        let v = f / (KIB * KIB);
        if (v - v.round()).abs() < 0.05 { format!("{} MiB", v.round()) } else { format!("{v:.1} MiB") }
    } else if f >= KIB {
        format!("{} KiB", (f / KIB).round())
    } else {
        format!("{n} bytes")
    }
}

impl UserFacing for RequestError {
    fn message(&self, lang: Lang) -> String {
        use RequestError::*;
        match self {
            NotFound { path } => match lang {
                Lang::Zh => format!("接口不存在: {path}"),
                Lang::En => format!("No such API: {path}"),
            },
            MethodNotAllowed { method, allowed } => match lang {
                Lang::Zh => format!("不支持的请求方法 {method}，请使用 {allowed}"),
                Lang::En => format!("Method {method} is not allowed here; use {allowed}"),
            },
            NotMultipart => lang
                .pick(
                    "请以 multipart/form-data 表单上传，图片放在 file 字段",
                    "Send the upload as multipart/form-data with the image in the field \"file\"",
                )
                .to_string(),
            BadMultipart => lang
                .pick(
                    "无法解析上传的表单（multipart/form-data 格式错误）",
                    "The multipart/form-data body could not be parsed",
                )
                .to_string(),
            MissingFile => lang
                .pick(
                    "请选择要上传的图片（表单字段 file）",
                    "No image was sent: put the image in the form field \"file\"",
                )
                .to_string(),
            EmptyFile => lang
                .pick("上传的文件是空的，请重新选择图片", "The uploaded file is empty; choose an image")
                .to_string(),
            TooLarge { limit, actual } => {
                let lim = human_bytes(*limit);
                match (lang, actual) {
                    (Lang::Zh, Some(a)) => format!("文件太大: {}，最大允许 {lim}", human_bytes(*a)),
                    (Lang::Zh, None) => format!("文件太大，最大允许 {lim}"),
                    (Lang::En, Some(a)) => {
                        format!("The file is too large: {}; the limit is {lim}", human_bytes(*a))
                    }
                    (Lang::En, None) => format!("The file is too large; the limit is {lim}"),
                }
            }
            BadCropField { field } => match lang {
                Lang::Zh => format!("裁剪参数 {field} 必须是非负整数"),
                Lang::En => format!("The crop field {field} must be a non-negative integer"),
            },
            IncompleteCrop => lang
                .pick(
                    "裁剪参数不完整：crop_x、crop_y、crop_w、crop_h 需同时提供",
                    "Incomplete crop box: send all of crop_x, crop_y, crop_w and crop_h",
                )
                .to_string(),
            Misconfigured { detail } => match lang {
                Lang::Zh => format!("服务配置错误: {detail}"),
                Lang::En => format!("The service is misconfigured: {detail}"),
            },
            RateLimited { retry_after_secs } => match lang {
                Lang::Zh => format!("上传太频繁，请 {retry_after_secs} 秒后再试"),
                Lang::En => format!("Too many uploads; try again in {retry_after_secs} seconds"),
            },
            Internal => lang
                .pick(
                    "服务内部错误，头像未更改，请稍后重试",
                    "Internal error; your avatar was not changed, please retry",
                )
                .to_string(),
            Busy => lang
                .pick(
                    "服务器正忙（同时上传的图片过多），头像未更改，请稍后重试",
                    "The server is busy with other uploads; your avatar was not changed, please try again in a moment",
                )
                .to_string(),
            CookieFromOtherSite { origin } => match (lang, origin) {
                (Lang::Zh, Some(o)) => format!("为保护您的账号，来自其他网站（{o}）的请求不能使用本站的登录 Cookie，头像未更改。请在本站页面上传，或在请求头 Token 中携带登录凭据"),
                (Lang::Zh, None) => "为保护您的账号，未注明来源网站的请求不能使用本站的登录 Cookie，头像未更改。请在本站页面上传，或在请求头 Token 中携带登录凭据".to_string(),
                (Lang::En, Some(o)) => format!("To protect your account, the login cookie is not accepted on a request from another site ({o}); nothing was changed. Upload from this site's pages, or send the login in the Token header"),
                (Lang::En, None) => "To protect your account, the login cookie is not accepted on a request that does not say which site sent it; nothing was changed. Upload from this site's pages, or send the login in the Token header".to_string(),
            },
        }
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
    fn success_shape() {
        let e = Envelope::ok("上传成功", serde_json::json!({"avatar_url": "https://x/u.webp?v=1"}));
        assert_eq!(
            e.to_json(),
            r#"{"code":0,"msg":"上传成功","data":{"avatar_url":"https://x/u.webp?v=1"}}"#
        );
    }

    #[test]
    fn error_omits_data_and_keeps_code() {
        let e = Envelope::error(&RequestError::MissingFile, Lang::En);
        let v: Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["code"], -1);
        assert!(v.get("data").is_none());
        assert!(v["msg"].as_str().unwrap().contains("file"));
    }

    #[test]
    fn too_large_names_limit_and_figure() {
        let e = RequestError::TooLarge { limit: 20 * 1024 * 1024, actual: Some(25 * 1024 * 1024) };
        let en = e.message(Lang::En);
        assert!(en.contains("25 MiB") && en.contains("20 MiB"), "{en}");
        let zh = e.message(Lang::Zh);
        assert!(zh.contains("20 MiB"), "{zh}");
    }

    #[test]
    fn human_bytes_formats() {
        assert_eq!(human_bytes(20971520), "20 MiB");
        assert_eq!(human_bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
    }
}
