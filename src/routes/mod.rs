//! Routing, and the one mapping from a route's failure to its envelope.

mod account;
mod page;
mod serve;
mod session;
mod upload;

use worker::{Context, Env, Method, Response, Result};

use crate::auth::AuthError;
use crate::config::ConfigError;
use crate::envelope::{Envelope, Lang, RequestError, UserFacing};
use crate::http::{self, Incoming};
use crate::imaging::ImageError;
use crate::origin::SiteUnavailable;
use crate::request_log::RequestLog;
use crate::storage::StoreError;

/// Any reason a route fails. Each maps to one envelope through
/// [`UserFacing`]; its `Display` (with causes) goes to the log only.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Site(#[from] SiteUnavailable),
    /// The runtime failed where it should not (building a response): a
    /// bug or a platform fault, answered as an internal error.
    #[error("runtime: {0}")]
    Runtime(#[from] worker::Error),
}

impl Failure {
    fn user_facing(&self) -> &dyn UserFacing {
        match self {
            Failure::Config(e) => e,
            Failure::Request(e) => e,
            Failure::Auth(e) => e,
            Failure::Image(e) => e,
            Failure::Store(e) => e,
            Failure::Site(e) => e,
            Failure::Runtime(_) => &RequestError::Internal,
        }
    }
}

impl UserFacing for Failure {
    fn code(&self) -> i32 {
        self.user_facing().code()
    }

    fn message(&self, lang: Lang) -> String {
        self.user_facing().message(lang)
    }
}

/// What a route hands back: the response, plus facts for the log line.
pub struct Outcome {
    pub response: Response,
    pub code: Option<i32>,
}

impl Outcome {
    fn envelope(envelope: &Envelope) -> Result<Outcome> {
        Ok(Outcome { response: http::envelope_response(envelope)?, code: Some(envelope.code) })
    }

    fn plain(response: Response) -> Outcome {
        Outcome { response, code: None }
    }
}

/// An API route's result as the answer: its envelope, or its failure's.
fn answer(result: std::result::Result<Outcome, Failure>, lang: Lang, log: &mut RequestLog) -> Result<Outcome> {
    match result {
        Ok(out) => Ok(out),
        Err(f) => {
            log.error = Some(f.to_string());
            Outcome::envelope(&Envelope::error(&f, lang))
        }
    }
}

/// Dispatches one request.
pub async fn handle(req: Incoming, env: &Env, ctx: &Context, log: &mut RequestLog) -> Result<Outcome> {
    let lang = Lang::from_accept_language(http::header(&req, "Accept-Language").as_deref());
    let path = req.path();
    let method = req.method();

    if method == Method::Options {
        let allowed = http::config(env).map(|c| c.allowed_origins.clone()).unwrap_or_default();
        log.route = "preflight";
        let origin = http::header(&req, "Origin");
        return Ok(Outcome::plain(http::preflight(&allowed, origin.as_deref())?));
    }

    let api = |route: &'static str, allowed: &'static str, log: &mut RequestLog| {
        log.route = route;
        Failure::from(RequestError::MethodNotAllowed { method: method.to_string(), allowed })
    };
    match (path.as_str(), &method) {
        ("/api/user/avatar", Method::Post) => {
            log.route = "upload";
            let result = upload::upload(&req, env, ctx, lang, log).await;
            answer(result, lang, log)
        }
        ("/api/user/detail", Method::Get) => {
            log.route = "detail";
            let result = account::detail(&req, env, lang, log).await;
            answer(result, lang, log)
        }
        ("/api/user/logout", Method::Post) => {
            log.route = "logout";
            let result = account::logout(&req, env, lang, log).await;
            answer(result, lang, log)
        }
        ("/api/user/avatar", _) => answer(Err(api("upload", "POST", log)), lang, log),
        ("/api/user/logout", _) => answer(Err(api("logout", "POST", log)), lang, log),
        ("/api/user/detail", _) => answer(Err(api("detail", "GET", log)), lang, log),
        (p, Method::Get | Method::Head) if p.starts_with("/uploads/user/") => {
            log.route = "serve";
            serve::serve(&req, env).await.map(Outcome::plain)
        }
        #[cfg(feature = "test-hooks")]
        ("/api/__test/panic", Method::Post) => {
            log.route = "test-panic";
            panic!("deliberate panic (test-hooks build only)");
        }
        #[cfg(feature = "test-hooks")]
        ("/api/__test/simd", Method::Get) => {
            // The SIMD code that native tests cannot run, checked here.
            log.route = "test-simd";
            let checks = [
                ("jpeg colour kernel", crate::imaging::jpeg_colour_self_check().map(|n| format!("{n} pixels"))),
                ("jpeg 8x8 transform", crate::imaging::jpeg_idct_self_check().map(|n| format!("{n} blocks"))),
                ("jpeg 4x4 transform", crate::imaging::jpeg_idct4_self_check().map(|n| format!("{n} blocks"))),
                ("jpeg chroma stretch", crate::imaging::jpeg_stretch_self_check().map(|n| format!("{n} spans"))),
                ("png unfilter", crate::imaging::png_unfilter_self_check().map(|n| format!("{n} rows"))),
                ("premultiply", crate::imaging::premultiply_self_check().map(|n| format!("{n} pixels"))),
                ("lanczos fixed point", crate::imaging::lanczos_fixed_self_check().map(|n| format!("{n} pixels"))),
            ];
            let status = if checks.iter().all(|(_, r)| r.is_ok()) { 200 } else { 500 };
            let text: Vec<String> = checks
                .iter()
                .map(|(name, result)| match result {
                    Ok(done) => format!("{name}: ok, {done}"),
                    Err(first) => format!("{name}: {first}"),
                })
                .collect();
            let text = text.join("\n");
            Ok(Outcome::plain(Response::ok(text)?.with_status(status)))
        }
        (p, _) if p == "/api" || p.starts_with("/api/") => {
            log.route = "unknown";
            answer(Err(RequestError::NotFound { path: p.to_string() }.into()), lang, log)
        }
        ("/", Method::Get | Method::Head) => {
            log.route = "page";
            page::page(&req, env).map(Outcome::plain)
        }
        ("/favicon.ico", Method::Get | Method::Head) => {
            // Browsers ask for it on the upload page; there is none.
            log.route = "other";
            Ok(Outcome::plain(Response::empty()?.with_status(204)))
        }
        _ => {
            log.route = "other";
            Ok(Outcome::plain(http::text_response(404, "Not Found")?))
        }
    }
}
