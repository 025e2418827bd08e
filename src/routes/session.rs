//! The logged-in session: token → verdict → profile, in either mode.
//!
//! * KV-only mode: the token is verified with `TOKEN_SECRET`, the profile is
//!   `user:{id}` in KV.
//! * Origin mode (`ANQICMS_ORIGIN`): the profile is what the AnqiCMS site
//!   says about the token (cached in KV for `PROFILE_TTL`); with
//!   `TOKEN_SECRET` a bad token is refused before the site is asked.
//!
//! Both check the revocation marks of the token and of the login it was
//! refreshed from, enforce bans (`status` below 0, which AnqiCMS itself does
//! not), and never answer 1001 because a store or the site failed: AnqiCMS
//! clients drop the token on 1001.

use worker::{console_log, Env};

use super::Failure;
use crate::auth::{self, AuthError, Profile, TokenSource, Verified};
use crate::config::{parse_origin, Config, OriginSettings};
use crate::envelope::RequestError;
use crate::http::{self, now_unix, Incoming};
use crate::origin::{self, Verdict};
use crate::storage::Users;

/// What the route is about to do with the session.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Read the member's own data (`GET`): a cookie from any page is fine,
    /// the browser keeps other sites from reading the answer.
    Read,
    /// Change something (upload, logout): a `token` cookie counts only on a
    /// request from a page this service trusts.
    Change,
    /// Log out: like `Change`, and a banned member may do it too.
    LogOut,
}

/// A member whose token is good.
pub struct Session {
    pub token: String,
    pub user_id: u64,
    /// The token's claims: verified with `TOKEN_SECRET`, or (origin mode
    /// without it) read after the site accepted the token.
    pub claims: Verified,
    pub profile: Profile,
    pub users: Users,
    /// `update-token` the site sent with its verdict (origin mode).
    pub site_update_token: Option<String>,
}

impl Session {
    /// Hashes whose revocation marks end this session: the token's own, and
    /// the login it was refreshed from.
    fn family(token: &str, claims: Option<&Verified>) -> Vec<String> {
        let mut hashes = vec![auth::token_sha256_hex(token)];
        if let Some(l) = claims.and_then(|c| c.lineage.as_ref()) {
            hashes.push(l.root.clone());
        }
        hashes
    }
}

/// Checks the request's token and the member behind it.
pub async fn authenticate(req: &Incoming, env: &Env, config: &Config, purpose: Purpose) -> Result<Session, Failure> {
    if config.token_secret.is_none() && config.origin.is_none() {
        return Err(RequestError::NoTokenSecret.into());
    }
    let (source, token) = auth::find_token(|name| http::header(req, name)).ok_or(AuthError::MissingToken)?;
    if source == TokenSource::Cookie && purpose != Purpose::Read {
        check_cookie_origin(req, config)?;
    }
    // With the secret, a forged or expired token costs no KV or site request.
    let verified = match &config.token_secret {
        Some(secret) => Some(auth::verify_token(&token, secret, now_unix())?),
        None => None,
    };
    let users = Users::from_env(env)?;
    let (profile, claims, site_update_token) = match &config.origin {
        None => {
            let claims = verified.ok_or(AuthError::NoSecret)?;
            let hashes = Session::family(&token, Some(&claims));
            let hashes: Vec<&str> = hashes.iter().map(String::as_str).collect();
            let (profile, revoked) = futures_util::join!(users.profile(claims.user_id), users.any_revoked(&hashes));
            let profile = auth::session_profile(profile?.as_deref(), revoked?)?;
            (profile, claims, None)
        }
        Some(site) => {
            let (profile, update_token) = site_profile(&users, site, &token, verified.as_ref()).await?;
            let claims = match verified {
                Some(v) => v,
                // The site accepted the token, so its claims are authentic.
                None => auth::unverified_claims(&token, now_unix())?,
            };
            if profile.id() != Some(claims.user_id) {
                return Err(AuthError::NoSuchUser.into());
            }
            (profile, claims, update_token)
        }
    };
    if profile.is_banned() && purpose != Purpose::LogOut {
        return Err(AuthError::Banned.into());
    }
    Ok(Session { user_id: claims.user_id, token, claims, profile, users, site_update_token })
}

