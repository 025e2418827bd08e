// AVIF and HEIC uploads through the built Worker (decoders/README.md,
// src/imaging/phone/): every fixture of tests/fixtures/phone/ turned into
// the upright sRGB avatar it should be (orientation from irot/imir and
// never from Exif, Display P3 by ICC and by nclx converted, alpha kept),
// the crop box on an iPhone-like grid, and the refusals: headers that claim
// too much, hostile bitstreams the decoder modules refuse, a starved or
// trapped decoder, HEIC turned off. Every refusal is a -1 in the member's
// language that leaves the avatar and profile as they were, and the isolate
// serves on.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { SKIP, REPO_ROOT, TEST_BUILD, TEST_BUILT, startWorker, seedUser, snapshot, upload, fixture } from '../lib/worker.mjs';
import { expectOk, expectError, expectUnchanged, expectStored } from '../lib/expect.mjs';
import { decodeRGBA, gridMeans, gridDiff, fmtGrid, regionMean, webpInfo } from '../lib/images.mjs';
import { readHeif, writeHeif, obus, nalUnits, ispe, propType, box } from '../lib/heif.mjs';

const PHONE = path.join(REPO_ROOT, 'tests', 'fixtures', 'phone');
const M = JSON.parse(readFileSync(path.join(PHONE, 'manifest.json'), 'utf8')).files;
const phone = (n) => readFileSync(path.join(PHONE, n));
const ZH = /[\u4e00-\u9fff]/;

/** PSNR between two RGBA images of one size, over RGB. */
function psnr(a, b) {
  let se = 0, n = 0;
  for (let i = 0; i < a.data.length; i += 4) for (let c = 0; c < 3; c++) { se += (a.data[i + c] - b.data[i + c]) ** 2; n++; }
  return se ? 10 * Math.log10((255 * 255 * n) / se) : Infinity;
}

/** A file whose item data is changed by `edit(items, primary)`. */
function rewrite(name, edit) {
  const h = readHeif(phone(name));
  edit(h.items, h.primary, h);
  return writeHeif(h);
}

describe('AVIF and HEIC: the avatar, pixel by pixel (PNG output)', { skip: SKIP, timeout: 240_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker({ OUTPUT_FORMAT: 'png' });
    await seedUser(w.kv);
  });
  after(() => w?.dispose());

  for (const [name, m] of Object.entries(M)) {
    test(`${name}: ${m.orientation ?? 'upright'}${m.alpha ? ', alpha' : ''}, sRGB centre square`, async () => {
      const r = await upload(w, { file: phone(name), filename: 'IMG_0001.jpg', type: 'image/jpeg' });
      const { bytes } = await expectStored(w, expectOk(r), { format: 'png' });
      const img = await decodeRGBA(bytes);
      if (m.grid) {
        const got = gridMeans(img);
        const d = gridDiff(got, m.grid);
        assert.ok(d.worst <= m.tolerance, `colours off by ${d.worst.toFixed(1)} at ${JSON.stringify(d.at)}\ngot:\n${fmtGrid(got)}\nwant:\n${fmtGrid(m.grid)}`);
      } else if (m.alpha) {
        for (const [x, y] of [[0, 0], [255, 0], [0, 255], [255, 255]]) {
          assert.ok(img.data[(y * 256 + x) * 4 + 3] < 8, `corner (${x},${y}) transparent`);
        }
        const c = regionMean(img, 96, 96, 160, 160);
        assert.ok(c[3] > 250, `centre opaque, alpha ${c[3]}`);
        for (let i = 0; i < 3; i++) assert.ok(Math.abs(c[i] - m.colour[i]) < 12, `centre colour ${c.map(Math.round)} want ${m.colour}`);
      } else if (m.photo) {
        // The source photo through sharp (centre square, Lanczos 3).
        const ref = await decodeRGBA(await sharp(fixture(m.photo)).resize(256, 256, { fit: 'cover', kernel: 'lanczos3' }).png().toBuffer());
        const db = psnr(img, ref);
        assert.ok(db > 30, `${db.toFixed(1)} dB against sharp's avatar of the source`);
      }
    });
  }

  test('the crop box is in upright pixels on a rotated iPhone-like grid', async () => {
    // heic_grid_p3_irot.heic is upright 392x260: its top-left quadrant is red.
    const r = await upload(w, { file: phone('heic_grid_p3_irot.heic'), fields: { crop_x: 20, crop_y: 20, crop_w: 150, crop_h: 100 } });
    const img = await decodeRGBA((await expectStored(w, expectOk(r), { format: 'png' })).bytes);
    const c = regionMean(img, 16, 16, 240, 240);
    assert.ok(c[0] > 240 && c[1] < 16 && c[2] < 16, `the red quadrant, got ${c.map(Math.round)}`);
    const r2 = await upload(w, { file: phone('heic_grid_p3_irot.heic'), fields: { crop_x: 250, crop_y: 150, crop_w: 120, crop_h: 100 } });
    const img2 = await decodeRGBA((await expectStored(w, expectOk(r2), { format: 'png' })).bytes);
    const c2 = regionMean(img2, 16, 16, 240, 240);
    assert.ok(c2.slice(0, 3).every((v) => v > 240), `the white quadrant, got ${c2.map(Math.round)}`);
  });
});

