#!/usr/bin/env node
// Makes the benchmark's input images in bench/fixtures/ (git-ignored).
//
// The sources are real photographs shipped in the scikit-image wheel on PyPI
// (skimage/data/*.png|jpg, public domain / CC0 per its README). They are small
// (300..640 px), so each fixture is upscaled with sharp's lanczos3 kernel,
// sharpened a little and given a little deterministic grain so that the
// encoders see camera-like high-frequency content and the file sizes land
// near what phones write (12 MP JPEG q90 ≈ 3..5 MB).
//
//   node bench/make-fixtures.mjs            make the missing fixtures
//   node bench/make-fixtures.mjs --force    remake all of them
//
// SKIMAGE_DATA=/path/to/skimage/data skips the wheel download.
import sharp from 'sharp';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURE_DIR = path.join(here, 'fixtures');
const SKIMAGE_VERSION = '0.26.0';

/**
 * The fixture set. `make` returns the encoded file; `src` is the scikit-image
 * photo it starts from (none: made from nothing). Order is the order of the
 * report. Optional: `sets` (names for `--set=`), `score: false` (no SSIM,
 * no equal-quality search), `minRuns` / `minWarmup` (at least this many
 * timed / untimed uploads, whatever --runs and --warmup say).
 */
export const FIXTURES = [
  // The issue's set (issue 15: "512 px PNG, 1 MP PNG photo, 1 MP PNG with
  // alpha, 2 MP JPEG, 2 MP lossy WebP, animated GIF 480x360, 24 MP JPEG"),
  // in its order, then a 1×1 PNG for the fixed cost of an upload;
  // `--set=issue` runs these alone. The others follow.
  { name: 'png-512.png', label: '512 px PNG', src: 'astronaut.png', sets: ['issue'],
    // astronaut.png is 512×512: the photo at its own size, resaved.
    make: (s) => photo(s, 512, 512, { grain: 2 }).then((p) => p.png(photoPng).toBuffer()) },
  { name: 'png-1mp.png', label: '1 MP PNG photo', src: 'astronaut.png', sets: ['issue'],
    make: (s) => photo(s, 1152, 864, { grain: 2 }).then((p) => p.png(photoPng).toBuffer()) },
  // RGBA: the photo inside a soft-edged disc, transparent outside.
  { name: 'png-alpha.png', label: 'PNG with alpha (1 MP)', src: 'coffee.png', sets: ['issue'],
    make: async (s) => {
      const size = 1024;
      const rgb = await (await photo(s, size, size, { grain: 2 })).raw().toBuffer();
      const rgba = Buffer.alloc(size * size * 4);
      for (let i = 0, y = 0; y < size; y++) {
        for (let x = 0; x < size; x++, i++) {
          const d = Math.hypot(x - size / 2, y - size / 2) / (size / 2);
          rgba[i * 4] = rgb[i * 3]; rgba[i * 4 + 1] = rgb[i * 3 + 1]; rgba[i * 4 + 2] = rgb[i * 3 + 2];
          rgba[i * 4 + 3] = Math.round(255 * Math.min(1, Math.max(0, (1 - d) * 12)));
        }
      }
      return sharp(rgba, { raw: { width: size, height: size, channels: 4 } }).png(photoPng).toBuffer();
    } },
  { name: 'jpeg-2mp.jpg', label: '2 MP JPEG', src: 'astronaut.png', sets: ['issue'],
    make: (s) => photo(s, 1632, 1224).then((p) => p.jpeg(phoneJpeg).toBuffer()) },
  { name: 'webp-2mp.webp', label: '2 MP lossy WebP', src: 'coffee.png', sets: ['issue'],
    make: (s) => photo(s, 1632, 1224).then((p) => p.webp({ quality: 82 }).toBuffer()) },
  // 8 frames of a slow pan over the cat, 480×360 (4:3, so the avatar is a
  // crop), palette-quantised by sharp.
  { name: 'gif-480x360.gif', label: 'animated GIF (480×360, 8 frames)', src: 'chelsea.png', sets: ['issue'],
    make: (s) => panningGif(s, 480, 360, 8) },
  { name: 'jpeg-24mp.jpg', label: '24 MP JPEG', src: 'motorcycle_left.png', sets: ['issue'],
    make: (s) => photo(s, 6000, 4000).then((p) => p.jpeg(phoneJpeg).toBuffer()) },
  // The smallest upload there is: what an upload costs besides the image
  // work (token, KV, R2, the answer). Not scored for quality (nothing to
  // compare); timed more often, as each run takes a few milliseconds.
  { name: 'png-1x1.png', label: '1×1 PNG', src: null, sets: ['issue'], score: false, minRuns: 30, minWarmup: 10,
    make: () => sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 200, g: 120, b: 80 } } }).png().toBuffer() },

  { name: 'jpeg-12mp.jpg', label: '12 MP JPEG', src: 'chelsea.png',
    make: (s) => photo(s, 4032, 3024).then((p) => p.jpeg(phoneJpeg).toBuffer()) },
  { name: 'jpeg-48mp.jpg', label: '48 MP JPEG', src: 'coffee.png',
    make: (s) => photo(s, 8064, 6048).then((p) => p.jpeg(phoneJpeg).toBuffer()) },
  { name: 'jpeg-12mp-progressive.jpg', label: '12 MP progressive JPEG', src: 'motorcycle_left.png',
    make: (s) => photo(s, 4032, 3024).then((p) => p.jpeg({ ...phoneJpeg, progressive: true }).toBuffer()) },
  // The 2 MP photo saved progressive, as browsers, social and messaging
  // apps save the pictures members pass on: decoded at 1/2, every scan.
  { name: 'jpeg-2mp-progressive.jpg', label: '2 MP progressive JPEG', src: 'astronaut.png',
    make: (s) => photo(s, 1632, 1224).then((p) => p.jpeg({ ...phoneJpeg, progressive: true }).toBuffer()) },
  // A photo as messaging apps and web pages pass it on, 1280×960: its
  // 960 px crop square is under four times the avatar's side, so it is
  // decoded at full size, not at 1/2.
  { name: 'jpeg-1mp.jpg', label: '1 MP JPEG (full-size decode)', src: 'coffee.png',
    make: (s) => photo(s, 1280, 960).then((p) => p.jpeg(phoneJpeg).toBuffer()) },
  // A portrait phone photo as phones store it: the sensor's landscape pixels
  // (4032×3024) plus EXIF Orientation 6 ("rotate 90° clockwise to view").
  { name: 'jpeg-12mp-exif6.jpg', label: '12 MP JPEG, EXIF orientation 6', src: 'rocket.jpg',
    make: async (s) => {
      const upright = await (await photo(s, 3024, 4032)).raw().toBuffer({ resolveWithObject: true });
      // Rotating the upright picture 90° anticlockwise gives the stored pixels;
      // orientation 6 tells a viewer to turn them back clockwise.
      return sharp(upright.data, { raw: upright.info }).rotate(270)
        .withMetadata({ orientation: 6 }).jpeg(phoneJpeg).toBuffer();
    } },
  { name: 'png-24mp.png', label: '24 MP PNG photo', src: 'chelsea.png',
    make: (s) => photo(s, 5664, 4248, { grain: 2 }).then((p) => p.png(photoPng).toBuffer()) },
  { name: 'webp-12mp.webp', label: '12 MP lossy WebP', src: 'hubble_deep_field.jpg',
    make: (s) => photo(s, 4032, 3024).then((p) => p.webp({ quality: 82 }).toBuffer()) },
  // 8 frames of a slow pan over the cat, 480×480, palette-quantised by sharp.
  { name: 'gif-animated.gif', label: 'animated GIF (480², 8 frames)', src: 'chelsea.png',
    make: async (s) => {
      const wide = await (await photo(s, 720, 480, { grain: 0 })).raw().toBuffer({ resolveWithObject: true });
      const frames = [];
      for (let f = 0; f < 8; f++) {
        frames.push(await sharp(wide.data, { raw: wide.info })
          .extract({ left: f * 30, top: 0, width: 480, height: 480 }).png().toBuffer());
      }
      return sharp(frames, { join: { animated: true } }).gif({ delay: 100, loop: 0 }).toBuffer();
    } },
];

