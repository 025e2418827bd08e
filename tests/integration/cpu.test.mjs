// Safety: "CPU and memory per upload are bounded by what the file
// contains, not by what its header claims: a tiny file never costs
// seconds." Each CPU bomb of tests/lib/cpu-bombs.mjs is uploaded through
// workerd and must be a -1 refusal in both languages with nothing
// changed; the legitimate files next to them (flat logos, screenshots, a
// 100 MP JPEG at its smallest, a real 100 MP photo) are still accepted.
// No assertion on time (bench/cpu-bound.mjs measures it): before the work
// budget and the truncation checks every bomb here was accepted (code 0)
// after 0.1 to 18 s of CPU.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { SKIP, startWorker, seedUser, snapshot, upload, fixture } from '../lib/worker.mjs';
import { expectOk, expectError, expectUnchanged, expectStored } from '../lib/expect.mjs';
import * as bombs from '../lib/cpu-bombs.mjs';

const HAN = /[\u4e00-\u9fff]/;
// A truncated JPEG is a damaged file.
const DAMAGED = { en: [/JPEG/, /damaged or incomplete/i], zh: [HAN, /JPEG/, /损坏或不完整/] };
// Too much work: names the file's size, its claim and what a file of that size may decode to.
const tooMuchWork = (format, w, h) => ({
  en: [new RegExp(`this [\\d.]+ (B|KB|MB) ${format} declares ${w}×${h} = `), /more work to decode than a file of its size may take/, new RegExp(`an? ${format} of this size may decode to at most [\\d.]+ MP`)],
  zh: [HAN, new RegExp(`${w}×${h}`), /计算量/, /最多可解码 [\d.]+ MP/],
});

const CASES = [
  ['the issue\'s 150-byte JPEG: 10000×10000 4:4:4, empty scan', () => bombs.jpegEmptyScan(), DAMAGED],
  ['the same with an Adobe segment (jpeg-decoder at 1/8)', () => bombs.jpegEmptyScan({ adobe: true }), DAMAGED],
  ['the same 4:1:1 (jpeg-decoder at 1/8)', () => bombs.jpegEmptyScan({ sampling: '4:1:1' }), DAMAGED],
  ['the same with a 300 px crop box (jpeg-decoder at 1/4)', () => bombs.jpegEmptyScan(), DAMAGED, { crop_x: 5000, crop_y: 5000, crop_w: 300, crop_h: 300 }],
  ['a 1.2 MB scan of 2 bits a block that still runs out', () => bombs.jpegShortScan(), DAMAGED],
  ['the same with an Adobe segment', () => bombs.jpegShortScan({ adobe: true }), DAMAGED],
  ['progressive 10000×10000, 64 empty DC scans', () => bombs.jpegDcRefinements(), DAMAGED],
  ['progressive 3400×3400 (Adobe), 63 empty AC scans', () => bombs.jpegAcScans({ width: 3400, height: 3400 }), DAMAGED],
  ['progressive 3400×3400 (Adobe), 63 AC scans of end-of-band runs', () => bombs.jpegAcScans({ width: 3400, height: 3400, ac: 'eobrun' }), tooMuchWork('JPEG', 3400, 3400)],
  ['the issue\'s 777 KB PNG: 10000×10000 RGBA 16-bit zeros', () => bombs.pngZeros(), tooMuchWork('PNG', 10000, 10000)],
  ['PNG 10000×10000 1-bit palette zeros (12 KB)', () => bombs.pngZeros({ bitDepth: 1, colorType: 3 }), tooMuchWork('PNG', 10000, 10000)],
  ['interlaced PNG 4000×4000 RGBA zeros', () => bombs.pngZeros({ width: 4000, height: 4000, bitDepth: 8, interlaced: true }), tooMuchWork('PNG', 4000, 4000)],
  ['GIF 4000×3500, LZW at its densest (8 KB)', () => bombs.gifLzw(), tooMuchWork('GIF', 4000, 3500)],
  ['the same GIF cut after 1 KB of LZW data', () => bombs.gifLzw({ cut: 1000 }), tooMuchWork('GIF', 4000, 3500)],
  ['lossless WebP 2800×2800 of one-symbol codes (34 B)', () => bombs.webpLosslessFlat({ width: 2800, height: 2800 }), tooMuchWork('WebP', 2800, 2800)],
  ['RLE BMP 4800×3700 that ends at once (1 KB)', () => bombs.bmpRleEmpty(), tooMuchWork('BMP', 4800, 3700)],
];

describe('CPU bombs are refused, in both languages, and change nothing', { skip: SKIP, timeout: 300_000 }, () => {
  let w;
  let prev;
  before(async () => {
    w = await startWorker();
    await seedUser(w.kv);
    const url = expectOk(await upload(w, { file: fixture('jpeg_baseline.jpg') }));
    await expectStored(w, url);
    prev = await snapshot(w);
  });
  after(() => w?.dispose());

  for (const [name, make, msg, fields = {}] of CASES) {
    test(name, async () => {
      const file = make();
      const en = await upload(w, { file, fields, lang: 'en' });
      expectError(en, -1, msg.en);
      assert.doesNotMatch(en.msg, HAN, `English message expected: ${en.msg}`);
      const zh = await upload(w, { file, fields });
      expectError(zh, -1, msg.zh);
      await expectUnchanged(w, prev, name);
    });
  }

  test('after all of them the same worker still takes a photo', async () => {
    const url = expectOk(await upload(w, { file: fixture('orient-1.jpg') }));
    await expectStored(w, url);
  });
});

