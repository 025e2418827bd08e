//! Native stage benchmarks of the image pipeline, on criterion:
//!
//!     cargo bench --bench stages                      # every stage
//!     cargo bench --bench stages -- decode            # ids matching a regex
//!     cargo bench --bench stages -- 'decode|encode'
//!     cargo bench --bench stages -- --save-baseline main   # keep this run as "main"
//!     cargo bench --bench stages -- --baseline main        # compare against it
//!     cargo bench --bench stages -- --quick                # criterion's quick mode
//!
//! Each stage of `imaging::process_timed` (header, decode, resize, orient,
//! encode) is a criterion benchmark of its own, through the same functions
//! the pipeline calls (`imaging::stages`), so a regression shows in the
//! stage that has it: criterion compares every run with the previous one
//! (or with a saved baseline) per benchmark and says "Performance has
//! regressed" with a confidence interval. `pipeline/*` times
//! `imaging::process` end to end. Ids: `<stage>/<input>`, e.g.
//! `decode/jpeg-12mp`, `encode/webp`.
//!
//! Inputs are the `npm run bench` photos in `bench/fixtures/` when present
//! (made by `bench/make-fixtures.mjs`), else generated here: deterministic
//! photo-like pictures (smooth gradients, mid-frequency texture, grain)
//! encoded with the `image` crate. Native x86_64, not the Worker's wasm32:
//! see docs/benchmark.md for what differs.
//!
//! After criterion's own report, a table sums the stage medians per upload
//! next to the measured pipeline (read back from criterion's
//! `target/criterion/**/new/estimates.json` of this run).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use avatar_edge::imaging::stages;
use avatar_edge::imaging::{process, Animation, Options, Orient, Orientation, OutputFormat, Work};
use criterion::{BatchSize, Bencher, Criterion};
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
    /// An animation's still (`first`), as `npm run bench` sets it and the
    /// peers make; `keep` for the rest (where it changes nothing).
    animation: Animation,
}

const INPUTS: &[Input] = &[
    // A portrait phone photo as phones store it: landscape sensor pixels
    // plus EXIF orientation 6, so the orient stage does real work.
    Input {
        name: "jpeg-12mp",
        fixture: Some("jpeg-12mp-exif6.jpg"),
        made: "q90 baseline 4:4:4, EXIF orientation 6",
        make: || with_orientation_6(jpeg(&photo(4032, 3024, 8.0), 4032, 3024)),
        animation: Animation::Keep,
    },
    Input {
        name: "jpeg-2mp",
        fixture: Some("jpeg-2mp.jpg"),
        made: "q90 baseline 4:4:4",
        make: || jpeg(&photo(1632, 1224, 8.0), 1632, 1224),
        animation: Animation::Keep,
    },
    // Every scan of a progressive file decoded at 1/2 (the stand-in:
    // spectral selection only; the fixture, libjpeg's script with
    // successive approximation).
    Input {
        name: "jpeg-2mp-progressive",
        fixture: Some("jpeg-2mp-progressive.jpg"),
        made: "q90 progressive 4:2:0 by jpeg-encoder",
        make: || jpeg_progressive(&photo(1632, 1224, 8.0), 1632, 1224),
        animation: Animation::Keep,
    },
    Input {
        name: "png-1mp",
        fixture: Some("png-1mp.png"),
        made: "RGB, zlib default, adaptive filters",
        make: || png(&photo(1152, 864, 2.0), 1152, 864, ExtendedColorType::Rgb8),
        animation: Animation::Keep,
    },
    // Premultiplied alpha through the resize, and the collector's
    // transparent rows.
    Input {
        name: "png-alpha-1mp",
        fixture: Some("png-alpha.png"),
        made: "RGBA, the photo in a soft-edged disc, zlib default",
        make: || png(&in_disc(&photo(1152, 864, 2.0), 1152, 864), 1152, 864, ExtendedColorType::Rgba8),
        animation: Animation::Keep,
    },
    // No fixture: the bench's WebP is lossy and 12 MP, and the `image`
    // crate only writes lossless WebP.
    Input {
        name: "webp-lossless-1mp",
        fixture: None,
        made: "lossless, by the `image` crate",
        make: || webp_lossless(&photo(1152, 864, 2.0), 1152, 864),
        animation: Animation::Keep,
    },
    // libwebp's lossy decoder, scaling inside the decoder. The stand-in
    // is square: the crate's encoder entry point writes squares.
    Input {
        name: "webp-2mp",
        fixture: Some("webp-2mp.webp"),
        made: "lossy q85 by libwebp, 1448×1448",
        make: || stages::encode(&photo(1448, 1448, 8.0), 1448, false, OutputFormat::Webp, 85).unwrap(),
        animation: Animation::Keep,
    },
    // GIF's LZW and frame compositing: the first picture of an animation.
    Input {
        name: "gif-480x360",
        fixture: Some("gif-480x360.gif"),
        made: "8 frames, 256 colours per frame, by the `gif` crate",
        make: || gif_frames(480, 360, 8),
        animation: Animation::First,
    },
];

