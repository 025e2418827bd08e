//! Runs the image pipeline natively on files and prints, per file, the
//! stage times and the peak heap the pipeline allocated (input bytes not
//! counted). A quick way to see which stage holds memory:
//!
//!     cargo run --release --example pipeline -- bench/fixtures/*.png
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let n = NOW.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(n, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            let n = NOW.fetch_add(new - l.size(), Relaxed) + new - l.size();
            PEAK.fetch_max(n, Relaxed);
        } else {
            NOW.fetch_sub(l.size() - new, Relaxed);
        }
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    let start = Instant::now();
    let now = move || start.elapsed().as_secs_f64() * 1000.0;
    for path in std::env::args().skip(1) {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let base = NOW.load(Relaxed);
        PEAK.store(base, Relaxed);
        let opts = avatar_edge::imaging::Options::default();
        match avatar_edge::imaging::process_timed(&bytes, None, &opts, &now) {
            Ok((avatar, t)) => println!(
                "{path}: {}x{} {:?} -> {} B | decode {:.1} resize {:.1} orient {:.1} encode {:.1} ms | peak heap {:.1} MiB",
                avatar.width,
                avatar.height,
                avatar.source,
                avatar.bytes.len(),
                t.decode_ms,
                t.resize_ms,
                t.orient_ms,
                t.encode_ms,
                (PEAK.load(Relaxed) - base) as f64 / 1048576.0
            ),
            Err(e) => println!("{path}: refused: {e} | peak heap {:.1} MiB", (PEAK.load(Relaxed) - base) as f64 / 1048576.0),
        }
    }
}
