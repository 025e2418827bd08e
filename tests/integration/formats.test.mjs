// Contract: "What a successful upload does", steps 1-6, for every accepted
// input format and every output format.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { SKIP, MANIFEST, PROFILE, startWorker, seedUser, upload, fixture, getProfile, get, readEnvelope } from '../lib/worker.mjs';
import { mintToken } from '../lib/token.mjs';
import { expectOk, expectStored } from '../lib/expect.mjs';
import { decodeRGBA, gridMeans, gridDiff, fmtGrid, regionMean, webpInfo, pngInfo, jpegInfo, containsBytes } from '../lib/images.mjs';

const ACCEPTED = Object.entries(MANIFEST).filter(([, m]) => m.expect === 'accept');
const PHOTOS = ['jpeg_baseline.jpg', 'jpeg_progressive.jpg', 'jpeg_gray.jpg', 'png_rgb8.png', 'webp_lossy.webp'];
const SECRETS = ['SECRET', 'FixtureCam'];

// A misleading name and type for every upload: the content decides.
const DISGUISE = { filename: 'avatar.jpg', type: 'image/jpeg' };

describe('accepted formats, default output (WebP 256)', { skip: SKIP, timeout: 240_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker();
    await seedUser(w.kv);
  });
  after(() => w?.dispose());

  for (const [name, m] of ACCEPTED) {
    test(`${name} (${m.format}${m.alpha ? ', alpha' : ''}) -> 256x256 WebP, profile updated`, async () => {
      const r = await upload(w, { file: fixture(name), ...DISGUISE });
      const url = expectOk(r);
      assert.equal(r.msg, '上传成功');
      const { bytes } = await expectStored(w, url);
      const info = webpInfo(bytes);
      assert.ok(info.consistent, 'RIFF size matches the file');
      if (m.alpha) {
        assert.ok(info.alpha, `transparency lost: chunks ${JSON.stringify(info.chunks)}`);
        const img = await decodeRGBA(bytes);
        assert.ok(img.data[3] < 16, `top-left corner should stay transparent, alpha ${img.data[3]}`);
        const c = regionMean(img, 112, 112, 144, 144);
        assert.ok(c[3] > 240, `centre should be opaque, alpha ${c[3]}`);
      }
      for (const s of SECRETS) assert.ok(!containsBytes(bytes, s), `metadata "${s}" leaked into the avatar`);
      assert.ok(!info.chunks.some((c) => c.tag === 'EXIF' || c.tag === 'XMP '), `metadata chunks: ${JSON.stringify(info.chunks)}`);
    });
  }

  test('file name and declared type do not matter: a PNG sent as "x.gif", text/plain', async () => {
    const r = await upload(w, { file: fixture('png_rgb8.png'), filename: 'x.gif', type: 'text/plain' });
    await expectStored(w, expectOk(r));
  });

  test('a part without filename or type still counts as the file', async () => {
    const form = new FormData();
    form.append('file', new Blob([fixture('orient-1.jpg')]));
    form.append('other', 'ignored');
    const res = await fetch(new URL('/api/user/avatar', w.url), { method: 'POST', body: form, headers: { Token: mintToken() } });
    await expectStored(w, expectOk(await readEnvelope(res)));
  });

  for (const name of PHOTOS) {
    test(`photo ${name}: lossy WebP costing about what libwebp spends at q85`, async () => {
      const r = await upload(w, { file: fixture(name) });
      const { bytes } = await expectStored(w, expectOk(r));
      const info = webpInfo(bytes);
      assert.ok(info.lossy && !info.lossless, `photo avatar should be lossy VP8, chunks ${JSON.stringify(info.chunks)}`);
      const ref = await sharp(fixture(name)).rotate().resize(256, 256, { fit: 'cover' }).webp({ quality: 85 }).toBuffer();
      assert.ok(bytes.length <= 2.5 * ref.length, `avatar ${bytes.length} B vs libwebp q85 ${ref.length} B`);
    });
  }

  test('the URL changes with every new image; re-uploading replaces the object', async () => {
    const urls = [];
    const objs = [];
    for (const name of ['jpeg_baseline.jpg', 'png_rgb8.png', 'jpeg_progressive.jpg']) {
      const url = expectOk(await upload(w, { file: fixture(name) }));
      const { bytes } = await expectStored(w, url);
      urls.push(url);
      objs.push(bytes.toString('base64'));
    }
    assert.equal(new Set(urls).size, 3, `URLs must differ: ${urls.join(' ')}`);
    assert.equal(new Set(objs).size, 3, 'stored bytes must differ');
    const list = await w.r2.list();
    assert.deepEqual(list.objects.map((o) => o.key), ['uploads/user/1.webp'], 'one object per user');
  });

  test('unknown profile fields are kept verbatim (big integers, decimals, nesting, unicode)', async () => {
    const raw = String.raw`{"id":77,"user_name":"carol","status":1,"avatar_url":null,"balance":12345678901234567890,`
      + String.raw`"price":1.50,"ratio":-0.0,"tags":["a","\u00e9",null],"deep":{"x":{"y":[1,{"z":false}]}},"note":"line\nbreak \u4e2d"}`;
    await w.kv.put('user:77', raw);
    const url = expectOk(await upload(w, { file: fixture('orient-1.jpg'), token: mintToken({ userId: 77 }) }));
    assert.equal(await w.kv.get('user:77'), raw, 'the stored profile is not rewritten at all');
    // The profile the worker shows: every field as stored, the avatar new.
    const res = await get(w, '/api/user/detail', { headers: { Token: mintToken({ userId: 77 }) } });
    const shown = await res.text();
    for (const piece of ['12345678901234567890', '"deep":{"x":{"y":[1,{"z":false}]}}', '"user_name":"carol"', '"tags":["a",']) {
      assert.ok(shown.includes(piece), `detail lost ${piece}: ${shown}`);
    }
    assert.ok(/"price":1\.50?\b/.test(shown), `price changed: ${shown}`);
    assert.deepEqual(JSON.parse(shown).data, { ...JSON.parse(raw), avatar_url: url });
  });

  test('another user gets their own key, profile and URL', async () => {
    await seedUser(w.kv, { id: 42, user_name: 'bob', extra: { y: [1, 2] } });
    const before1 = await getProfile(w.kv, 1);
    const r = await upload(w, { file: fixture('jpeg_gray.jpg'), token: mintToken({ userId: 42 }) });
    await expectStored(w, expectOk(r), { id: 42, profile: { ...PROFILE, id: 42, user_name: 'bob', extra: { y: [1, 2] } } });
    assert.deepEqual(await getProfile(w.kv, 1), before1, 'user 1 untouched');
  });
});

