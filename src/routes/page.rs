//! `GET /`: the member's upload page (one self-contained HTML file).

use worker::{Env, Headers, Response, Result};

use crate::config::{Config, UploadPage};
use crate::http;

const PAGE: &str = include_str!("../page/index.html");

pub fn page(env: &Env, config: &Config) -> Result<Response> {
    if config.upload_page == UploadPage::Off {
        return http::text_response(404, "Not Found");
    }
    // Under `npm run dev` the demo user's token is handed to the page so it
    // works with no pasting; production never sets DEV_DEMO_TOKEN.
    let demo = http::env_value(env, "DEV_DEMO_TOKEN")
        .filter(|t| t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'))
        .unwrap_or_default();
    let html = PAGE.replace("__DEMO_TOKEN__", &demo);
    let img_src = match &config.public_base_url {
        Some(base) => format!("'self' blob: {base}"),
        None => "'self' blob:".to_string(),
    };
    let headers = Headers::new();
    headers.set("Content-Type", "text/html; charset=utf-8")?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set(
        "Content-Security-Policy",
        &format!(
            "default-src 'none'; img-src {img_src}; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
    )?;
    Ok(Response::from_html(html)?.with_headers(headers))
}
