// Storage faults lose nothing, and concurrent uploads converge.
//
// Faults are injected by tests/lib/fault-wrapper.mjs, a test-only entry that
// wraps the built worker's KV and R2 bindings; production has no such path.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { SKIP, REPO_ROOT, PROFILE, startWorker, seedUser, snapshot, upload, fixture, get, readEnvelope, until } from '../lib/worker.mjs';
import { mintToken } from '../lib/token.mjs';
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

  test('R2 put lands but its answer is lost: the upload counts as done (0) and shows', async () => {
    const { w } = await withPreviousAvatar('AVATARS.put@2:landed');
    try {
      const url = expectOk(await upload(w, { file: fixture('jpeg_baseline.jpg'), lang: 'en' }));
      await expectStored(w, url);
    } finally { await w.dispose(); }
  });

  test('an upload writes nothing to KV: with every KV write failing it still succeeds, the profile untouched', async () => {
    const w = await startWorker({ FAULTS: 'USERS.put' }, { entry: WRAPPER });
    try {
      await seedUser(w.kv);
      const url = expectOk(await upload(w, { file: fixture('jpeg_baseline.jpg'), lang: 'en' }));
      await expectStored(w, url);
    } finally { await w.dispose(); }
  });

  test('KV reads fail: -1 "try again" (never 1001, which logs AnqiCMS members out), nothing changed', async () => {
    const w = await startWorker({ FAULTS: 'USERS.get' }, { entry: WRAPPER });
    try {
      await seedUser(w.kv);
      const before = await snapshot(w);
      const r = await upload(w, { file: fixture('jpeg_baseline.jpg'), lang: 'en' });
      expectError(r, -1, /could not be checked.*try again/i);
      await expectUnchanged(w, before);
      const zh = await upload(w, { file: fixture('jpeg_baseline.jpg') });
      expectError(zh, -1, /稍后重试/);
      const detail = await readEnvelope(await get(w, '/api/user/detail', { headers: { Token: mintToken(), 'Accept-Language': 'en' } }));
      expectError(detail, -1, /try again/i);
    } finally { await w.dispose(); }
  });
});

describe('an upload changes the avatar and nothing else', { skip: SKIP, timeout: 120_000 }, () => {
  test('a ban and a profile edit written during a slow upload survive it', async () => {
    // The R2 put takes 3 s; meanwhile an operator bans the member and edits the profile.
    const w = await startWorker({ FAULTS: 'AVATARS.put:delay=3000' }, { entry: WRAPPER });
    try {
      await seedUser(w.kv);
      let settled = false;
      const pending = upload(w, { file: fixture('jpeg_baseline.jpg'), lang: 'en' }).finally(() => { settled = true; });
      // Banned once the upload is past its checks and into the slow put
      // (a fixed pause could end before the check on a loaded machine).
      await until('the upload to reach the R2 put', () => w.kv.get('fault-started:AVATARS.put'));
      const banned = JSON.stringify({ ...PROFILE, status: -1, user_name: 'alice-renamed', introduce: 'edited by an operator' });
      await w.kv.put('user:1', banned);
      assert.equal(settled, false, 'the ban and the edit were written while the upload was in flight');
      // The upload was authorised before the ban: it completes, and changes only the image.
      expectOk(await pending);
      assert.equal(await w.kv.get('user:1'), banned, 'the ban and the edit are exactly as the operator wrote them');
      const again = await upload(w, { file: fixture('orient-1.jpg'), lang: 'en' });
      expectError(again, 1002);
    } finally { await w.dispose(); }
  });
});

describe('concurrent uploads by one user', { skip: SKIP, timeout: 180_000 }, () => {
  test('20 at once: every request gets an envelope; the URL detail shows serves its own image; no stray objects', async () => {
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

      const shown = await readEnvelope(await get(w, '/api/user/detail', { headers: { Token: mintToken() } }));
      const url = shown.data.avatar_url;
      const v = new URL(url).searchParams.get('v');
      assert.ok(versions.has(v), `detail's URL ${url} is one of the uploads`);
      const res = await get(w, new URL(url).pathname + new URL(url).search);
      assert.equal(res.status, 200);
      const bytes = Buffer.from(await res.arrayBuffer());
      const served = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
      assert.equal(served, v, "detail's URL serves exactly the image its version names");
      assert.match(res.headers.get('cache-control'), /immutable/, 'a matching version is cached long');
    } finally { await w.dispose(); }
  });
});