describe('pixels: OUTPUT_FORMAT=png (exact colours, orientation, ICC, alpha)', { skip: SKIP, timeout: 240_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker({ OUTPUT_FORMAT: 'png' });
    await seedUser(w.kv);
  });
  after(() => w?.dispose());

  for (const [name, m] of ACCEPTED) {
    test(`${name}: upright sRGB centre square${m.alpha ? ' with transparency' : ''}`, async () => {
      const r = await upload(w, { file: fixture(name), ...DISGUISE });
      const { bytes } = await expectStored(w, expectOk(r), { format: 'png' });
      const info = pngInfo(bytes);
      const meta = info.chunks.filter((c) => ['eXIf', 'tEXt', 'zTXt', 'iTXt', 'tIME'].includes(c.tag));
      assert.deepEqual(meta, [], 'no metadata chunks in the avatar');
      for (const s of SECRETS) assert.ok(!containsBytes(bytes, s), `metadata "${s}" leaked`);
      const img = await decodeRGBA(bytes);
      if (m.grid) {
        const got = gridMeans(img);
        const d = gridDiff(got, m.grid);
        assert.ok(d.worst <= m.tolerance,
          `colours off by ${d.worst.toFixed(1)} (tolerance ${m.tolerance}) at ${JSON.stringify(d.at)}\ngot:\n${fmtGrid(got)}\nwant:\n${fmtGrid(m.grid)}`);
        const opaque = regionMean(img, 0, 0, 256, 256)[3];
        assert.ok(opaque > 254, `opaque source must stay opaque (mean alpha ${opaque})`);
      } else {
        assert.ok(info.alpha, `alpha lost: colour type ${info.colorType}`);
        for (const [x, y] of [[0, 0], [255, 0], [0, 255], [255, 255]]) {
          const a = img.data[(y * 256 + x) * 4 + 3];
          assert.ok(a < 8, `corner (${x},${y}) should be transparent, alpha ${a}`);
        }
        const c = regionMean(img, 96, 96, 160, 160);
        assert.ok(c[3] > 250, `centre opaque, alpha ${c[3]}`);
        for (let i = 0; i < 3; i++) assert.ok(Math.abs(c[i] - m.colour[i]) < 12, `centre colour ${c.map(Math.round)} want ${m.colour}`);
      }
    });
  }

  test('resampling: a fine zone plate shows no aliasing (compared with Lanczos3)', async () => {
    // 1024x1024 gray zone plate: frequencies rise towards the edges far past
    // the 256 px output's Nyquist limit; a good filter turns those parts into
    // flat gray, a poor one (nearest, unfiltered bilinear) into moire rings.
    const N = 1024;
    const raw = Buffer.alloc(N * N);
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) {
        const dx = x - N / 2, dy = y - N / 2;
        raw[y * N + x] = Math.round(127.5 + 127.5 * Math.cos((Math.PI * (dx * dx + dy * dy)) / (N * 1.0)));
      }
    }
    const src = await sharp(raw, { raw: { width: N, height: N, channels: 1 } }).png().toBuffer();
    const r = await upload(w, { file: src });
    const { bytes } = await expectStored(w, expectOk(r), { format: 'png' });
    const out = await decodeRGBA(bytes);
    const ref = await decodeRGBA(await sharp(src).resize(256, 256, { kernel: 'lanczos3' }).png().toBuffer());
    // Local frequency at source radius r is r/1024 cycles/px. The output ring
    // 100..127 px is source radius 400..508: 0.39..0.5 cycles/px, 3-4x the
    // output's Nyquist (0.125 cycles per source px); it must be near-flat gray.
    // Aliasing shows as ripples, so measure the spread around the band's own
    // mean: with RESIZE_SPACE=linear the flat gray is rightly brighter than
    // sRGB 127.5 (a DC shift, not aliasing).
    const ripple = (img) => {
      let s = 0, s2 = 0, n = 0;
      for (let y = 0; y < 256; y++) {
        for (let x = 0; x < 256; x++) {
          const r2 = (x - 128) ** 2 + (y - 128) ** 2;
          if (r2 < 100 * 100 || r2 > 127 * 127) continue;
          const v = img.data[(y * 256 + x) * 4];
          s += v; s2 += v * v; n++;
        }
      }
      const mean = s / n;
      return Math.sqrt(Math.max(0, s2 / n - mean * mean));
    };
    const got = ripple(out), want = ripple(ref);
    assert.ok(got <= Math.max(2 * want, want + 8), `aliasing: ripple RMS ${got.toFixed(1)} in the over-Nyquist band; Lanczos3 gives ${want.toFixed(1)}`);
  });
});

