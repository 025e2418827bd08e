//! `GET /`: the member's upload page (one self-contained HTML file).

use worker::{Env, Response, Result};

use crate::config::UploadPage;
use crate::http::{self, Caching, Incoming};

const PAGE: &str = include_str!("../page/index.html");

pub fn page(req: &Incoming, env: &Env) -> Result<Response> {
    let config = match http::config(env) {
        Ok(c) => c,
        Err(e) => return http::text_response(500, &e.to_string()),
    };
    if config.upload_page == UploadPage::Off {
        return http::text_response(404, "Not Found");
    }
    // Under `npm run dev` the demo member's token is handed to the page so
    // it works with no pasting. Anywhere but this machine that would give
    // every visitor the demo member's login: refuse to serve the page.
    let demo = match &config.dev_demo_token {
        Some(_) if !is_loopback(req) => {
            return http::text_response(
                500,
                "DEV_DEMO_TOKEN is set on a worker that is not running on this machine; remove it (it is only for npm run dev)",
            );
        }
        Some(token) if token.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) => token.as_str(),
        _ => "",
    };
    let html = PAGE.replace("__DEMO_TOKEN__", demo);
    let img_src = match &config.public_base_url {
        Some(base) => format!("'self' blob: {base}"),
        None => "'self' blob:".to_string(),
    };
    let headers = http::base_headers("text/html; charset=utf-8", Caching::None)?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set(
        "Content-Security-Policy",
        &format!(
            "default-src 'none'; img-src {img_src}; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
    )?;
    Ok(Response::from_html(html)?.with_headers(headers))
}

/// Whether the request was addressed to this machine (`wrangler dev`).
fn is_loopback(req: &Incoming) -> bool {
    let Ok(url) = req.url() else { return false };
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1"))
}
