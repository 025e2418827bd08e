//! Talking to the AnqiCMS site: the member's detail, the avatar write-back,
//! and passing `/uploads/user/*` through. Every exchange is bounded by
//! `ORIGIN_TIMEOUT_MS` (the time waited on the network, which the Workers
//! clock does count).

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, Response};

use super::{parse_detail, parse_writeback_answer, SiteUnavailable, Verdict, WriteBackAnswer};
use crate::config::OriginSettings;

/// What the site answered: status, body text, and its `update-token` header.
struct Answer {
    status: u16,
    body: String,
    update_token: Option<String>,
}

/// Sends `request` and reads the whole answer within the timeout; on
/// timeout the request is aborted.
async fn exchange(site: &OriginSettings, request: Request) -> Result<Answer, String> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let work = async move {
        let mut response = Fetch::Request(request).send_with_signal(&signal).await.map_err(|e| e.to_string())?;
        let update_token = response.headers().get("update-token").ok().flatten().filter(|t| !t.trim().is_empty());
        let status = response.status_code();
        let body = response.text().await.map_err(|e| e.to_string())?;
        Ok(Answer { status, body, update_token })
    };
    let timeout = Delay::from(Duration::from_millis(u64::from(site.timeout_ms)));
    match select(Box::pin(work), Box::pin(timeout)).await {
        Either::Left((answer, _)) => answer,
        Either::Right(((), _)) => {
            controller.abort();
            Err(format!("no answer within {} ms", site.timeout_ms))
        }
    }
}

fn request(
    site: &OriginSettings,
    path: &str,
    method: Method,
    token: &str,
    body: Option<Vec<u8>>,
    content_type: Option<&str>,
) -> Result<Request, String> {
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    set("token", token)?;
    set("Accept", "application/json")?;
    if let Some(ct) = content_type {
        set("Content-Type", ct)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if let Some(bytes) = body {
        init.with_body(Some(worker::js_sys::Uint8Array::from(bytes.as_slice()).into()));
    }
    Request::new_with_init(&format!("{}{path}", site.url), &init).map_err(|e| e.to_string())
}

/// The site's verdict on `token` (`GET /api/user/detail`), and the
/// `update-token` it sent, if any.
pub async fn detail(site: &OriginSettings, token: &str) -> Result<(Verdict, Option<String>), SiteUnavailable> {
    let unavailable = |cause: String| SiteUnavailable { cause };
    let req = request(site, "/api/user/detail", Method::Get, token, None, None).map_err(unavailable)?;
    let answer = exchange(site, req).await.map_err(unavailable)?;
    let verdict = parse_detail(answer.status, &answer.body)?;
    Ok((verdict, answer.update_token))
}

/// Posts `png` as the member's avatar (`POST /api/user/avatar`).
pub async fn post_avatar(site: &OriginSettings, token: &str, user_id: u64, png: &[u8]) -> WriteBackAnswer {
    let boundary = format!("avatar-edge-{user_id}-{}", png.len());
    let body = super::multipart_file(&boundary, &format!("{user_id}.png"), "image/png", png);
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let req = match request(site, "/api/user/avatar", Method::Post, token, Some(body), Some(&content_type)) {
        Ok(r) => r,
        Err(e) => return WriteBackAnswer::Failed(e),
    };
    match exchange(site, req).await {
        Ok(answer) => parse_writeback_answer(answer.status, &answer.body),
        Err(e) => WriteBackAnswer::Failed(e),
    }
}

/// Fetches `path_and_query` from the site with the request's method and
/// headers, and hands its answer back unchanged.
pub async fn pass_through(
    site: &OriginSettings,
    req: &crate::http::Incoming,
    path_and_query: &str,
) -> worker::Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(req.headers().clone());
    let upstream = Request::new_with_init(&format!("{}{path_and_query}", site.url), &init)?;
    Fetch::Request(upstream).send().await
}
