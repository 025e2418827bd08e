// Contract: EXIF orientation is applied; the crop box is in upright pixels;
// a non-square box is centre-cropped to a square; no box = centre square.
// OUTPUT_FORMAT=png so colours are exact.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { SKIP, startWorker, seedUser, upload, fixture } from '../lib/worker.mjs';
import { expectOk, expectStored } from '../lib/expect.mjs';
import { decodeRGBA, regionMaxDiff, regionMean, gridMeans, gridDiff, fmtGrid } from '../lib/images.mjs';

const RED = [255, 0, 0], GREEN = [0, 255, 0], BLUE = [0, 0, 255], WHITE = [255, 255, 255];

describe('orientation and crop (PNG output)', { skip: SKIP, timeout: 240_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker({ OUTPUT_FORMAT: 'png' });
    await seedUser(w.kv);
  });
  after(() => w?.dispose());

  async function avatar(file, fields) {
    const r = await upload(w, { file, fields });
    const { bytes } = await expectStored(w, expectOk(r), { format: 'png' });
    return decodeRGBA(bytes);
  }

  /** Inner part of each quadrant (away from edges, where the filter rings). */
  function expectQuadrants(img, want, label) {
    const boxes = { tl: [24, 24, 104, 104], tr: [152, 24, 232, 104], bl: [24, 152, 104, 232], br: [152, 152, 232, 232] };
    const bad = [];
    for (const [q, box] of Object.entries(boxes)) {
      const { worst, at } = regionMaxDiff(img, ...box, want[q]);
      if (worst > 40) bad.push(`${q}: want ${want[q]}, mean ${regionMean(img, ...box).slice(0, 3).map(Math.round)}, worst pixel ${JSON.stringify(at)}`);
    }
    assert.deepEqual(bad, [], `${label}: quadrant colours wrong\n${bad.join('\n')}`);
  }

  for (let o = 1; o <= 8; o++) {
    test(`EXIF orientation ${o}: upright TL red, TR green, BL blue, BR white`, async () => {
      const img = await avatar(fixture(`orient-${o}.jpg`));
      expectQuadrants(img, { tl: RED, tr: GREEN, bl: BLUE, br: WHITE }, `orient-${o}`);
    });
  }

  test('photo with orientation 6 comes out upright (colour grid)', async () => {
    const img = await avatar(fixture('jpeg_exif_orient6.jpg'));
    const { MANIFEST } = await import('../lib/worker.mjs');
    const want = MANIFEST['jpeg_exif_orient6.jpg'].grid;
    const got = gridMeans(img);
    const d = gridDiff(got, want);
    assert.ok(d.worst <= 12, `not upright? off by ${d.worst}\ngot:\n${fmtGrid(got)}\nwant:\n${fmtGrid(want)}`);
  });

  const solid = (img, colour, label) => {
    const { worst, at } = regionMaxDiff(img, 0, 0, 256, 256, colour);
    assert.ok(worst <= 48, `${label}: whole avatar should be ${colour}; worst pixel ${JSON.stringify(at)} (colour from outside the box?)`);
  };

  test('crop box on the red quadrant (48x32, not square) -> all red', async () => {
    solid(await avatar(fixture('orient-1.jpg'), { crop_x: 0, crop_y: 0, crop_w: 48, crop_h: 32 }), RED, 'red');
  });

  test('square crop box inside the green quadrant -> all green', async () => {
    solid(await avatar(fixture('orient-1.jpg'), { crop_x: 56, crop_y: 4, crop_w: 24, crop_h: 24 }), GREEN, 'green');
  });

  test('crop box in upright coordinates on orientation 6: white quadrant', async () => {
    solid(await avatar(fixture('orient-6.jpg'), { crop_x: 48, crop_y: 32, crop_w: 48, crop_h: 32 }), WHITE, 'white');
  });

  test('crop box in upright coordinates on orientation 8: blue quadrant', async () => {
    solid(await avatar(fixture('orient-8.jpg'), { crop_x: 0, crop_y: 32, crop_w: 48, crop_h: 32 }), BLUE, 'blue');
  });

  test('crop box in upright coordinates on orientation 5 (transpose): green quadrant', async () => {
    solid(await avatar(fixture('orient-5.jpg'), { crop_x: 52, crop_y: 2, crop_w: 40, crop_h: 28 }), GREEN, 'green');
  });

  test('tall box: centre square of a 32x64 box straddling red/blue is half red, half blue', async () => {
    // box x 8..40, y 0..64 -> square 32x32 at y 16..48: top half red, bottom half blue
    const img = await avatar(fixture('orient-1.jpg'), { crop_x: 8, crop_y: 0, crop_w: 32, crop_h: 64 });
    const top = regionMaxDiff(img, 0, 0, 256, 100, RED);
    const bottom = regionMaxDiff(img, 0, 156, 256, 256, BLUE);
    assert.ok(top.worst <= 48 && bottom.worst <= 48, `top ${JSON.stringify(top)} bottom ${JSON.stringify(bottom)}`);
  });

  test('box = the whole image is the same as no box (centre square)', async () => {
    const img = await avatar(fixture('orient-1.jpg'), { crop_x: 0, crop_y: 0, crop_w: 96, crop_h: 64 });
    expectQuadrants(img, { tl: RED, tr: GREEN, bl: BLUE, br: WHITE }, 'full box');
  });

  test('box touching the right and bottom edges is accepted', async () => {
    solid(await avatar(fixture('orient-1.jpg'), { crop_x: 64, crop_y: 32, crop_w: 32, crop_h: 32 }), WHITE, 'white');
  });

  for (const [label, box, extract] of [
    ['square box', { crop_x: 100, crop_y: 40, crop_w: 150, crop_h: 150 }, { left: 100, top: 40, width: 150, height: 150 }],
    ['wide box -> its centre square', { crop_x: 0, crop_y: 0, crop_w: 200, crop_h: 100 }, { left: 50, top: 0, width: 100, height: 100 }],
  ]) {
    test(`photo crop, ${label}: matches the same region cut by sharp`, async () => {
      const src = fixture('jpeg_baseline.jpg');
      const img = await avatar(src, box);
      const ref = await decodeRGBA(await sharp(src).extract(extract).resize(256, 256).png().toBuffer());
      const got = gridMeans(img), want = gridMeans(ref);
      const d = gridDiff(got, want);
      assert.ok(d.worst <= 12, `wrong region? off by ${d.worst}\ngot:\n${fmtGrid(got)}\nwant:\n${fmtGrid(want)}`);
    });
  }

  test('crop fields as form fields alongside unknown fields', async () => {
    const img = await avatar(fixture('orient-1.jpg'), { note: 'hello', crop_x: 0, crop_y: 0, crop_w: 48, crop_h: 32, foo: 'bar' });
    solid(img, RED, 'red with extra fields');
  });
});
