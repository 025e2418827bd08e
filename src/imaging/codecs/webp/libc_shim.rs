//! The C library functions libwebp needs that `wasm32-unknown-unknown` has
//! no libc for: `malloc`/`calloc`/`realloc`/`free` on top of Rust's global
//! allocator (so libwebp's memory counts against the heap ceiling, and it
//! gets NULL past it), and `qsort`/`bsearch`. Everything else libwebp's
//! codec uses (memcpy, memset, math) comes from Rust's compiler-builtins.
//!
//! The C symbols are exported only on wasm32-unknown-unknown (on every
//! other target the platform libc provides them and defining them would
//! clash); what they do is in plain functions, unit-tested natively.

use core::ffi::{c_int, c_void};
use core::ptr;
use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};

/// Alignment of every block (C's `max_align_t` is 16 on wasm32 clang), and
/// the size of the header before it that records the allocation's size.
const ALIGN: usize = 16;
const HEADER: usize = 16;

/// A C comparison function, as `qsort` and `bsearch` take it.
type Compare = unsafe extern "C" fn(*const c_void, *const c_void) -> c_int;

fn layout_for(size: usize) -> Option<Layout> {
    let total = size.checked_add(HEADER)?;
    Layout::from_size_align(total, ALIGN).ok()
}

/// Stores the block's total size in its header; returns the pointer C
/// gets (null when `base` is).
///
/// # Safety
/// `base` is null or a block of at least `HEADER` bytes aligned to `ALIGN`.
unsafe fn finish(base: *mut u8, total: usize) -> *mut c_void {
    if base.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: the block starts with HEADER writable bytes, aligned for a
    // usize, and HEADER bytes in is still inside it.
    unsafe {
        base.cast::<usize>().write(total);
        base.add(HEADER).cast()
    }
}

/// The block's base pointer and layout, from a pointer [`allocate`] gave.
///
/// # Safety
/// `p` came from [`allocate`] or [`reallocate`] and was not freed.
unsafe fn block_of(p: *mut c_void) -> (*mut u8, Layout) {
    // SAFETY: such a pointer is HEADER bytes into a block whose header
    // holds the total size it was allocated with, a valid layout then.
    unsafe {
        let base = p.cast::<u8>().sub(HEADER);
        let total = base.cast::<usize>().read();
        (base, Layout::from_size_align_unchecked(total, ALIGN))
    }
}

/// `malloc` (`zeroed`: `calloc` of `size` bytes): null when the heap
/// refuses.
fn allocate(size: usize, zeroed: bool) -> *mut c_void {
    match layout_for(size) {
        // SAFETY: the layout has a non-zero size (at least the header);
        // `finish` gets the block or null.
        Some(layout) => unsafe {
            let base = if zeroed { alloc_zeroed(layout) } else { alloc(layout) };
            finish(base, layout.size())
        },
        None => ptr::null_mut(),
    }
}

/// `free`.
///
/// # Safety
/// `p` is null, or came from [`allocate`] or [`reallocate`] and was not
/// freed.
unsafe fn release(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: the caller's contract; the block goes back with the
        // layout it was allocated with.
        unsafe {
            let (base, layout) = block_of(p);
            dealloc(base, layout);
        }
    }
}

/// `realloc`: the old block stays valid when the new one cannot be had,
/// as in C.
///
/// # Safety
/// As for [`release`].
unsafe fn reallocate(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return allocate(size, false);
    }
    let Some(new_layout) = layout_for(size) else {
        return ptr::null_mut();
    };
    // SAFETY: the caller's contract; `realloc` gets the block's own
    // layout and a non-zero new size with the same alignment.
    unsafe {
        let (base, old_layout) = block_of(p);
        finish(realloc(base, old_layout, new_layout.size()), new_layout.size())
    }
}

