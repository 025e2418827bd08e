//! The write-back: after an upload, the new avatar goes to the AnqiCMS
//! site's own `POST /api/user/avatar`, so that the site's database, its
//! templates and its `GET /api/user/detail` show it.
//!
//! The first attempt runs right after the member has the answer
//! (`ctx.waitUntil`); a failed one is handed to the `WRITEBACK` Queue, whose
//! consumer (this Worker's `queue` handler) tries again after a doubling
//! delay, so a retry survives the isolate. Each attempt writes one JSON log
//! line. The job names the stored object and its content version, not its
//! bytes: an attempt reads the object from R2, and stops if R2 holds another
//! version by then (a newer upload has its own job).
//!
//! What is sent is a lossless PNG of the stored avatar at its own size, so
//! that what AnqiCMS re-encodes and stores looks like ours
//! (docs/anqicms.md, "Write-back format").

use serde_json::json;
use worker::{console_log, Env, MessageBatch, MessageBuilder, MessageExt};

use super::{client, retry_delay, WriteBack, WriteBackAnswer, MAX_WRITEBACK_ATTEMPTS};
use crate::auth::mint_token;
use crate::config::Config;
use crate::imaging::{self, Options, OutputFormat};
use crate::paths;
use crate::storage::Avatars;

/// Queue binding (producer and consumer) of write-back retries.
pub const QUEUE_BINDING: &str = "WRITEBACK";

/// Validity of the token minted for a write-back when the Worker holds
/// `TOKEN_SECRET` (then no member token is kept in the queue).
const WRITEBACK_TOKEN_SECS: i64 = 3_600;

/// How one attempt ended.
enum Step {
    /// Nothing more to do: `why` says whether it landed or was moot.
    Done(&'static str),
    /// Worth another attempt.
    Retry(String),
    /// Another attempt cannot help.
    GiveUp(String),
}

async fn attempt(env: &Env, config: &Config, job: &WriteBack) -> Step {
    let Some(site) = &config.origin else { return Step::GiveUp("origin mode is off".into()) };
    let avatars = match Avatars::from_env(env) {
        Ok(a) => a,
        Err(e) => return Step::Retry(e.to_string()),
    };
    let key = paths::avatar_key(job.user_id, &job.ext);
    let stored = match avatars.read(&key).await {
        Ok(Some((bytes, version))) if version.as_deref() == Some(job.version.as_str()) => bytes,
        Ok(_) => return Step::Done("superseded"),
        Err(e) => return Step::Retry(e.to_string()),
    };
    let options = Options { size: job.size, format: OutputFormat::Png, quality: 100, ..Options::default() };
    let png = match imaging::process(&stored, None, &options) {
        Ok(avatar) => avatar.bytes,
        Err(e) => return Step::GiveUp(format!("stored avatar unreadable: {e}")),
    };
    let token = match (&config.token_secret, &job.token) {
        (Some(secret), _) => {
            match mint_token(job.user_id, secret, crate::http::now_unix() + WRITEBACK_TOKEN_SECS, None) {
                Ok(t) => t,
                Err(e) => return Step::GiveUp(e.to_string()),
            }
        }
        (None, Some(t)) => t.clone(),
        (None, None) => return Step::GiveUp("no token to write back with".into()),
    };
    match client::post_avatar(site, &token, job.user_id, &png).await {
        WriteBackAnswer::Stored => Step::Done("landed"),
        WriteBackAnswer::NotLoggedIn => Step::GiveUp("the site no longer accepts the token (1001)".into()),
        WriteBackAnswer::Failed(e) => Step::Retry(e),
    }
}

/// One JSON line per attempt (never the token).
fn log(job: &WriteBack, attempt: u32, outcome: &str, detail: Option<&str>, next_in: Option<u32>) {
    let line = json!({
        "event": "writeback",
        "user_id": job.user_id,
        "version": job.version,
        "attempt": attempt,
        "outcome": outcome,
        "detail": detail,
        "next_attempt_in_s": next_in,
    });
    console_log!("{line}");
}

/// Runs one attempt of `job` and, if it failed and attempts are left, puts
/// the next one on the queue with its delay. `false`: the next attempt
/// could not be queued (the caller may ask the queue to redeliver).
async fn run(env: &Env, config: &Config, job: &WriteBack) -> bool {
    let attempt_no = job.attempts + 1;
    match attempt(env, config, job).await {
        Step::Done(why) => log(job, attempt_no, why, None, None),
        Step::GiveUp(why) => log(job, attempt_no, "gave_up", Some(&why), None),
        Step::Retry(why) if attempt_no >= MAX_WRITEBACK_ATTEMPTS => {
            log(job, attempt_no, "gave_up", Some(&format!("{why}; no attempts left")), None)
        }
        Step::Retry(why) => {
            let retry_seconds = config.origin.as_ref().map_or(30, |s| s.retry_seconds);
            let delay = retry_delay(retry_seconds, attempt_no);
            let next = WriteBack { attempts: attempt_no, ..job.clone() };
            let queued = match env.queue(QUEUE_BINDING) {
                Ok(queue) => {
                    queue.send(MessageBuilder::new(next).delay_seconds(delay).build()).await.map_err(|e| e.to_string())
                }
                Err(_) => Err(format!("no {QUEUE_BINDING} queue binding")),
            };
            match queued {
                Ok(()) => log(job, attempt_no, "retry", Some(&why), Some(delay)),
                Err(e) => {
                    log(job, attempt_no, "retry_not_queued", Some(&format!("{why}; {e}")), None);
                    return false;
                }
            }
        }
    }
    true
}

/// The first attempt, right after the upload (inside `ctx.waitUntil`).
pub async fn first_attempt(env: Env, config: std::rc::Rc<Config>, job: WriteBack) {
    run(&env, &config, &job).await;
}

/// The queue handler: one attempt per message.
pub async fn consume(batch: MessageBatch<WriteBack>, env: Env) {
    let config = match crate::http::config(&env) {
        Ok(c) => c,
        Err(e) => {
            console_log!("{}", json!({ "event": "writeback", "outcome": "retry_all", "detail": e.to_string() }));
            batch.retry_all();
            return;
        }
    };
    for message in batch.iter() {
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                console_log!(
                    "{}",
                    json!({ "event": "writeback", "outcome": "dropped", "detail": format!("unreadable message: {e}") })
                );
                continue;
            }
        };
        if run(&env, &config, message.body()).await {
            message.ack();
        } else {
            message.retry();
        }
    }
}