// Phone-like JPEG: quality 90, 4:2:0 chroma, libjpeg-turbo defaults (no mozjpeg tricks).
const phoneJpeg = { quality: 90, chromaSubsampling: '4:2:0', mozjpeg: false };
// PNG as a photo editor saves it: zlib level 6 with per-row adaptive filters.
const photoPng = { compressionLevel: 6, adaptiveFiltering: true };

/**
 * An animated GIF of `frames` frames, width×height, panning across the
 * photo (made 1.5× as wide as a frame) in equal steps.
 */
async function panningGif(srcPath, width, height, frames) {
  const wide = await (await photo(srcPath, Math.round(width * 1.5), height, { grain: 0 })).raw().toBuffer({ resolveWithObject: true });
  const step = Math.floor((wide.info.width - width) / frames);
  const out = [];
  for (let f = 0; f < frames; f++) {
    out.push(await sharp(wide.data, { raw: wide.info }).extract({ left: f * step, top: 0, width, height }).png().toBuffer());
  }
  return sharp(out, { join: { animated: true } }).gif({ delay: 100, loop: 0 }).toBuffer();
}

/**
 * Upscales a source photo to width×height (cover crop) with lanczos3, a light
 * unsharp mask, and adds deterministic Gaussian-ish grain (± `grain`
 * levels, roughly) so the result compresses like a camera picture. Returns a sharp
 * pipeline over the raw RGB result, ready for an encoder.
 */
