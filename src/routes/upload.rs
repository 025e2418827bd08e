//! `POST /api/user/avatar`: the whole upload.
//!
//! config → token and member → rate limit → body (reserved in the isolate's
//! bytes in flight, capped while reading) → multipart → image pipeline → one
//! R2 put → the answer → (origin mode) the write-back to the site.
//!
//! The R2 object, with its content version in its metadata, is the only
//! thing an upload writes (see `crate::storage`): a failure before it
//! changes nothing, and nothing after it can fail in a way that would need
//! undoing.

use serde_json::json;
use worker::{Context, Env};

use super::session::{self, authenticate, Purpose};
use super::{Failure, Outcome};
use crate::config::Config;
use crate::envelope::{Envelope, RequestError};
use crate::http::Incoming;
use crate::i18n::{Lang, Notice};
use crate::imaging::{self, Options};
use crate::inflight::{self, Reservation};
use crate::origin::{writeback, WriteBack};
use crate::paths;
use crate::request_log::RequestLog;
use crate::storage::rate_limit::{self, Verdict};
use crate::storage::Avatars;
use crate::{http, multipart, upload_form};

fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}

pub async fn upload(
    req: &Incoming,
    env: &Env,
    ctx: &Context,
    lang: Lang,
    log: &mut RequestLog,
) -> Result<Outcome, Failure> {
    let config = http::config(env)?;

    let t0 = now_ms();
    let session = authenticate(req, env, &config, Purpose::Change).await?;
    let user_id = session.user_id;
    log.user_id = Some(user_id);
    log.ms.auth = Some(now_ms() - t0);
    match rate_limit::check(env, &format!("user:{user_id}")).await {
        Verdict::Limited => return Err(RequestError::RateLimited { retry_after_secs: config.rate_limit_period }.into()),
        Verdict::Failed => log.error = Some("rate limiter unavailable; allowed".into()),
        Verdict::Allowed | Verdict::Unconfigured => {}
    }

    let t0 = now_ms();
    let content_type = http::header(req, "Content-Type").unwrap_or_default();
    let boundary = multipart::boundary(&content_type).map_err(|_| RequestError::NotMultipart)?;
    let (body, reservation) = read_capped_body(req, &config).await?;
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
        animation: config.animation,
        heic: config.heic,
    };
    // A file whose decoding allocates past the heap ceiling although its
    // header passed every check is refused, not the isolate's end.
    let processed = {
        #[cfg(feature = "test-hooks")]
        let _filled = crate::heap::test_fill::for_upload(form.file);
        crate::heap::catch_exhaustion(|| imaging::process_timed(form.file, form.crop, &options, &now_ms))
    };
    let (avatar, times) = processed.unwrap_or_else(|_| Err(imaging::exhausted(form.file)))?;
    log.source_format = Some(avatar.source.name());
    log.source_size = Some(format!("{}x{}", avatar.width, avatar.height));
    log.ms.decode = Some(times.decode_ms);
    log.ms.orient = Some(times.orient_ms);
    log.ms.resize = Some(times.resize_ms);
    log.ms.encode = Some(times.encode_ms);
    // The request body is no longer needed: free it (and its share of the
    // isolate's bytes in flight) before storing.
    drop(parts);
    drop(body);
    drop(reservation);

    let t0 = now_ms();
    let ext = avatar.format.ext();
    let key = paths::avatar_key(user_id, ext);
    let version = paths::content_version(&avatar.bytes);
    let url = paths::avatar_url(&http::public_base(req, &config), user_id, ext, &version);
    log.bytes_out = avatar.bytes.len() as u64;
    Avatars::from_env(env)?.write(&key, avatar.bytes, avatar.format.content_type(), &version).await?;
    log.ms.store = Some(now_ms() - t0);

    if config.origin.is_some() {
        let job = WriteBack {
            user_id,
            ext: ext.to_string(),
            version,
            size: crate::origin::SITE_AVATAR_SIZE,
            // Kept in the queue only when the Worker cannot mint one.
            token: config.token_secret.is_none().then(|| session.token.clone()),
            attempts: 0,
        };
        ctx.wait_until(writeback::first_attempt(env.clone(), config.clone(), job));
    }

    let mut response =
        http::envelope_response(&Envelope::ok(Notice::Uploaded.message(lang), json!({ "avatar_url": url })))?;
    http::attach_update_token(&mut response, session::update_token(&session, &config))?;
    Ok(Outcome { response, code: Some(0) })
}

/// Reads the body, refusing it before reading when `Content-Length` is over
/// the limit and stopping as soon as a chunked body passes it. Its bytes are
/// reserved in the isolate's budget first (`crate::inflight`): the
/// reservation is handed back with the body and lasts as long as it is held.
///
/// Wasm memory only grows, so the body is copied into it exactly once, into
/// a buffer of its exact size: with a `Content-Length` (browsers always send
/// one for a form upload) the runtime reads the body natively and we copy
/// it in; without one, the chunks stay JS objects until the total is known.
/// (Appending chunks to a growing `Vec` peaked at ~3× the body: a 34 MiB
/// PNG upload took wasm memory to 130 MiB.)
async fn read_capped_body(req: &Incoming, config: &Config) -> Result<(Vec<u8>, Reservation<'static>), Failure> {
    let cap = config.max_body_bytes();
    let too_large = |actual| RequestError::TooLarge { limit: config.max_upload_bytes, actual };
    let declared = http::header(req, "Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared {
        if len > cap {
            return Err(too_large(Some(len)).into());
        }
        let reservation = inflight::ISOLATE.reserve(len, cap).ok_or(RequestError::Busy)?;
        // HTTP framing holds the body to the declared length.
        let body = req.bytes().await.map_err(|_| RequestError::BadMultipart)?;
        if body.len() as u64 > cap {
            return Err(too_large(Some(body.len() as u64)).into());
        }
        return Ok((body, reservation));
    }
    let mut reservation = inflight::ISOLATE.reserve(0, cap).ok_or(RequestError::Busy)?;
    match read_chunked_body(req, cap, &mut reservation).await? {
        Some(body) => Ok((body, reservation)),
        None => Err(too_large(None).into()),
    }
}

/// A body without `Content-Length`: its chunks, kept as JS `Uint8Array`s
/// (outside wasm memory) until the end, then copied once. `None` as soon as
/// the total passes `cap` (the rest is not read). Each chunk is reserved
/// before it is kept.
async fn read_chunked_body(
    req: &Incoming,
    cap: u64,
    reservation: &mut Reservation<'_>,
) -> Result<Option<Vec<u8>>, Failure> {
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
        if !reservation.grow(u64::from(chunk.length()), cap) {
            let _ = reader.cancel();
            return Err(RequestError::Busy.into());
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
