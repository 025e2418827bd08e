//! Exports for `bench/wasm-stages.mjs`: an input buffer, then one stage
//! (or the whole pipeline) run `iterations` times on it. Node times the
//! calls; the result (an output length or a sample) keeps the work from
//! being optimised away and is checked by the caller.

use avatar_edge::imaging::stages;
use avatar_edge::imaging::{Animation, Options, Work};

static mut INPUT: Vec<u8> = Vec::new();

/// Room for an input of `len` bytes; its address, for Node to write to.
#[no_mangle]
pub extern "C" fn input(len: usize) -> *mut u8 {
    // SAFETY: wasm32 without threads: nothing else touches INPUT while
    // the exports run, one at a time.
    unsafe {
        let input = &mut *core::ptr::addr_of_mut!(INPUT);
        *input = vec![0; len];
        input.as_mut_ptr()
    }
}

fn bytes() -> &'static [u8] {
    // SAFETY: as in `input`.
    unsafe { &*core::ptr::addr_of!(INPUT) }
}

fn options(first_picture: bool) -> Options {
    let defaults = Options::default();
    Options { animation: if first_picture { Animation::First } else { defaults.animation }, ..defaults }
}

/// Runs `stage` `iterations` times: 0 the decode (into the resize's
/// region), 1 the resize of that region, 2 the encode of the avatar
/// square, 3 the whole pipeline. Returns a figure of the last run's
/// output (its length in bytes; 1 for no runs), or 0 when the input is
/// refused. Each call first decodes and resizes once, for the inputs of
/// the later stages: the caller subtracts a call with no runs.
#[no_mangle]
pub extern "C" fn run(stage: u32, iterations: u32, first_picture: u32) -> u32 {
    let bytes = bytes();
    let opts = options(first_picture != 0);
    let work = Work::with_budget(u64::MAX, bytes.len() as u64);
    let Ok((_, image)) = stages::open(bytes) else { return 0 };
    // The region held, so that decode and resize are timed apart (the
    // pipeline resizes the rows of an opaque sRGB region as they come).
    let Ok(plan) = stages::plan(&*image, None, &opts, &work) else { return 0 };
    let plan = stages::Plan { resize_as_decoded: false, ..plan };
    let Ok(region) = stages::decode(&*image, &plan) else { return 0 };
    let Ok((square, ch)) = stages::resize(region.clone(), opts.size) else { return 0 };
    let input = Input { bytes, image: &*image, plan: &plan, region: &region, square: &square, ch, opts: &opts };
    let mut out = 1;
    for _ in 0..iterations {
        out = once(stage, &input);
    }
    out
}

struct Input<'a> {
    bytes: &'a [u8],
    image: &'a dyn stages::Image,
    plan: &'a stages::Plan<'a>,
    region: &'a stages::Region,
    square: &'a [u8],
    ch: usize,
    opts: &'a Options,
}

/// One run of a stage. Not inlined into [`run`]'s loop: V8 replaces a
/// function's baseline code with optimised code for its later calls, never
/// in the middle of one, so the loop's calls after the first few run the
/// optimised stage.
#[inline(never)]
fn once(stage: u32, i: &Input<'_>) -> u32 {
    let size = i.opts.size;
    match stage {
        0 => stages::decode(i.image, i.plan).map_or(0, |r| r.width * r.height),
        1 => stages::resize(i.region.clone(), size).map_or(0, |(p, _)| p.len() as u32),
        2 => stages::encode(i.square, size, i.ch == 4, i.opts.format, i.opts.quality).map_or(0, |e| e.len() as u32),
        _ => avatar_edge::imaging::process(i.bytes, None, i.opts).map_or(0, |a| a.bytes.len() as u32),
    }
}
