// SIMD code that native `cargo test` cannot run (it is compiled for wasm
// simd128 only) checked inside workerd: the test build (build-test/, cargo
// feature test-hooks) answers GET /api/__test/simd by running it against
// the scalar code it stands for.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_BUILD, SKIP_TEST_BUILD, startWorker, get } from '../lib/worker.mjs';


describe('wasm simd128 code agrees with the scalar code', { skip: SKIP_TEST_BUILD, timeout: 180_000 }, () => {
  let report;
  before(async () => {
    const w = await startWorker({}, { build: TEST_BUILD });
    try {
      const res = await get(w, '/api/__test/simd');
      report = { status: res.status, text: await res.text() };
    } finally { await w.dispose(); }
  });

  test('the JPEG YCbCr -> RGB kernel, every (Y, Cb, Cr)', () => {
    const line = report.text.split('\n').find((l) => l.startsWith('jpeg colour kernel: '));
    assert.match(line ?? '', /: ok, \d+ pixels$/, report.text);
    const pixels = Number(/ok, (\d+) pixels$/.exec(line)[1]);
    assert.ok(pixels >= 256 * 256 * 256, `too few pixels compared: ${line}`);
  });

  test('the JPEG full-size inverse DCT (16-bit lanes, saturating), pseudo-random blocks', () => {
    const line = report.text.split('\n').find((l) => l.startsWith('jpeg 8x8 transform: '));
    assert.match(line ?? '', /: ok, \d+ blocks$/, report.text);
    const blocks = Number(/ok, (\d+) blocks$/.exec(line)[1]);
    assert.ok(blocks >= 4000, `too few blocks compared: ${line}`);
    assert.equal(report.status, 200, report.text);
  });

  test('the JPEG 1/2-scale (4x4) inverse DCT, pseudo-random and overflowing blocks', () => {
    const line = report.text.split('\n').find((l) => l.startsWith('jpeg 4x4 transform: '));
    assert.match(line ?? '', /: ok, \d+ blocks$/, report.text);
    const blocks = Number(/ok, (\d+) blocks$/.exec(line)[1]);
    assert.ok(blocks >= 20_000, `too few blocks compared: ${line}`);
    assert.equal(report.status, 200, report.text);
  });

  test('the JPEG 2x chroma stretch (across, across and down), every span of columns of short rows', () => {
    const line = report.text.split('\n').find((l) => l.startsWith('jpeg chroma stretch: '));
    assert.match(line ?? '', /: ok, \d+ spans$/, report.text);
    const spans = Number(/ok, (\d+) spans$/.exec(line)[1]);
    // Rows of 1..=40 samples, four each, both stretches, every span.
    assert.ok(spans >= 100_000, `too few spans compared: ${line}`);
    assert.equal(report.status, 200, report.text);
  });

  test('PNG unfiltering (Sub, Average, Paeth; RGB and RGBA), every (left, above, above-left)', () => {
    const line = report.text.split('\n').find((l) => l.startsWith('png unfilter: '));
    assert.match(line ?? '', /: ok, \d+ rows$/, report.text);
    const rows = Number(/ok, (\d+) rows$/.exec(line)[1]);
    // Three filters, two pixel sizes, every (left, above) pair, every
    // above-left spread over the lanes.
    assert.ok(rows >= 3 * 256 * 256 * (64 + 86), `too few rows compared: ${line}`);
    assert.equal(report.status, 200, report.text);
  });

  test('premultiplying transparent sRGB pixels, every (colour, alpha)', () => {
    const line = report.text.split('\n').find((l) => l.startsWith('premultiply: '));
    assert.match(line ?? '', /: ok, \d+ pixels$/, report.text);
    const pixels = Number(/ok, (\d+) pixels$/.exec(line)[1]);
    assert.ok(pixels >= 256 * 256, `too few pixels compared: ${line}`);
    assert.equal(report.status, 200, report.text);
  });
});
