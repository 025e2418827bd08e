//! Native stage benchmarks of the image pipeline:
//!
//!     cargo bench --bench stages                # every stage
//!     cargo bench --bench stages -- decode png  # names containing "decode" or "png"
//!     STAGES_ITERS=30 cargo bench --bench stages
//!
//! Each stage of `imaging::process_timed` (header, decode, resize, orient,
//! encode) is timed on its own, through the same functions the pipeline
//! calls (`imaging::stages`), so a regression shows in the stage that has
//! it; `pipeline` rows time `imaging::process` end to end. No harness crate:
//! `std::time::Instant`, warm-up runs, then median, min and max of N runs.
//!
//! Inputs are the `npm run bench` photos in `bench/fixtures/` when present
//! (made by `bench/make-fixtures.mjs`), else generated here: deterministic
//! photo-like pictures (smooth gradients, mid-frequency texture, grain)
//! encoded with the `image` crate. Native x86_64, not the Worker's wasm32:
//! see docs/benchmark.md for what differs.
//!
//! Environment: `STAGES_ITERS` (timed runs per stage, default 10),
//! `STAGES_WARMUP` (untimed runs first, default 2).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use avatar_edge::imaging::stages;
use avatar_edge::imaging::{process, Options, Orientation, OutputFormat, Work};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder};

/// An upload to benchmark: a fixture of `npm run bench` if it was made,
/// else a generated picture of the same kind.
struct Input {
    name: &'static str,
    fixture: Option<&'static str>,
    /// How the generated stand-in is encoded.
    made: &'static str,
    make: fn() -> Vec<u8>,
}

const INPUTS: &[Input] = &[
    // A portrait phone photo as phones store it: landscape sensor pixels
    // plus EXIF orientation 6, so the orient stage does real work.
    Input {
        name: "jpeg-12mp",
        fixture: Some("jpeg-12mp-exif6.jpg"),
        made: "q90 baseline 4:4:4, EXIF orientation 6",
        make: || with_orientation_6(jpeg(&photo(4032, 3024, 8.0), 4032, 3024)),
    },
    Input {
        name: "jpeg-2mp",
        fixture: Some("jpeg-2mp.jpg"),
        made: "q90 baseline 4:4:4",
        make: || jpeg(&photo(1632, 1224, 8.0), 1632, 1224),
    },
    Input {
        name: "png-1mp",
        fixture: Some("png-1mp.png"),
        made: "RGB, zlib default, adaptive filters",
        make: || png(&photo(1152, 864, 2.0), 1152, 864),
    },
    // No fixture: the bench's WebP is lossy and 12 MP, and the `image`
    // crate only writes lossless WebP.
    Input {
        name: "webp-lossless-1mp",
        fixture: None,
        made: "lossless, by the `image` crate",
        make: || webp_lossless(&photo(1152, 864, 2.0), 1152, 864),
    },
];

/// Which input's 256² square the orient and encode stages work on (the
/// 12 MP photo: orientation 6, the common phone case).
const SQUARE_FROM: &str = "jpeg-12mp";

