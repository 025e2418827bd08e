// The conformance corpus (tests/corpus/): its files, the reference decoder's
// picture of each, the reference avatar made from that picture, and the
// comparison with ours. Used by tests/integration/corpus.test.mjs and
// scripts/corpus/report.mjs (docs/conformance.md).
//
// Reference decoders:
// - PNG, JPEG, WebP, GIF: sharp 0.34 (libvips 8.17: libspng/libpng,
//   mozjpeg, libwebp, libnsgif; lcms2 for ICC profiles), the decoder the
//   tests already trust for the fixtures. Upright (EXIF, `.rotate()`),
//   converted to sRGB through the embedded profile, 8 bits, first frame.
//   "Decodes" means it decodes with sharp's default strictness (failOn
//   'warning'); a file it decodes only when told to ignore damage (failOn
//   'none') is "damaged", and that lenient picture is kept for comparison.
// - Where the suite itself says what a file must give, that picture:
//   bmpsuite (html/*.png; several acceptable ones for some files, the
//   closest counts; the b/ "bad" files have none: the reference refuses
//   them), PyGIF (the first frame of test-suite/<name>.conf; no frames =
//   refuses) and gif-test-suite (gifs/frames/<name>-0.png, animated ones).
//   Copied into tests/corpus/ref/<suite>/ by fetch-corpus.mjs. They are
//   what the GIF format says, where sharp's GIF loader (libnsgif) paints the
//   logical screen outside the first frame with the background colour and
//   grows the screen to fit an oversized frame.
// - other BMP and ICO: Pillow 13 (sharp has no BMP or ICO loader), decoded
//   ahead by scripts/corpus/reference-decode.py into tests/corpus/ref/pillow/.
//
// Reference avatar: the centre square of the upright picture exactly as
// ours crops it (side = the short edge, offset floor((long - side) / 2)),
// resized to 256² by a true Lanczos3 (support 3 × the scale factor when
// shrinking, 3 when enlarging; taps outside the square dropped and the rest
// renormalised, as our resizer sees only the square) on alpha-premultiplied
// sRGB code values (RESIZE_SPACE=srgb, the default), rounded to 8 bits.
// Written in JS so that it is the same for every format and does not
// depend on libvips' own resize (which enlarges with a bicubic
// interpolator, not Lanczos).
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { REPO_ROOT, readEnvelope } from './worker.mjs';
import { ssim, weights } from '../../bench/lib/quality.mjs';

export const CORPUS = path.join(REPO_ROOT, 'tests', 'corpus');
export const MANIFEST = JSON.parse(readFileSync(path.join(CORPUS, 'MANIFEST.json'), 'utf8'));
const PILLOW = JSON.parse(readFileSync(path.join(CORPUS, 'ref', 'pillow', 'INDEX.json'), 'utf8'));
export const PILLOW_VERSION = PILLOW.decoder;
export const SIZE = 256;

/** Every corpus file: { rel, suite, format, entry, bytes }. */
export function corpusFiles() {
  return Object.entries(MANIFEST.files).map(([rel, entry]) => ({
    rel, suite: entry.suite, format: rel.split('/')[0], entry,
    bytes: readFileSync(path.join(CORPUS, rel)),
  }));
}

/** Upright 8-bit sRGB RGBA of what sharp reads: { data, w, h }. */
async function sharpRGBA(input, failOn) {
  const { data, info } = await sharp(input, { failOn, limitInputPixels: 100_000_000 })
    .rotate().toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new Error(`sharp gave ${info.channels} channels`);
  return { data, w: info.width, h: info.height };
}

const firstLine = (e) => String(e?.message ?? e).split('\n')[0].slice(0, 160);

/**
 * The reference decoder's outcome for a corpus file:
 * { status: 'ok' | 'damaged' | 'refused', decoder, images: [{data, w, h}], note }.
 * `images` holds the acceptable pictures (several for some bmpsuite files),
 * empty when refused; for 'damaged' the lenient decode.
 */
