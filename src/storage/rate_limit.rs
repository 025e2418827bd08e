//! Per-user upload rate limit through the Workers Rate Limiting binding
//! (`[[ratelimits]]` in wrangler.toml, binding `UPLOAD_LIMITER`).
//!
//! Called through the binding's JS `limit({key})` method directly rather than
//! workers-rs' typed wrapper, whose constructor-name check does not match
//! every runtime's binding object (Miniflare's, wrappers in tests).

use worker::js_sys::{Function, Object, Promise, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::Env;

pub const LIMITER_BINDING: &str = "UPLOAD_LIMITER";

/// The limiter's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Limited,
    /// No binding configured: uploads are not rate limited.
    Unconfigured,
    /// The binding failed; uploads are let through (fail open) and logged.
    Failed,
}

pub async fn check(env: &Env, key: &str) -> Verdict {
    let Ok(binding) = Reflect::get(env.as_ref(), &JsValue::from_str(LIMITER_BINDING)) else {
        return Verdict::Unconfigured;
    };
    if binding.is_undefined() || binding.is_null() {
        return Verdict::Unconfigured;
    }
    let Ok(limit) = Reflect::get(&binding, &JsValue::from_str("limit")) else { return Verdict::Failed };
    let Some(limit) = limit.dyn_ref::<Function>() else { return Verdict::Failed };
    let arg = Object::new();
    if Reflect::set(&arg, &JsValue::from_str("key"), &JsValue::from_str(key)).is_err() {
        return Verdict::Failed;
    }
    let Ok(promise) = limit.call1(&binding, &arg) else { return Verdict::Failed };
    let Ok(outcome) = JsFuture::from(Promise::resolve(&promise)).await else { return Verdict::Failed };
    match Reflect::get(&outcome, &JsValue::from_str("success")).ok().and_then(|v| v.as_bool()) {
        Some(true) => Verdict::Allowed,
        Some(false) => Verdict::Limited,
        None => Verdict::Failed,
    }
}
