//! `POST /api/user/avatar`: the whole upload, in the order that makes a
//! failure change nothing.
//!
//! config → token and session → body (capped while reading) → multipart →
//! image pipeline → R2 put → KV profile update (R2 restored if it fails).

use serde_json::json;
use worker::{Env, Request};

use super::session::{authenticate, refreshed_token};
use super::{Failure, Outcome};
use crate::config::Config;
use crate::envelope::{Envelope, Lang, RequestError};
use crate::imaging::{self, Options};
use crate::paths;
use crate::request_log::RequestLog;
use crate::storage::rate_limit::{self, Verdict};
use crate::storage::Avatars;
use crate::{http, multipart, upload_form};

fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}

pub async fn upload(req: &mut Request, env: &Env, lang: Lang, log: &mut RequestLog) -> Result<Outcome, Failure> {
    let config = http::config(env)?;

    let t0 = now_ms();
    let session = authenticate(req, env, &config).await?;
    let user_id = session.verified.user_id;
    log.user_id = Some(user_id);
    log.ms.auth = Some(now_ms() - t0);
    match rate_limit::check(env, &format!("user:{user_id}")).await {
        Verdict::Limited => {
            return Err(RequestError::RateLimited { retry_after_secs: config.rate_limit_period }.into())
        }
        Verdict::Failed => log.error = Some("rate limiter unavailable; allowed".into()),
        Verdict::Allowed | Verdict::Unconfigured => {}
    }

    let t0 = now_ms();
    let content_type = http::header(req, "Content-Type").unwrap_or_default();
    let boundary = multipart::boundary(&content_type).map_err(|_| RequestError::NotMultipart)?;
    let body = read_capped_body(req, &config).await?;
    log.bytes_in = body.len() as u64;
    let parts = multipart::parse(&body, &boundary).map_err(|_| RequestError::BadMultipart)?;
    let form = upload_form::read_form(&parts, config.max_upload_bytes)?;
    log.ms.read = Some(now_ms() - t0);

    let options = Options {
        size: config.avatar_size,
        format: config.output_format,
        quality: config.output_quality,
        max_pixels: config.max_pixels,
        // The body stays in wasm memory while the pipeline runs; a body
        // over the default cap leaves the pipeline less.
        held_bytes: body.len() as u64,
        space: config.resize_space,
    };
    // The previous image (kept so that a failed profile write can be
    // undone) is read from R2 while the image is processed: join! polls
    // the read first, which sends it, then runs the pipeline (synchronous
    // CPU work), then waits for the read, whose round trip has overlapped.
    let key = paths::avatar_key(user_id, config.output_format.ext());
    let avatars = Avatars::from_env(env)?;
    let (previous, processed) = futures_util::join!(avatars.read(&key), async {
        imaging::process_guarded(form.file, form.crop, &options, &now_ms)
    });
    let (avatar, times) = processed?;
    let previous = previous?;
    log.source_format = Some(avatar.source.name());
    log.source_size = Some(format!("{}x{}", avatar.width, avatar.height));
    log.ms.decode = Some(times.decode_ms);
    log.ms.orient = Some(times.orient_ms);
    log.ms.resize = Some(times.resize_ms);
    log.ms.encode = Some(times.encode_ms);
    // The request body is no longer needed; free it before storing.
    drop(parts);
    drop(body);

    let t0 = now_ms();
    let ext = avatar.format.ext();
    let version = paths::content_version(&avatar.bytes);
    let base = config.public_base_url.clone().unwrap_or_else(|| request_origin(req));
    let url = paths::avatar_url(&base, user_id, ext, &version);
    log.bytes_out = avatar.bytes.len() as u64;

    avatars.write(&key, avatar.bytes, avatar.format.content_type(), Some(&version)).await?;
    if let Err(e) = session.users.put_profile(user_id, &session.profile.with_avatar_url(&url)).await {
        // Put the old image back (or remove the new one) so R2 and KV agree.
        let _ = match previous {
            Some(old) => {
                let ct = old.content_type.unwrap_or_else(|| avatar.format.content_type().to_string());
                avatars.write(&key, old.bytes, &ct, old.version.as_deref()).await
            }
            None => avatars.delete(&key).await,
        };
        return Err(e.into());
    }
    // Concurrent uploads by one user race between the R2 put and the profile
    // write. Whoever checks last makes the profile name what R2 now holds,
    // so the two converge on one image.
    let url = match avatars.version(&key).await {
        Ok(Some(current)) if current != version => {
            let winner = paths::avatar_url(&base, user_id, ext, &current);
            let _ = session.users.put_profile(user_id, &session.profile.with_avatar_url(&winner)).await;
            winner
        }
        _ => url,
    };
    log.ms.store = Some(now_ms() - t0);

    let mut response = http::envelope_response(&Envelope::ok(
        lang.pick("上传成功", "Upload succeeded"),
        json!({ "avatar_url": url }),
    ))
    .map_err(|_| RequestError::Storage { what: "response" })?;
    if let Some(token) = refreshed_token(&session, &config) {
        let _ = response.headers_mut().set("Update-Token", &token);
    }
    Ok(Outcome { response, code: Some(0) })
}

