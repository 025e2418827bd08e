//! Runs the image pipeline natively on files and prints, per file, the
//! stage times and the peak heap the pipeline allocated (input bytes not
//! counted). A quick way to see which stage holds memory:
//!
//!     cargo run --release --example pipeline -- bench/fixtures/*.png
//!
//! Options (before the files, apply to all of them):
//!
//! * `--size=N`: avatar edge (default 256, as `AVATAR_SIZE`);
//! * `--crop=X,Y,W,H`: the crop box the client sends, in upright pixels
//!   (it decides the JPEG scale and how much of the image is kept, so the
//!   worst case for memory is often a small crop);
//! * `--held-bytes=N`: the request body the Worker holds meanwhile (default:
//!   0, i.e. as with a body at the default cap; a larger body leaves the
//!   pipeline a smaller memory budget);
//! * `--format=webp|jpeg|png` and `--quality=N`: the output (default WebP
//!   at 85, as `OUTPUT_FORMAT` / `OUTPUT_QUALITY`); `png` gives the exact
//!   pixels the encoder would get, for encoder experiments;
//! * `--animation=keep|first`: as `ANIMATION` (default keep);
//! * `--out=DIR`: also write each avatar to `DIR/<file stem>.<ext>`;
//! * `--unmetered`: no work budget (the units spent are still counted).
//!
//! Each line also gives the work units spent and the file's budget
//! (`work=SPENT/BUDGET`, see `imaging::Work`).
//!
//! The peak is also printed in bytes (`peak_bytes=`), for scripts
//! (`scripts/worst-case-memory.py`).
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use avatar_edge::imaging::{work_for_file, CropBox, Work};

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator with the
// caller's arguments, under the caller's contract; only counted here.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let n = NOW.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(n, Relaxed);
        // SAFETY: the caller's contract for `alloc`.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let n = NOW.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(n, Relaxed);
        // SAFETY: the caller's contract for `alloc_zeroed`.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Relaxed);
        // SAFETY: `p` came from `System` with `l` (the caller's contract).
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            // Old and new blocks coexist while the data is copied (as with
            // wasm's dlmalloc when it cannot grow in place).
            let n = NOW.fetch_add(new, Relaxed) + new;
            PEAK.fetch_max(n, Relaxed);
            NOW.fetch_sub(l.size(), Relaxed);
        } else {
            NOW.fetch_sub(l.size() - new, Relaxed);
        }
        // SAFETY: the caller's contract for `realloc`.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn usage(msg: &str) -> ! {
    eprintln!("{msg}\nusage: pipeline [--size=N] [--crop=X,Y,W,H] [--held-bytes=N] [--format=F] [--quality=N] [--out=DIR] [--unmetered] files...");
    std::process::exit(2)
}

fn main() {
    let start = Instant::now();
    let now = move || start.elapsed().as_secs_f64() * 1000.0;
    let mut opts = avatar_edge::imaging::Options::default();
    let mut crop = None;
    let mut out_dir = None;
    let mut files = Vec::new();
    let mut unmetered = false;
    for arg in std::env::args().skip(1) {
        if arg == "--unmetered" {
            unmetered = true;
        } else if let Some(v) = arg.strip_prefix("--size=") {
            opts.size = v.parse().unwrap_or_else(|_| usage("bad --size"));
        } else if let Some(v) = arg.strip_prefix("--held-bytes=") {
            opts.held_bytes = v.parse().unwrap_or_else(|_| usage("bad --held-bytes"));
        } else if let Some(v) = arg.strip_prefix("--format=") {
            opts.format = avatar_edge::imaging::OutputFormat::parse(v).unwrap_or_else(|| usage("bad --format"));
        } else if let Some(v) = arg.strip_prefix("--quality=") {
            opts.quality = v.parse().unwrap_or_else(|_| usage("bad --quality"));
        } else if let Some(v) = arg.strip_prefix("--animation=") {
            opts.animation = avatar_edge::imaging::Animation::parse(v).unwrap_or_else(|| usage("bad --animation"));
        } else if let Some(v) = arg.strip_prefix("--out=") {
            out_dir = Some(std::path::PathBuf::from(v));
        } else if let Some(v) = arg.strip_prefix("--crop=") {
            let n: Vec<u32> = v.split(',').map(|s| s.parse().unwrap_or_else(|_| usage("bad --crop"))).collect();
            let [x, y, w, h] = n[..] else { usage("--crop needs X,Y,W,H") };
            crop = Some(CropBox { x, y, w, h });
        } else if arg.starts_with("--") {
            usage(&format!("unknown option {arg}"));
        } else {
            files.push(arg);
        }
    }
    for path in files {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let base = NOW.load(Relaxed);
        PEAK.store(base, Relaxed);
        let work = if unmetered { Work::with_budget(u64::MAX, bytes.len() as u64) } else { work_for_file(&bytes) };
        let result = avatar_edge::imaging::process_with_work(&bytes, crop, &opts, &now, &work);
        let units = format!("work={}/{}", work.spent(), work_for_file(&bytes).budget());
        let peak = PEAK.load(Relaxed) - base;
        let mib = peak as f64 / 1048576.0;
        if let (Ok((avatar, _)), Some(dir)) = (&result, &out_dir) {
            let stem = std::path::Path::new(&path).file_stem().unwrap_or_default();
            let file = dir.join(stem).with_extension(opts.format.ext());
            if let Err(e) = std::fs::write(&file, &avatar.bytes) {
                eprintln!("{}: {e}", file.display());
            }
        }
        match result {
            Ok((avatar, t)) => println!(
                "{path}: {}x{} {:?} -> {} B | decode {:.1} resize {:.1} orient {:.1} encode {:.1} ms | {units} | peak heap {mib:.1} MiB | peak_bytes={peak}",
                avatar.width,
                avatar.height,
                avatar.source,
                avatar.bytes.len(),
                t.decode_ms,
                t.resize_ms,
                t.orient_ms,
                t.encode_ms,
            ),
            Err(e) => println!("{path}: refused: {e} | {units} | peak heap {mib:.1} MiB | peak_bytes={peak}"),
        }
    }
}