describe('AVIF and HEIC: default WebP output', { skip: SKIP, timeout: 240_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker();
    await seedUser(w.kv);
  });
  after(() => w?.dispose());

  for (const name of ['avif_photo.avif', 'heic_photo.heic', 'avif_alpha.avif']) {
    test(`${name} -> a 256x256 WebP without metadata`, async () => {
      const { bytes } = await expectStored(w, expectOk(await upload(w, { file: phone(name) })));
      const info = webpInfo(bytes);
      assert.ok(info.consistent && info.width === 256 && info.height === 256, JSON.stringify(info));
      assert.equal(info.alpha, name.includes('alpha'), `alpha ${info.alpha}`);
      assert.ok(!info.chunks.some((c) => ['EXIF', 'XMP ', 'ICCP'].includes(c.tag)), JSON.stringify(info.chunks));
    });
  }
});

describe('AVIF and HEIC: refusals change nothing', { skip: SKIP, timeout: 240_000 }, () => {
  let w, prev;
  before(async () => {
    w = await startWorker();
    await seedUser(w.kv);
    await expectStored(w, expectOk(await upload(w, { file: fixture('jpeg_baseline.jpg') })));
    prev = await snapshot(w);
  });
  after(() => w?.dispose());

  /** A refusal in English matching `en`, then the same in Chinese; nothing changed. */
  async function refused(file, en, why) {
    const r = await upload(w, { file, lang: 'en' });
    expectError(r, -1, en);
    assert.doesNotMatch(r.msg, ZH, `English message expected: ${r.msg}`);
    const zh = await upload(w, { file });
    expectError(zh, -1, ZH);
    assert.doesNotMatch(zh.msg, /\b(the|image|file|and)\b/i, `Chinese message expected: ${zh.msg}`);
    await expectUnchanged(w, prev, why);
    return r.msg;
  }

  test('an ispe of 60000x60000 is refused from the header, naming its size and the limit', async () => {
    const file = rewrite('avif_8bit.avif', (items, p) => {
      items.get(p).props = items.get(p).props.map((x) => (propType(x) === 'ispe' ? ispe(60000, 60000) : x));
    });
    await refused(file, [/60000\s*[×x]\s*60000/, /3600 MP/, /100 MP/], 'huge ispe');
  });

  test('a grid claiming 64 MP from one 512² tile repeated: refused by its work budget, from the header', async () => {
    // 16x16 references to the same tiny tile: 8192x8192 in a few KB.
    const file = rewrite('heic_grid_p3_irot.heic', (items, p, h) => {
      const grid = items.get(p);
      const tile = h.refs.find((r) => r.type === 'dimg').to[0];
      items.get(tile).props = items.get(tile).props.map((x) => (propType(x) === 'ispe' ? ispe(512, 512) : x));
      grid.data = Buffer.from([0, 0, 15, 15, 0x20, 0, 0x20, 0]);
      grid.props = grid.props.map((x) => (propType(x) === 'ispe' ? ispe(8192, 8192) : x));
      h.refs.find((r) => r.type === 'dimg').to = Array(256).fill(tile);
    });
    const msg = await refused(file, [/8192\s*[×x]\s*8192/, /HEIC/], 'repeated tile');
    assert.match(msg, /work|at most/i, msg);
  });

  test('a 10-bit single-picture HEIC of 20 MP is over the decoder\'s memory: refused from the header, naming the largest that fits', async () => {
    const file = rewrite('heic_8bit.heic', (items, p) => {
      items.get(p).props = items.get(p).props.map((x) => {
        if (propType(x) === 'ispe') return ispe(5000, 4000);
        if (propType(x) === 'hvcC') { const b = Buffer.from(x); b[8 + 17] = 0xf8 | 2; return b; }
        return x;
      });
      // Enough bytes that the work budget is not what refuses it.
      items.get(p).data = Buffer.concat([items.get(p).data, Buffer.alloc(4_000_000)]);
    });
    await refused(file, [/5000\s*[×x]\s*4000/, /at most \d+ MP/], 'memory');
  });

  test('an AV1 item with a hidden second frame: refused before it is decoded', async () => {
    const file = rewrite('avif_photo.avif', (items, p) => {
      const it = items.get(p);
      const f = obus(it.data).find((o) => o.type === 6 || o.type === 3);
      it.data = Buffer.concat([it.data, it.data.subarray(f.start, f.end)]);
    });
    await refused(file, [/AVIF/], 'hidden frame');
  });

  test('an HEVC tile holding a second picture is refused', async () => {
    const file = rewrite('heic_photo.heic', (items, p, h) => {
      // heif-enc writes this photo as a 1x1 grid: the picture is its tile.
      const tile = h.refs.find((r) => r.type === 'dimg' && r.from === p)?.to[0] ?? p;
      assert.equal(items.get(tile).type, 'hvc1');
      const it = items.get(tile);
      const slices = nalUnits(it.data).filter((n) => ((n[0] >> 1) & 0x3f) < 32);
      const len = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n.length); return Buffer.concat([b, n]); };
      it.data = Buffer.concat([it.data, ...slices.map(len)]);
    });
    await refused(file, [/HEIC/], 'two pictures');
  });

  test('an SPS coding more than its ispe is refused before libde265 allocates it', async () => {
    const file = rewrite('heic_8bit.heic', (items, p) => {
      items.get(p).props = items.get(p).props.map((x) => (propType(x) === 'ispe' ? ispe(64, 64) : x));
    });
    await refused(file, [/HEIC/], 'SPS');
  });

  test('grids with tiles missing, truncated files, garbage after ftyp: damaged', async () => {
    const missing = rewrite('heic_grid_p3_irot.heic', (items, p, h) => { h.refs.find((r) => r.type === 'dimg').to.pop(); });
    await refused(missing, [/HEIC/, /damaged|incomplete/i], 'missing tile');
    for (const name of ['avif_photo.avif', 'heic_photo.heic']) {
      const b = phone(name);
      await refused(b.subarray(0, Math.floor(b.length * 0.6)), [/damaged|incomplete/i], `${name} truncated`);
    }
    const junk = Buffer.concat([phone('avif_8bit.avif').subarray(0, 32), Buffer.alloc(200, 0xee)]);
    await refused(junk, [/AVIF/, /damaged|incomplete/i], 'junk');
  });

  test('the isolate that refused all of these still decodes', async () => {
    await expectStored(w, expectOk(await upload(w, { file: phone('heic_grid_p3_irot.heic') })));
    await expectStored(w, expectOk(await upload(w, { file: phone('avif_alpha.avif') })));
  });
});

