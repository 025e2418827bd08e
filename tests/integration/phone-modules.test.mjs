// The AVIF/HEIC decoder modules (decoders/, js/phone.mjs) on their own, in
// workerd: a test Worker (tests/lib/phone-harness.mjs) runs them inside a
// stand-in for the Rust module's memory, filled with a pattern, and the
// tests check what they decode, that nothing outside the arena changes,
// and that every hostile or starved decode ends in a status code with the
// isolate serving on. The whole upload path is tests/integration/phone.test.mjs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Miniflare } from 'miniflare';
import { BUILD_DIR, SKIP, REPO_ROOT } from '../lib/worker.mjs';
import { readHeif, writeHeif, obus, nalUnits, ispe, propType } from '../lib/heif.mjs';

const PHONE = path.join(REPO_ROOT, 'tests', 'fixtures', 'phone');
const M = JSON.parse(readFileSync(path.join(PHONE, 'manifest.json'), 'utf8')).files;
const file = (n) => readFileSync(path.join(PHONE, n));
const built = BUILD_DIR && existsSync(path.join(BUILD_DIR, 'phone-avif.wasm'));
const skip = SKIP || (built ? false : 'decoder modules not built (scripts/build.sh)');

const PH = { OK: 0, DAMAGED: -1, UNSUPPORTED: -2, LIMIT: -3, MEMORY: -4, FRAMES: -5, MISMATCH: -6, TRAP: -10, LOADER: -11 };

/** PSNR of two equal-length RGB(A) buffers: colour (premultiplied by alpha with 4 channels) and alpha. */
function psnr(a, b, ch = 3) {
  let se = 0, n = 0;
  for (let p = 0; p < a.length; p += ch) {
    for (let c = 0; c < ch; c++) {
      const f = ch === 4 && c < 3 ? [a[p + 3] / 255, b[p + 3] / 255] : [1, 1];
      se += (a[p + c] * f[0] - b[p + c] * f[1]) ** 2; n++;
    }
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * n) / se);
}

/** Mean colour of the middle half of each quadrant of a w x h RGB buffer: TL, TR, BL, BR. */
function quadrantMeans(px, w, h) {
  const mean = (x0, y0) => {
    const acc = [0, 0, 0]; let n = 0;
    for (let y = Math.floor(y0 + h / 8); y < Math.floor(y0 + 3 * h / 8); y++) for (let x = Math.floor(x0 + w / 8); x < Math.floor(x0 + 3 * w / 8); x++) {
      for (let c = 0; c < 3; c++) acc[c] += px[(y * w + x) * 3 + c];
      n++;
    }
    return acc.map((v) => v / n);
  };
  return [mean(0, 0), mean(w / 2, 0), mean(0, h / 2), mean(w / 2, h / 2)];
}

/** sharp's decode of an AVIF, box-averaged like the modules' output. */
async function reference(bytes, w, h, shift, ch, turned) {
  // sharp (libheif) applies irot itself: turn its picture back to the stored one.
  let s = sharp(bytes).ensureAlpha();
  if (turned) s = sharp(await s.png().toBuffer()).rotate(-90);
  const img = await s.raw().toBuffer();
  const S = 1 << shift, ow = Math.ceil(w / S), oh = Math.ceil(h / S);
  const out = Buffer.alloc(ow * oh * ch);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    const acc = [0, 0, 0, 0]; let n = 0;
    for (let j = y * S; j < Math.min(h, y * S + S); j++) for (let i = x * S; i < Math.min(w, x * S + S); i++) {
      for (let c = 0; c < 4; c++) acc[c] += img[(j * w + i) * 4 + c];
      n++;
    }
    for (let c = 0; c < ch; c++) out[(y * ow + x) * ch + c] = Math.round(acc[c] / n);
  }
  return out;
}

