// SIMD code that native `cargo test` cannot run (it is compiled for wasm
// simd128 only) checked inside workerd: the test build (build-test/, cargo
// feature test-hooks) answers GET /api/__test/simd by running it against
// the scalar code it stands for.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_BUILD, SKIP_TEST_BUILD, startWorker, get } from '../lib/worker.mjs';


describe('wasm simd128 code agrees with the scalar code', { skip: SKIP_TEST_BUILD, timeout: 180_000 }, () => {
  let report;
  /**
   * How many cases the check `name` compared, after asserting that it
   * passed (`name: ok, N unit`) and that the whole report did.
   */
  const compared = (name, unit) => {
    const line = report.text.split('\n').find((l) => l.startsWith(`${name}: `));
    const passed = new RegExp(`: ok, (\\d+) ${unit}$`);
    assert.match(line ?? '', passed, report.text);
    assert.equal(report.status, 200, report.text);
    return Number(passed.exec(line)[1]);
  };
  before(async () => {
    const w = await startWorker({}, { build: TEST_BUILD });
    try {
      const res = await get(w, '/api/__test/simd');
      report = { status: res.status, text: await res.text() };
    } finally { await w.dispose(); }
  });

  test('the JPEG YCbCr -> RGB kernel, every (Y, Cb, Cr)', () => {
    const pixels = compared('jpeg colour kernel', 'pixels');
    assert.ok(pixels >= 256 * 256 * 256, `too few pixels compared: ${pixels}`);
  });

  test('the JPEG full-size inverse DCT (16-bit lanes, saturating), pseudo-random blocks', () => {
    const blocks = compared('jpeg 8x8 transform', 'blocks');
    assert.ok(blocks >= 4000, `too few blocks compared: ${blocks}`);
  });

  test('the JPEG 1/2-scale (4x4) inverse DCT, pseudo-random and overflowing blocks', () => {
    const blocks = compared('jpeg 4x4 transform', 'blocks');
    assert.ok(blocks >= 20_000, `too few blocks compared: ${blocks}`);
  });

  test('the JPEG 2x chroma stretch (across, across and down), every span of columns of short rows', () => {
    const spans = compared('jpeg chroma stretch', 'spans');
    // Rows of 1..=40 samples, four each, both stretches, every span.
    assert.ok(spans >= 100_000, `too few spans compared: ${spans}`);
  });

  test('PNG unfiltering (Sub, Average, Paeth; RGB and RGBA), every (left, above, above-left)', () => {
    const rows = compared('png unfilter', 'rows');
    // Three filters, two pixel sizes, every (left, above) pair, every
    // above-left spread over the lanes.
    assert.ok(rows >= 3 * 256 * 256 * (64 + 86), `too few rows compared: ${rows}`);
  });

  test('premultiplying transparent sRGB pixels, every (colour, alpha)', () => {
    const pixels = compared('premultiply', 'pixels');
    assert.ok(pixels >= 256 * 256, `too few pixels compared: ${pixels}`);
  });

  test('the fixed-point Lanczos resize (pairing, dot products, rows of eight), pseudo-random images', () => {
    const pixels = compared('lanczos fixed point', 'pixels');
    // Every small source with every small size, and three large crops.
    assert.ok(pixels >= 2 * (256 * 256 + 37 * 37 + 29 * 29), `too few pixels compared: ${pixels}`);
  });
});