/// The origin of the request (`https://host`), for URLs when
/// `PUBLIC_BASE_URL` is not set.
fn request_origin(req: &Request) -> String {
    req.url().map(|u| u.origin().ascii_serialization()).unwrap_or_default()
}

/// Reads the body, refusing it before reading when `Content-Length` is over
/// the limit and stopping as soon as a chunked body passes it.
///
/// Wasm memory only grows, so the body is copied into it exactly once, into
/// a buffer of its exact size: with a `Content-Length` (browsers always send
/// one for a form upload) the runtime reads the body natively and we copy
/// it in; without one, the chunks stay JS objects until the total is known.
/// (Appending chunks to a growing `Vec` peaked at ~3× the body: a 34 MiB
/// PNG upload took wasm memory to 130 MiB.)
async fn read_capped_body(req: &mut Request, config: &Config) -> Result<Vec<u8>, Failure> {
    let cap = config.max_body_bytes();
    let too_large = |actual| RequestError::TooLarge { limit: config.max_upload_bytes, actual };
    let declared = http::header(req, "Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared {
        if len > cap {
            return Err(too_large(Some(len)).into());
        }
        // HTTP framing holds the body to the declared length.
        let body = req.bytes().await.map_err(|_| RequestError::BadMultipart)?;
        if body.len() as u64 > cap {
            return Err(too_large(Some(body.len() as u64)).into());
        }
        return Ok(body);
    }
    read_chunked_body(req, cap).await?.ok_or_else(|| too_large(None).into())
}

/// A body without `Content-Length`: its chunks, kept as JS `Uint8Array`s
/// (outside wasm memory) until the end, then copied once. `None` as soon as
/// the total passes `cap` (the rest is not read).
async fn read_chunked_body(req: &Request, cap: u64) -> Result<Option<Vec<u8>>, Failure> {
    use worker::js_sys::{Reflect, Uint8Array};
    use worker::wasm_bindgen::JsCast;
    use worker::wasm_bindgen_futures::JsFuture;
    use worker::web_sys::ReadableStreamDefaultReader;

    let Some(stream) = req.inner().body() else { return Ok(Some(Vec::new())) };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let broken = |_| Failure::from(RequestError::BadMultipart);
    let mut chunks: Vec<Uint8Array> = Vec::new();
    let mut total = 0u64;
    loop {
        let step = JsFuture::from(reader.read()).await.map_err(broken)?;
        if Reflect::get(&step, &"done".into()).map_err(broken)?.is_truthy() {
            break;
        }
        let value = Reflect::get(&step, &"value".into()).map_err(broken)?;
        let chunk: Uint8Array = value.dyn_into().map_err(broken)?;
        total += u64::from(chunk.length());
        if total > cap {
            let _ = reader.cancel();
            return Ok(None);
        }
        chunks.push(chunk);
    }
    let mut body = vec![0u8; total as usize];
    let mut at = 0usize;
    for chunk in chunks {
        let n = chunk.length() as usize;
        let Some(dst) = body.get_mut(at..at + n) else { return Err(RequestError::BadMultipart.into()) };
        chunk.copy_to(dst);
        at += n;
    }
    Ok(Some(body))
}
