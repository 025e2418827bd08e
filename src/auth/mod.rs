//! Token extraction, JWT verification and the session decision.
//!
//! Pure Rust, no Worker types and no clock: the caller passes `now_unix`
//! (seconds) and does the KV reads; this module decides.
//!
//! The flow of a request, as the route runs it:
//!
//! 1. [`extract_token`]: `Token` header, else cookie `token`, else
//!    `Authorization: Bearer`.
//! 2. [`verify_token`]: HS256 only, key `TOKEN_SECRET + "-user-token"`
//!    (AnqiCMS), claims `userId`/`t` (AnqiCMS, strings) or `sub`/`exp`.
//!    The signature is checked before the claims are even decoded.
//! 3. KV: `user:{id}` ([`user_key`]) and `revoked:{sha256 hex}`
//!    ([`revoked_key`]).
//! 4. [`session_check`]: revoked / missing user → 1001, banned → 1002.
//! 5. [`needs_refresh`] / [`mint_token`]: the `Update-Token` header.

mod profile;
mod token;

pub use profile::{revocation_key, revoked_key, session_check, session_profile, token_sha256_hex, user_key, Profile};
pub use token::{
    extract_token, find_token, mint_token, needs_refresh, unverified_claims, verify_token, Lineage, TokenSource,
    Verified, MAX_TOKEN_LEN, REFRESH_VALIDITY_SECS, REFRESH_WINDOW_SECS,
};

use crate::i18n::{Lang, UserFacing, CODE_ERROR, CODE_NOT_AUTHORIZED, CODE_NOT_LOGGED_IN};

/// Why a request is not (or cannot be) an authenticated session.
///
/// Every variant except [`AuthError::Banned`] (1002) and the two operator
/// problems ([`AuthError::NoSecret`], [`AuthError::CorruptProfile`], -1) is
/// "not logged in" (1001). `Display` is a short English reason for the log;
/// what the member reads is [`UserFacing::message`]. Neither ever contains
/// the token, the secret or anything else taken from the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token in the `Token` header, the `token` cookie or `Authorization`.
    #[error("missing token")]
    MissingToken,
    /// Not a JWT, bad base64/JSON, or a claim of the wrong type
    /// (e.g. non-numeric `userId`, `userId` 0, `userId` ≠ `sub`).
    #[error("malformed token")]
    Malformed,
    /// `alg` is not `HS256` (`none`, `HS384`, `RS256`, ...). Holds the
    /// header's value, cut to 32 characters, for logs only.
    #[error("unsupported alg {0:?}")]
    UnsupportedAlg(String),
    /// The HS256 signature does not verify (tampered, or another secret).
    #[error("bad signature")]
    BadSignature,
    /// Neither `t` nor `exp`: a token that never expires is refused.
    #[error("token without expiry")]
    NoExpiry,
    /// `t`/`exp` is at or before now.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `revoked:{sha256}` exists for the token or the login it descends from.
    #[error("token revoked")]
    Revoked,
    /// No `user:{id}` in KV (or, in origin mode, the site's member is not
    /// the token's user).
    #[error("no such user")]
    NoSuchUser,
    /// Origin mode: the AnqiCMS site answered 1001 for this token (bad,
    /// expired, or its member deleted).
    #[error("refused by the site")]
    RefusedBySite,
    /// `user:{id}` exists but is not a JSON object (or `status` is not a
    /// number). Code -1: logging in again cannot fix it, an operator must.
    #[error("corrupt profile")]
    CorruptProfile,
    /// `status` is negative.
    #[error("member banned")]
    Banned,
    /// Empty `TOKEN_SECRET` (defence in depth: config already refuses it).
    #[error("TOKEN_SECRET empty")]
    NoSecret,
}

impl AuthError {
    /// One of each, for the tests that read every message.
    #[cfg(test)]
    pub(crate) fn samples() -> Vec<AuthError> {
        use AuthError::*;
        vec![
            MissingToken,
            Malformed,
            UnsupportedAlg("none".into()),
            BadSignature,
            NoExpiry,
            Expired,
            NotYetValid,
            Revoked,
            NoSuchUser,
            RefusedBySite,
            CorruptProfile,
            Banned,
            NoSecret,
        ]
    }
}

impl UserFacing for AuthError {
    fn code(&self) -> i32 {
        match self {
            AuthError::Banned => CODE_NOT_AUTHORIZED,
            AuthError::CorruptProfile | AuthError::NoSecret => CODE_ERROR,
            _ => CODE_NOT_LOGGED_IN,
        }
    }

    fn message(&self, lang: Lang) -> String {
        let (zh, en) = match self {
            AuthError::MissingToken => ("请先登录", "Please log in first"),
            AuthError::Malformed | AuthError::UnsupportedAlg(_) | AuthError::BadSignature => {
                ("登录信息无效，请重新登录", "Your login is invalid; please log in again")
            }
            AuthError::NoExpiry => {
                ("登录信息无效（缺少有效期），请重新登录", "Your login has no expiry; please log in again")
            }
            AuthError::Expired => ("登录已过期，请重新登录", "Your login has expired; please log in again"),
            AuthError::NotYetValid => {
                ("登录信息尚未生效，请重新登录", "Your login is not valid yet; please log in again")
            }
            AuthError::Revoked => ("您已退出登录，请重新登录", "You have logged out; please log in again"),
            AuthError::NoSuchUser => ("用户不存在，请重新登录", "This account does not exist; please log in again"),
            AuthError::RefusedBySite => {
                ("登录已失效，请重新登录", "Your login is no longer valid; please log in again")
            }
            AuthError::CorruptProfile => (
                "用户资料数据有误，头像未更改，请联系网站管理员",
                "Your profile record is damaged, so the avatar was not changed; please contact the site administrator",
            ),
            AuthError::Banned => ("账号已被禁用", "This account is disabled"),
            AuthError::NoSecret => {
                ("服务配置错误: TOKEN_SECRET 为空", "The service is misconfigured: TOKEN_SECRET is empty")
            }
        };
        lang.pick(zh, en).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for e in [
            AuthError::MissingToken,
            AuthError::Malformed,
            AuthError::UnsupportedAlg("none".into()),
            AuthError::BadSignature,
            AuthError::NoExpiry,
            AuthError::Expired,
            AuthError::NotYetValid,
            AuthError::Revoked,
            AuthError::NoSuchUser,
            AuthError::RefusedBySite,
        ] {
            assert_eq!(e.code(), 1001, "{e:?}");
        }
        assert_eq!(AuthError::Banned.code(), 1002);
        assert_eq!(AuthError::CorruptProfile.code(), -1);
        assert_eq!(AuthError::NoSecret.code(), -1);
    }

    #[test]
    fn messages_in_both_languages_without_request_data() {
        assert_eq!(AuthError::MissingToken.message(Lang::Zh), "请先登录");
        assert_eq!(AuthError::MissingToken.message(Lang::En), "Please log in first");
        assert_eq!(AuthError::Banned.message(Lang::Zh), "账号已被禁用");
        assert_eq!(AuthError::Banned.message(Lang::En), "This account is disabled");
        let alg = AuthError::UnsupportedAlg("EVIL<script>".into());
        assert!(!alg.message(Lang::En).contains("EVIL"));
        assert!(!alg.message(Lang::Zh).contains("EVIL"));
    }
}
