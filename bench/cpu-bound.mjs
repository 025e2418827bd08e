#!/usr/bin/env node
// The CPU bound (docs/benchmark.md, "CPU bound"): what each kind of upload
// costs in workerd against the work units it is charged (src/imaging/work.rs),
// for legitimate files (the bench photos, a 100 MP photo, low-quality and
// progressive JPEGs, screenshots, flat logos) and for the CPU bombs of
// tests/lib/cpu-bombs.mjs. Prints markdown tables; not a test (times vary).
//
//   node bench/cpu-bound.mjs                    everything, the built worker (build/)
//   node bench/cpu-bound.mjs --before=DIR       also time the bombs on another build
//                                               (e.g. one made before the work budget)
//   node bench/cpu-bound.mjs --only=png,bomb    rows whose name contains any of these
//   node bench/cpu-bound.mjs --runs=N           timed uploads per row (default 5)
//
// Units come from the native pipeline (`cargo run --release --example
// pipeline -- --unmetered`): the count is the same code natively and in
// wasm. Times: the worker's own log line (decode + resize stages, Date.now in
// workerd) and the upload end to end from Node, median of the runs after 10
// warm-up uploads. Generated inputs are cached in bench/fixtures/cpu/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import sharp from 'sharp';
import { startWorker, seedUser, upload, fixture } from '../tests/lib/worker.mjs';
import * as bombs from '../tests/lib/cpu-bombs.mjs';
import { FIXTURE_DIR, makeFixtures, photo, skimageData } from './make-fixtures.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
const CACHE = path.join(FIXTURE_DIR, 'cpu');
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=').slice(1).join('=');
const RUNS = Number(arg('runs') ?? 5);
// Untimed uploads of each row first: V8 tiers a wasm function up only after
// it has run for a while, and each row may take code paths not warmed yet.
const WARMUP = 2;
const ONLY = arg('only')?.split(',');
const BEFORE = arg('before');
const MB = 1e6;

sharp.cache(false);

/** A generated input, cached by name. */
async function cached(name, make) {
  mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, name);
  if (!existsSync(file)) writeFileSync(file, await make());
  return readFileSync(file);
}

const src = (name) => path.join(skimageData(), name);
const solid = (width, height, channels = 3) =>
  sharp({ create: { width, height, channels, background: { r: 40, g: 120, b: 200, alpha: 1 } } });

