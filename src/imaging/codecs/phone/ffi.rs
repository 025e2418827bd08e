//! The call into a decoder module: the structs it shares with the C side
//! (`decoders/common/phone_abi.h`, same layout, checked by a test), the
//! arena, and, in the Worker (wasm32), the call through `js/phone.mjs`.
//!
//! The module runs in this module's own memory: it reads the upload where
//! it lies, writes its result into [`RawResult`] here, and lays out its
//! static data, stack and heap in an [`Arena`] allocated from the global
//! allocator (so the heap ceiling of `crate::heap` counts it), where its
//! output pixels stay until the [`Decoded`] is dropped.

use super::heif::PhoneKind;

/// `ph_request` (decoders/common/phone_abi.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The rectangle of the stored image to convert.
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    /// Blocks of 2^shift pixels averaged (0..=3).
    pub shift: u32,
    /// The decoder refuses a larger picture.
    pub max_pixels: u32,
    /// The size read from the header (`ispe`): decoding must find it.
    pub expect_w: u32,
    pub expect_h: u32,
    /// AVIF: RGBA out, with the alpha plane.
    pub want_alpha: u32,
}

/// Length of `ph_result.error`.
pub const ERROR_LEN: usize = 120;

/// `ph_result` (decoders/common/phone_abi.h).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawResult {
    pub pixels: u32,
    pub stride: u32,
    pub out_w: u32,
    pub out_h: u32,
    pub out_x: u32,
    pub out_y: u32,
    pub channels: u32,
    pub depth: u32,
    pub primaries: u32,
    pub transfer: u32,
    pub matrix: u32,
    pub full_range: u32,
    pub pictures: u32,
    pub decoded_pixels: u32,
    pub heap_peak: u32,
    pub error: [u8; ERROR_LEN],
}

impl Default for RawResult {
    fn default() -> Self {
        RawResult {
            pixels: 0,
            stride: 0,
            out_w: 0,
            out_h: 0,
            out_x: 0,
            out_y: 0,
            channels: 0,
            depth: 0,
            primaries: 0,
            transfer: 0,
            matrix: 0,
            full_range: 0,
            pictures: 0,
            decoded_pixels: 0,
            heap_peak: 0,
            error: [0; ERROR_LEN],
        }
    }
}

impl RawResult {
    /// The decoder's (or the loader's) English detail, for logs.
    pub fn error_text(&self) -> String {
        let end = self.error.iter().position(|&b| b == 0).unwrap_or(ERROR_LEN);
        String::from_utf8_lossy(&self.error[..end]).into_owned()
    }
}

/// How a decode ended, from `ph_decode`'s code or the loader's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not a valid file of this kind, or its data is damaged.
    Damaged,
    /// Valid, but of a kind not decoded here.
    Unsupported,
    /// Over a limit of the request (pixels, a tile's or SPS's size).
    Limit,
    /// The arena ran out (the header promised less than the data needs).
    Memory,
    /// More than one picture, or not an intra picture.
    Frames,
    /// The data's size disagrees with the header's.
    Mismatch,
    /// The decoder trapped (allocation abort, stack overflow, a bug caught
    /// by wasm's bounds): the instance was discarded.
    Trap,
    /// The module could not be set up.
    Loader,
    /// The arena could not be allocated (the heap ceiling).
    NoArena,
    /// This build has no decoder modules (native builds).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    Unavailable,
    /// A code no side defines.
    Other(i32),
}

impl Status {
    pub fn from_code(code: i32) -> Status {
        match code {
            -1 => Status::Damaged,
            -2 => Status::Unsupported,
            -3 => Status::Limit,
            -4 => Status::Memory,
            -5 => Status::Frames,
            -6 => Status::Mismatch,
            -10 => Status::Trap,
            -11 => Status::Loader,
            n => Status::Other(n),
        }
    }
}

/// A failed decode: what happened, the detail for logs, the arena's
/// high-water mark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub status: Status,
    pub detail: String,
    pub heap_peak: u32,
}

/// Memory for one decode, from the global allocator (counted by the heap
/// ceiling); the decoder module lays out its data, stack and heap in it.
pub struct Arena {
    ptr: core::ptr::NonNull<u8>,
    layout: std::alloc::Layout,
}

