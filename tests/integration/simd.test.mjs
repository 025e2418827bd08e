// SIMD code that native `cargo test` cannot run (it is compiled for wasm
// simd128 only) checked inside workerd: the test build (build-test/, cargo
// feature test-hooks) answers GET /api/__test/simd by running it against
// the scalar code it stands for.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, startWorker, get } from '../lib/worker.mjs';

const TEST_BUILD = path.join(REPO_ROOT, 'build-test');
const built = existsSync(path.join(TEST_BUILD, 'worker', 'shim.mjs'));
const SKIP = built || process.env.CI ? false : 'test build missing: BUILD_VARIANT=test bash scripts/build.sh';

describe('wasm simd128 code agrees with the scalar code', { skip: SKIP, timeout: 120_000 }, () => {
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
