// The heap's last line (src/heap.rs): an allocation refused with almost
// nothing left, by the ceiling or by wasm memory at its linker maximum, is
// a -1 refusal, and the isolate goes on serving. Uses the test build
// (build-test/, cargo feature test-hooks): a file ending with
// `AVATAR-EDGE-TEST-FILL:<ceiling|memory>:<n>` is processed with the heap
// filled to `n` bytes under the ceiling, or with wasm memory used up (see
// `imaging::test_hooks`), so the pipeline's first allocation of more than
// `n` bytes fails. Without the emergency reserve the panic that reports it
// cannot allocate either and the isolate aborts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TEST_BUILD, TEST_BUILT, SKIP_TEST_BUILD, BUILD_DIR, startWorker, seedUser, upload, fixture, snapshot } from '../lib/worker.mjs';
import { expectOk, expectError, expectStored, expectUnchanged } from '../lib/expect.mjs';
import { wasmMemoryLimits } from '../../scripts/wasm-memory.mjs';

// scripts/build.sh: -C link-arg=--max-memory=120 MiB, in 64 KiB pages.
const MAX_PAGES = (120 * 1024 * 1024) / 65536;

describe('wasm memory has a maximum', () => {
  for (const [name, dir] of [['production', BUILD_DIR], ['test', TEST_BUILT ? TEST_BUILD : null]]) {
    test(`${name} build: the module's memory may grow to 120 MiB, no more`, { skip: dir ? false : 'not built' }, () => {
      const limits = wasmMemoryLimits(readFileSync(path.join(dir, 'index_bg.wasm')));
      assert.equal(limits.maximum, MAX_PAGES, `memory limits ${JSON.stringify(limits)}`);
    });
  }
});

describe('allocation refused with under 100 bytes left', { skip: SKIP_TEST_BUILD, timeout: 180_000 }, () => {
  // png_rgb8.png: 150×100; anything after IEND is ignored by decoders.
  const withTrailer = (mode, leave) => Buffer.concat([fixture('png_rgb8.png'), Buffer.from(`AVATAR-EDGE-TEST-FILL:${mode}:${leave}`)]);

  for (const [mode, why] of [['ceiling', 'the heap ceiling'], ['memory', 'wasm memory at its maximum']]) {
    test(`refused by ${why}: -1 naming the image and the limit, three times over; the isolate serves on`, async () => {
      const w = await startWorker({}, { build: TEST_BUILD });
      try {
        await seedUser(w.kv);
        const url = expectOk(await upload(w, { file: fixture('orient-1.jpg') }));
        await expectStored(w, url);
        const before = await snapshot(w);
        for (let i = 0; i < 3; i++) {
          const en = await upload(w, { file: withTrailer(mode, 48), lang: 'en' });
          expectError(en, -1, [/150\s*[×x]\s*100/, /memory/i, /100 MB/]);
          await expectUnchanged(w, before, `${mode} refusal ${i}`);
        }
        const zh = await upload(w, { file: withTrailer(mode, 16) });
        expectError(zh, -1, [/[\u4e00-\u9fff]/, /100 MB/]);
        await expectUnchanged(w, before, `${mode} refusal (zh)`);
        // The same isolate still decodes and stores.
        const again = expectOk(await upload(w, { file: fixture('jpeg_baseline.jpg') }));
        await expectStored(w, again);
      } finally {
        await w.dispose();
      }
    });
  }
});