export async function referenceDecode({ rel, entry, format, bytes }) {
  if (entry.reference) {
    // The suite's own expected pictures (bmpsuite, PyGIF, gif-test-suite).
    const by = entry.suite.split('/')[1];
    if (entry.reference.length === 0) {
      return { status: 'refused', decoder: by, images: [], note: by === 'bmpsuite' ? 'a "bad" file: no expected picture' : 'the suite expects no picture' };
    }
    const images = [];
    for (const r of entry.reference) images.push(await sharpRGBA(readFileSync(path.join(CORPUS, r)), 'warning'));
    return { status: 'ok', decoder: by, images, note: `expects ${entry.reference.map((r) => path.basename(r)).join(' or ')}` };
  }
  if (format === 'bmp' || format === 'ico') {
    const p = PILLOW.files[rel];
    if (!p) throw new Error(`${rel}: not in tests/corpus/ref/pillow/INDEX.json (run scripts/corpus/reference-decode.py)`);
    if (!p.ok) return { status: 'refused', decoder: 'Pillow', images: [], note: p.error };
    const png = path.join(CORPUS, 'ref', 'pillow', `${rel}.png`);
    if (!existsSync(png)) throw new Error(`${rel}: ${png} missing (run scripts/corpus/reference-decode.py)`);
    return { status: 'ok', decoder: 'Pillow', images: [await sharpRGBA(readFileSync(png), 'warning')], note: `${p.width}×${p.height} ${p.mode}` };
  }
  try {
    const img = await sharpRGBA(bytes, 'warning');
    return { status: 'ok', decoder: 'sharp', images: [img], note: `${img.w}×${img.h}` };
  } catch (strict) {
    try {
      const img = await sharpRGBA(bytes, 'none');
      return { status: 'damaged', decoder: 'sharp', images: [img], note: firstLine(strict) };
    } catch (e) {
      return { status: 'refused', decoder: 'sharp', images: [], note: firstLine(e) };
    }
  }
}

// ---------------------------------------------------------------- Lanczos3

/** The reference avatar of an upright RGBA picture: 256² RGBA (Uint8ClampedArray). */
export function referenceAvatar({ data, w, h }, size = SIZE) {
  const side = Math.min(w, h);
  const x0 = Math.floor((w - side) / 2), y0 = Math.floor((h - side) / 2);
  // Lanczos3 weights from the whole square (the benchmark's reference resize).
  const wt = weights(size, 0, side, side);
  // Premultiplied floats of the square.
  const sq = new Float32Array(side * side * 4);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const s = ((y + y0) * w + x + x0) * 4, d = (y * side + x) * 4;
      const a = data[s + 3] / 255;
      sq[d] = data[s] * a; sq[d + 1] = data[s + 1] * a; sq[d + 2] = data[s + 2] * a; sq[d + 3] = data[s + 3];
    }
  }
  // Along x first, into an intermediate clamped to the sample range (as
  // ours does between its passes, src/imaging/lanczos.rs: a lobe's
  // overshoot is cut before the second pass), then along y.
  const tmp = new Float32Array(side * size * 4);
  for (let y = 0; y < side; y++) {
    for (let i = 0; i < size; i++) {
      const { lo, w: ws } = wt[i];
      const o = (y * size + i) * 4;
      for (let k = 0; k < ws.length; k++) {
        const q = (y * side + lo + k) * 4, v = ws[k];
        for (let c = 0; c < 4; c++) tmp[o + c] += v * sq[q + c];
      }
      for (let c = 0; c < 4; c++) tmp[o + c] = Math.min(255, Math.max(0, tmp[o + c]));
    }
  }
  const out = new Uint8ClampedArray(size * size * 4);
  const px = new Float64Array(4);
  for (let j = 0; j < size; j++) {
    const { lo, w: ws } = wt[j];
    for (let i = 0; i < size; i++) {
      px.fill(0);
      for (let k = 0; k < ws.length; k++) {
        const q = ((lo + k) * size + i) * 4;
        for (let c = 0; c < 4; c++) px[c] += ws[k] * tmp[q + c];
      }
      const a = Math.min(255, Math.max(0, px[3]));
      const o = (j * size + i) * 4;
      const ar = Math.round(a);
      for (let c = 0; c < 3; c++) out[o + c] = ar > 0 ? Math.round(Math.min(255, Math.max(0, (px[c] * 255) / a))) : 0;
      out[o + 3] = ar;
    }
  }
  return out;
}

/** Our avatar (PNG bytes) as 256² RGBA. */
export async function avatarRGBA(png) {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== SIZE || info.height !== SIZE) throw new Error(`avatar is ${info.width}×${info.height}`);
  return data;
}

// ---------------------------------------------------------------- metrics

const BLOCK = 16;

/**
 * Differences of two 256² RGBA avatars, on alpha-premultiplied colour (so a
 * transparent pixel's hidden colour does not count) and alpha, in 8-bit
 * levels: per pixel e = mean of |ΔR'|, |ΔG'|, |ΔB'|, |ΔA|.
 * { mae: mean e, block: worst 16×16 block's mean e, alpha: mean |ΔA|,
 *   ssim: SSIM of the luma flattened on mid-grey (bench/lib/quality.mjs) }.
 */
