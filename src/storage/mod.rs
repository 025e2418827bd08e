//! Workers KV (profiles, revocations, the origin-mode cache) and R2 (avatar
//! images).
//!
//! Thin wrappers: every failure becomes a [`StoreError`] naming what failed
//! and keeping the runtime's own error for the log, so routes can answer
//! with an envelope instead of a 500.
//!
//! An upload writes exactly one thing: the R2 object
//! `uploads/user/{id}.{ext}`, whose custom metadata carries the content
//! version. That object *is* the member's avatar pointer: nothing in KV is
//! rewritten, so a ban or any other profile edit made while an upload is in
//! flight survives it, and there is no second write that could fail, race
//! or need undoing (see [`Avatars::current`]).

mod error;
#[cfg(target_arch = "wasm32")]
mod kv_r2;
#[cfg(target_arch = "wasm32")]
pub mod rate_limit;

pub use error::{Operation, StoreError};
#[cfg(target_arch = "wasm32")]
pub use kv_r2::*;
