//! `GET`/`HEAD /uploads/user/{id}.{ext}`: the stored avatar from R2.
//!
//! In origin mode, anything under `/uploads/user/` that R2 does not hold
//! (avatars members uploaded before the Worker existed, `.gif` ones, the
//! site's own copies written back) is fetched from the AnqiCMS site and
//! handed back unchanged.

use worker::{Env, Method, Response, Result};

use crate::http::{self, Caching, Incoming};
use crate::origin::client;
use crate::paths;
use crate::storage::{Avatars, VERSION_META};

/// Versioned URLs (`?v=`) never change content: cache them for a year.
const CACHE_VERSIONED: &str = "public, max-age=31536000, immutable";
/// The bare URL changes with each upload: let caches revalidate.
const CACHE_UNVERSIONED: &str = "public, max-age=60, must-revalidate";
/// An image needs none of a page's powers.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

pub async fn serve(req: &Incoming, env: &Env) -> Result<Response> {
    let path = req.path();
    let site = http::config(env).ok().and_then(|c| c.origin.clone());
    let pass_through = || async {
        match &site {
            Some(site) => {
                let query = req.url().ok().and_then(|u| u.query().map(|q| format!("?{q}"))).unwrap_or_default();
                client::pass_through(site, req, &format!("{path}{query}")).await
            }
            None => http::text_response(404, "Not Found"),
        }
    };
    let Some((user_id, ext)) = paths::parse_avatar_path(&path) else { return pass_through().await };
    let Ok(avatars) = Avatars::from_env(env) else {
        return http::text_response(503, "Storage is not configured");
    };
    let key = paths::avatar_key(user_id, ext);
    // HEAD needs the metadata only.
    let found = if req.method() == Method::Head {
        avatars.bucket().head(&key).await
    } else {
        avatars.bucket().get(&key).execute().await
    };
    let Ok(found) = found else {
        return http::text_response(503, "Storage unavailable");
    };
    let Some(object) = found else { return pass_through().await };

    let etag = object.http_etag();
    // A year of caching only when the URL's version is the stored one: a
    // stale `?v=` (e.g. from a lost race) must not pin other bytes.
    let stored_version = object.custom_metadata().ok().and_then(|m| m.get(VERSION_META).cloned());
    let versioned = req
        .url()
        .map(|u| u.query_pairs().any(|(k, v)| k == "v" && Some(v.as_ref()) == stored_version.as_deref()))
        .unwrap_or(false);
    let content_type = object.http_metadata().content_type.unwrap_or_else(|| "application/octet-stream".to_string());
    let headers = http::base_headers(
        &content_type,
        Caching::Public(if versioned { CACHE_VERSIONED } else { CACHE_UNVERSIONED }),
    )?;
    headers.set("ETag", &etag)?;
    headers.set("Content-Security-Policy", CSP)?;

    if if_none_match_hits(http::header(req, "If-None-Match").as_deref(), &etag) {
        return Ok(Response::empty()?.with_status(304).with_headers(headers));
    }
    headers.set("Content-Length", &object.size().to_string())?;
    if req.method() == Method::Head {
        return Ok(Response::empty()?.with_headers(headers));
    }
    match object.body() {
        Some(body) => Ok(Response::from_body(body.response_body()?)?.with_headers(headers)),
        None => http::text_response(503, "Storage unavailable"),
    }
}

/// `If-None-Match` matches when any listed tag (weak or strong) equals ours.
fn if_none_match_hits(header: Option<&str>, etag: &str) -> bool {
    let Some(h) = header else { return false };
    let bare = |t: &str| t.trim().trim_start_matches("W/").trim_matches('"').to_string();
    let ours = bare(etag);
    h.split(',').any(|t| t.trim() == "*" || bare(t) == ours)
}