// The timeout is the whole describe's, for every decode below together,
// and sized for a loaded CI run, where each takes several times as long
// as on a calm machine: a describe that times out disposes of its
// Miniflare, and the decodes still queued fail with 'fetch failed'.
describe('decoder modules in workerd (stand-in memory)', { skip, timeout: 600_000 }, () => {
  let mf, url;
  before(async () => {
    mf = new Miniflare({
      modules: [
        { type: 'ESModule', path: 'harness.mjs', contents: readFileSync(path.join(REPO_ROOT, 'tests', 'lib', 'phone-harness.mjs'), 'utf8') },
        { type: 'ESModule', path: 'phone.mjs', contents: readFileSync(path.join(REPO_ROOT, 'js', 'phone.mjs'), 'utf8') },
        { type: 'CompiledWasm', path: 'phone-avif.wasm', contents: readFileSync(path.join(BUILD_DIR, 'phone-avif.wasm')) },
        { type: 'CompiledWasm', path: 'phone-heic.wasm', contents: readFileSync(path.join(BUILD_DIR, 'phone-heic.wasm')) },
      ],
      compatibilityDate: '2025-01-01',
    });
    url = await mf.ready;
  });
  after(() => mf?.dispose());

  async function decode(bytes, { kind, w, h, ...opts }) {
    const qs = new URLSearchParams({ kind, w, h, ...opts });
    const res = await mf.dispatchFetch(new URL(`/decode?${qs}`, url), { method: 'POST', body: bytes });
    const r = await res.json();
    assert.ok(r.intact, `memory outside the arena changed: ${JSON.stringify(r)}`);
    return r;
  }

  for (const [name, m] of Object.entries(M)) {
    for (const shift of [0, 1, 3]) {
      test(`${name} at 1/${1 << shift}: decodes in its arena, like the reference`, async () => {
        const alpha = m.alpha ? 1 : 0;
        const r = await decode(file(name), { kind: m.format, w: m.width, h: m.height, shift, alpha, pixels: 1 });
        assert.equal(r.rc, PH.OK, r.error);
        assert.ok(r.inArena, 'output inside the arena');
        const S = 1 << shift;
        assert.deepEqual(r.out, { w: Math.ceil(m.width / S), h: Math.ceil(m.height / S), x: 0, y: 0, ch: alpha ? 4 : 3 });
        assert.equal(r.depth, m.depth ?? 8);
        const px = Buffer.from(r.pixels, 'base64');
        // sharp's libheif decodes 8-bit AVIF (no HEVC, no 10-bit AV1); it
        // converts to sRGB, so the P3 files are checked through the upload.
        if (m.format === 'avif' && !m.depth && !name.includes('p3')) {
          const ref = await reference(file(name), m.width, m.height, shift, alpha ? 4 : 3, /irot/.test(m.orientation ?? ''));
          const db = psnr(px, ref, alpha ? 4 : 3);
          assert.ok(db > (shift ? 40 : 30), `${db.toFixed(1)} dB against sharp`);
        }
        // Quadrant colours of the plain (sRGB, upright) pattern files.
        if (m.grid && !name.includes('p3') && !m.orientation && shift === 0) {
          const want = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
          quadrantMeans(px, m.width, m.height).forEach((got, i) => {
            for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[c] - want[i][c]) <= 6, `quadrant ${i}: ${got.map(Math.round)} vs ${want[i]}`);
          });
        }
        if (m.photo && m.format === 'heic') {
          const ref = await sharp(path.join(REPO_ROOT, 'tests', 'fixtures', m.photo)).raw().toBuffer();
          if (shift === 0) assert.ok(psnr(px, ref) > 30, `${psnr(px, ref).toFixed(1)} dB against the source`);
        }
      });
    }
  }

  test('only the crop is converted, and a grid decodes only the tiles it touches', async () => {
    const m = M['heic_grid_p3_irot.heic'];
    const whole = await decode(file('heic_grid_p3_irot.heic'), { kind: 'heic', w: m.width, h: m.height });
    assert.equal(whole.pictures, 12);
    const part = await decode(file('heic_grid_p3_irot.heic'), { kind: 'heic', w: m.width, h: m.height, x: 10, y: 100, cw: 100, ch: 100 });
    assert.equal(part.rc, PH.OK, part.error);
    assert.equal(part.pictures, 2, 'rows 1 and 2 of the first column');
    assert.deepEqual(part.out, { w: 100, h: 100, x: 10, y: 100, ch: 3 });
    const a = await decode(file('avif_8bit.avif'), { kind: 'avif', w: 384, h: 256, x: 5, y: 9, cw: 100, ch: 50, shift: 2 });
    assert.deepEqual(a.out, { w: 26, h: 13, x: 1, y: 2, ch: 3 });
  });

  test('an AV1 sample with a second (hidden) frame is refused before dav1d decodes it', async () => {
    const h = readHeif(file('avif_8bit.avif'));
    const it = h.items.get(h.primary);
    const frame = obus(it.data).find((o) => o.type === 6 || o.type === 3);
    assert.ok(frame, 'a frame OBU');
    it.data = Buffer.concat([it.data, it.data.subarray(frame.start, frame.end)]);
    const r = await decode(writeHeif(h), { kind: 'avif', w: 384, h: 256 });
    assert.equal(r.rc, PH.FRAMES, JSON.stringify(r));
  });

  test('an HEVC tile with a second picture is refused', async () => {
    const h = readHeif(file('heic_8bit.heic'));
    const it = h.items.get(h.primary);
    const nals = nalUnits(it.data);
    const slices = nals.filter((n) => ((n[0] >> 1) & 0x3f) < 32);
    const len = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n.length); return Buffer.concat([b, n]); };
    it.data = Buffer.concat([it.data, ...slices.map(len)]);
    const r = await decode(writeHeif(h), { kind: 'heic', w: 384, h: 256 });
    assert.equal(r.rc, PH.FRAMES, JSON.stringify(r));
  });

  test('an SPS coding more than its tile\'s ispe is refused before libde265 allocates it', async () => {
    const h = readHeif(file('heic_8bit.heic'));
    const it = h.items.get(h.primary);
    it.props = it.props.map((p) => (propType(p) === 'ispe' ? ispe(64, 64) : p));
    const r = await decode(writeHeif(h), { kind: 'heic', w: 64, h: 64 });
    assert.equal(r.rc, PH.LIMIT, JSON.stringify(r));
  });

  test('a size that disagrees with the header the Worker read is refused', async () => {
    const r = await decode(file('avif_8bit.avif'), { kind: 'avif', w: 200, h: 100 });
    assert.equal(r.rc, PH.MISMATCH, JSON.stringify(r));
    const r2 = await decode(file('heic_8bit.heic'), { kind: 'heic', w: 200, h: 100 });
    assert.equal(r2.rc, PH.MISMATCH, JSON.stringify(r2));
  });

  test('a starved arena ends in a status (allocation failure or trap), and the isolate decodes on', async () => {
    const cases = ['avif_photo.avif', 'heic_photo.heic'].map((n) => [n, M[n].format, M[n].width, M[n].height]);
    for (const [name, kind, w, h] of cases) {
      const seen = new Set();
      // Static data (0.3 MB AVIF, 0.04 MB HEIC) + 1 MiB of stack + the
      // loader's 64 KiB minimum of heap, then a little more heap.
      const base = (kind === 'avif' ? 330_000 : 40_000) + (1 << 20) + 65_536;
      for (const arena of [1000, base, base + 100_000, base + 250_000]) {
        const r = await decode(file(name), { kind, w, h, arena });
        assert.notEqual(r.rc, PH.OK, `${name} in ${arena} B`);
        assert.ok([PH.MEMORY, PH.TRAP, PH.LOADER, PH.DAMAGED].includes(r.rc), JSON.stringify(r));
        seen.add(r.rc);
      }
      assert.ok(seen.has(PH.LOADER), 'an arena too small for the static data and stack');
      const ok = await decode(file(name), { kind, w, h });
      assert.equal(ok.rc, PH.OK, `${name} after the starved decodes: ${ok.error}`);
    }
  });

  test('garbage in the coded data: a status, never a crash', async () => {
    for (const [name, kind, w, h] of ['avif_photo.avif', 'heic_photo.heic'].map((n) => [n, M[n].format, M[n].width, M[n].height])) {
      const bytes = Buffer.from(file(name));
      let seed = 1;
      const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
      for (let round = 0; round < 12; round++) {
        const b = Buffer.from(bytes);
        for (let k = 0; k < 40; k++) b[600 + (rnd() % (b.length - 600))] = rnd() & 255;
        const r = await decode(b, { kind, w, h });
        assert.ok(Number.isInteger(r.rc), JSON.stringify(r));
      }
    }
    const served = await (await mf.dispatchFetch(new URL('/served', url))).json();
    assert.ok(served.served > 20);
  });
});