/// Which input's 256² square the orient and encode stages work on (the
/// 12 MP photo: orientation 6, the common phone case).
const SQUARE_FROM: &str = "jpeg-12mp";

/// Stages per input, in report order.
const STAGES: [&str; 4] = ["header", "decode", "resize", "pipeline"];

/// Criterion's defaults (100 samples, 5 s of measurement per benchmark)
/// would take ~6 minutes for these 36 benchmarks; a 12 MP decode is ~20 ms,
/// so 20 samples in 3 s is plenty for a per-stage regression check. The
/// command line (`--sample-size`, `--measurement-time`, `--warm-up-time`)
/// still wins over these.
fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

fn main() {
    let started = SystemTime::now();
    let mut c = criterion();
    let defaults = Options::default();
    let size = defaults.size;
    println!(
        "avatar-edge stage benchmark: {size} px {:?} q{}; {} CPUs visible",
        defaults.format,
        defaults.quality,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    let mut square: Option<(Vec<u8>, Orientation)> = None;
    let mut described: Vec<(&str, String)> = Vec::new();
    for input in INPUTS {
        let opts = Options { animation: input.animation, ..defaults };
        let (bytes, origin) = input.load();
        // The decode is timed many times over one plan: a counter that
        // never runs out (the charging is still timed).
        let work = Work::with_budget(u64::MAX, bytes.len() as u64);
        let (source, image) = stages::open(&bytes).unwrap();
        let header = *image.header();
        // The region held, so that decode and resize are timed apart (the
        // pipeline resizes the rows of an opaque sRGB region as they come).
        let plan = stages::Plan { resize_as_decoded: false, ..stages::plan(&*image, None, &opts, &work).unwrap() };
        let what = format!("{} {}×{}, {}", source.name(), header.width, header.height, mib(bytes.len()));
        let region = stages::decode(&*image, &plan).unwrap();
        println!(
            "{:<18} {what}, orientation {:?}; {origin}; region {}×{}×{} (crop side {} /{:.0})",
            input.name,
            header.orientation,
            region.width,
            region.height,
            region.ch,
            plan.side,
            f64::from(plan.side) / f64::from(region.width.max(1))
        );
        described.push((input.name, what));

        // header: sniff, header and EXIF parse, limits, crop plan.
        bench(&mut c, "header", input.name, |b| {
            b.iter(|| {
                let (source, image) = stages::open(black_box(&bytes)).unwrap();
                let plan = stages::plan(&*image, None, &opts, &work).unwrap();
                (source, image, plan)
            })
        });
        // decode at the scale the pipeline picks, colour conversion, box
        // pre-shrink into the 16-bit region.
        bench(&mut c, "decode", input.name, |b| b.iter(|| stages::decode(black_box(&*image), &plan).unwrap()));
        // resize consumes the region: each sample gets a fresh copy, made
        // outside the timed part.
        bench(&mut c, "resize", input.name, |b| {
            b.iter_batched(|| region.clone(), |r| stages::resize(r, size).unwrap(), BatchSize::LargeInput)
        });
        // process(): all of the above + orient + encode.
        bench(&mut c, "pipeline", input.name, |b| b.iter(|| process(black_box(&bytes), None, &opts).unwrap()));

        if input.name == SQUARE_FROM {
            let (pixels, ch) = stages::resize(region.clone(), size).unwrap();
            assert_eq!(ch, 3, "the square is expected to be opaque RGB");
            square = Some((pixels, header.orientation));
        }
    }

    if let Some((pixels, orientation)) = square {
        let n = size as usize;
        // The pipeline only ever turns the final square, never the decoded image.
        bench(&mut c, "orient", &format!("{orientation:?}"), |b| {
            b.iter_batched(|| pixels.clone(), |p| orientation.apply_square(black_box(p), n, 3), BatchSize::LargeInput)
        });
        let upright = orientation.apply_square(pixels, n, 3);
        let q = defaults.quality;
        for format in [OutputFormat::Webp, OutputFormat::Jpeg, OutputFormat::Png] {
            bench(&mut c, "encode", format.ext(), |b| {
                b.iter(|| stages::encode(black_box(&upright), size, false, format, q).unwrap())
            });
        }
    }

    c.final_summary();
    print_totals(&described, started);
}

/// One benchmark, `<stage>/<name>` (criterion's group/function: the
/// filter matches the whole id, and the results land in
/// `target/criterion/<stage>/<name>/`).
fn bench(c: &mut Criterion, stage: &str, name: &str, f: impl FnMut(&mut Bencher)) {
    let mut group = c.benchmark_group(stage);
    group.bench_function(name, f);
    group.finish();
}

/// Criterion's output folder (its own rule: `CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `target/criterion`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("criterion")
}

