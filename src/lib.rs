//! Avatar upload service: AnqiCMS `POST /api/user/avatar` at the edge.
//!
//! The pure parts (auth, config, envelope, imaging, multipart, paths, log,
//! the origin-mode decisions, storage errors) have no Worker types, so they
//! compile and test natively and fast. The Worker layer (`entry`, `routes`,
//! `http`, the KV/R2 bindings, the origin client) is thin and only built for
//! wasm32.
// The Worker build uses nightly std (scripts/build.sh, --panic-unwind), so
// an allocation failure can panic instead of aborting the isolate (heap.rs).
#![cfg_attr(target_arch = "wasm32", feature(alloc_error_hook))]
// libwebp's animation encoder calls C's variadic `snprintf`/`fprintf`,
// which the wasm build defines itself (imaging::codecs::webp::libc_shim).
#![cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), feature(c_variadic))]
pub mod auth;
pub mod config;
pub mod envelope;
pub mod heap;
pub mod i18n;
pub mod imaging;
pub mod inflight;
pub mod multipart;
pub mod origin;
pub mod paths;
pub mod request_log;
pub mod storage;
pub mod upload_form;

#[cfg(test)]
mod every_message;

#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod routes;
