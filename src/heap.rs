//! A ceiling on the heap, so that a file built to make a decoder allocate
//! without bound gets a clear refusal instead of killing the isolate.
//!
//! Every decoder is given a memory budget from the image's header
//! (`imaging::limits`, planned within [`MEMORY_BOUND`]), but a decoder can still allocate for structures the
//! header does not announce: a lossless WebP may declare 65,536 groups of
//! Huffman codes in a 16×16 image, and the `image` crate's WebP decoder
//! builds a lookup table for each before it decodes a pixel (a file of a
//! few MB asks for many times the isolate's memory; `tests/lib/webp-bombs.mjs`,
//! docs/benchmark.md). On Cloudflare an isolate over 128 MB
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
//!
//! The panic itself allocates (its payload, the unwinding exception), so
//! a refusal that leaves only a few bytes under the ceiling, or a heap that
//! wasm memory can no longer grow (the module's memory has a maximum, set
//! by the linker in `scripts/build.sh`), would make those allocations fail
//! too and abort the isolate. So [`Capped`] holds an emergency reserve of
//! [`RESERVE`] bytes, allocated from the real heap and counted as live:
//! the allocation-error hook frees it before it panics, leaving the panic
//! that much room both under the ceiling and in the allocator's memory,
//! and it is taken again once the panic is caught ([`catch_exhaustion`],
//! and at the start of every request in [`install`]). (The hook, not the
//! allocator: a `dealloc` inside the global allocator's `alloc` made the
//! optimised Worker free blocks with the wrong size.)

use std::alloc::{GlobalAlloc, Layout};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::Relaxed};

/// Wasm memory one upload may use, bytes (the requirement): the bound the
/// image pipeline plans every upload within (`imaging::limits`), body
/// included.
pub const MEMORY_BOUND: u64 = 100_000_000;

/// The most the heap may hold: the bound every upload is planned to stay
/// within ([`MEMORY_BOUND`], body included) plus 8 MiB for what no
/// estimate counts. Under Cloudflare's 128 MB isolate limit, with room for
/// the JavaScript heap.
pub const HEAP_CEILING: usize = MEMORY_BOUND as usize + 8 * 1024 * 1024;

/// The emergency reserve: far more than a panic and its unwinding
/// allocate, small next to the ceiling.
pub const RESERVE: usize = 64 * 1024;

/// The layout of the reserve block.
const RESERVE_LAYOUT: Layout = match Layout::from_size_align(RESERVE, 8) {
    Ok(l) => l,
    Err(_) => panic!("reserve layout"),
};

/// Panic payload of an allocation refused by the ceiling (or by the
/// underlying allocator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    /// Bytes the refused allocation asked for.
    pub requested: usize,
}

/// A [`GlobalAlloc`] that counts live bytes and refuses allocations over
/// `ceiling`, with an emergency reserve (module docs).
///
/// Not the `cap` crate: it counts and limits the same way, but that is
/// all it would replace here (`claim`, `counted`). The emergency reserve,
/// a block held by the allocator, counted as live, freed by the
/// allocation-error hook and taken back after the catch, and the test
/// hooks' fill to a given distance under the ceiling, would still be
/// ours, around a dependency in the Worker's global allocator.
pub struct Capped<A> {
    inner: A,
    ceiling: usize,
    live: AtomicUsize,
    /// The reserve block while it is held (null: released or never taken).
    reserve: AtomicPtr<u8>,
}

impl<A> Capped<A> {
    pub const fn new(inner: A, ceiling: usize) -> Self {
        Capped { inner, ceiling, live: AtomicUsize::new(0), reserve: AtomicPtr::new(core::ptr::null_mut()) }
    }

    /// Bytes currently allocated through this allocator (the reserve too,
    /// while it is held).
    pub fn live(&self) -> usize {
        self.live.load(Relaxed)
    }

    /// Whether the emergency reserve is held.
    pub fn has_reserve(&self) -> bool {
        !self.reserve.load(Relaxed).is_null()
    }

    /// Counts `extra` more bytes if they fit under the ceiling.
    fn claim(&self, extra: usize) -> bool {
        self.live.fetch_update(Relaxed, Relaxed, |live| live.checked_add(extra).filter(|&n| n <= self.ceiling)).is_ok()
    }
}

impl<A: GlobalAlloc> Capped<A> {
    /// Counts `size` bytes and runs `alloc`; null (and nothing counted)
    /// when they do not fit or `alloc` fails.
    fn counted(&self, size: usize, alloc: impl FnOnce() -> *mut u8) -> *mut u8 {
        if !self.claim(size) {
            return core::ptr::null_mut();
        }
        let p = alloc();
        if p.is_null() {
            self.live.fetch_sub(size, Relaxed);
        }
        p
    }