describe('other output settings', { skip: SKIP, timeout: 240_000 }, () => {
  test('OUTPUT_FORMAT=jpeg, AVATAR_SIZE=128, PUBLIC_BASE_URL: .jpg key, image/jpeg, 128x128, URL on that origin, no metadata', async () => {
    const w = await startWorker({ OUTPUT_FORMAT: 'jpeg', AVATAR_SIZE: '128', PUBLIC_BASE_URL: 'https://cdn.example.com/', OUTPUT_QUALITY: '80' });
    try {
      await seedUser(w.kv);
      const r = await upload(w, { file: fixture('jpeg_gps_exif.jpg') });
      const url = expectOk(r);
      const { bytes } = await expectStored(w, url, { format: 'jpeg', size: 128, origin: 'https://cdn.example.com' });
      const info = jpegInfo(bytes);
      const meta = info.markers.filter((x) => x.marker === 0xfe || (x.marker === 0xe1) || x.marker === 0xed);
      assert.deepEqual(meta, [], `metadata markers (APP1/APP13/COM) in the avatar: ${JSON.stringify(meta)}`);
      for (const s of SECRETS) assert.ok(!containsBytes(bytes, s), `metadata "${s}" leaked`);
      // the RGBA circle flattens to something sensible (no failure for JPEG output)
      const r2 = await upload(w, { file: fixture('png_rgba_circle.png') });
      await expectStored(w, expectOk(r2), { format: 'jpeg', size: 128, origin: 'https://cdn.example.com' });
    } finally {
      await w.dispose();
    }
  });

  test('RESIZE_SPACE: srgb (default) averages code values, linear averages light', async () => {
    // A 1-px black/white checkerboard: mean code value 127.5, mean light
    // 50 % (sRGB ≈ 188).
    const N = 512;
    const raw = Buffer.alloc(N * N);
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) raw[y * N + x] = (x + y) % 2 ? 255 : 0;
    const src = await sharp(raw, { raw: { width: N, height: N, channels: 1 } }).png().toBuffer();
    for (const [vars, lo, hi] of [[{}, 120, 136], [{ RESIZE_SPACE: 'linear' }, 180, 196]]) {
      const w = await startWorker({ OUTPUT_FORMAT: 'png', ...vars });
      try {
        await seedUser(w.kv);
        const { bytes } = await expectStored(w, expectOk(await upload(w, { file: src })), { format: 'png' });
        const out = await decodeRGBA(bytes);
        for (const [x, y] of [[40, 40], [128, 128], [200, 90]]) {
          const v = out.data[(y * 256 + x) * 4];
          assert.ok(v >= lo && v <= hi, `${JSON.stringify(vars)}: grey ${v} at ${x},${y}, want ${lo}..${hi}`);
        }
      } finally {
        await w.dispose();
      }
    }
  });

  test('OUTPUT_FORMAT=webp explicitly and AVATAR_SIZE=64; PUBLIC_BASE_URL without trailing slash', async () => {
    const w = await startWorker({ OUTPUT_FORMAT: 'webp', AVATAR_SIZE: '64', PUBLIC_BASE_URL: 'https://img.example.org' });
    try {
      await seedUser(w.kv);
      const url = expectOk(await upload(w, { file: fixture('webp_lossy.webp') }));
      await expectStored(w, url, { size: 64, origin: 'https://img.example.org' });
    } finally {
      await w.dispose();
    }
  });

  test('a 100 MP JPEG within the byte limit is accepted (large but legal)', { timeout: 240_000 }, async () => {
    const w = await startWorker({ OUTPUT_FORMAT: 'png' });
    try {
      await seedUser(w.kv);
      // 40x40 random colour blocks blown up to 10000x10000 (exactly 100 MP)
      const small = Buffer.alloc(40 * 40 * 3);
      let seed = 12345;
      for (let i = 0; i < small.length; i++) { seed = (seed * 1103515245 + 12345) & 0x7fffffff; small[i] = (seed >> 16) & 0xff; }
      const smallPng = await sharp(small, { raw: { width: 40, height: 40, channels: 3 } }).png().toBuffer();
      const big = await sharp(smallPng).resize(10000, 10000, { kernel: 'nearest' }).jpeg({ quality: 70 }).toBuffer();
      assert.ok(big.length < 20 * 1024 * 1024, `generated ${big.length} B`);
      const r = await upload(w, { file: big });
      const { bytes } = await expectStored(w, expectOk(r), { format: 'png' });
      const want = gridMeans(await decodeRGBA(await sharp(smallPng).resize(256, 256, { kernel: 'nearest' }).png().toBuffer()), 8);
      const got = gridMeans(await decodeRGBA(bytes), 8);
      const d = gridDiff(got, want);
      assert.ok(d.worst < 25, `100 MP result off by ${d.worst} at ${JSON.stringify(d.at)}`);
    } finally {
      await w.dispose();
    }
  });
});
