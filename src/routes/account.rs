//! `GET /api/user/detail` and `POST /api/user/logout`.

use serde_json::Value;
use worker::Env;

use super::session::{self, authenticate, Purpose};
use super::{Failure, Outcome};
use crate::envelope::Envelope;
use crate::http::{self, Incoming};
use crate::i18n::{Lang, Notice};
use crate::paths;
use crate::request_log::RequestLog;
use crate::storage::Avatars;

/// Fields never sent back even if an operator stored them in the profile.
const PRIVATE_FIELDS: [&str; 3] = ["password", "salt", "token"];

/// The member's profile (AnqiCMS field names), with the avatar as R2 holds
/// it now: an upload stores only the image, whose version is the avatar's
/// pointer, so the profile in KV (or at the site) is never rewritten.
pub async fn detail(req: &Incoming, env: &Env, lang: Lang, log: &mut RequestLog) -> Result<Outcome, Failure> {
    let config = http::config(env)?;
    let session = authenticate(req, env, &config, Purpose::Read).await?;
    log.user_id = Some(session.user_id);
    let current = Avatars::from_env(env)?.current(session.user_id).await?;
    let profile_json = match current {
        Some(avatar) => {
            let base = http::public_base(req, &config);
            let url = paths::avatar_url(&base, session.user_id, avatar.ext, &avatar.version);
            session.profile.with_avatar_url(&url)
        }
        None => session.profile.to_json(),
    };
    let mut data: Value = serde_json::from_str(&profile_json).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut data {
        for f in PRIVATE_FIELDS {
            map.remove(f);
        }
    }
    let mut out = Outcome::envelope(&Envelope::ok(Notice::Detail.message(lang), data))?;
    http::attach_update_token(&mut out.response, session::update_token(&session, &config))?;
    Ok(out)
}

/// Ends the token and every token of its family (refreshed from the same
/// login). Any token that is good may log out, a banned member's too.
pub async fn logout(req: &Incoming, env: &Env, lang: Lang, log: &mut RequestLog) -> Result<Outcome, Failure> {
    let config = http::config(env)?;
    let session = authenticate(req, env, &config, Purpose::LogOut).await?;
    log.user_id = Some(session.user_id);
    session::revoke(&session).await?;
    Ok(Outcome::envelope(&Envelope::ok(Notice::LoggedOut.message(lang), Value::Null))?)
}