fn main() {
    let cfg = Config::from_env_and_args();
    let opts = Options::default();
    let size = opts.size;
    let started = Instant::now();
    println!(
        "avatar-edge stage benchmark: {} timed runs after {} warm-up runs per stage; {size} px {:?} q{}; {} CPUs visible",
        cfg.iters,
        cfg.warmup,
        opts.format,
        opts.quality,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    if !cfg.filters.is_empty() {
        println!("filter: names containing any of {:?}", cfg.filters);
    }
    println!();

    let mut rows: Vec<Row> = Vec::new();
    let mut square: Option<(Vec<u8>, Orientation)> = None;
    // (input name, what was loaded) for the totals.
    let mut described: Vec<(&str, String)> = Vec::new();
    for input in INPUTS {
        let names = ["header", "decode", "resize", "pipeline"].map(|s| format!("{s} {}", input.name));
        let needs_square = input.name == SQUARE_FROM && ["orient", "encode"].iter().any(|s| cfg.wants(s));
        if !names.iter().any(|n| cfg.wants(n)) && !needs_square {
            continue;
        }
        let (bytes, origin) = input.load();
        // The decode is timed many times over one plan: a counter that
        // never runs out (the charging is still timed).
        let work = Work::with_budget(u64::MAX, bytes.len() as u64);
        let (source, header, plan) = stages::plan(&bytes, None, &opts, &work).unwrap();
        let what = format!("{} {}×{}, {}", source.name(), header.width, header.height, mib(bytes.len()));
        println!("{:<18} {what}, orientation {:?}; {origin}", input.name, header.orientation);
        described.push((input.name, what));

        cfg.run(&mut rows, &names[0], "sniff, header, limits, crop plan", || {
            stages::plan(&bytes, None, &opts, &work).unwrap()
        });

        let region = stages::decode(&bytes, source, &header, &plan).unwrap();
        // The region is the crop square at the decoded (JPEG: DCT-reduced)
        // and box-shrunk scale: its side against the square's tells the scale.
        let region_note = format!(
            "→ region {}×{}×{} (crop side {} /{:.0})",
            region.width,
            region.height,
            region.ch,
            plan.side,
            f64::from(plan.side) / f64::from(region.width.max(1))
        );
        cfg.run(&mut rows, &names[1], &region_note, || stages::decode(&bytes, source, &header, &plan).unwrap());

        // resize consumes the region; each timed run gets a copy (the copy,
        // a few MB at most, is timed with it).
        let (pixels, ch) = stages::resize(region.clone(), size).unwrap();
        cfg.run(&mut rows, &names[2], &format!("{}×{} → {size}² (incl. copying the region)", region.width, region.height), || {
            stages::resize(region.clone(), size).unwrap()
        });
        drop(region);

        cfg.run(&mut rows, &names[3], "process(): all of the above + orient + encode", || {
            process(&bytes, None, &opts).unwrap()
        });

        if input.name == SQUARE_FROM {
            assert_eq!(ch, 3, "the square is expected to be opaque RGB");
            square = Some((pixels, header.orientation));
        }
    }

    if let Some((pixels, orientation)) = square {
        let n = size as usize;
        cfg.run(&mut rows, &format!("orient {orientation:?}"), &format!("{size}² RGB from {SQUARE_FROM}"), || {
            orientation.apply_square(&pixels, n, 3)
        });
        let upright = orientation.apply_square(&pixels, n, 3);
        let q = opts.quality;
        for (format, note) in [
            (OutputFormat::Webp, format!("{size}² RGB, q{q} (the default output)")),
            (OutputFormat::Jpeg, format!("{size}² RGB, q{q}")),
            (OutputFormat::Png, format!("{size}² RGB")),
        ] {
            let name = format!("encode {}", format.ext());
            cfg.run(&mut rows, &name, &note, || stages::encode(&upright, size, false, format, q).unwrap());
        }
    }

    println!();
    print_table(&rows);
    print_totals(&rows, &described);
    println!("\nwall time {:.1} s (input generation and warm-up included)", started.elapsed().as_secs_f64());
}

/// Per upload: the stage medians side by side, their sum and the measured
/// pipeline (the sum should come close: the stages are all it does). Only
/// for inputs whose rows all ran. Orient and encode were timed once, on
/// one square; they are the same work for every input.
fn print_totals(rows: &[Row], described: &[(&str, String)]) {
    let median = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.median);
    let Some(orient) = rows.iter().find(|r| r.name.starts_with("orient ")).map(|r| r.median) else { return };
    let Some(encode) = median("encode webp") else { return };
    let mut lines = Vec::new();
    for (input, what) in described {
        let stage = |s: &str| median(&format!("{s} {input}"));
        let (Some(header), Some(decode), Some(resize), Some(pipeline)) =
            (stage("header"), stage("decode"), stage("resize"), stage("pipeline"))
        else {
            continue;
        };
        let sum = header + decode + resize + orient + encode;
        let share = |d: Duration| format!("{:.0} %", 100.0 * d.as_secs_f64() / sum.as_secs_f64());
        lines.push(format!(
            "| {input} | {} | {} ({}) | {} | {} | {} | {} | {what} |",
            fmt(header),
            fmt(decode),
            share(decode),
            fmt(resize),
            fmt(orient + encode),
            fmt(sum),
            fmt(pipeline),
        ));
    }
    if lines.is_empty() {
        return;
    }
    println!("\nTotal per upload (medians; orient + encode webp as timed on the {SQUARE_FROM} square):\n");
    println!("| input | header | decode (share) | resize | orient + encode | sum of stages | pipeline | what |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for l in lines {
        println!("{l}");
    }
}

// ---------------------------------------------------------------- harness

struct Config {
    iters: usize,
    warmup: usize,
    /// A stage runs if its name contains any of these (all if empty).
    filters: Vec<String>,
}

impl Config {
    fn from_env_and_args() -> Config {
        let num = |var: &str, default: usize| match std::env::var(var) {
            Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{var}={v:?} is not a whole number")),
            Err(_) => default,
        };
        // `cargo bench` passes `--bench`; libtest-style flags mean nothing here.
        let filters = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
        Config { iters: num("STAGES_ITERS", 10).max(1), warmup: num("STAGES_WARMUP", 2), filters }
    }

    fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    /// Times `f` (warm-up, then `iters` runs) if the filter wants `name`.
    /// A call under [`BATCH_TARGET`] is timed in batches of calls that
    /// together take about that long, divided by the batch size: a header
    /// parse takes less than a microsecond, near the clock's resolution.
    fn run<T>(&self, rows: &mut Vec<Row>, name: &str, note: &str, mut f: impl FnMut() -> T) {
        if !self.wants(name) {
            return;
        }
        for _ in 0..self.warmup {
            black_box(f());
        }
        let t = Instant::now();
        black_box(f());
        let one = t.elapsed().max(Duration::from_nanos(1));
        let batch = (BATCH_TARGET.as_nanos() / one.as_nanos()).clamp(1, 1_000_000) as u32;
        let mut times: Vec<Duration> = (0..self.iters)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..batch {
                    black_box(f());
                }
                t.elapsed() / batch
            })
            .collect();
        times.sort();
        let mid = times.len() / 2;
        let median = if times.len().is_multiple_of(2) { (times[mid - 1] + times[mid]) / 2 } else { times[mid] };
        let row = Row { name: name.to_string(), note: note.to_string(), median, min: times[0], max: times[times.len() - 1] };
        // Progress as it goes: the 12 MP rows take a while.
        eprintln!("  {:<26} {:>10}", row.name, fmt(row.median));
        rows.push(row);
    }
}

