//! The C library functions libwebp needs that `wasm32-unknown-unknown` has
//! no libc for: `malloc`/`calloc`/`realloc`/`free` on top of Rust's global
//! allocator, and `qsort`/`bsearch`. Everything else libwebp's encoder uses
//! (memcpy, memset, math) comes from Rust's compiler-builtins.
//!
//! Compiled only for wasm32-unknown-unknown: on every other target the
//! platform libc provides these and defining them would clash.

use core::ffi::{c_int, c_void};
use core::ptr;
use std::alloc::{alloc, alloc_zeroed, dealloc, realloc as rust_realloc, Layout};

/// Alignment of every block (C's `max_align_t` is 16 on wasm32 clang), and
/// the size of the header before it that records the allocation's size.
const ALIGN: usize = 16;
const HEADER: usize = 16;

type Compare = Option<unsafe extern "C" fn(*const c_void, *const c_void) -> c_int>;

fn layout_for(size: usize) -> Option<Layout> {
    let total = size.checked_add(HEADER)?;
    Layout::from_size_align(total, ALIGN).ok()
}

/// Stores the total size in the header; returns the user pointer.
unsafe fn finish(base: *mut u8, total: usize) -> *mut c_void {
    if base.is_null() {
        return ptr::null_mut();
    }
    (base as *mut usize).write(total);
    base.add(HEADER).cast()
}

/// The block's base pointer and layout, from a pointer `malloc` returned.
unsafe fn block_of(p: *mut c_void) -> (*mut u8, Layout) {
    let base = (p as *mut u8).sub(HEADER);
    let total = (base as *const usize).read();
    (base, Layout::from_size_align_unchecked(total, ALIGN))
}

#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    match layout_for(size) {
        Some(layout) => finish(alloc(layout), layout.size()),
        None => ptr::null_mut(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size).and_then(layout_for) {
        Some(layout) => finish(alloc_zeroed(layout), layout.size()),
        None => ptr::null_mut(),
    }
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if !p.is_null() {
        let (base, layout) = block_of(p);
        dealloc(base, layout);
    }
}

#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return malloc(size);
    }
    let Some(new_layout) = layout_for(size) else {
        return ptr::null_mut(); // the old block stays valid, as in C
    };
    let (base, old_layout) = block_of(p);
    finish(rust_realloc(base, old_layout, new_layout.size()), new_layout.size())
}

/// Swaps two non-overlapping elements of `size` bytes.
unsafe fn swap(base: *mut u8, size: usize, i: usize, j: usize) {
    if i != j {
        ptr::swap_nonoverlapping(base.add(i * size), base.add(j * size), size);
    }
}

unsafe fn sift_down(
    base: *mut u8,
    size: usize,
    cmp: unsafe extern "C" fn(*const c_void, *const c_void) -> c_int,
    mut root: usize,
    end: usize,
) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        let at = |k: usize| base.add(k * size) as *const c_void;
        if child + 1 < end && cmp(at(child), at(child + 1)) < 0 {
            child += 1;
        }
        if cmp(at(root), at(child)) >= 0 {
            return;
        }
        swap(base, size, root, child);
        root = child;
    }
}

/// Heapsort: in place, no allocation, O(n log n), and it stays in bounds
/// whatever the comparator returns. (C's qsort is not stable either.)
#[no_mangle]
pub unsafe extern "C" fn qsort(base: *mut c_void, count: usize, size: usize, cmp: Compare) {
    let (Some(cmp), false) = (cmp, base.is_null() || size == 0 || count < 2) else {
        return;
    };
    let base = base as *mut u8;
    for root in (0..count / 2).rev() {
        sift_down(base, size, cmp, root, count);
    }
    for end in (1..count).rev() {
        swap(base, size, 0, end);
        sift_down(base, size, cmp, 0, end);
    }
}

#[no_mangle]
pub unsafe extern "C" fn bsearch(
    key: *const c_void,
    base: *const c_void,
    count: usize,
    size: usize,
    cmp: Compare,
) -> *mut c_void {
    let Some(cmp) = cmp else {
        return ptr::null_mut();
    };
    if base.is_null() {
        return ptr::null_mut();
    }
    let (mut lo, mut hi) = (0usize, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let elem = (base as *const u8).add(mid * size) as *const c_void;
        match cmp(key, elem) {
            0 => return elem as *mut c_void,
            c if c < 0 => hi = mid,
            _ => lo = mid + 1,
        }
    }
    ptr::null_mut()
}