export async function photo(srcPath, width, height, { grain = 8 } = {}) {
  const { data, info } = await sharp(srcPath).removeAlpha().toColourspace('srgb')
    .resize(width, height, { fit: 'cover', kernel: 'lanczos3' })
    .sharpen({ sigma: 1.2, m1: 0.5, m2: 2 })
    .raw().toBuffer({ resolveWithObject: true });
  let seed = (width * 73856093) ^ (height * 19349663);
  const rand = () => { // xorshift32, deterministic per size
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  for (let i = 0; i < data.length; i++) {
    // Sum of three uniforms ≈ Gaussian with sd 0.5; scale to the grain.
    const n = (rand() + rand() + rand() - 1.5) * 2 * grain;
    const v = data[i] + n;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return sharp(data, { raw: info });
}

/** Finds (or downloads from PyPI and unpacks) scikit-image's data folder. */
export function skimageData() {
  if (process.env.SKIMAGE_DATA) return process.env.SKIMAGE_DATA;
  const cache = path.join(os.tmpdir(), `avatar-bench-skimage-${SKIMAGE_VERSION}`);
  const dataDir = path.join(cache, 'skimage', 'data');
  if (existsSync(path.join(dataDir, 'hubble_deep_field.jpg'))) return dataDir;
  mkdirSync(cache, { recursive: true });
  console.error(`[fixtures] downloading scikit-image ${SKIMAGE_VERSION} wheel (photos only are used)...`);
  execFileSync('python3', ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:',
    `scikit-image==${SKIMAGE_VERSION}`, '-d', cache], { stdio: 'inherit' });
  const wheel = readdirSync(cache).find((f) => f.endsWith('.whl'));
  if (!wheel) throw new Error('pip did not leave a scikit-image wheel in ' + cache);
  // A wheel is a zip; python's zipfile extracts just skimage/data/.
  execFileSync('python3', ['-c', `import zipfile,sys
z=zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith('skimage/data/')])`,
  path.join(cache, wheel), cache], { stdio: 'inherit' });
  return dataDir;
}

/** Makes every missing fixture (all of them with force). Returns their paths. */
export async function makeFixtures({ force = false, log = console.error } = {}) {
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const missing = FIXTURES.filter((f) => force || !existsSync(path.join(FIXTURE_DIR, f.name)));
  if (missing.length) {
    const dir = missing.some((f) => f.src) ? skimageData() : null;
    sharp.cache(false);
    for (const f of missing) {
      const t0 = Date.now();
      const buf = await f.make(f.src && path.join(dir, f.src));
      writeFileSync(path.join(FIXTURE_DIR, f.name), buf);
      const m = await sharp(buf).metadata();
      log(`[fixtures] ${f.name}: ${m.width}×${m.height} ${m.format}${m.pages > 1 ? ` ${m.pages} frames` : ''}` +
        `${m.orientation ? ` orientation ${m.orientation}` : ''}${m.isProgressive ? ' progressive' : ''}` +
        `${m.hasAlpha ? ' alpha' : ''}, ${(buf.length / 1048576).toFixed(2)} MiB (${Date.now() - t0} ms)`);
    }
  }
  return FIXTURES.map((f) => ({ ...f, path: path.join(FIXTURE_DIR, f.name), bytes: statSync(path.join(FIXTURE_DIR, f.name)).size }));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await makeFixtures({ force: process.argv.includes('--force') });
}
