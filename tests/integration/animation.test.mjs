// Animated avatars: an animated GIF or WebP becomes an animated WebP
// (ANIMATION=keep, the default), its first picture only with
// ANIMATION=first, an animation over a limit is refused naming it, and
// one whose file is too small for the work of its pictures becomes a still.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { SKIP, startWorker, seedUser, snapshot, upload, fixture, get } from '../lib/worker.mjs';
import { expectOk, expectError, expectUnchanged } from '../lib/expect.mjs';

/**
 * `frames` pictures of w×h alternating red and blue, as an animated
 * `format`; with `noise`, the top quarter of each is random grey levels
 * (a file of real size: flat frames are too small for their pictures'
 * work, and are kept as a still).
 */
async function animation(format, frames, { w = 32, h = 24, delay = 120, noise = false } = {}) {
  const raw = Buffer.alloc(w * h * 4 * frames);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < w * h; i++) {
      const v = Math.floor(Math.random() * 256);
      const px = noise && i < (w * h) / 4 ? [v, v, v, 255] : f % 2 ? [0, 0, 255, 255] : [255, 0, 0, 255];
      raw.set(px, (f * w * h + i) * 4);
    }
  }
  const img = sharp(raw, { raw: { width: w, height: h * frames, channels: 4, pageHeight: h } });
  const opts = { loop: 0, delay: Array(frames).fill(delay) };
  return format === 'gif' ? img.gif(opts).toBuffer() : img.webp({ ...opts, lossless: true }).toBuffer();
}

/** The stored avatar, read as sharp sees it. */
async function stored(w, url) {
  const res = await get(w, new URL(url).pathname + new URL(url).search);
  assert.equal(res.status, 200);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { bytes, meta: await sharp(bytes, { animated: true }).metadata() };
}

describe('animated avatars', { skip: SKIP, timeout: 120_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker({});
    await seedUser(w.kv);
  });
  after(() => w?.dispose());

  for (const format of ['gif', 'webp']) {
    test(`an animated ${format} becomes an animated WebP: every picture, its timing and looping`, async () => {
      const file = await animation(format, 4, { w: 128, h: 96, noise: true });
      const url = expectOk(await upload(w, { file, filename: `a.${format}` }));
      assert.match(url, /\/uploads\/user\/1\.webp\?v=/);
      const { bytes, meta } = await stored(w, url);
      assert.equal(meta.format, 'webp');
      assert.equal(meta.pages, 4, 'four pictures');
      assert.deepEqual(meta.delay, [120, 120, 120, 120]);
      assert.equal(meta.loop, 0, 'plays forever');
      assert.equal(meta.pageHeight, 256);
      // First picture red, second blue, at the centre.
      const frames = await sharp(bytes, { animated: true }).raw().toBuffer({ resolveWithObject: true });
      const ch = frames.info.channels;
      const px = (page, x, y) => [...frames.data.subarray(((page * 256 + y) * 256 + x) * ch, ((page * 256 + y) * 256 + x) * ch + 3)];
      assert.ok(px(0, 128, 128)[0] > 200 && px(0, 128, 128)[2] < 60, `${px(0, 128, 128)}`);
      assert.ok(px(1, 128, 128)[2] > 200 && px(1, 128, 128)[0] < 60, `${px(1, 128, 128)}`);
    });
  }

  test('the repository\'s tiny animated GIF: a still at 256 px, animated at AVATAR_SIZE=32', async () => {
    const file = fixture('gif_animated.gif');
    const big = await stored(w, expectOk(await upload(w, { file, filename: 'a.gif' })));
    assert.equal(big.meta.pages ?? 1, 1, `${file.length} B is too small for its pictures at 256 px`);
    const small = await startWorker({ AVATAR_SIZE: '32' });
    try {
      await seedUser(small.kv);
      const { meta } = await stored(small, expectOk(await upload(small, { file, filename: 'a.gif' })));
      assert.ok(meta.pages > 1, `${meta.pages} pictures`);
    } finally { await small.dispose(); }
  });

  test('a small file of many flat pictures becomes a still (their encoding is more work than its size allows)', async () => {
    const file = await animation('gif', 60, { w: 32, h: 24, delay: 10 });
    assert.ok(file.length < 4096, `${file.length} B`);
    const res = await upload(w, { file, filename: 'a.gif' });
    const { meta } = await stored(w, expectOk(res));
    assert.equal(meta.pages ?? 1, 1, 'kept as a still');
  });

  test('over the picture limit: -1 naming the limit and what to do, in zh and en, nothing changed', async () => {
    const before = await snapshot(w);
    const file = await animation('gif', 101, { w: 8, h: 8, delay: 50 });
    const en = await upload(w, { file, filename: 'a.gif', lang: 'en' });
    expectError(en, -1, [/101 pictures/, /at most 100/, /still image/, /ANIMATION=first/]);
    const zh = await upload(w, { file, filename: 'a.gif' });
    expectError(zh, -1, [/101 帧/, /最多 100 帧/, /静态图片/]);
    await expectUnchanged(w, before);
  });
});

describe('ANIMATION=first', { skip: SKIP, timeout: 60_000 }, () => {
  test('keeps the first picture, a still WebP; the limit does not apply', async () => {
    const w = await startWorker({ ANIMATION: 'first' });
    try {
      await seedUser(w.kv);
      const { meta } = await stored(w, expectOk(await upload(w, { file: await animation('gif', 101, { w: 8, h: 8 }), filename: 'a.gif' })));
      assert.equal(meta.pages ?? 1, 1);
    } finally { await w.dispose(); }
  });
});
