//! `GET /api/user/detail` and `POST /api/user/logout`.

use serde_json::Value;
use worker::{Env, Request};

use super::session::{authenticate, refreshed_token};
use super::{now_unix, Failure, Outcome};
use crate::envelope::{Envelope, Lang};
use crate::http;
use crate::request_log::RequestLog;

/// Fields never sent back even if an operator stored them in the profile.
const PRIVATE_FIELDS: [&str; 3] = ["password", "salt", "token"];

pub async fn detail(req: &Request, env: &Env, lang: Lang, log: &mut RequestLog) -> Result<Outcome, Failure> {
    let config = http::config(env)?;
    let session = authenticate(req, env, &config).await?;
    log.user_id = Some(session.verified.user_id);
    let mut data: Value = serde_json::from_str(&session.profile.to_json()).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut data {
        for f in PRIVATE_FIELDS {
            map.remove(f);
        }
    }
    let mut out = Outcome::envelope(&Envelope::ok(lang.pick("获取成功", "OK"), data))
        .map_err(|_| crate::envelope::RequestError::Storage { what: "response" })?;
    if let Some(token) = refreshed_token(&session, &config) {
        let _ = out.response.headers_mut().set("Update-Token", &token);
    }
    Ok(out)
}

pub async fn logout(req: &Request, env: &Env, lang: Lang, log: &mut RequestLog) -> Result<Outcome, Failure> {
    let config = http::config(env)?;
    let session = authenticate(req, env, &config).await?;
    log.user_id = Some(session.verified.user_id);
    // KV needs an expiration at least 60 s ahead; the mark must outlive
    // the token, never the other way round.
    let expires = session.verified.expires_at.max(now_unix() + 60);
    session.users.revoke(&session.token, expires as u64).await?;
    Outcome::envelope(&Envelope::ok(lang.pick("已退出登录", "Logged out"), Value::Null))
        .map_err(|_| crate::envelope::RequestError::Storage { what: "response" }.into())
}