describe('legitimate files next to the bombs are accepted', { skip: SKIP, timeout: 300_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker();
    await seedUser(w.kv);
  });
  after(() => w?.dispose());

  const solid = (width, height) => sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } });
  const accepted = [
    ['a solid-colour 2 MP PNG logo', () => solid(1632, 1224).png({ compressionLevel: 9 }).toBuffer()],
    ['a solid-colour 2 MP lossless WebP logo', () => solid(1632, 1224).webp({ lossless: true }).toBuffer()],
    ['a solid-colour 2 MP GIF logo', () => solid(1632, 1224).gif().toBuffer()],
    ['a 4K screenshot as lossless WebP', () => screenshot().then((s) => s.webp({ lossless: true }).toBuffer())],
    ['a 4K screenshot as PNG', () => screenshot().then((s) => s.png({ compressionLevel: 9 }).toBuffer())],
    ['a 100 MP baseline JPEG at its smallest (grey, 2 bits a block, 586 KB)', () => greyJpeg()],
    ['the same with a 300 px crop box (a coarser scale than the crop wanted)', () => greyJpeg(), { crop_x: 5000, crop_y: 4000, crop_w: 300, crop_h: 300 }],
    ['a 100 MP photo (12000×8333 JPEG q80)', () => photo100()],
    ['the same with a 1500 px crop box', () => photo100(), { crop_x: 5000, crop_y: 3000, crop_w: 1500, crop_h: 1500 }],
  ];
  for (const [name, make, fields = {}] of accepted) {
    test(name, async () => {
      const file = await make();
      assert.ok(file.length <= 20 * 1024 * 1024, `${file.length} B is over the upload limit`);
      const url = expectOk(await upload(w, { file, fields }));
      await expectStored(w, url);
    });
  }

  test('a progressive photo decoded at 1/2 is accepted; cut inside its last scan, it is refused as damaged', async () => {
    // 2000×1500: a 1500 px square for a 256 px avatar, decoded at 1/2 by
    // our progressive decoder, every scan read before a row is made.
    const file = await progressivePhoto(2000, 1500);
    const url = expectOk(await upload(w, { file }));
    await expectStored(w, url);
    const prev = await snapshot(w);
    const lastScan = file.lastIndexOf(Buffer.from([0xff, 0xda]));
    assert.ok(lastScan > 0, 'progressive JPEG has scans');
    const cut = file.subarray(0, lastScan + Math.floor((file.length - lastScan) / 2));
    for (const lang of ['en', 'zh']) {
      const r = await upload(w, { file: cut, lang });
      expectError(r, -1, DAMAGED[lang]);
    }
    await expectUnchanged(w, prev, 'cut progressive JPEG');
  });
});

/** A photo-like progressive JPEG (libjpeg's standard script, q90 4:2:0). */
async function progressivePhoto(width, height) {
  const { data, info } = await sharp(fixture('jpeg_baseline.jpg')).resize(width, height, { fit: 'fill' })
    .raw().toBuffer({ resolveWithObject: true });
  let seed = 777;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const v = data[i] + ((seed >>> 24) % 7) - 3;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return sharp(data, { raw: info }).jpeg({ quality: 90, chromaSubsampling: '4:2:0', progressive: true, mozjpeg: false }).toBuffer();
}

/** A screenshot-like 3840×2160 picture: flat panels, rules and text. */
function screenshot() {
  const rows = [];
  for (let y = 80, i = 0; y < 2120; y += 28, i++) {
    rows.push(`<text x="${320 + (i % 3) * 20}" y="${y}" font-family="sans-serif" font-size="18" fill="#222">Item ${i}: the quick brown fox jumps over the lazy dog ${(i * 7919) % 1000}</text>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="3840" height="2160"><rect width="100%" height="100%" fill="#f4f5f7"/>
    <rect width="100%" height="56" fill="#2b5797"/><rect x="0" y="56" width="260" height="2104" fill="#e8eaee"/>${rows.join('')}</svg>`;
  return Promise.resolve(sharp(Buffer.from(svg)));
}

function greyJpeg() {
  const data = Buffer.alloc(Math.ceil(bombs.jpegBlocks(12000, 8333, '4:2:0') / 4));
  return bombs.jpeg({ width: 12000, height: 8333, sampling: '4:2:0', dc: [[1, 0]], ac: [[1, 0]], scans: [{ comps: [1, 2, 3], ss: 0, se: 63, ah: 0, al: 0, data }] });
}

let photo100Cache;
/** A 100 MP photo: a fixture photograph scaled up, sharpened and grained like a camera's, JPEG q80 4:2:0. */
async function photo100() {
  photo100Cache ??= (async () => {
    const { data, info } = await sharp(fixture('jpeg_baseline.jpg')).resize(12000, 8333, { kernel: 'lanczos3' })
      .sharpen({ sigma: 1.2 }).raw().toBuffer({ resolveWithObject: true });
    let seed = 12345;
    for (let i = 0; i < data.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const v = data[i] + ((seed >>> 24) % 9) - 4;
      data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return sharp(data, { raw: info }).jpeg({ quality: 80, chromaSubsampling: '4:2:0' }).toBuffer();
  })();
  return photo100Cache;
}
