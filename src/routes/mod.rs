//! Routing and the errors every route answers with.

mod account;
mod page;
mod serve;
mod session;
mod upload;

use worker::{Env, Method, Request, Response, Result};

use crate::auth::AuthError;
use crate::config::ConfigError;
use crate::envelope::{Envelope, Lang, RequestError, UserFacing, CODE_NOT_LOGGED_IN};
use crate::http;
use crate::imaging::ImageError;
use crate::request_log::RequestLog;
use crate::storage::StoreError;

/// Any reason a route fails; each maps to one envelope via [`UserFacing`].
#[derive(Debug)]
pub enum Failure {
    Config(ConfigError),
    Request(RequestError),
    Auth(AuthError),
    Image(ImageError),
    Store(StoreError),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e)
    }
}
impl From<RequestError> for Failure {
    fn from(e: RequestError) -> Self {
        Failure::Request(e)
    }
}
impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        Failure::Auth(e)
    }
}
impl From<ImageError> for Failure {
    fn from(e: ImageError) -> Self {
        Failure::Image(e)
    }
}
impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl UserFacing for Failure {
    fn code(&self) -> i32 {
        match self {
            Failure::Config(e) => e.code(),
            Failure::Request(e) => e.code(),
            Failure::Auth(e) => e.code(),
            Failure::Image(e) => e.code(),
            // Reading the session failed: the user cannot be recognised.
            Failure::Store(StoreError::ProfileRead | StoreError::RevocationRead) => CODE_NOT_LOGGED_IN,
            Failure::Store(_) => crate::envelope::CODE_ERROR,
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            Failure::Config(e) => e.message(lang),
            Failure::Request(e) => e.message(lang),
            Failure::Auth(e) => e.message(lang),
            Failure::Image(e) => e.message(lang),
            Failure::Store(StoreError::Unbound(binding)) => {
                RequestError::Misconfigured { detail: format!("binding {binding} is missing") }.message(lang)
            }
            Failure::Store(e @ (StoreError::ProfileRead | StoreError::RevocationRead)) => match lang {
                Lang::Zh => format!("暂时无法验证登录状态（{}失败），请稍后重试", e.what()),
                Lang::En => format!("Your login could not be checked ({} failed); please retry", e.what()),
            },
            Failure::Store(e) => RequestError::Storage { what: e.what() }.message(lang),
        }
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

    fn failure(f: &Failure, lang: Lang, log: &mut RequestLog) -> Result<Outcome> {
        log.error = Some(f.message(Lang::En));
        Outcome::envelope(&Envelope::error(f, lang))
    }
}

/// Dispatches one request.
pub async fn handle(mut req: Request, env: &Env, log: &mut RequestLog) -> Result<Outcome> {
    let lang = Lang::from_accept_language(http::header(&req, "Accept-Language").as_deref());
    let path = req.path();
    let method = req.method();

    if method == Method::Options {
        let allowed = http::config(env).map(|c| c.allowed_origins).unwrap_or_default();
        log.route = "preflight";
        let origin = http::header(&req, "Origin");
        return Ok(Outcome { response: http::preflight(&allowed, origin.as_deref())?, code: None });
    }

    match (path.as_str(), &method) {
        ("/api/user/avatar", Method::Post) => {
            log.route = "upload";
            match upload::upload(&mut req, env, lang, log).await {
                Ok(out) => Ok(out),
                Err(f) => Outcome::failure(&f, lang, log),
            }
        }
        ("/api/user/detail", Method::Get) => {
            log.route = "detail";
            match account::detail(&req, env, lang, log).await {
                Ok(out) => Ok(out),
                Err(f) => Outcome::failure(&f, lang, log),
            }
        }
        ("/api/user/logout", Method::Post) => {
            log.route = "logout";
            match account::logout(&req, env, lang, log).await {
                Ok(out) => Ok(out),
                Err(f) => Outcome::failure(&f, lang, log),
            }
        }
        ("/api/user/avatar" | "/api/user/logout", _) => {
            log.route = if path.ends_with("avatar") { "upload" } else { "logout" };
            let f = Failure::Request(RequestError::MethodNotAllowed { method: method.to_string(), allowed: "POST" });
            Outcome::failure(&f, lang, log)
        }
        ("/api/user/detail", _) => {
            log.route = "detail";
            let f = Failure::Request(RequestError::MethodNotAllowed { method: method.to_string(), allowed: "GET" });
            Outcome::failure(&f, lang, log)
        }
        (p, Method::Get | Method::Head) if p.starts_with("/uploads/user/") => {
            log.route = "serve";
            serve::serve(&req, env).await.map(|response| Outcome { response, code: None })
        }
        #[cfg(feature = "test-hooks")]
        ("/api/__test/panic", Method::Post) => {
            log.route = "test-panic";
            panic!("deliberate panic (test-hooks build only)");
        }
        (p, _) if p == "/api" || p.starts_with("/api/") => {
            log.route = "unknown";
            let f = Failure::Request(RequestError::NotFound { path: p.to_string() });
            Outcome::failure(&f, lang, log)
        }
        ("/", Method::Get | Method::Head) => {
            log.route = "page";
            match http::config(env) {
                Ok(config) => page::page(env, &config).map(|response| Outcome { response, code: None }),
                Err(e) => Ok(Outcome { response: http::text_response(500, &e.to_string())?, code: None }),
            }
        }
        ("/favicon.ico", Method::Get | Method::Head) => {
            // Browsers ask for it on the upload page; there is none.
            log.route = "other";
            Ok(Outcome { response: Response::empty()?.with_status(204), code: None })
        }
        _ => {
            log.route = "other";
            Ok(Outcome { response: http::text_response(404, "Not Found")?, code: None })
        }
    }
}

/// Seconds since the epoch, from the Workers clock.
pub fn now_unix() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}