    /// Takes the emergency reserve if it is not held and fits; `true` when
    /// it is held afterwards.
    pub fn restore_reserve(&self) -> bool {
        if self.has_reserve() {
            return true;
        }
        if !self.claim(RESERVE) {
            return false;
        }
        // SAFETY: RESERVE_LAYOUT has a non-zero size; a null result is checked.
        let p = unsafe { self.inner.alloc(RESERVE_LAYOUT) };
        if p.is_null() {
            self.live.fetch_sub(RESERVE, Relaxed);
            return false;
        }
        if self.reserve.compare_exchange(core::ptr::null_mut(), p, Relaxed, Relaxed).is_err() {
            // Taken meanwhile (only possible with threads): keep one.
            // SAFETY: `p` was just allocated from `inner` with this layout
            // and was never shared.
            unsafe { self.inner.dealloc(p, RESERVE_LAYOUT) };
            self.live.fetch_sub(RESERVE, Relaxed);
        }
        true
    }

    /// An allocation was refused: frees the reserve, if held, so that the
    /// panic about to report the refusal has room to allocate. Called by
    /// the allocation-error hook, never from inside the allocator.
    pub fn release_reserve(&self) {
        let p = self.reserve.swap(core::ptr::null_mut(), Relaxed);
        if !p.is_null() {
            // SAFETY: a non-null reserve was allocated from `inner` with
            // RESERVE_LAYOUT, and the swap took it out: it is freed once.
            unsafe { self.inner.dealloc(p, RESERVE_LAYOUT) };
            self.live.fetch_sub(RESERVE, Relaxed);
        }
    }
}

// SAFETY: every method forwards to `inner` with the caller's layout and
// pointer, under the caller's own contract, or returns null; the reserve
// block is allocated and freed with its own fixed layout. The counting
// never touches the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Capped<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `inner`'s.
        self.counted(layout.size(), || unsafe { self.inner.alloc(layout) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is `inner`'s.
        self.counted(layout.size(), || unsafe { self.inner.alloc_zeroed(layout) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `inner`, with
        // `layout` (the caller's contract).
        unsafe { self.inner.dealloc(ptr, layout) };
        self.live.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !self.claim(new_size - old) {
            return core::ptr::null_mut();
        }
        // SAFETY: `ptr` came from `inner` with `layout`, and `new_size` is
        // valid for it (the caller's contract for `realloc`).
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
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
        std::alloc::set_alloc_error_hook(|layout| {
            HEAP.release_reserve();
            panic::panic_any(Exhausted { requested: layout.size() })
        });
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Exhausted>() {
                previous(info);
            }
        }));
    });
    // A refusal outside `catch_exhaustion` (while reading a body, say) was
    // answered by the entry's catch; the reserve comes back here.
    restore_reserve();
}

/// Takes the emergency reserve again after a refusal (nothing natively,
/// where no ceiling is installed).
pub fn restore_reserve() {
    #[cfg(target_arch = "wasm32")]
    HEAP.restore_reserve();
}

/// Runs `f`; `Err` if it ran out of heap (an [`Exhausted`] panic), any
/// other panic continues unwinding. After a refusal the emergency reserve
/// is taken again (what `f` held is freed by then).
pub fn catch_exhaustion<T>(f: impl FnOnce() -> T) -> Result<T, Exhausted> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Ok(v),
        Err(payload) => match payload.downcast::<Exhausted>() {
            Ok(e) => {
                restore_reserve();
                Err(*e)
            }
            Err(other) => panic::resume_unwind(other),
        },
    }
}

/// Test builds only: an upload processed on a heap filled so that the
/// next allocation of more than a few bytes is refused, by the ceiling or
/// by wasm memory itself.
#[cfg(all(target_arch = "wasm32", feature = "test-hooks"))]
pub mod test_fill {
    use std::alloc::{GlobalAlloc, Layout};

    use super::{restore_reserve, HEAP, HEAP_CEILING};

    /// The tag an upload ends with to be processed on a filled heap:
    /// `AVATAR-EDGE-TEST-FILL:<ceiling|memory>:<n>` (the heap-exhaustion
    /// test, tests/integration/heap.test.mjs, without a file that needs
    /// 100 MB).
    const TAG: &[u8] = b"AVATAR-EDGE-TEST-FILL:";

    /// The blocks taken; given back, and the emergency reserve taken
    /// again, when dropped.
    pub struct Filled {
        blocks: Vec<(*mut u8, Layout)>,
        ceiling: bool,
    }

    /// Fills the heap as the tag at the end of `file` asks, if it has one,
    /// so that the pipeline's first allocation of more than `n` bytes fails.
    pub fn for_upload(file: &[u8]) -> Option<Filled> {
        let at = file.windows(TAG.len()).rposition(|w| w == TAG)?;
        let spec = std::str::from_utf8(&file[at + TAG.len()..]).ok()?;
        let (mode, leave) = spec.trim().split_once(':')?;
        let ceiling = mode == "ceiling";
        Some(Filled { blocks: fill(leave.parse().ok()?, ceiling), ceiling })
    }

