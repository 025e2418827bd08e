//! The AnqiCMS response envelope `{"code":int,"msg":string,"data":...}`.
//!
//! Every `/api/*` answer is HTTP 200 with this body; clients read `code`.
//! All errors of the service implement [`UserFacing`] so that exactly one
//! place ([`Envelope::error`]) turns them into what the client sees.

use serde::Serialize;
use serde_json::Value;

pub use crate::i18n::{human_bytes, Lang, UserFacing, CODE_ERROR, CODE_NOT_AUTHORIZED, CODE_NOT_LOGGED_IN, CODE_OK};

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
    /// KV-only mode without `TOKEN_SECRET`: no token can be checked.
    NoTokenSecret,
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

impl RequestError {
    /// One of each, for the tests that read every message.
    #[cfg(test)]
    pub(crate) fn samples() -> Vec<RequestError> {
        use RequestError::*;
        vec![
            NotFound { path: "/api/nope".into() },
            MethodNotAllowed { method: "PUT".into(), allowed: "POST" },
            NotMultipart,
            BadMultipart,
            MissingFile,
            EmptyFile,
            TooLarge { limit: 20 << 20, actual: Some(25 << 20) },
            TooLarge { limit: 20 << 20, actual: None },
            BadCropField { field: "crop_x" },
            IncompleteCrop,
            NoTokenSecret,
            RateLimited { retry_after_secs: 60 },
            Busy,
            CookieFromOtherSite { origin: Some("https://evil.example".into()) },
            CookieFromOtherSite { origin: None },
            Internal,
        ]
    }
}

impl std::fmt::Display for RequestError {
    /// The English message, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl std::error::Error for RequestError {}

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
            NoTokenSecret => lang
                .pick(
                    "服务配置错误：未设置 TOKEN_SECRET（请运行 “wrangler secret put TOKEN_SECRET”），也未设置 ANQICMS_ORIGIN 由网站验证登录",
                    "The service is misconfigured: TOKEN_SECRET is not set (wrangler secret put TOKEN_SECRET), nor ANQICMS_ORIGIN to let the site check logins",
                )
                .to_string(),
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
    fn success_shape() {
        let e = Envelope::ok("上传成功", serde_json::json!({"avatar_url": "https://x/u.webp?v=1"}));
        assert_eq!(e.to_json(), r#"{"code":0,"msg":"上传成功","data":{"avatar_url":"https://x/u.webp?v=1"}}"#);
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
}