/** A screenshot-like picture: flat panels, rules and text, rendered from SVG. */
function screenshotSvg(width, height) {
  const rows = [];
  for (let y = 80, i = 0; y < height - 40; y += 28, i++) {
    const x = 40 + (i % 3) * 20;
    rows.push(`<text x="${x + 300}" y="${y}" font-family="sans-serif" font-size="18" fill="#222">Item ${i}: the quick brown fox jumps over the lazy dog ${i * 7919 % 1000}</text>`);
    if (i % 5 === 0) rows.push(`<rect x="${x + 290}" y="${y + 8}" width="${width - x - 340}" height="1" fill="#ccc"/>`);
  }
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="#f4f5f7"/><rect width="100%" height="56" fill="#2b5797"/>
    <rect x="0" y="56" width="260" height="${height - 56}" fill="#e8eaee"/>
    <text x="24" y="36" font-family="sans-serif" font-size="22" fill="#fff">Dashboard — avatar-edge</text>
    ${rows.join('\n')}</svg>`);
}

/** Every row: name, group, how to make the file, optional crop box. */
async function inputs() {
  await makeFixtures({ log: () => {} });
  const fx = (name) => readFileSync(path.join(FIXTURE_DIR, name));
  const legit = [
    ['JPEG photo 2 MP (bench)', () => fx('jpeg-2mp.jpg')],
    ['JPEG photo 12 MP (bench)', () => fx('jpeg-12mp.jpg')],
    ['JPEG photo 48 MP (bench)', () => fx('jpeg-48mp.jpg')],
    ['JPEG photo 12 MP progressive (bench)', () => fx('jpeg-12mp-progressive.jpg')],
    ['JPEG photo 12 MP progressive, 1500 px crop', () => fx('jpeg-12mp-progressive.jpg'), [1266, 762, 1500, 1500]],
    ['JPEG photo 12 MP, 1500 px crop', () => fx('jpeg-12mp.jpg'), [1266, 762, 1500, 1500]],
    ['JPEG photo 12 MP q50', () => cached('jpeg-12mp-q50.jpg', async () => (await photo(src('chelsea.png'), 4032, 3024)).jpeg({ quality: 50 }).toBuffer())],
    ['JPEG photo 12 MP CMYK (Adobe)', () => cached('jpeg-12mp-cmyk.jpg', async () => (await photo(src('coffee.png'), 4032, 3024)).toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer())],
    ['JPEG photo 100 MP q80', () => photo100()],
    ['JPEG photo 100 MP q80, 1500 px crop', () => photo100(), [5000, 3000, 1500, 1500]],
    ['JPEG grey 100 MP (586 KB, the least a baseline 4:2:0 can be)', () => greyJpeg(12000, 8333)],
    ['JPEG grey 100 MP, 300 px crop', () => greyJpeg(12000, 8333), [5000, 4000, 300, 300]],
    ['PNG photo 1 MP (bench)', () => fx('png-1mp.png')],
    ['PNG photo 24 MP (bench)', () => fx('png-24mp.png')],
    ['PNG photo with alpha 1 MP (bench)', () => fx('png-alpha.png')],
    ['PNG photo 12 MP 16-bit', () => cached('png-12mp-16bit.png', async () => (await photo(src('chelsea.png'), 4032, 3024, { grain: 2 })).toColourspace('rgb16').png({ compressionLevel: 6 }).toBuffer())],
    ['PNG screenshot 4K', () => cached('png-screenshot-4k.png', () => sharp(screenshotSvg(3840, 2160)).png({ compressionLevel: 9 }).toBuffer())],
    ['PNG screenshot 4K palette', () => cached('png-screenshot-4k-palette.png', () => sharp(screenshotSvg(3840, 2160)).png({ palette: true, compressionLevel: 9 }).toBuffer())],
    ['WebP photo 12 MP lossy (bench)', () => fx('webp-12mp.webp')],
    ['WebP screenshot 4K lossless', () => cached('webp-screenshot-4k.webp', () => sharp(screenshotSvg(3840, 2160)).webp({ lossless: true }).toBuffer())],
    ['WebP screenshot 4K lossy', () => cached('webp-screenshot-4k-lossy.webp', () => sharp(screenshotSvg(3840, 2160)).webp({ quality: 85 }).toBuffer())],
    ['GIF screenshot 4K', () => cached('gif-screenshot-4k.gif', () => sharp(screenshotSvg(3840, 2160)).gif().toBuffer())],
    ['JPEG screenshot 4K', () => cached('jpeg-screenshot-4k.jpg', () => sharp(screenshotSvg(3840, 2160)).jpeg({ quality: 90 }).toBuffer())],
    ['GIF animated 480² (bench)', () => fx('gif-animated.gif')],
    ['BMP photo 4 MP 24-bit', () => cached('bmp-4mp.bmp', async () => bmp24(await (await photo(src('coffee.png'), 2304, 1728)).raw().toBuffer({ resolveWithObject: true })))],
    ['tiny JPEG 96×64 (fixture)', () => fixture('orient-1.jpg')],
  ];
  for (const mp of [1, 2, 4]) {
    const [w, h] = [Math.round(Math.sqrt(mp * 1e6 * 4 / 3)), Math.round(Math.sqrt(mp * 1e6 * 3 / 4))];
    legit.push(
      [`flat logo ${mp} MP PNG`, () => cached(`flat-${mp}.png`, () => solid(w, h).png({ compressionLevel: 9 }).toBuffer())],
      [`flat logo ${mp} MP PNG palette`, () => cached(`flat-${mp}-pal.png`, () => solid(w, h).png({ palette: true, compressionLevel: 9 }).toBuffer())],
      [`flat logo ${mp} MP WebP lossless`, () => cached(`flat-${mp}-ll.webp`, () => solid(w, h).webp({ lossless: true }).toBuffer())],
      [`flat logo ${mp} MP WebP lossy`, () => cached(`flat-${mp}.webp`, () => solid(w, h).webp({ quality: 85 }).toBuffer())],
      [`flat logo ${mp} MP GIF`, () => cached(`flat-${mp}.gif`, () => solid(w, h).gif().toBuffer())],
      [`flat logo ${mp} MP JPEG`, () => cached(`flat-${mp}.jpg`, () => solid(w, h).jpeg({ quality: 90 }).toBuffer())],
    );
  }
  const bomb = [
    ['bomb: JPEG 10000² empty scan (the issue\'s 150 B)', () => bombs.jpegEmptyScan()],
    ['bomb: the same, Adobe APP14 (jpeg-decoder at 1/8)', () => bombs.jpegEmptyScan({ adobe: true })],
    ['bomb: the same, 4:1:1 (jpeg-decoder at 1/8)', () => bombs.jpegEmptyScan({ sampling: '4:1:1' })],
    ['bomb: the same, 300 px crop (jpeg-decoder at 1/4)', () => bombs.jpegEmptyScan(), [5000, 5000, 300, 300]],
    ['bomb: JPEG 10000² scan of 2 bits a block of zeros', () => bombs.jpegShortScan()],
    ['bomb: the same, Adobe APP14', () => bombs.jpegShortScan({ adobe: true })],
    ['bomb: JPEG 10000² progressive, 64 empty DC scans', () => bombs.jpegDcRefinements()],
    ['bomb: JPEG 3400² progressive Adobe, 63 empty AC scans', () => bombs.jpegAcScans({ width: 3400, height: 3400 })],
    ['bomb: JPEG 3400² progressive Adobe, 63 AC scans of EOB runs', () => bombs.jpegAcScans({ width: 3400, height: 3400, ac: 'eobrun' })],
    ['bomb: PNG 10000² RGBA 16-bit zeros (the issue\'s 777 KB)', () => bombs.pngZeros()],
    ['bomb: PNG 10000² 1-bit palette zeros', () => bombs.pngZeros({ bitDepth: 1, colorType: 3 })],
    ['bomb: PNG 4000² RGBA interlaced zeros', () => bombs.pngZeros({ width: 4000, height: 4000, bitDepth: 8, interlaced: true })],
    ['bomb: GIF 4000×3500 LZW at its densest', () => bombs.gifLzw()],
    ['bomb: GIF 4000×3500, LZW data cut at 1 KB', () => bombs.gifLzw({ cut: 1000 })],
    ['bomb: WebP lossless 2800² of one-symbol codes (34 B)', () => bombs.webpLosslessFlat({ width: 2800, height: 2800 })],
    ['bomb: BMP 4800×3700 RLE, end of bitmap at once', () => bombs.bmpRleEmpty()],
    ['bomb: WebP lossy 16383×6100 flat', () => cached('bomb-webp-lossy-100mp.webp', () => solid(16383, 6100).webp({ quality: 10 }).toBuffer())],
  ];
  const rows = [...legit.map((r) => ['legit', ...r]), ...bomb.map((r) => ['bomb', ...r])];
  return rows.filter(([, name]) => !ONLY || ONLY.some((o) => name.toLowerCase().includes(o.toLowerCase())));
}

/** A 24-bit bottom-up BMP of raw RGB pixels. */
function bmp24({ data, info }) {
  const stride = Math.ceil((info.width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + stride * info.height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(info.width, 18);
  out.writeInt32LE(info.height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(stride * info.height, 34);
  for (let y = 0; y < info.height; y++) {
    const row = 54 + (info.height - 1 - y) * stride;
    for (let x = 0; x < info.width; x++) {
      const i = (y * info.width + x) * 3;
      out[row + x * 3] = data[i + 2];
      out[row + x * 3 + 1] = data[i + 1];
      out[row + x * 3 + 2] = data[i];
    }
  }
  return out;
}

async function photo100() {
  return cached('jpeg-100mp-q80.jpg', async () => (await photo(src('coffee.png'), 12000, 8333)).jpeg({ quality: 80, chromaSubsampling: '4:2:0' }).toBuffer());
}

/** A grey baseline 4:2:0 JPEG at its smallest: 2 bits a block. */
function greyJpeg(width, height) {
  const data = Buffer.alloc(Math.ceil(bombs.jpegBlocks(width, height, '4:2:0') / 4));
  return bombs.jpeg({ width, height, sampling: '4:2:0', dc: [[1, 0]], ac: [[1, 0]], scans: [{ comps: [1, 2, 3], ss: 0, se: 63, ah: 0, al: 0, data }] });
}

/**
 * Work units natively (the same count as the Worker's): `units` charged
 * with the file's budget (what the Worker spends, up to its refusal),
 * `whole` without a budget (what the whole decode would be charged, checked
 * or not as an unlimited budget decides), and the `budget`.
 */
function units(file, crop) {
  const exe = path.join(ROOT, 'target', 'release', 'examples', os.platform() === 'win32' ? 'pipeline.exe' : 'pipeline');
  const run = (...extra) => {
    const out = execFileSync(exe, [...extra, ...(crop ? [`--crop=${crop.join(',')}`] : []), file], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const m = /work=(\d+)\/(\d+)/.exec(out);
    return [Number(m[1]), Number(m[2])];
  };
  const [charged, budget] = run();
  const [whole] = run('--unmetered');
  return { units: charged, whole, budget };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Times `rows` in a worker of `build`: { name → { code, msg, total, decode,
 * resize } }. An upload that gets no answer (the old build's slowest
 * bombs: workerd gives up on the request and resets the connection) is
 * recorded as such, and the next row gets a fresh worker.
 */
async function time(rows, build) {
  let last;
  let w;
  const start = async () => {
    // The most the config accepts: the largest legitimate inputs are over
    // the default 20 MiB.
    w = await startWorker({ MAX_UPLOAD_BYTES: String(64 << 20) }, {
      build,
      stdout: (line) => { try { const j = JSON.parse(line); if (j.route === 'upload') last = j; } catch { /* not ours */ } },
    });
    await seedUser(w.kv);
    for (let i = 0; i < 10; i++) await upload(w, { file: fixture('jpeg_baseline.jpg') });
  };
  await start();
  const out = {};
  try {
    for (const row of rows) {
      const totals = [];
      const decodes = [];
      const resizes = [];
      let r;
      try {
        for (let i = 0; i < WARMUP; i++) {
          const t = performance.now();
          await upload(w, { file: row.bytes, fields: row.fields });
          if (performance.now() - t > 3000) break; // a bomb on the old build
        }
        for (let i = 0; i < RUNS; i++) {
          last = undefined;
          const t = performance.now();
          r = await upload(w, { file: row.bytes, fields: row.fields, lang: 'en' });
          totals.push(performance.now() - t);
          await new Promise((res) => setTimeout(res, 20)); // the log line
          if (last?.ms) {
            decodes.push(last.ms.decode ?? 0);
            resizes.push(last.ms.resize ?? 0);
          }
          if (totals[0] > 3000) break; // a bomb on the old build: once is enough
        }
      } catch (e) {
        r = { code: 'no answer', msg: String(e.cause?.code ?? e.message) };
        await w.dispose();
        await start();
      }
      const stage = (xs) => (xs.length ? median(xs) : null);
      out[row.name] = { code: r.code, msg: r.msg, total: totals.length ? median(totals) : null, decode: stage(decodes), resize: stage(resizes) };
      process.stderr.write(`  ${row.name}: code ${r.code}, ${totals.length ? median(totals).toFixed(0) : '—'} ms\n`);
    }
    return out;
  } finally {
    await w.dispose();
  }
}

const fmt = (n, d = 0) => (n === null || n === undefined ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const size = (b) => (b < 1e3 ? `${b} B` : b < 1e6 ? `${fmt(b / 1e3)} KB` : `${fmt(b / 1e6, 1)} MB`);

async function main() {
  spawnSync('cargo', ['build', '--release', '--quiet', '--example', 'pipeline'], { cwd: ROOT, stdio: 'inherit' });
  const rows = [];
  for (const [group, name, make, crop] of await inputs()) {
    const bytes = await make();
    const file = path.join(os.tmpdir(), `cpu-bound-input-${rows.length}`);
    writeFileSync(file, bytes);
    const fields = crop ? { crop_x: crop[0], crop_y: crop[1], crop_w: crop[2], crop_h: crop[3] } : {};
    const meta = bytes.toString('latin1', 0, 2) === 'BM' // sharp reads no BMP
      ? { width: bytes.readInt32LE(18), height: Math.abs(bytes.readInt32LE(22)) }
      : await sharp(bytes, { limitInputPixels: false }).metadata().catch(() => ({}));
    rows.push({ group, name, bytes, fields, crop, mp: meta.width ? (meta.width * meta.height) / 1e6 : null, ...units(file, crop) });
  }
  process.stderr.write('[cpu-bound] timing in workerd (build/)\n');
  const now = await time(rows, path.join(ROOT, 'build'));
  let before = {};
  if (BEFORE) {
    process.stderr.write(`[cpu-bound] timing the bombs in workerd (${BEFORE})\n`);
    before = await time(rows.filter((r) => r.group === 'bomb'), path.resolve(BEFORE));
  }

  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  console.log(`${when} UTC · ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length} · Node ${process.version} · ${RUNS} timed runs per row after ${WARMUP} untimed (median; bombs that took over 3 s on the old build: one)\n`);
  console.log('#### Legitimate uploads\n');
  console.log('| input | file | MP | code | end to end, ms | decode, ms | resize, ms | decode ms per MB | decode ms per MP | units charged (M) | budget (M) | decode ns per unit |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows.filter((r) => r.group === 'legit')) {
    const t = now[r.name];
    // The Lanczos step is not charged (it depends on AVATAR_SIZE only).
    const nsPerUnit = t.decode !== null && t.code === 0 && r.units > 5e6 ? (t.decode * 1e6) / r.units : null;
    const needs = t.code === 0 ? fmt(r.units / 1e6, 1) : `${fmt(r.units / 1e6, 1)} (whole: ${fmt(r.whole / 1e6, 1)})`;
    console.log(`| ${r.name} | ${size(r.bytes.length)} | ${fmt(r.mp, 1)} | ${t.code} | ${fmt(t.total)} | ${fmt(t.decode)} | ${fmt(t.resize)} | ${fmt(t.decode / (r.bytes.length / MB), 1)} | ${r.mp ? fmt(t.decode / r.mp, 2) : '—'} | ${needs} | ${fmt(r.budget / 1e6, 1)} | ${fmt(nsPerUnit, 2)} |`);
  }
  console.log('\n#### CPU bombs\n');
  console.log(`| input | file | declared MP | ${BEFORE ? 'before: code, end to end ms | ' : ''}now: code | now: end to end, ms | message (en) |`);
  console.log(`| --- | ---: | ---: | ${BEFORE ? '---: | ' : ''}---: | ---: | --- |`);
  for (const r of rows.filter((r) => r.group === 'bomb')) {
    const t = now[r.name];
    const b = before[r.name];
    const msg = t.code === 0 ? '' : t.msg.replace(/^The image cannot be processed: /, '').slice(0, 110);
    const then = b ? `${b.code}, ${b.total === null ? `no answer (${b.msg})` : `${fmt(b.total)}`} | ` : '';
    console.log(`| ${r.name} | ${size(r.bytes.length)} | ${fmt(r.mp, 1)} | ${BEFORE ? then : ''}${t.code} | ${fmt(t.total)} | ${msg} |`);
  }
  const small = rows.filter((r) => r.bytes.length < 1000);
  const worst = small.reduce((a, r) => (now[r.name].total > now[a.name].total ? r : a), small[0]);
  if (worst) console.log(`\nWorst file under 1 KB: ${worst.name} (${size(worst.bytes.length)}), ${fmt(now[worst.name].total)} ms end to end.`);
}

await main();
