//! A ceiling on the heap, so that a file built to make a decoder allocate
//! without bound gets a clear refusal instead of killing the isolate.
//!
//! Every decoder is given a memory budget from the image's header
//! (`imaging::limits`), but a decoder can still allocate for structures the
//! header does not announce: a lossless WebP may declare 65,536 groups of
//! Huffman codes in a 16×16 image, and the `image` crate's WebP decoder
//! builds a lookup table for each before it decodes a pixel (a 3.8 MB file:
//! 1.3 GB; `tests/lib/webp-bombs.mjs`). On Cloudflare an isolate over 128 MB
//! is killed, with every request it was serving.
//!
//! [`Capped`] wraps the global allocator and fails any allocation that would
//! take the live heap over [`HEAP_CEILING`]. In the Worker (wasm32, built
//! with nightly std and panic=unwind by `scripts/build.sh`) [`install`] makes
//! such a failure panic with an [`Exhausted`] payload instead of aborting,
//! and [`catch_exhaustion`] turns that panic back into a value around the
//! image pipeline; the panic unwinds through the decoder, which frees what
//! it held. C code (libwebp) gets NULL from `malloc` and reports its own
//! out-of-memory error. Natively nothing is installed: the accounting and
//! the catching are unit-tested with their own instances.

use std::alloc::{GlobalAlloc, Layout};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::imaging::limits::MEMORY_BOUND;

/// The most the heap may hold: the bound every upload is planned to stay
/// within ([`MEMORY_BOUND`], 100 MB, body included) plus 8 MiB for what no
/// estimate counts. Under Cloudflare's 128 MB isolate limit, with room for
/// the JavaScript heap.
pub const HEAP_CEILING: usize = MEMORY_BOUND as usize + 8 * 1024 * 1024;

/// Panic payload of an allocation refused by the ceiling (or by the
/// underlying allocator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    /// Bytes the refused allocation asked for.
    pub requested: usize,
}

/// A [`GlobalAlloc`] that counts live bytes and refuses allocations over
/// `ceiling`.
pub struct Capped<A> {
    inner: A,
    ceiling: usize,
    live: AtomicUsize,
}

impl<A> Capped<A> {
    pub const fn new(inner: A, ceiling: usize) -> Self {
        Capped { inner, ceiling, live: AtomicUsize::new(0) }
    }

    /// Bytes currently allocated through this allocator.
    pub fn live(&self) -> usize {
        self.live.load(Relaxed)
    }

    /// Reserves `extra` bytes if they fit under the ceiling.
    fn reserve(&self, extra: usize) -> bool {
        self.live
            .fetch_update(Relaxed, Relaxed, |live| live.checked_add(extra).filter(|&n| n <= self.ceiling))
            .is_ok()
    }

    /// Reserves `size` bytes and runs `alloc`; null (and nothing counted)
    /// when they do not fit or `alloc` fails.
    fn counted(&self, size: usize, alloc: impl FnOnce() -> *mut u8) -> *mut u8 {
        if !self.reserve(size) {
            return core::ptr::null_mut();
        }
        let p = alloc();
        if p.is_null() {
            self.live.fetch_sub(size, Relaxed);
        }
        p
    }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for Capped<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.counted(layout.size(), || self.inner.alloc(layout))
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.counted(layout.size(), || self.inner.alloc_zeroed(layout))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.inner.dealloc(ptr, layout);
        self.live.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !self.reserve(new_size - old) {
            return core::ptr::null_mut();
        }
        let p = self.inner.realloc(ptr, layout, new_size);
        if p.is_null() {
            if new_size > old {
                self.live.fetch_sub(new_size - old, Relaxed);
            }
        } else if new_size < old {
            self.live.fetch_sub(old - new_size, Relaxed);
        }
        p
    }
}

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: Capped<std::alloc::System> = Capped::new(std::alloc::System, HEAP_CEILING);

/// Makes a failed allocation panic with [`Exhausted`] instead of aborting
/// (which would take the whole isolate down), and keeps that panic out of
/// the panic hook workers-rs installs (it logs every panic as a "Critical
/// Error" with a stack trace; this one is an expected refusal, answered
/// and logged with the request). Called at the start of every request,
/// after workers-rs has installed its hook; does its work once.
#[cfg(target_arch = "wasm32")]
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::alloc::set_alloc_error_hook(|layout| panic::panic_any(Exhausted { requested: layout.size() }));
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Exhausted>() {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; `Err` if it ran out of heap (an [`Exhausted`] panic), any
/// other panic continues unwinding.
pub fn catch_exhaustion<T>(f: impl FnOnce() -> T) -> Result<T, Exhausted> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Ok(v),
        Err(payload) => match payload.downcast::<Exhausted>() {
            Ok(e) => Err(*e),
            Err(other) => panic::resume_unwind(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn allocations_over_the_ceiling_fail_and_free_memory_comes_back() {
        let heap = Capped::new(System, 1000);
        let l600 = Layout::from_size_align(600, 8).unwrap();
        let l500 = Layout::from_size_align(500, 8).unwrap();
        unsafe {
            let a = heap.alloc(l600);
            assert!(!a.is_null());
            assert_eq!(heap.live(), 600);
            // 600 + 500 > 1000: refused, nothing counted.
            assert!(heap.alloc(l500).is_null());
            assert!(heap.alloc_zeroed(l500).is_null());
            assert_eq!(heap.live(), 600);
            // Growing past the ceiling is refused and keeps the block.
            assert!(heap.realloc(a, l600, 1200).is_null());
            assert_eq!(heap.live(), 600);
            // Shrinking gives bytes back.
            let a = heap.realloc(a, l600, 100);
            assert!(!a.is_null());
            assert_eq!(heap.live(), 100);
            let b = heap.alloc_zeroed(l500);
            assert!(!b.is_null());
            assert_eq!(heap.live(), 600);
            heap.dealloc(b, l500);
            heap.dealloc(a, Layout::from_size_align(100, 8).unwrap());
            assert_eq!(heap.live(), 0);
        }
    }

    #[test]
    fn exhaustion_is_caught_and_other_panics_are_not() {
        assert_eq!(catch_exhaustion(|| 7), Ok(7));
        let r: Result<(), _> = catch_exhaustion(|| panic::panic_any(Exhausted { requested: 42 }));
        assert_eq!(r, Err(Exhausted { requested: 42 }));
        let other = panic::catch_unwind(|| catch_exhaustion(|| panic!("something else")));
        let payload = other.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"something else"));
    }
}