/// Shortest time worth one clock reading (see [`Config::run`]).
const BATCH_TARGET: Duration = Duration::from_millis(1);

struct Row {
    name: String,
    note: String,
    median: Duration,
    min: Duration,
    max: Duration,
}

/// A Markdown table (readable as is, pasteable into the docs).
fn print_table(rows: &[Row]) {
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    let nw = rows.iter().map(|r| r.note.chars().count()).max().unwrap_or(4).max(4);
    println!("| {:<w$} | {:<nw$} | {:>10} | {:>10} | {:>10} |", "stage", "what", "median", "min", "max");
    println!("| {:-<w$} | {:-<nw$} | {:->9}: | {:->9}: | {:->9}: |", "", "", "", "", "");
    for r in rows {
        // Pad by characters, not bytes ("×", "²", "→" are multi-byte).
        let pad = nw - r.note.chars().count();
        println!(
            "| {:<w$} | {}{} | {:>10} | {:>10} | {:>10} |",
            r.name,
            r.note,
            " ".repeat(pad),
            fmt(r.median),
            fmt(r.min),
            fmt(r.max)
        );
    }
}

fn fmt(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else if ms >= 0.001 {
        format!("{:.1} µs", ms * 1e3)
    } else {
        format!("{:.0} ns", ms * 1e6)
    }
}

fn mib(n: usize) -> String {
    format!("{:.2} MiB", n as f64 / (1024.0 * 1024.0))
}

// ----------------------------------------------------------------- inputs

impl Input {
    /// The fixture's bytes, or a generated file; and which it was.
    fn load(&self) -> (Vec<u8>, String) {
        if let Some(file) = self.fixture {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/fixtures").join(file);
            if let Ok(bytes) = std::fs::read(&path) {
                return (bytes, format!("fixture bench/fixtures/{file}"));
            }
        }
        let t = Instant::now();
        let bytes = (self.make)();
        (bytes, format!("generated ({}) in {:.1} s", self.made, t.elapsed().as_secs_f64()))
    }
}

/// A deterministic photo-like RGB picture: smooth colour gradients (sky,
/// skin, shadows), mid-frequency texture (so there are edges to code) and
/// grain of about ±`grain` levels (camera noise). Without texture and grain
/// a JPEG of it would be a fraction of a photo's size and decode faster
/// than a real one.
fn photo(w: u32, h: u32, grain: f32) -> Vec<u8> {
    let mut seed = w.wrapping_mul(73_856_093) ^ h.wrapping_mul(19_349_663) | 1;
    let mut rand = move || {
        // xorshift32
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as f32 / 4_294_967_296.0
    };
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        let v = y as f32 / h as f32;
        for x in 0..w {
            let u = x as f32 / w as f32;
            let texture = 14.0 * (x as f32 * 0.043).sin() * (y as f32 * 0.061 + 3.0 * u).sin();
            let base = [
                40.0 + 150.0 * u + 35.0 * (6.3 * v + 1.0).sin(),
                60.0 + 120.0 * v + 40.0 * (9.0 * u).sin() * (5.0 * v).cos(),
                90.0 + 100.0 * (1.0 - u) + 30.0 * (7.0 * (u + v)).cos(),
            ];
            // Sum of three uniforms: roughly Gaussian. Camera grain is
            // mostly luma; a quarter of it differs per channel.
            let mut gauss = || rand() + rand() + rand() - 1.5;
            let luma = gauss() * 2.0 * grain;
            for b in base {
                let noise = luma + gauss() * 0.5 * grain;
                out.push((b + texture + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
    out
}

fn jpeg(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    // Baseline, 4:4:4 (the `image` encoder does not subsample chroma;
    // phones write 4:2:0, so this decodes a little slower than a phone's).
    JpegEncoder::new_with_quality(&mut out, 90).write_image(rgb, w, h, ExtendedColorType::Rgb8).unwrap();
    out
}

fn png(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    // zlib default level with adaptive filters, as a photo editor saves.
    PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive)
        .write_image(rgb, w, h, ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn webp_lossless(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out).write_image(rgb, w, h, ExtendedColorType::Rgb8).unwrap();
    out
}

/// Inserts an APP1 Exif segment with Orientation = 6 right after SOI.
fn with_orientation_6(jpeg: Vec<u8>) -> Vec<u8> {
    // Big-endian TIFF, one IFD entry: tag 0x0112, SHORT, count 1, value 6.
    let mut body = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    body.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend(body);
    out.extend_from_slice(&jpeg[2..]);
    out
}