/// Heapsort of `count` elements of `size` bytes at `base`: in place, no
/// allocation, O(n log n), and it stays in bounds whatever the comparator
/// returns. (C's qsort is not stable either.)
///
/// # Safety
/// `base` holds `count` elements of `size` bytes, and `cmp` may be called
/// on any two of them.
unsafe fn heap_sort(base: *mut u8, count: usize, size: usize, cmp: Compare) {
    if base.is_null() || size == 0 || count < 2 {
        return;
    }
    // SAFETY: every index passed on is below `count` (the caller's
    // contract covers the elements).
    unsafe {
        for root in (0..count / 2).rev() {
            sift_down(base, size, cmp, root, count);
        }
        for end in (1..count).rev() {
            swap(base, size, 0, end);
            sift_down(base, size, cmp, 0, end);
        }
    }
}

/// Moves element `root` down the heap of the first `end` elements.
///
/// # Safety
/// As for [`heap_sort`], with `root < end <= count`.
unsafe fn sift_down(base: *mut u8, size: usize, cmp: Compare, mut root: usize, end: usize) {
    let at = |k: usize| base.wrapping_add(k * size) as *const c_void;
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        // SAFETY: `root`, `child` and `child + 1` are checked below `end`,
        // so they are elements of the array.
        unsafe {
            if child + 1 < end && cmp(at(child), at(child + 1)) < 0 {
                child += 1;
            }
            if cmp(at(root), at(child)) >= 0 {
                return;
            }
            swap(base, size, root, child);
        }
        root = child;
    }
}

/// Swaps elements `i` and `j` of `size` bytes.
///
/// # Safety
/// Both are elements of the array at `base`.
unsafe fn swap(base: *mut u8, size: usize, i: usize, j: usize) {
    if i != j {
        // SAFETY: two distinct elements of `size` bytes do not overlap.
        unsafe { ptr::swap_nonoverlapping(base.add(i * size), base.add(j * size), size) };
    }
}

/// Binary search for `key` in `count` sorted elements of `size` bytes:
/// a matching element, or null.
///
/// # Safety
/// `base` holds `count` elements of `size` bytes (or is null), and `cmp`
/// may be called on `key` and any of them.
unsafe fn binary_search(
    key: *const c_void,
    base: *const c_void,
    count: usize,
    size: usize,
    cmp: Compare,
) -> *mut c_void {
    if base.is_null() {
        return ptr::null_mut();
    }
    let (mut lo, mut hi) = (0usize, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // SAFETY: `mid < count`: an element of the array.
        let (elem, order) = unsafe {
            let elem = base.cast::<u8>().add(mid * size).cast::<c_void>();
            (elem, cmp(key, elem))
        };
        match order {
            0 => return elem.cast_mut(),
            c if c < 0 => hi = mid,
            _ => lo = mid + 1,
        }
    }
    ptr::null_mut()
}

/// The output of C's `snprintf` for the formats libwebp's animation
/// encoder writes its error text with (`%s`, `%d`, `%%`), into `out`
/// (NUL-terminated, cut to its length); `arg` gives the arguments in
/// turn. The text stops at any other conversion (its argument's type is
/// unknown, so no later argument could be read safely). Returns the full
/// length, as C's does.
fn format_c(fmt: &[u8], out: &mut [u8], mut arg: impl FnMut(u8) -> Vec<u8>) -> usize {
    let mut text = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        match (fmt[i], fmt.get(i + 1)) {
            (b'%', Some(&b'%')) => {
                text.push(b'%');
                i += 2;
            }
            (b'%', Some(&conv @ (b's' | b'd'))) => {
                text.extend(arg(conv));
                i += 2;
            }
            (b'%', _) => break,
            (c, _) => {
                text.push(c);
                i += 1;
            }
        }
    }
    if let Some(room) = out.len().checked_sub(1) {
        let n = text.len().min(room);
        out[..n].copy_from_slice(&text[..n]);
        out[n] = 0;
    }
    text.len()
}

