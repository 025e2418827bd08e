//! Origin mode: the AnqiCMS site (`ANQICMS_ORIGIN`) as the source of
//! members and avatars.
//!
//! * Sessions: a token KV has no fresh answer for is checked with the
//!   site's `GET /api/user/detail`; its verdict (the profile, or "not logged
//!   in") is cached in KV under the token's SHA-256 for `PROFILE_TTL`.
//! * Write-back: after an upload, the avatar is sent to the site's own
//!   `POST /api/user/avatar` with the member's token, so the site's database
//!   and pages show it; failures are retried through a Queue.
//! * Serving: `/uploads/user/*` not in R2 is fetched from the site.
//!
//! This file is pure (parsing the site's answers, cache entries, the
//! write-back job); [`client`] and [`writeback`] talk to the network and are
//! built for the Worker only.

#[cfg(target_arch = "wasm32")]
pub mod client;
#[cfg(target_arch = "wasm32")]
pub mod writeback;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::auth::{token_sha256_hex, Profile};
use crate::i18n::{Lang, UserFacing, CODE_NOT_LOGGED_IN};

/// The site could not give a verdict on a token (down, slow, or not
/// answering like AnqiCMS). Never "not logged in": AnqiCMS clients drop the
/// token on 1001, so an outage must not log members out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteUnavailable {
    /// What went wrong, for the log only.
    pub cause: String,
}

impl std::fmt::Display for SiteUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the AnqiCMS site gave no verdict: {}", self.cause)
    }
}

impl std::error::Error for SiteUnavailable {}

impl UserFacing for SiteUnavailable {
    fn message(&self, lang: Lang) -> String {
        lang.pick(
            "登录服务暂时无法连接，头像未更改，请稍后重试",
            "The login service cannot be reached right now; your avatar was not changed, please try again in a moment",
        )
        .to_string()
    }
}

/// What the site said about a token.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A member: the profile as the site shows it (AnqiCMS field names).
    Member(Profile),
    /// Code 1001: a bad or expired token, or a deleted member.
    NotLoggedIn,
}

/// Reads the site's answer to `GET /api/user/detail`: HTTP 200 with the
/// AnqiCMS envelope. Code 0 with an object `data` that has a positive `id`
/// is a member; 1001 is "not logged in"; anything else (another status or
/// code, a page that is not an envelope, a member without an id) is not a
/// verdict.
pub fn parse_detail(status: u16, body: &str) -> Result<Verdict, SiteUnavailable> {
    let unavailable = |cause: String| SiteUnavailable { cause };
    if status != 200 {
        return Err(unavailable(format!("HTTP {status}")));
    }
    #[derive(Deserialize)]
    struct Envelope<'a> {
        code: i64,
        #[serde(borrow)]
        data: Option<&'a RawValue>,
    }
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|e| unavailable(format!("not an AnqiCMS envelope ({e})")))?;
    match envelope.code {
        0 => {
            let data = envelope.data.ok_or_else(|| unavailable("code 0 without data".into()))?;
            let profile =
                Profile::parse(data.get()).map_err(|_| unavailable("code 0 with data that is not a profile".into()))?;
            if profile.id().is_none_or(|id| id == 0) {
                return Err(unavailable("code 0 with a profile without an id".into()));
            }
            Ok(Verdict::Member(profile))
        }
        c if c == i64::from(CODE_NOT_LOGGED_IN) => Ok(Verdict::NotLoggedIn),
        other => Err(unavailable(format!("code {other}"))),
    }
}

/// KV key of the cached verdict on a token: `site:{sha256 hex of the token}`.
pub fn cache_key(token: &str) -> String {
    format!("site:{}", token_sha256_hex(token))
}

