//! The Worker entry point: one request in, one response and one log line out.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use worker::{console_log, event, Context, Env, MessageBatch, Response, Result};

use crate::envelope::{Envelope, Lang, RequestError};
use crate::http::Incoming;
use crate::origin::{writeback, WriteBack};
use crate::request_log::RequestLog;
use crate::{http, routes};

#[event(fetch)]
pub async fn fetch(req: Incoming, env: Env, ctx: Context) -> Result<Response> {
    crate::heap::install();
    let started = worker::js_sys::Date::now();
    let mut log = RequestLog {
        request_id: request_id(&req),
        method: req.method().to_string(),
        route: "other",
        ..Default::default()
    };
    let origin = http::header(&req, "Origin");
    let lang = Lang::from_accept_language(http::header(&req, "Accept-Language").as_deref());
    let is_api = req.path().starts_with("/api");

    // Built with panic=unwind (scripts/build.sh), a panic in one request is
    // caught here and answered like any error; the isolate stays healthy.
    let outcome = AssertUnwindSafe(routes::handle(req, &env, &ctx, &mut log)).catch_unwind().await;
    let outcome = match outcome {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(worker::Error::RustError(format!("panic: {what}")))
        }
    };
    let mut response = match outcome {
        Ok(out) => {
            log.code = out.code;
            out.response
        }
        // A runtime error we did not map (should not happen): still answer
        // API callers with an envelope, never a bare 500.
        Err(e) if is_api => {
            log.error = Some(e.to_string());
            log.code = Some(-1);
            http::envelope_response(&Envelope::error(&RequestError::Internal, lang))?
        }
        Err(e) => {
            log.error = Some(e.to_string());
            http::text_response(500, "Internal Error")?
        }
    };
    if let Ok(config) = http::config(&env) {
        http::apply_cors(&mut response, &config.allowed_origins, origin.as_deref())?;
    }
    if http::env_value(&env, "BENCH_HEADERS").as_deref() == Some("on") {
        // Peak wasm memory so far (linear memory only grows), for the bench.
        let bytes = core::arch::wasm32::memory_size(0) * 65536;
        let _ = response.headers_mut().set("X-Wasm-Memory-Bytes", &bytes.to_string());
    }
    log.status = response.status_code();
    log.total_ms = worker::js_sys::Date::now() - started;
    console_log!("{}", log.to_json());
    Ok(response)
}

/// Write-back retries (origin mode), from the `WRITEBACK` queue.
#[event(queue)]
pub async fn queue(batch: MessageBatch<WriteBack>, env: Env, _ctx: Context) -> Result<()> {
    crate::heap::install();
    writeback::consume(batch, env).await;
    Ok(())
}

/// Cloudflare's ray id when present, else a random id.
fn request_id(req: &Incoming) -> String {
    if let Some(ray) = http::header(req, "cf-ray") {
        return ray;
    }
    let mut buf = [0u8; 8];
    if getrandom::fill(&mut buf).is_err() {
        return "unknown".into();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
