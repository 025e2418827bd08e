//! Worker-side HTTP helpers: reading settings from `Env`, the one place
//! response headers are set, CORS. Kept tiny: decisions live in the pure
//! modules.

use std::cell::OnceCell;
use std::rc::Rc;

use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Env, Headers, Method, Response, Result};

use crate::config::{AllowedOrigins, Config, ConfigError};
use crate::envelope::Envelope;

/// The request the Worker is answering. workers-rs's own `Request` reads
/// `request.cf` as it is built, and on workerd that getter turns the
/// request's Cloudflare properties into a fresh JS object on every request;
/// nothing here uses them, so this one reads only what is asked for.
pub struct Incoming {
    raw: web_sys::Request,
    headers: Headers,
    method: Method,
    /// The URL's path, without its query: read once, routing asks often.
    path: String,
}

impl worker::FromRequest for Incoming {
    fn from_raw(raw: web_sys::Request) -> std::result::Result<Self, impl Into<Box<dyn std::error::Error>>> {
        let path = crate::paths::request_path(&raw.url()).to_string();
        Ok::<Incoming, worker::Error>(Incoming {
            headers: Headers(raw.headers()),
            method: raw.method().into(),
            path,
            raw,
        })
    }
}

impl Incoming {
    pub fn method(&self) -> Method {
        self.method.clone()
    }

    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The URL's path, without its query.
    pub fn path(&self) -> String {
        self.path.clone()
    }

    pub fn url(&self) -> Result<worker::Url> {
        let url = self.raw.url();
        url.parse().map_err(|e| worker::Error::RustError(format!("unparsable URL {url}: {e}")))
    }

    /// The whole body, copied into wasm memory once.
    pub async fn bytes(&self) -> Result<Vec<u8>> {
        let buffer = JsFuture::from(self.raw.array_buffer()?).await?;
        Ok(Uint8Array::new(&buffer).to_vec())
    }

    pub fn inner(&self) -> &web_sys::Request {
        &self.raw
    }
}

/// Reads a var or secret by name. Numbers in `[vars]` arrive as JS numbers
/// (`AVATAR_SIZE = 256` in wrangler.toml), so both kinds are accepted.
pub fn env_value(env: &Env, name: &str) -> Option<String> {
    let v = Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    v.as_f64()
        .map(|n| if n.fract() == 0.0 && n.abs() < 1e16 { format!("{}", n as i64) } else { n.to_string() })
        .or_else(|| v.as_bool().map(|b| b.to_string()))
}

/// The validated settings. Read from `env` once per isolate: its vars and
/// secrets are fixed for the isolate's life (a change is a new deployment,
/// served by new isolates), and reading each of them is a call into JS.
pub fn config(env: &Env) -> std::result::Result<Rc<Config>, ConfigError> {
    thread_local! {
        static SETTINGS: OnceCell<std::result::Result<Rc<Config>, ConfigError>> = const { OnceCell::new() };
    }
    SETTINGS.with(|settings| {
        settings.get_or_init(|| Config::from_lookup(&|name| env_value(env, name)).map(Rc::new)).clone()
    })
}

/// Seconds since the epoch, from the Workers clock.
pub fn now_unix() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// The origin put in front of avatar URLs: `PUBLIC_BASE_URL`, else the
/// request's own (`https://host`).
pub fn public_base(req: &Incoming, config: &Config) -> String {
    config
        .public_base_url
        .clone()
        .unwrap_or_else(|| req.url().map(|u| u.origin().ascii_serialization()).unwrap_or_default())
}

/// A request header, `None` when absent or unreadable.
pub fn header(req: &Incoming, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// How long an answer may be kept by caches.
#[derive(Clone, Copy)]
pub enum Caching {
    /// Never (API answers, the page, errors).
    None,
    /// This `Cache-Control` value.
    Public(&'static str),
}

/// The headers every answer of the Worker carries: its type, its caching,
/// and `nosniff` (a browser must never guess another type).
pub fn base_headers(content_type: &str, caching: Caching) -> Result<Headers> {
    let headers = Headers::new();
    headers.set("Content-Type", content_type)?;
    headers.set(
        "Cache-Control",
        match caching {
            Caching::None => "no-store",
            Caching::Public(v) => v,
        },
    )?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(headers)
}

/// HTTP 200 with the JSON envelope (AnqiCMS clients read `code`).
pub fn envelope_response(envelope: &Envelope) -> Result<Response> {
    let headers = base_headers("application/json; charset=utf-8", Caching::None)?;
    Ok(Response::from_bytes(envelope.to_json().into_bytes())?.with_headers(headers))
}

/// A plain-text answer for non-API routes (404, 503, ...).
pub fn text_response(status: u16, text: &str) -> Result<Response> {
    let headers = base_headers("text/plain; charset=utf-8", Caching::None)?;
    Ok(Response::from_bytes(text.as_bytes().to_vec())?.with_status(status).with_headers(headers))
}

/// Sets `Update-Token` (exposed to browsers by CORS) when there is one.
pub fn attach_update_token(response: &mut Response, token: Option<String>) -> Result<()> {
    if let Some(token) = token {
        response.headers_mut().set("Update-Token", &token)?;
    }
    Ok(())
}

/// Headers a browser front end on another origin needs.
const ALLOW_HEADERS: &str = "Token, Content-Type, Authorization, Accept-Language, Site-Id";
const ALLOW_METHODS: &str = "GET, HEAD, POST, OPTIONS";

/// Adds the CORS headers of a request from `origin`: once per answer (the
/// entry point calls it for every answer, preflights included). `Vary:
/// Origin` goes on every answer whose headers depend on the origin, also
/// when this origin got none, so a shared cache never serves one origin's
/// answer to another.
pub fn apply_cors(resp: &mut Response, allowed: &AllowedOrigins, origin: Option<&str>) -> Result<()> {
    let h = resp.headers_mut();
    if allowed.varies() {
        h.append("Vary", "Origin")?;
    }
    let Some(allow) = allowed.allow(origin) else { return Ok(()) };
    h.set("Access-Control-Allow-Origin", &allow)?;
    h.set("Access-Control-Expose-Headers", "Update-Token")?;
    if allow != "*" {
        // A listed origin may send the `token` cookie.
        h.set("Access-Control-Allow-Credentials", "true")?;
    }
    Ok(())
}

/// Answers an `OPTIONS` preflight (its CORS headers are added with every
/// other answer's, by [`apply_cors`]).
pub fn preflight(allowed: &AllowedOrigins, origin: Option<&str>) -> Result<Response> {
    let resp = Response::empty()?.with_status(204);
    if allowed.allow(origin).is_some() {
        let h = resp.headers();
        h.set("Access-Control-Allow-Methods", ALLOW_METHODS)?;
        h.set("Access-Control-Allow-Headers", ALLOW_HEADERS)?;
        h.set("Access-Control-Max-Age", "86400")?;
    }
    Ok(resp)
}
