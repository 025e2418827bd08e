//! Request bodies in flight in one isolate.
//!
//! An isolate serves many requests at once, and a body being received is
//! held by the runtime outside the wasm heap and its ceiling
//! (`crate::heap`): three members sending 20 MiB photos at the same moment
//! would take an isolate past Cloudflare's 128 MB. So every upload reserves
//! its body's bytes (its `Content-Length`, or chunk by chunk) before reading
//! it, and the reservation lasts until the body is freed; uploads that would
//! take the isolate's bytes in flight past the limit (one largest body) are
//! refused with a "busy, try again" message instead.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes reserved by bodies being received or processed.
pub struct BodyBudget {
    held: AtomicU64,
}

/// The isolate's budget (wasm has one thread: one isolate, one budget).
pub static ISOLATE: BodyBudget = BodyBudget::new();

impl BodyBudget {
    pub const fn new() -> Self {
        BodyBudget { held: AtomicU64::new(0) }
    }

    /// Bytes reserved now.
    pub fn held(&self) -> u64 {
        self.held.load(Relaxed)
    }

    fn take(&self, bytes: u64, limit: u64) -> bool {
        self.held.fetch_update(Relaxed, Relaxed, |held| held.checked_add(bytes).filter(|&n| n <= limit)).is_ok()
    }

    /// Reserves `bytes` if the total stays within `limit`.
    pub fn reserve(&self, bytes: u64, limit: u64) -> Option<Reservation<'_>> {
        // Built only on success: a dropped reservation gives its bytes back.
        self.take(bytes, limit).then(|| Reservation { budget: self, bytes })
    }
}

impl Default for BodyBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes reserved for one body; given back when dropped.
pub struct Reservation<'a> {
    budget: &'a BodyBudget,
    bytes: u64,
}

impl Reservation<'_> {
    /// Reserves `extra` more bytes (a chunked body growing); `false` (and
    /// nothing taken) when that would pass `limit`.
    pub fn grow(&mut self, extra: u64, limit: u64) -> bool {
        let ok = self.budget.take(extra, limit);
        if ok {
            self.bytes += extra;
        }
        ok
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_share_one_limit_and_give_bytes_back() {
        let budget = BodyBudget::new();
        let a = budget.reserve(60, 100).unwrap();
        let mut b = budget.reserve(30, 100).unwrap();
        assert_eq!(budget.held(), 90);
        // A third body that would pass the limit is refused, nothing taken.
        assert!(budget.reserve(20, 100).is_none());
        assert_eq!(budget.held(), 90);
        assert!(b.grow(10, 100));
        assert!(!b.grow(1, 100));
        assert_eq!((b.bytes(), budget.held()), (40, 100));
        drop(a);
        assert_eq!(budget.held(), 40);
        assert!(budget.reserve(60, 100).is_some());
        drop(b);
        assert_eq!(budget.held(), 0);
    }
}