/// A verdict as cached in KV: `{"code":0,"profile":{...}}` (the profile's
/// JSON exactly as the site sent it) or `{"code":1001}`.
pub fn cache_entry(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Member(profile) => format!(r#"{{"code":0,"profile":{}}}"#, profile.to_json()),
        Verdict::NotLoggedIn => format!(r#"{{"code":{CODE_NOT_LOGGED_IN}}}"#),
    }
}

/// Reads a cache entry; `None` for anything this version did not write (it
/// is then asked again, never trusted).
pub fn read_cache_entry(entry: &str) -> Option<Verdict> {
    #[derive(Deserialize)]
    struct Entry<'a> {
        code: i64,
        #[serde(borrow)]
        profile: Option<&'a RawValue>,
    }
    let e: Entry = serde_json::from_str(entry).ok()?;
    match (e.code, e.profile) {
        (0, Some(p)) => Profile::parse(p.get()).ok().filter(|p| p.id().is_some()).map(Verdict::Member),
        (c, None) if c == i64::from(CODE_NOT_LOGGED_IN) => Some(Verdict::NotLoggedIn),
        _ => None,
    }
}

/// The edge AnqiCMS crops and resizes every avatar to (a constant in its
/// source, not a setting). A square of exactly this size is stored as sent,
/// so the write-back is sent at this size: what the site keeps is then our
/// avatar pixel for pixel (docs/anqicms.md, "Write-back format").
pub const SITE_AVATAR_SIZE: u32 = 256;

/// Attempts at a write-back before it is given up (the first one right after
/// the upload, the rest from the Queue with doubling delays).
pub const MAX_WRITEBACK_ATTEMPTS: u32 = 12;

/// The longest delay between two attempts, seconds.
pub const MAX_RETRY_DELAY_SECS: u32 = 3_600;

/// One avatar to send to the site: which stored object, and as whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteBack {
    pub user_id: u64,
    /// The stored object's extension and content version: the job is moot
    /// once R2 holds another version (a newer upload has its own job).
    pub ext: String,
    pub version: String,
    /// Edge of the PNG sent, px ([`SITE_AVATAR_SIZE`]).
    pub size: u32,
    /// The member's token, only when the Worker has no `TOKEN_SECRET` to
    /// mint one for the member itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
}

/// Seconds to wait before attempt `attempts + 1`, after `attempts` failed:
/// `base`, doubling, at most [`MAX_RETRY_DELAY_SECS`].
pub fn retry_delay(base: u32, attempts: u32) -> u32 {
    let doublings = attempts.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << doublings).min(MAX_RETRY_DELAY_SECS)
}

/// The site's answer to the write-back, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteBackAnswer {
    /// Code 0: stored; the key the site wrote, when it said.
    Stored,
    /// Code 1001: the token is no longer good; retrying cannot help.
    NotLoggedIn,
    /// Anything else: worth another attempt.
    Failed(String),
}

