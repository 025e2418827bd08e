// SIMD code that native `cargo test` cannot run (it is compiled for wasm
// simd128 only) checked inside workerd: the test build (build-test/, cargo
// feature test-hooks) answers GET /api/__test/simd by running it against
// the scalar code it stands for.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_BUILD, SKIP_TEST_BUILD, startWorker, get } from '../lib/worker.mjs';


describe('wasm simd128 code agrees with the scalar code', { skip: SKIP_TEST_BUILD, timeout: 120_000 }, () => {
  test('the JPEG YCbCr -> RGB kernel, every (Y, Cb, Cr)', async () => {
    const w = await startWorker({}, { build: TEST_BUILD });
    try {
      const res = await get(w, '/api/__test/simd');
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const pixels = Number(/^ok: (\d+) pixels$/.exec(text)?.[1]);
      assert.ok(pixels >= 256 * 256 * 256, `too few pixels compared: ${text}`);
    } finally { await w.dispose(); }
  });
});