export function compare(a, b) {
  const n = SIZE * SIZE;
  const e = new Float64Array(n);
  let sum = 0, sumA = 0;
  const la = new Float64Array(n), lb = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    const i = p * 4;
    const aa = a[i + 3] / 255, ab = b[i + 3] / 255;
    let d = Math.abs(a[i + 3] - b[i + 3]);
    sumA += d;
    for (let c = 0; c < 3; c++) d += Math.abs(a[i + c] * aa - b[i + c] * ab);
    e[p] = d / 4;
    sum += e[p];
    const flat = (px, al, k) => px[k] * al + 128 * (1 - al);
    la[p] = 0.299 * flat(a, aa, i) + 0.587 * flat(a, aa, i + 1) + 0.114 * flat(a, aa, i + 2);
    lb[p] = 0.299 * flat(b, ab, i) + 0.587 * flat(b, ab, i + 1) + 0.114 * flat(b, ab, i + 2);
  }
  let block = 0;
  for (let by = 0; by < SIZE; by += BLOCK) {
    for (let bx = 0; bx < SIZE; bx += BLOCK) {
      let s = 0;
      for (let y = by; y < by + BLOCK; y++) for (let x = bx; x < bx + BLOCK; x++) s += e[y * SIZE + x];
      block = Math.max(block, s / (BLOCK * BLOCK));
    }
  }
  return { mae: sum / n, block, alpha: sumA / n, ssim: ssim(la, lb) };
}

// ---------------------------------------------------------------- one file

/** Longest an upload may take before it counts as hanging. */
export const UPLOAD_TIMEOUT_MS = 30_000;

/**
 * Uploads one corpus file through the worker (`w` from startWorker with
 * OUTPUT_FORMAT=png) and compares the answer with the reference:
 * { rel, suite, ref: {status, decoder, note}, ours: 'accepted' | 'refused' | 'broken',
 *   msg, ms, metrics: {mae, block, alpha, ssim} | null }.
 */
export async function runFile(w, file, { token }) {
  const ref = await referenceDecode(file);
  const t0 = performance.now();
  let r, broken = null;
  try {
    // A neutral name and type: the content decides.
    const form = new FormData();
    form.append('file', new File([file.bytes], 'corpus.bin', { type: 'application/octet-stream' }));
    const res = await fetch(new URL('/api/user/avatar', w.url), {
      method: 'POST', body: form, headers: { Token: token, 'Accept-Language': 'en' }, signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS),
    });
    r = await readEnvelope(res);
  } catch (e) {
    broken = `no envelope: ${firstLine(e)}`;
  }
  const ms = Math.round(performance.now() - t0);
  const row = { rel: file.rel, suite: file.suite, ref: { status: ref.status, decoder: ref.decoder, note: ref.note }, ms, metrics: null };
  if (!broken && r.status !== 200) broken = `HTTP ${r.status}`;
  if (!broken && r.code !== 0 && r.code !== -1) broken = `code ${r.code}: ${r.msg}`;
  if (broken) return { ...row, ours: 'broken', msg: broken };
  if (r.code === -1) return { ...row, ours: 'refused', msg: r.msg };
  const key = new URL(r.data.avatar_url).pathname.slice(1);
  const obj = await w.r2.get(key);
  let mine;
  try {
    mine = await avatarRGBA(Buffer.from(await obj.arrayBuffer()));
  } catch (e) {
    return { ...row, ours: 'broken', msg: `stored avatar unreadable: ${firstLine(e)}` };
  }
  if (ref.images.length) {
    let best = null;
    for (const img of ref.images) {
      const m = compare(mine, referenceAvatar(img));
      if (!best || m.mae < best.mae) best = m;
    }
    row.metrics = best;
  }
  return { ...row, ours: 'accepted', msg: r.msg };
}

// ---------------------------------------------------------------- verdicts

/**
 * Largest difference between our avatar and the reference avatar that
 * still counts as the same picture, in 8-bit levels (docs/conformance.md,
 * "Threshold"): mean over the avatar, and mean over its worst 16×16 block
 * (a local defect such as a shifted frame or a cut-off corner).
 */
export const THRESHOLD = Object.freeze({ mae: 2, block: 8 });

/** Verdicts that pass, and those that fail unless a known issue lists the file. */
export const PASSING = new Set(['match', 'deliberate refusal', 'both refuse', 'refused (damaged)', 'judged']);

/**
 * The verdict for one row (from runFile) given its MANIFEST entry:
 * match | deliberate refusal | both refuse | refused (damaged) | judged  (pass)
 * refused | differs | unjudged acceptance | deliberate refusal accepted | broken  (fail)
 */
export function verdict(row, entry) {
  if (row.ours === 'broken') return 'broken';
  if (entry.expect === 'refuse') return row.ours === 'refused' ? 'deliberate refusal' : 'deliberate refusal accepted';
  const tol = entry.tolerance ?? THRESHOLD;
  const within = row.metrics && row.metrics.mae <= tol.mae && row.metrics.block <= tol.block;
  const status = row.ref.status;
  if (row.ours === 'refused') {
    if (status === 'ok') return 'refused';
    return status === 'damaged' ? 'refused (damaged)' : 'both refuse';
  }
  if (within) return 'match';
  if (entry.expect === 'accept') return 'judged';
  return status === 'refused' ? 'unjudged acceptance' : 'differs';
}