/// Reads the site's answer to `POST /api/user/avatar`.
pub fn parse_writeback_answer(status: u16, body: &str) -> WriteBackAnswer {
    if status != 200 {
        return WriteBackAnswer::Failed(format!("HTTP {status}"));
    }
    #[derive(Deserialize)]
    struct Envelope {
        code: i64,
        #[serde(default)]
        msg: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Envelope>(body) {
        Ok(e) if e.code == 0 => WriteBackAnswer::Stored,
        Ok(e) if e.code == i64::from(CODE_NOT_LOGGED_IN) => WriteBackAnswer::NotLoggedIn,
        Ok(e) => WriteBackAnswer::Failed(format!("code {} ({})", e.code, e.msg.unwrap_or_default())),
        Err(e) => WriteBackAnswer::Failed(format!("not an AnqiCMS envelope ({e})")),
    }
}

/// A `multipart/form-data` body with one file part named `file`.
pub fn multipart_file(boundary: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Vec<u8> {
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let mut out = Vec::with_capacity(head.len() + bytes.len() + tail.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(tail.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBER: &str = r#"{"code":0,"msg":null,"data":{"id":5,"user_name":"bob","real_name":"","avatar_url":"uploads/user/5.gif","full_avatar_url":"https://www.example.com/uploads/user/5.gif","status":1,"group_id":1,"extra":{"a":[1,2]},"expire_time":0}}"#;

    #[test]
    fn detail_answers() {
        let Verdict::Member(p) = parse_detail(200, MEMBER).unwrap() else { panic!("not a member") };
        assert_eq!(
            (p.id(), p.user_name(), p.status(), p.avatar_url()),
            (Some(5), Some("bob"), Some(1), Some("uploads/user/5.gif"))
        );
        assert!(matches!(parse_detail(200, r#"{"code":1001,"msg":"请先登录"}"#), Ok(Verdict::NotLoggedIn)));
        for (status, body) in [
            (502, MEMBER),
            (200, "<html>Bad gateway</html>"),
            (200, ""),
            (200, r#"{"code":-1,"msg":"数据库错误"}"#),
            (200, r#"{"code":0,"msg":null}"#),
            (200, r#"{"code":0,"data":[1]}"#),
            (200, r#"{"code":0,"data":{"user_name":"no id"}}"#),
            (200, r#"{"code":0,"data":{"id":0}}"#),
            (200, r#"{"code":"0","data":{"id":5}}"#),
        ] {
            assert!(parse_detail(status, body).is_err(), "{status} {body}");
        }
    }

    #[test]
    fn cache_entries_round_trip_and_strangers_are_ignored() {
        let Ok(member) = parse_detail(200, MEMBER) else { panic!() };
        let entry = cache_entry(&member);
        let Some(Verdict::Member(p)) = read_cache_entry(&entry) else { panic!("{entry}") };
        // Every field kept, as the site wrote it.
        let Verdict::Member(original) = member else { panic!() };
        assert_eq!(p.to_json(), original.to_json());
        assert!(matches!(read_cache_entry(&cache_entry(&Verdict::NotLoggedIn)), Some(Verdict::NotLoggedIn)));
        for stranger in
            ["", "1", "{}", r#"{"code":0}"#, r#"{"code":1002}"#, r#"{"code":0,"profile":{"user_name":"x"}}"#]
        {
            assert!(read_cache_entry(stranger).is_none(), "{stranger}");
        }
        assert_eq!(cache_key("abc"), "site:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn retry_delays_double_up_to_an_hour() {
        let delays: Vec<u32> = (1..=9).map(|a| retry_delay(30, a)).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(1, 1), 1);
        assert_eq!(retry_delay(u32::MAX, 40), 3600);
    }

    #[test]
    fn writeback_answers() {
        assert_eq!(
            parse_writeback_answer(200, r#"{"code":0,"msg":"上传成功","data":"uploads/user/5.png"}"#),
            WriteBackAnswer::Stored
        );
        assert_eq!(parse_writeback_answer(200, r#"{"code":1001,"msg":"请先登录"}"#), WriteBackAnswer::NotLoggedIn);
        assert!(matches!(parse_writeback_answer(200, r#"{"code":-1,"msg":"x"}"#), WriteBackAnswer::Failed(_)));
        assert!(matches!(parse_writeback_answer(500, ""), WriteBackAnswer::Failed(_)));
        assert!(matches!(parse_writeback_answer(200, "<html>"), WriteBackAnswer::Failed(_)));
    }

    #[test]
    fn job_serialises_without_a_token_when_there_is_none() {
        let job =
            WriteBack { user_id: 5, ext: "webp".into(), version: "abc".into(), size: 256, token: None, attempts: 1 };
        let json = serde_json::to_string(&job).unwrap();
        assert!(!json.contains("token"), "{json}");
        assert_eq!(serde_json::from_str::<WriteBack>(&json).unwrap(), job);
    }

    #[test]
    fn multipart_body() {
        let body = multipart_file("XyZ", "5.png", "image/png", b"\x89PNG");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"5.png\"\r\nContent-Type: image/png\r\n\r\n"));
        assert!(text.ends_with("\r\n--XyZ--\r\n"));
        let parts = crate::multipart::parse(&body, "XyZ").unwrap();
        assert_eq!(parts.len(), 1);
    }
}
