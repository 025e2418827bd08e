//! Avatar upload service: AnqiCMS `POST /api/user/avatar` at the edge.
//!
//! The pure parts (`auth`, `config`, `envelope`, `imaging`) have no Worker
//! types, so they compile and test natively; the Worker layer is thin.
pub mod auth;
pub mod config;
pub mod envelope;
pub mod imaging;
