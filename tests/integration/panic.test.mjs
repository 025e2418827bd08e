// A panic in one request must not poison the isolate: the next upload in
// the same isolate succeeds. Uses the test build (build-test/, cargo feature
// test-hooks), the only one with the deliberate-panic route.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_BUILD, SKIP_TEST_BUILD, startWorker, seedUser, upload, fixture, get, readEnvelope } from '../lib/worker.mjs';
import { expectOk, expectStored } from '../lib/expect.mjs';


describe('isolate survives a panic', { skip: SKIP_TEST_BUILD, timeout: 120_000 }, () => {
  test('panic → envelope -1; then uploads succeed in the same isolate', async () => {
    const w = await startWorker({}, { build: TEST_BUILD });
    try {
      await seedUser(w.kv);
      expectOk(await upload(w, { file: fixture('orient-1.jpg') }));
      for (let i = 0; i < 3; i++) {
        const res = await get(w, '/api/__test/panic', { method: 'POST', headers: { 'Accept-Language': 'en' } });
        const r = await readEnvelope(res);
        assert.equal(r.status, 200, 'a panic is answered, not a 500');
        assert.equal(r.code, -1);
        assert.match(r.msg, /internal error/i);
        const url = expectOk(await upload(w, { file: fixture('jpeg_baseline.jpg') }));
        await expectStored(w, url);
      }
    } finally { await w.dispose(); }
  });

  test('the production build has no panic route', async () => {
    const w = await startWorker({});
    try {
      const r = await readEnvelope(await get(w, '/api/__test/panic', { method: 'POST', headers: { 'Accept-Language': 'en' } }));
      assert.equal(r.code, -1);
      assert.match(r.msg, /no such api/i, 'no panic route in production');
    } finally { await w.dispose(); }
  });
});
