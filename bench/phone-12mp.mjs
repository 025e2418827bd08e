#!/usr/bin/env node
// The time a 12 MP phone photo takes through the built Worker (workerd via
// Miniflare), AVIF and HEIC, as the README's "Measured figures" quote it.
//
//   node bench/phone-12mp.mjs [--runs=5] [--build=DIR] [--save=NAME]
//
// --build: another build directory (default: the production build).
// --save: also writes bench/results/phone/<date>-NAME.json, which the
// README's AVIF/HEIC table is generated from (bench/report.mjs,
// `<!-- bench:begin phone=BEFORE.json[,AFTER.json] -->`).
//
// Needs a production build (npm run build) and, to make the photos once,
// sharp, `heif-enc` and `avifenc` (apt-get install libheif-examples
// libavif-bin). The photos are
// cached in bench/fixtures/ (git-ignored):
//   avif-12mp.avif         4032×3024, 8-bit 4:2:0, sharp's avif (libaom) q60
//   avif-12mp-10bit.avif   10-bit 4:2:0, avifenc (libaom) -s 8, quantiser 10..20 (a camera's quality)
//   heic-12mp.heic         iPhone-like: 8×6 grid of 512×512 HEVC tiles
//                          (heif-enc, x265, q60), Display P3 ICC, irot 1
// made from tests/fixtures/jpeg_baseline.jpg (CC0) scaled up, with grain
// (±6) standing in for a camera's noise so that the sizes land near what
// phones write (1–3 MB).
import sharp from 'sharp';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { BUILD_DIR, startWorker, seedUser, upload } from '../tests/lib/worker.mjs';
import { resultsJson } from './report.mjs';
import { readHeif, writeHeif, propType, ispe, colrIcc, irot } from '../tests/lib/heif.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIR = path.join(here, 'fixtures');
const SRC = path.join(here, '..', 'tests', 'fixtures', 'jpeg_baseline.jpg');
const W = 4032, H = 3024, T = 512;
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const runs = Number(arg('runs') ?? 5);
const buildDir = arg('build') ? path.resolve(arg('build')) : undefined;
const saveName = arg('save');
if (saveName !== undefined && !/^[\w.-]+$/.test(saveName)) throw new Error('--save=NAME: letters, digits, . _ -');

async function photo() {
  const up = await sharp(SRC).resize(W, H, { fit: 'fill', kernel: 'lanczos3' }).sharpen().raw().toBuffer({ resolveWithObject: true });
  let s = 12345;
  for (let i = 0; i < up.data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    up.data[i] = Math.max(0, Math.min(255, up.data[i] + ((s >>> 16) % 13) - 6));
  }
  return sharp(up.data, { raw: up.info });
}

async function make(name, fn) {
  const p = path.join(DIR, name);
  if (!existsSync(p)) {
    mkdirSync(DIR, { recursive: true });
    console.log(`[phone-12mp] making ${name}`);
    writeFileSync(p, await fn());
  }
  return readFileSync(p);
}

async function heicGrid() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'heic12-'));
  try {
    const p3 = await (await photo()).withIccProfile('p3').png().toBuffer();
    const icc = (await sharp(p3).metadata()).icc;
    const raw = await sharp(p3).raw().toBuffer({ resolveWithObject: true });
    const cols = Math.ceil(W / T), rows = Math.ceil(H / T);
    const tiles = [];
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
      const png = path.join(tmp, 't.png'), heic = path.join(tmp, 't.heic');
      const left = c * T, top = r * T;
      await sharp(raw.data, { raw: raw.info })
        .extract({ left, top, width: Math.min(T, W - left), height: Math.min(T, H - top) })
        .extend({ right: T - Math.min(T, W - left), bottom: T - Math.min(T, H - top), extendWith: 'copy' })
        .png().toFile(png);
      execFileSync('heif-enc', ['-q', '60', png, '-o', heic]);
      const t = readHeif(readFileSync(heic));
      const item = t.items.get(t.primary);
      tiles.push({ data: item.data, hvcC: item.props.find((p) => propType(p) === 'hvcC') });
    }
    const items = tiles.map((t, i) => ({ id: i + 1, type: 'hvc1', hidden: true, data: t.data, props: [t.hvcC, ispe(T, T)] }));
    const GRID = items.length + 1;
    const desc = Buffer.from([0, 0, rows - 1, cols - 1, W >> 8, W & 255, H >> 8, H & 255]);
    items.push({ id: GRID, type: 'grid', data: desc, props: [ispe(W, H), colrIcc(icc), irot(1)] });
    return writeHeif({ brands: ['heic', 'mif1', 'heic'], primary: GRID, items, refs: [{ type: 'dimg', from: GRID, to: tiles.map((_, i) => i + 1) }] });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// sharp's prebuilt libvips writes 8-bit AVIF only: avifenc (libavif-bin)
