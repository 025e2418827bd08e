// Storage faults lose nothing, and concurrent uploads converge.
//
// Faults are injected by tests/lib/fault-wrapper.mjs, a test-only entry that
// wraps the built worker's KV and R2 bindings; production has no such path.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { SKIP, REPO_ROOT, startWorker, seedUser, snapshot, upload, fixture, getProfile, get } from '../lib/worker.mjs';
import { expectOk, expectError, expectUnchanged, expectStored } from '../lib/expect.mjs';

const WRAPPER = path.join(REPO_ROOT, 'tests', 'lib', 'fault-wrapper.mjs');

/** A worker whose bindings fail as `faults` says, with one good avatar stored. */
async function withPreviousAvatar(faults) {
  const w = await startWorker({ FAULTS: faults }, { entry: WRAPPER });
  await seedUser(w.kv);
  const url = expectOk(await upload(w, { file: fixture('orient-1.jpg') }));
  await expectStored(w, url);
  return { w, before: await snapshot(w) };
}

describe('storage faults change nothing', { skip: SKIP, timeout: 120_000 }, () => {
  test('R2 put fails: -1, previous avatar and profile intact', async () => {
    const { w, before } = await withPreviousAvatar('AVATARS.put@2');
    try {
      const r = await upload(w, { file: fixture('jpeg_baseline.jpg'), lang: 'en' });
      expectError(r, -1, /sav|image write/i);
      await expectUnchanged(w, before, 'after a failed R2 put');
    } finally { await w.dispose(); }
  });

  test('KV profile write fails after the R2 put: -1, the previous image is put back', async () => {
    const { w, before } = await withPreviousAvatar('USERS.put@2');
    try {
      const r = await upload(w, { file: fixture('jpeg_baseline.jpg'), lang: 'en' });
      expectError(r, -1, /profile write/i);
      await expectUnchanged(w, before, 'after a failed profile write');
    } finally { await w.dispose(); }
  });

  test('KV profile write fails on the first upload: -1, the new image is removed', async () => {
    const w = await startWorker({ FAULTS: 'USERS.put' }, { entry: WRAPPER });
    try {
      await seedUser(w.kv);
      const before = await snapshot(w);
      const r = await upload(w, { file: fixture('jpeg_baseline.jpg'), lang: 'en' });
      expectError(r, -1, /profile write/i);
      await expectUnchanged(w, before, 'no stray object');
    } finally { await w.dispose(); }
  });

  test('KV reads fail: 1001 (the login cannot be checked), nothing changed', async () => {
    const w = await startWorker({ FAULTS: 'USERS.get' }, { entry: WRAPPER });
    try {
      await seedUser(w.kv);
      const before = await snapshot(w);
      const r = await upload(w, { file: fixture('jpeg_baseline.jpg'), lang: 'en' });
      expectError(r, 1001, /retry|could not be checked/i);
      await expectUnchanged(w, before);
    } finally { await w.dispose(); }
  });

  test('R2 read of the previous image fails: -1 before anything is written', async () => {
    const { w, before } = await withPreviousAvatar('AVATARS.get@2');
    try {
      const r = await upload(w, { file: fixture('jpeg_baseline.jpg'), lang: 'en' });
      expectError(r, -1, /image read/i);
      await expectUnchanged(w, before);
    } finally { await w.dispose(); }
  });
});

describe('concurrent uploads by one user', { skip: SKIP, timeout: 180_000 }, () => {
  test('20 at once: every request gets an envelope; the profile URL serves its own image; no stray objects', async () => {
    const w = await startWorker({ OUTPUT_FORMAT: 'png', AVATAR_SIZE: '64' });
    try {
      await seedUser(w.kv);
      // 20 different images: crops of one photo at different offsets.
      const photo = fixture('jpeg_baseline.jpg');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => upload(w, {
        file: photo,
        fields: { crop_x: i * 4, crop_y: 0, crop_w: 64, crop_h: 64 },
      })));
      const versions = new Set();
      for (const r of results) {
        assert.ok([0, -1].includes(r.code), `envelope code ${r.code}: ${JSON.stringify(r.body)}`);
        if (r.code === 0) versions.add(new URL(r.data.avatar_url).searchParams.get('v'));
      }
      assert.ok(versions.size >= 1, 'at least one upload succeeded');

      const { objects } = await snapshot(w);
      assert.deepEqual(Object.keys(objects), ['uploads/user/1.png'], 'only the one avatar key exists');

      const url = (await getProfile(w.kv)).avatar_url;
      const v = new URL(url).searchParams.get('v');
      assert.ok(versions.has(v), `profile URL ${url} is one of the uploads`);
      const res = await get(w, new URL(url).pathname + new URL(url).search);
      assert.equal(res.status, 200);
      const bytes = Buffer.from(await res.arrayBuffer());
      const served = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
      assert.equal(served, v, 'the profile URL serves exactly the image its version names');
      assert.match(res.headers.get('cache-control'), /immutable/, 'a matching version is cached long');
    } finally { await w.dispose(); }
  });
});