/// Origin mode: the member as the site sees them, from the KV cache when it
/// holds a verdict on this token, else from the site (and then cached).
async fn site_profile(
    users: &Users,
    site: &OriginSettings,
    token: &str,
    verified: Option<&Verified>,
) -> Result<(Profile, Option<String>), Failure> {
    let hashes = Session::family(token, verified);
    let hashes: Vec<&str> = hashes.iter().map(String::as_str).collect();
    let key = origin::cache_key(token);
    let (revoked, cached) = futures_util::join!(users.any_revoked(&hashes), users.cached(&key));
    if revoked? {
        return Err(AuthError::Revoked.into());
    }
    // An unreadable cache is only a miss: the site is asked instead.
    let cached = cached.ok().flatten().and_then(|entry| origin::read_cache_entry(&entry));
    let (verdict, update_token) = match cached {
        Some(verdict) => (verdict, None),
        None => {
            let (verdict, update_token) = origin::client::detail(site, token).await?;
            if let Err(e) = users.cache(&key, &origin::cache_entry(&verdict), u64::from(site.profile_ttl)).await {
                // The answer is still good for this request.
                console_log!(
                    "{}",
                    serde_json::json!({ "event": "cache", "outcome": "not_written", "detail": e.to_string() })
                );
            }
            (verdict, update_token)
        }
    };
    match verdict {
        Verdict::Member(profile) => Ok((profile, update_token)),
        Verdict::NotLoggedIn => Err(AuthError::RefusedBySite.into()),
    }
}

/// A `token` cookie is honoured on a change only when the request comes
/// from a page this service trusts (`Config::trusts_cookie_origin`): a
/// multipart form needs no CORS preflight, so any site could otherwise post
/// one with the member's cookie. `Sec-Fetch-Site: same-origin` (or `none`,
/// typed by the member) stands for the Worker's own origin.
fn check_cookie_origin(req: &Incoming, config: &Config) -> Result<(), Failure> {
    let fetch_site = http::header(req, "Sec-Fetch-Site").map(|v| v.trim().to_ascii_lowercase());
    if matches!(fetch_site.as_deref(), Some("same-origin" | "none")) {
        return Ok(());
    }
    let origin = http::header(req, "Origin");
    let own = req.url().map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    match &origin {
        Some(o) if config.trusts_cookie_origin(o.trim(), &own) => Ok(()),
        _ => Err(RequestError::CookieFromOtherSite { origin: origin.as_deref().and_then(parse_origin) }.into()),
    }
}

/// The `Update-Token` to send: the one the site sent, else (with the
/// secret) a fresh 24 h token when this one expires within the hour,
/// carrying the login it descends from, so logging that out ends it too.
pub fn update_token(session: &Session, config: &Config) -> Option<String> {
    if session.site_update_token.is_some() {
        return session.site_update_token.clone();
    }
    let now = now_unix();
    if !auth::needs_refresh(&session.claims, now) {
        return None;
    }
    let secret = config.token_secret.as_deref()?;
    let lineage = session.claims.lineage_for_refresh(&session.token);
    auth::mint_token(session.user_id, secret, now + auth::REFRESH_VALIDITY_SECS, Some(&lineage)).ok()
}

/// Logs the session's token out, and with it the whole family: the login
/// it was refreshed from and every token refreshed from that. The marks
/// outlive every token of the family: the login's own expiry, and a day
/// (the longest refresh) after now, since no family member can be
/// refreshed once the mark is there.
pub async fn revoke(session: &Session) -> Result<(), Failure> {
    let now = now_unix();
    let family = session.claims.lineage_for_refresh(&session.token);
    // Every token of the family checks the root's mark, this one included.
    // (KV needs an expiration at least 60 s ahead.)
    let until = family.root_expires_at.max(session.claims.expires_at).max(now + auth::REFRESH_VALIDITY_SECS) + 60;
    session.users.revoke(&family.root, until as u64).await?;
    Ok(())
}