// from a 16-bit PNG.
async function avif10() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'avif10-'));
  try {
    const png = path.join(tmp, 'p.png'), out = path.join(tmp, 'p.avif');
    await (await photo()).toColourspace('rgb16').png().toFile(png);
    execFileSync('avifenc', ['-j', '2', '-s', '8', '-d', '10', '-y', '420', '--min', '10', '--max', '20', png, out], { stdio: 'ignore' });
    return readFileSync(out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const files = [
  ['12 MP AVIF 8-bit', await make('avif-12mp.avif', async () => (await photo()).avif({ quality: 60, effort: 2 }).toBuffer())],
  ['12 MP AVIF 10-bit', await make('avif-12mp-10bit.avif', avif10)],
  ['12 MP HEIC grid (iPhone-like)', await make('heic-12mp.heic', heicGrid)],
];

// The Worker's log line of each upload gives its decode stage (ms).
let decodeMs = [];
const rows = [];
const w = await startWorker({}, {
  ...(buildDir ? { build: buildDir } : {}),
  stdout: (line) => {
    try {
      const j = JSON.parse(line.slice(line.indexOf('{')));
      if (j.route === 'upload' && j.ms?.decode !== undefined) decodeMs.push(j.ms.decode);
    } catch { /* not a log line */ }
  },
});
try {
  await seedUser(w.kv);
  for (const [label, bytes] of files) {
    const times = [];
    decodeMs = [];
    for (let i = 0; i < runs + 1; i++) {
      const t0 = performance.now();
      const r = await upload(w, { file: bytes, filename: 'IMG_0001.jpg', type: 'image/jpeg', lang: 'en' });
      const ms = performance.now() - t0;
      if (r.code !== 0) throw new Error(`${label}: ${JSON.stringify(r)}`);
      if (i > 0) times.push(ms); // the first upload warms V8 up
    }
    times.sort((a, b) => a - b);
    const med = times[Math.floor(times.length / 2)];
    const dec = decodeMs.slice(1).sort((a, b) => a - b);
    const decMed = dec.length ? `${dec[Math.floor(dec.length / 2)]} ms` : 'n/a';
    rows.push({ label, bytes: bytes.length, uploadMs: times.map((t) => Number(t.toFixed(1))), decodeMs: dec });
    console.log(`${label.padEnd(32)} ${(bytes.length / 1e6).toFixed(2)} MB  upload median ${med.toFixed(0)} ms (min ${times[0].toFixed(0)}, max ${times.at(-1).toFixed(0)}), decode stage median ${decMed}, ${runs} runs`);
  }
} finally {
  await w.dispose();
}

if (saveName !== undefined) {
  const dir = buildDir ?? BUILD_DIR;
  const gzip = (f) => gzipSync(readFileSync(path.join(dir, f)), { level: 9 }).length;
  const date = new Date().toISOString();
  const result = {
    date,
    machine: `${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores`,
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
    runs,
    modules: { 'phone-avif.wasm': gzip('phone-avif.wasm'), 'phone-heic.wasm': gzip('phone-heic.wasm') },
    rows,
  };
  const out = path.join(here, 'results', 'phone');
  mkdirSync(out, { recursive: true });
  const file = path.join(out, `${date.slice(0, 10)}-${saveName}.json`);
  writeFileSync(file, resultsJson(result));
  console.log(`[phone-12mp] wrote ${path.relative(path.join(here, '..'), file)}`);
}
