//! Worker-side HTTP helpers: reading settings from `Env`, envelope and
//! CORS responses. Kept tiny: the decisions live in the pure modules.

use worker::js_sys::Reflect;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Headers, Request, Response, Result};

use crate::config::{AllowedOrigins, Config, ConfigError};
use crate::envelope::Envelope;

/// Reads a var or secret by name. Numbers in `[vars]` arrive as JS numbers
/// (`AVATAR_SIZE = 256` in wrangler.toml), so both kinds are accepted.
pub fn env_value(env: &Env, name: &str) -> Option<String> {
    let v = Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    v.as_f64().map(|n| if n.fract() == 0.0 && n.abs() < 1e16 { format!("{}", n as i64) } else { n.to_string() })
        .or_else(|| v.as_bool().map(|b| b.to_string()))
}

/// The validated settings of this request.
pub fn config(env: &Env) -> std::result::Result<Config, ConfigError> {
    Config::from_lookup(&|name| env_value(env, name))
}

/// A request header, `None` when absent or unreadable.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// HTTP 200 with the JSON envelope (AnqiCMS clients read `code`).
pub fn envelope_response(envelope: &Envelope) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json; charset=utf-8")?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(Response::from_bytes(envelope.to_json().into_bytes())?.with_headers(headers))
}

/// Headers a browser front end on another origin needs.
const ALLOW_HEADERS: &str = "Token, Content-Type, Authorization, Accept-Language, Site-Id";
const ALLOW_METHODS: &str = "GET, HEAD, POST, OPTIONS";

/// Adds CORS headers when the request's `Origin` is allowed.
pub fn apply_cors(resp: &mut Response, allowed: &AllowedOrigins, origin: Option<&str>) -> Result<()> {
    let Some(allow) = allowed.allow(origin) else { return Ok(()) };
    let h = resp.headers_mut();
    h.set("Access-Control-Allow-Origin", &allow)?;
    h.set("Access-Control-Expose-Headers", "Update-Token")?;
    if allow != "*" {
        // A listed origin may send the `token` cookie.
        h.set("Access-Control-Allow-Credentials", "true")?;
        h.append("Vary", "Origin")?;
    }
    Ok(())
}

/// Answers an `OPTIONS` preflight.
pub fn preflight(allowed: &AllowedOrigins, origin: Option<&str>) -> Result<Response> {
    let mut resp = Response::empty()?.with_status(204);
    if allowed.allow(origin).is_some() {
        apply_cors(&mut resp, allowed, origin)?;
        let h = resp.headers_mut();
        h.set("Access-Control-Allow-Methods", ALLOW_METHODS)?;
        h.set("Access-Control-Allow-Headers", ALLOW_HEADERS)?;
        h.set("Access-Control-Max-Age", "86400")?;
    }
    Ok(resp)
}

/// A plain-text answer for non-API routes (404, 503, ...), typed and
/// `nosniff` like everything else the Worker sends.
pub fn text_response(status: u16, text: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "text/plain; charset=utf-8")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set("Cache-Control", "no-store")?;
    Ok(Response::from_bytes(text.as_bytes().to_vec())?.with_status(status).with_headers(headers))
}