/// The median of a benchmark measured in this run (its estimates file
/// written since `since`), from criterion's `new/estimates.json`.
fn median_of(group: &str, input: &str, since: SystemTime) -> Option<Duration> {
    let path = criterion_dir().join(group).join(input).join("new").join("estimates.json");
    let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if written < since {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let ns = v["median"]["point_estimate"].as_f64()?;
    Some(Duration::from_secs_f64(ns / 1e9))
}

/// Per upload: the stage medians side by side, their sum and the measured
/// pipeline (the sum should come close: the stages are all it does). Only
/// for inputs whose rows all ran in this invocation. Orient and encode were
/// measured once, on one square; they are the same work for every input.
fn print_totals(described: &[(&str, String)], since: SystemTime) {
    let orient = std::fs::read_dir(criterion_dir().join("orient"))
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| median_of("orient", &e.file_name().to_string_lossy(), since))
        .next();
    let (Some(orient), Some(encode)) = (orient, median_of("encode", "webp", since)) else { return };
    let mut lines = Vec::new();
    for (input, what) in described {
        let [Some(header), Some(decode), Some(resize), Some(pipeline)] = STAGES.map(|s| median_of(s, input, since))
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
    println!("\nTotal per upload (criterion medians; orient + encode webp as measured on the {SQUARE_FROM} square):\n");
    println!("| input | header | decode (share) | resize | orient + encode | sum of stages | pipeline | what |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for l in lines {
        println!("{l}");
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

fn jpeg_progressive(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
    enc.set_progressive(true);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    enc.encode(rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

fn png(pixels: &[u8], w: u32, h: u32, colour: ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    // zlib default level with adaptive filters, as a photo editor saves.
    PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive)
        .write_image(pixels, w, h, colour)
        .unwrap();
    out
}

/// RGBA: the picture inside a centred disc with a soft edge (a few pixels
/// of partial alpha), transparent outside, as a cut-out portrait is.
fn in_disc(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let (cx, cy, r) = (w as f32 / 2.0, h as f32 / 2.0, w.min(h) as f32 * 0.45);
    let mut out = Vec::with_capacity(rgb.len() / 3 * 4);
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        let (x, y) = ((i as u32 % w) as f32 + 0.5, (i as u32 / w) as f32 + 0.5);
        let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        let alpha = ((r - d) / 4.0 + 0.5).clamp(0.0, 1.0);
        out.extend_from_slice(px);
        out.push((alpha * 255.0).round() as u8);
    }
    out
}

/// `frames` full-canvas frames of the photo drifting a few pixels each,
/// every frame with its own 256-colour table (as converters write a
/// video's frames) and shown for 0.1 s.
fn gif_frames(w: u16, h: u16, frames: u16) -> Vec<u8> {
    let (wu, hu) = (u32::from(w), u32::from(h));
    let big = photo(wu + 8 * u32::from(frames), hu, 4.0);
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, w, h, &[]).unwrap();
        encoder.set_repeat(gif::Repeat::Infinite).unwrap();
        for f in 0..u32::from(frames) {
            let mut rgb = Vec::with_capacity(wu as usize * hu as usize * 3);
            for y in 0..hu {
                let row = (y * (wu + 8 * u32::from(frames)) + 8 * f) as usize * 3;
                rgb.extend_from_slice(&big[row..row + wu as usize * 3]);
            }
            let mut frame = gif::Frame::from_rgb_speed(w, h, &rgb, 10);
            frame.delay = 10;
            encoder.write_frame(&frame).unwrap();
        }
    }
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