describe('HEIC=off', { skip: SKIP, timeout: 120_000 }, () => {
  test('HEIC is refused with a message suggesting JPEG; AVIF still accepted; nothing changed', async () => {
    const w = await startWorker({ HEIC: 'off' });
    try {
      await seedUser(w.kv);
      const prev = await snapshot(w);
      const en = await upload(w, { file: phone('heic_photo.heic'), lang: 'en' });
      expectError(en, -1, [/HEIC/, /JPEG/]);
      assert.doesNotMatch(en.msg, ZH);
      const zh = await upload(w, { file: phone('heic_grid_p3_irot.heic') });
      expectError(zh, -1, [ZH, /HEIC/, /JPEG/]);
      await expectUnchanged(w, prev, 'HEIC off');
      await expectStored(w, expectOk(await upload(w, { file: phone('avif_photo.avif') })));
    } finally {
      await w.dispose();
    }
  });
});

describe('a decoder that runs out of its arena, or traps', { skip: SKIP || (TEST_BUILT ? false : 'test build missing'), timeout: 180_000 }, () => {
  // The test build (cargo feature test-hooks) gives a file holding
  // `AVATAR-EDGE-TEST-ARENA:<bytes>` (here in a `free` box, which every
  // HEIF reader skips) an arena of that many bytes instead of its estimate:
  // a decoder starved on purpose. libavif aborts on a failed allocation (a
  // trap, caught in js/phone.mjs); libde265 reports it or traps in
  // operator new.
  const starved = (name, bytes) => {
    const h = readHeif(phone(name));
    return writeHeif({ ...h, extra: [box('free', Buffer.from(`AVATAR-EDGE-TEST-ARENA:${bytes}`))] });
  };

  test('a -1 naming the image and its memory, the state unchanged, and the isolate serves on', async () => {
    const w = await startWorker({}, { build: TEST_BUILD });
    try {
      await seedUser(w.kv);
      await expectStored(w, expectOk(await upload(w, { file: fixture('orient-1.jpg') })));
      const before = await snapshot(w);
      for (const [name, kind, sizes] of [
        ['avif_photo.avif', /AVIF/, [1000, 1_500_000, 1_700_000, 2_000_000]],
        ['heic_photo.heic', /HEIC/, [1000, 1_200_000, 1_400_000, 1_700_000]],
      ]) {
        for (const bytes of sizes) {
          const r = await upload(w, { file: starved(name, bytes), lang: 'en' });
          expectError(r, -1, [kind]);
          await expectUnchanged(w, before, `${name} in ${bytes} B`);
        }
        // The same isolate decodes the same file with its own arena.
        await expectStored(w, expectOk(await upload(w, { file: phone(name) })));
        await w.r2.delete('uploads/user/1.webp');
        await expectStored(w, expectOk(await upload(w, { file: fixture('orient-1.jpg') })));
      }
    } finally {
      await w.dispose();
    }
  });

  test('with the heap filled to the ceiling, the arena itself cannot be had: -1, and the isolate serves on', async () => {
    // A fresh isolate: the fill takes the room under the ceiling as one
    // block, which a heap fragmented by earlier uploads may not have.
    const w = await startWorker({}, { build: TEST_BUILD });
    try {
      await seedUser(w.kv);
      const fill = Buffer.concat([phone('heic_photo.heic'), Buffer.from('AVATAR-EDGE-TEST-FILL:ceiling:100000')]);
      const r = await upload(w, { file: fill, lang: 'en' });
      expectError(r, -1, [/HEIC/, /memory/i]);
      await expectStored(w, expectOk(await upload(w, { file: phone('heic_photo.heic') })));
    } finally {
      await w.dispose();
    }
  });
});