/// The C symbols libwebp links against.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod exports {
    use super::*;
    use core::ffi::{c_char, CStr};

    /// C's `stderr`: libwebp's animation encoder names it for messages
    /// `fprintf` drops.
    #[no_mangle]
    pub static stderr: usize = 0;

    /// # Safety
    /// C's contract; nothing is read.
    #[no_mangle]
    pub unsafe extern "C" fn fprintf(_stream: *mut c_void, _format: *const c_char, _args: ...) -> c_int {
        0
    }

    /// # Safety
    /// C's contract; nothing is read (the compiler turns a constant
    /// `fprintf` into this).
    #[no_mangle]
    pub unsafe extern "C" fn fwrite(_ptr: *const c_void, _size: usize, count: usize, _stream: *mut c_void) -> usize {
        count
    }

    /// # Safety
    /// C's contract for `snprintf`, for the conversions [`format_c`] knows.
    #[no_mangle]
    pub unsafe extern "C" fn snprintf(buf: *mut c_char, size: usize, format: *const c_char, mut args: ...) -> c_int {
        // SAFETY: C passes a NUL-terminated format.
        let fmt = unsafe { CStr::from_ptr(format) }.to_bytes();
        let out: &mut [u8] = if buf.is_null() || size == 0 {
            &mut []
        } else {
            // SAFETY: C passes a buffer of `size` writable bytes.
            unsafe { core::slice::from_raw_parts_mut(buf.cast(), size) }
        };
        let arg = |conv: u8| match conv {
            b's' => {
                // SAFETY: the format says the next argument is a C string.
                let p = unsafe { args.next_arg::<*const c_char>() };
                if p.is_null() {
                    b"(null)".to_vec()
                } else {
                    // SAFETY: a non-null C string from libwebp, NUL-terminated.
                    unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()
                }
            }
            // SAFETY: the format says the next argument is an int.
            b'd' => unsafe { args.next_arg::<c_int>() }.to_string().into_bytes(),
            _ => Vec::new(),
        };
        c_int::try_from(format_c(fmt, out, arg)).unwrap_or(c_int::MAX)
    }

    #[no_mangle]
    pub extern "C" fn malloc(size: usize) -> *mut c_void {
        allocate(size, false)
    }

    #[no_mangle]
    pub extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
        match count.checked_mul(size) {
            Some(total) => allocate(total, true),
            None => ptr::null_mut(),
        }
    }

    /// # Safety
    /// C's contract for `free`.
    #[no_mangle]
    pub unsafe extern "C" fn free(p: *mut c_void) {
        // SAFETY: libwebp frees only what these functions gave it, once.
        unsafe { release(p) }
    }

    /// # Safety
    /// C's contract for `realloc`.
    #[no_mangle]
    pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
        // SAFETY: as for `free`.
        unsafe { reallocate(p, size) }
    }

    /// # Safety
    /// C's contract for `qsort`.
    #[no_mangle]
    pub unsafe extern "C" fn qsort(base: *mut c_void, count: usize, size: usize, cmp: Option<Compare>) {
        if let Some(cmp) = cmp {
            // SAFETY: C's contract: `base` holds `count` elements of `size`.
            unsafe { heap_sort(base.cast(), count, size, cmp) }
        }
    }

    /// # Safety
    /// C's contract for `bsearch`.
    #[no_mangle]
    pub unsafe extern "C" fn bsearch(
        key: *const c_void,
        base: *const c_void,
        count: usize,
        size: usize,
        cmp: Option<Compare>,
    ) -> *mut c_void {
        match cmp {
            // SAFETY: C's contract: `base` holds `count` sorted elements.
            Some(cmp) => unsafe { binary_search(key, base, count, size, cmp) },
            None => ptr::null_mut(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_formatting_of_libwebp_error_text() {
        let mut out = [0xAAu8; 32];
        let mut args = vec![b"frame".to_vec(), b"7".to_vec()].into_iter();
        let n = format_c(b"%s: %d.%%", &mut out, |_| args.next().unwrap());
        assert_eq!(n, 10);
        assert_eq!(&out[..11], b"frame: 7.%\0");
        // Cut to the buffer, always terminated.
        let mut small = [0xAAu8; 4];
        assert_eq!(format_c(b"abcdef", &mut small, |_| Vec::new()), 6);
        assert_eq!(&small, b"abc\0");
        assert_eq!(format_c(b"x", &mut [], |_| Vec::new()), 1);
        // An unknown conversion ends the text: no argument is read for it
        // or after it.
        let mut out = [0u8; 16];
        let n = format_c(b"a%ub%s", &mut out, |_| panic!("no argument may be read"));
        assert_eq!((n, &out[..2]), (1, &b"a\0"[..]));
    }

    unsafe extern "C" fn by_value(a: *const c_void, b: *const c_void) -> c_int {
        // SAFETY: the tests sort and search u32 arrays.
        let (a, b) = unsafe { (*a.cast::<u32>(), *b.cast::<u32>()) };
        a.cmp(&b) as c_int
    }

    /// A comparator that answers at random: the sort must stay in bounds.
    unsafe extern "C" fn anything(a: *const c_void, b: *const c_void) -> c_int {
        ((a as usize ^ (b as usize >> 3)) % 3) as c_int - 1
    }

    #[test]
    fn blocks_keep_their_size_and_alignment_and_grow_with_their_contents() {
        // SAFETY: each block is used within its size and freed once.
        unsafe {
            let p = allocate(100, false).cast::<u8>();
            assert!(!p.is_null());
            assert_eq!(p as usize % ALIGN, 0);
            for i in 0..100 {
                p.add(i).write(i as u8);
            }
            let q = reallocate(p.cast(), 10_000).cast::<u8>();
            assert!(!q.is_null());
            assert!((0..100).all(|i| q.add(i).read() == i as u8));
            let q = reallocate(q.cast(), 10).cast::<u8>();
            assert!((0..10).all(|i| q.add(i).read() == i as u8));
            release(q.cast());

            let z = allocate(4096, true).cast::<u8>();
            assert!((0..4096).all(|i| z.add(i).read() == 0));
            release(z.cast());

            release(ptr::null_mut());
            let fresh = reallocate(ptr::null_mut(), 32);
            assert!(!fresh.is_null());
            release(fresh);
        }
        // Sizes that cannot be had are null, not a panic.
        assert!(allocate(usize::MAX, false).is_null());
        assert!(allocate(usize::MAX - HEADER - ALIGN, false).is_null());
    }

    #[test]
    fn heap_sort_sorts_and_binary_search_finds() {
        let mut seed = 12345u32;
        for n in [0usize, 1, 2, 3, 7, 64, 1000] {
            let mut v: Vec<u32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    seed >> 16
                })
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            // SAFETY: `v` holds `n` u32s.
            unsafe { heap_sort(v.as_mut_ptr().cast(), n, 4, by_value) };
            assert_eq!(v, want, "{n} elements");
            for key in want.iter().copied().chain([u32::MAX, 70_000]) {
                // SAFETY: `v` holds `n` sorted u32s.
                let found = unsafe { binary_search((&key as *const u32).cast(), v.as_ptr().cast(), n, 4, by_value) };
                if want.contains(&key) {
                    // SAFETY: a non-null result points into `v`.
                    assert_eq!(unsafe { *found.cast::<u32>() }, key);
                } else {
                    assert!(found.is_null(), "{key} is not in the array");
                }
            }
        }
        // SAFETY: null bases and empty arrays are never read.
        unsafe {
            assert!(binary_search((&1u32 as *const u32).cast(), ptr::null(), 5, 4, by_value).is_null());
            heap_sort(ptr::null_mut(), 5, 4, by_value);
        }
    }

    #[test]
    fn a_comparator_that_lies_keeps_the_elements() {
        let mut v: Vec<u32> = (0..500).collect();
        // SAFETY: `v` holds 500 u32s.
        unsafe { heap_sort(v.as_mut_ptr().cast(), v.len(), 4, anything) };
        v.sort_unstable();
        assert_eq!(v, (0..500).collect::<Vec<_>>(), "a permutation of the input");
    }
}