impl Arena {
    /// `len` bytes, or `None` when the allocator (the heap ceiling) refuses.
    pub fn new(len: usize) -> Option<Arena> {
        let layout = std::alloc::Layout::from_size_align(len.max(1), 16).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        core::ptr::NonNull::new(ptr).map(|ptr| Arena { ptr, layout })
    }

    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    pub fn len(&self) -> usize {
        self.layout.size()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// A successful decode: the output rows live in the arena, which this owns.
pub struct Decoded {
    arena: Arena,
    pub result: RawResult,
    /// Where the output starts in the arena.
    offset: usize,
}

impl Decoded {
    /// Checks that `result` describes `w`×`h` blocks of 3 or 4 channels lying
    /// inside `arena`, and takes both. (Addresses are the wasm32 module's,
    /// 32 bits: natively, where tests build results by hand, the arena's
    /// address is taken modulo 2^32 the same way.)
    pub fn new(arena: Arena, result: RawResult, w: u32, h: u32) -> Result<Decoded, Failure> {
        let bad =
            |what: &str| Failure { status: Status::Mismatch, detail: what.to_string(), heap_peak: result.heap_peak };
        if (result.out_w, result.out_h) != (w, h) || !matches!(result.channels, 3 | 4) || w == 0 || h == 0 {
            return Err(bad("output of another size"));
        }
        let row = u64::from(w) * u64::from(result.channels);
        let offset = u64::from(result.pixels.wrapping_sub(arena.addr() as u32));
        let stride = u64::from(result.stride);
        let end = offset + stride * u64::from(h - 1) + row;
        if stride < row || end > arena.len() as u64 {
            return Err(bad("output outside the arena"));
        }
        Ok(Decoded { arena, result, offset: offset as usize })
    }

    pub fn channels(&self) -> usize {
        self.result.channels as usize
    }

    /// Row `y` of the output (`out_w` × channels bytes).
    pub fn row(&self, y: u32) -> &[u8] {
        let r = &self.result;
        let off = self.offset + y as usize * r.stride as usize;
        let len = r.out_w as usize * r.channels as usize;
        // SAFETY: `new` checked that every row lies inside the arena, which
        // `self` owns; the decoder wrote the rows (memory the module
        // initialised through the FFI), and nothing writes them while
        // `self` lends them out.
        unsafe { core::slice::from_raw_parts(self.arena.ptr.as_ptr().add(off), len) }
    }
}

/// Decodes `file` (an AVIF or HEIC upload, in this module's memory) with
/// the `kind`'s module in a fresh arena of `arena_len` bytes.
#[cfg(target_arch = "wasm32")]
pub fn decode(kind: PhoneKind, file: &[u8], req: &Request, arena_len: usize) -> Result<Decoded, Failure> {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/js/phone.mjs")]
    extern "C" {
        #[allow(clippy::too_many_arguments)]
        fn phone_decode(
            module: &JsValue,
            memory: &JsValue,
            arena: u32,
            arena_len: u32,
            input: u32,
            len: u32,
            request: u32,
            result: u32,
        ) -> i32;
    }
    #[wasm_bindgen(module = "/js/phone-modules.mjs")]
    extern "C" {
        fn phone_avif_module() -> JsValue;
        fn phone_heic_module() -> JsValue;
    }

    let arena = Arena::new(arena_len).ok_or(Failure {
        status: Status::NoArena,
        detail: format!("no arena of {arena_len} B"),
        heap_peak: 0,
    })?;
    let module = match kind {
        PhoneKind::Avif => phone_avif_module(),
        PhoneKind::Heic => phone_heic_module(),
    };
    let mut result = RawResult::default();
    let code = phone_decode(
        &module,
        &wasm_bindgen::memory(),
        arena.addr() as u32,
        arena.len() as u32,
        file.as_ptr() as u32,
        file.len() as u32,
        req as *const Request as u32,
        &mut result as *mut RawResult as u32,
    );
    if code != 0 {
        return Err(Failure {
            status: Status::from_code(code),
            detail: result.error_text(),
            heap_peak: result.heap_peak,
        });
    }
    let (_, _, w, h) = super::plan::output_blocks(req.x, req.y, req.w, req.h, req.shift);
    Decoded::new(arena, result, w, h)
}

/// Natively there are no decoder modules (they are wasm side modules run
/// by the Worker's JavaScript): every decode is [`Status::Unavailable`].
#[cfg(not(target_arch = "wasm32"))]
pub fn decode(kind: PhoneKind, _file: &[u8], _req: &Request, _arena_len: usize) -> Result<Decoded, Failure> {
    Err(Failure { status: Status::Unavailable, detail: format!("no {kind:?} decoder in a native build"), heap_peak: 0 })
}