    impl Drop for Filled {
        fn drop(&mut self) {
            for (p, l) in self.blocks.drain(..) {
                // SAFETY: each block was allocated by `fill` with this very
                // layout, from the allocator it goes back to, and is freed once.
                unsafe {
                    if self.ceiling {
                        HEAP.dealloc(p, l);
                    } else {
                        std::alloc::System.dealloc(p, l);
                    }
                }
            }
            restore_reserve();
        }
    }

    /// Fills the heap so that the next allocation of more than `leave`
    /// bytes is refused, by the ceiling (`ceiling`: a counted block up to
    /// `leave` bytes under it) or by wasm memory itself (not: uncounted
    /// blocks taken straight from the system allocator until memory can
    /// grow no more).
    fn fill(leave: usize, ceiling: bool) -> Vec<(*mut u8, Layout)> {
        let mut blocks = Vec::with_capacity(64);
        if ceiling {
            let room = HEAP_CEILING.saturating_sub(HEAP.live()).saturating_sub(leave);
            if let Some(l) = Layout::from_size_align(room, 1).ok().filter(|l| l.size() > 0) {
                // SAFETY: `l` has a non-zero size; a null result is checked.
                let p = unsafe { HEAP.alloc(l) };
                if !p.is_null() {
                    blocks.push((p, l));
                }
            }
        } else {
            // Halving block sizes down to `leave`: what is left is less.
            let mut size = 64 << 20;
            while size > leave && blocks.len() < blocks.capacity() {
                let l = Layout::from_size_align(size, 1).unwrap_or(Layout::new::<u8>());
                // SAFETY: `l` has a non-zero size; a null result is checked.
                let p = unsafe { std::alloc::System.alloc(l) };
                if p.is_null() {
                    size /= 2;
                } else {
                    blocks.push((p, l));
                }
            }
        }
        blocks
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
        // SAFETY: every block is freed once, with the layout (and size)
        // it has at that point.
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
    fn a_refusal_frees_the_reserve_for_the_panic_and_it_comes_back() {
        let heap = Capped::new(System, 1000 + RESERVE);
        assert!(heap.restore_reserve());
        assert_eq!(heap.live(), RESERVE);
        let big = Layout::from_size_align(990, 8).unwrap();
        let small = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: every block is freed once, with the layout it was
        // allocated with.
        unsafe {
            // 10 bytes left under the ceiling: the next allocation is refused,
            let a = heap.alloc(big);
            assert!(!a.is_null());
            assert!(heap.alloc(small).is_null());
            // and nothing fits until the error hook gives the reserve back,
            assert!(heap.has_reserve());
            assert!(heap.alloc(Layout::from_size_align(11, 1).unwrap()).is_null());
            heap.release_reserve();
            // then what the panic allocates does.
            assert!(!heap.has_reserve());
            assert_eq!(heap.live(), 990);
            let panic_box = heap.alloc(small);
            assert!(!panic_box.is_null());
            // It is not taken again while that does not leave room for it,
            assert!(!heap.restore_reserve());
            assert_eq!(heap.live(), 990 + 64);
            // but once the unwinding has freed the decoder's memory.
            heap.dealloc(panic_box, small);
            heap.dealloc(a, big);
            assert!(heap.restore_reserve());
            assert!(heap.restore_reserve(), "taken once");
            assert_eq!(heap.live(), RESERVE);
            heap.release_reserve();
            heap.release_reserve();
            assert_eq!(heap.live(), 0);
        }
    }

    /// An allocator whose memory is used up: every allocation fails (as
    /// dlmalloc's does when wasm memory reaches its maximum).
    struct Full;
    // SAFETY: it never hands out memory; `dealloc` is never given any.
    unsafe impl GlobalAlloc for Full {
        unsafe fn alloc(&self, _: Layout) -> *mut u8 {
            core::ptr::null_mut()
        }
        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    }

    #[test]
    fn an_allocator_that_cannot_grow_fails_cleanly_and_no_reserve_is_invented() {
        // wasm memory at its maximum: the allocation fails (the hook then
        // panics), nothing is counted, and the reserve cannot be taken.
        let heap = Capped::new(Full, 1 << 20);
        // SAFETY: a non-zero size; nothing is allocated.
        unsafe {
            assert!(heap.alloc(Layout::from_size_align(10, 1).unwrap()).is_null());
        }
        assert_eq!(heap.live(), 0);
        assert!(!heap.restore_reserve());
        assert_eq!(heap.live(), 0);
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
