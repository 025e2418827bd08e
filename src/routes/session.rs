//! The logged-in session: token → verified claims → KV profile.

use worker::{Env, Request};

use super::{now_unix, Failure};
use crate::auth::{self, Profile, Verified};
use crate::config::Config;
use crate::envelope::RequestError;
use crate::http;
use crate::storage::Users;

/// A verified, not revoked, not banned user.
pub struct Session {
    pub token: String,
    pub verified: Verified,
    pub profile: Profile,
    pub users: Users,
}

/// Checks the request's token and the KV session.
///
/// The signature is verified before any KV read, so forged tokens cost no
/// KV operations.
pub async fn authenticate(req: &Request, env: &Env, config: &Config) -> Result<Session, Failure> {
    let secret = config.token_secret.as_deref().ok_or_else(|| RequestError::Misconfigured {
        detail: "TOKEN_SECRET is not set (wrangler secret put TOKEN_SECRET)".into(),
    })?;
    let token = auth::extract_token(|name| http::header(req, name)).ok_or(auth::AuthError::MissingToken)?;
    let verified = auth::verify_token(&token, secret, now_unix())?;

    let users = Users::from_env(env)?;
    let (profile, revoked) =
        futures_util::join!(users.profile(verified.user_id), users.is_revoked(&token));
    let profile = auth::session_check(profile?.as_deref(), revoked?)?;
    Ok(Session { token, verified, profile, users })
}

/// An `Update-Token` value when the token expires within the hour.
pub fn refreshed_token(session: &Session, config: &Config) -> Option<String> {
    let now = now_unix();
    if !auth::needs_refresh(&session.verified, now) {
        return None;
    }
    let secret = config.token_secret.as_deref()?;
    auth::mint_token(session.verified.user_id, secret, now + auth::REFRESH_VALIDITY_SECS).ok()
}
