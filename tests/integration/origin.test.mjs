// Origin mode: the worker in front of a live AnqiCMS site (the stand-in,
// tests/lib/anqicms-standin.mjs, a real HTTP server written from AnqiCMS's
// behaviour). Sessions come from the site and are cached in KV; the avatar
// is written back through the site's own POST /api/user/avatar (retried via
// the WRITEBACK queue); /uploads/user/* not in R2 is the site's.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { SKIP, startWorker, snapshot, upload, fixture, get, readEnvelope, until } from '../lib/worker.mjs';
import { tokenHash } from '../lib/token.mjs';
import { expectOk, expectError, expectUnchanged } from '../lib/expect.mjs';
import { start as startSite, STANDIN_SECRET } from '../lib/anqicms-standin.mjs';

const IMG = fixture('jpeg_baseline.jpg');
const USERS = [
  { id: 1, user_name: 'alice', real_name: '爱丽丝', email: 'alice@example.com', group_id: 2, password: 'never-shown' },
  { id: 2, user_name: 'bob' },
  { id: 3, user_name: 'mallory', status: -1 },
  { id: 5, user_name: 'eve', avatar_url: 'uploads/user/5.gif' },
];

/** A site and a worker in front of it; `lines` collects the worker's log lines. */
/**
 * The token with its signature's first character changed: a real forgery.
 * (The last character of a base64url HS256 signature carries two unused
 * bits, which lenient decoders such as Go's ignore, so changing it may
 * leave the signature as it was.)
 */
function forge(token) {
  const [head, body, sig] = token.split('.');
  return `${head}.${body}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
}

async function setup(vars = {}, siteOptions = {}) {
  const site = await startSite({ users: USERS, files: { 'uploads/user/5.gif': fixture('gif_animated.gif') }, ...siteOptions });
  const lines = [];
  const w = await startWorker({
    ANQICMS_ORIGIN: site.origin,
    TOKEN_SECRET: STANDIN_SECRET,
    // Generous: a write-back attempt (a PNG posted to the stand-in) must not
    // time out on a busy machine; the slow-site tests set their own.
    ORIGIN_TIMEOUT_MS: '3000',
    WRITEBACK_RETRY_SECONDS: '1',
    PROFILE_TTL: '60',
    ...vars,
  }, { queue: true, stdout: (l) => lines.push(l) });
  const writebacks = () => lines.filter((l) => l.includes('"event":"writeback"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  return { site, w, lines, writebacks, dispose: async () => { await w.dispose(); await site.close(); } };
}

/** The member's avatar as the site stores it once the write-back landed. */
async function writtenBack(site, id) {
  return until(`the write-back of member ${id}`, () => {
    const key = site.user(id)?.avatar_url;
    return key && key.startsWith(`uploads/user/${id}.`) && site.file(key) ? { key, bytes: site.file(key) } : null;
  });
}

/** Largest per-channel difference between two images' RGB pixels. */
async function maxDiff(a, b) {
  const [x, y] = await Promise.all([a, b].map((i) => sharp(i).removeAlpha().raw().toBuffer({ resolveWithObject: true })));
  assert.deepEqual([x.info.width, x.info.height], [y.info.width, y.info.height]);
  let m = 0;
  for (let i = 0; i < x.data.length; i++) m = Math.max(m, Math.abs(x.data[i] - y.data[i]));
  return m;
}

describe('origin mode: sessions from the site', { skip: SKIP, timeout: 120_000 }, () => {
  let s;
  before(async () => { s = await setup(); });
  after(() => s?.dispose());

  test('a member never seen in KV uploads with the site\'s token; the profile is cached under the token\'s hash', async () => {
    const token = s.site.mintToken(1);
    const url = expectOk(await upload(s.w, { file: IMG, token }));
    assert.match(url, /\/uploads\/user\/1\.webp\?v=[0-9a-f]+$/);
    assert.equal(s.site.requestsTo('GET', '/api/user/detail').length, 1, 'the site was asked once');
    const cached = JSON.parse(await s.w.kv.get(`site:${tokenHash(token)}`));
    assert.equal(cached.code, 0);
    assert.equal(cached.profile.user_name, 'alice');
    assert.equal('password' in cached.profile, false, 'the site never sends it');
    // Within PROFILE_TTL the cache answers: the site is not asked again.
    expectOk(await upload(s.w, { file: fixture('orient-1.jpg'), token }));
    const shown = await readEnvelope(await get(s.w, '/api/user/detail', { headers: { Token: token } }));
    assert.equal(shown.code, 0);
    assert.equal(shown.data.real_name, '爱丽丝', 'every field the site sent');
    assert.match(shown.data.avatar_url, /\/uploads\/user\/1\.webp\?v=/);
    assert.equal(shown.data.full_avatar_url, shown.data.avatar_url, 'AnqiCMS\'s absolute form names the same avatar');
    assert.equal(s.site.requestsTo('GET', '/api/user/detail').length, 1, 'still asked only once');
  });

  test('a member banned on the site (status -1) gets 1002 and nothing changes', async () => {
    const before = await snapshot(s.w, 3);
    expectError(await upload(s.w, { file: IMG, token: s.site.mintToken(3), lang: 'en' }), 1002);
    await expectUnchanged(s.w, before);
  });

  test('a deleted member gets 1001, and the site\'s verdict is cached', async () => {
    const token = s.site.mintToken(2);
    s.site.deleteUser(2);
    const asked = s.site.requestsTo('GET', '/api/user/detail').length;
    expectError(await upload(s.w, { file: IMG, token, lang: 'en' }), 1001, /no longer valid/);
    expectError(await upload(s.w, { file: IMG, token, lang: 'en' }), 1001);
    assert.equal(s.site.requestsTo('GET', '/api/user/detail').length, asked + 1, 'one question for two refusals');
    assert.equal(JSON.parse(await s.w.kv.get(`site:${tokenHash(token)}`)).code, 1001);
  });

  test('with TOKEN_SECRET a forged token is refused before the site is asked', async () => {
    const asked = s.site.requestsTo('GET', '/api/user/detail').length;
    const forged = forge(s.site.mintToken(1));
    expectError(await upload(s.w, { file: IMG, token: forged, lang: 'en' }), 1001);
    assert.equal(s.site.requestsTo('GET', '/api/user/detail').length, asked);
  });

  test('update-token from the site is passed on', async () => {
    s.site.addUser({ id: 8, user_name: 'henry' });
    const token = s.site.mintToken(8, { expiresInSeconds: 1200 });
    const r = await upload(s.w, { file: IMG, token });
    expectOk(r);
    const fresh = r.headers.get('update-token');
    assert.ok(fresh && fresh !== token, 'an Update-Token');
    // A token the site itself minted: the site accepts it.
    const again = await fetch(new URL('/api/user/detail', s.site.url), { headers: { token: fresh } }).then((x) => x.json());
    assert.equal(again.code, 0);
    assert.equal(again.data.id, 8);
  });
});

describe('origin mode: the site down, slow or strange', { skip: SKIP, timeout: 120_000 }, () => {
  let s;
  before(async () => { s = await setup({ ORIGIN_TIMEOUT_MS: '700' }); });
  after(() => s?.dispose());

  test('site down, nothing cached: -1 "try again" (never 1001), nothing changed', async () => {
    await s.site.setDown(true);
    try {
      const before = await snapshot(s.w, 1);
      const en = await upload(s.w, { file: IMG, token: s.site.mintToken(1), lang: 'en' });
      expectError(en, -1, /login service cannot be reached.*try again/i);
      expectError(await upload(s.w, { file: IMG, token: s.site.mintToken(1, { expiresInSeconds: 999 }) }), -1, /稍后重试/);
      await expectUnchanged(s.w, before);
    } finally { await s.site.setDown(false); }
  });

  test('site slow: -1 within ORIGIN_TIMEOUT_MS, nothing changed', async () => {
    s.site.setDelay(5000);
    try {
      const before = await snapshot(s.w, 1);
      const t0 = Date.now();
      expectError(await upload(s.w, { file: IMG, token: s.site.mintToken(1, { expiresInSeconds: 888 }), lang: 'en' }), -1, /try again/);
      const took = Date.now() - t0;
      assert.ok(took < 700 + 1500, `answered after ${took} ms with a 700 ms timeout`);
      await expectUnchanged(s.w, before);
    } finally { s.site.setDelay(0); }
  });

  test('an answer that is not an AnqiCMS envelope is no verdict: -1', async () => {
    s.site.setGarbage('html');
    try {
      expectError(await upload(s.w, { file: IMG, token: s.site.mintToken(1, { expiresInSeconds: 777 }), lang: 'en' }), -1, /try again/);
    } finally { s.site.setGarbage(false); }
  });

  test('a cached profile carries a member through an outage', async () => {
    const token = s.site.mintToken(1, { expiresInSeconds: 666 });
    expectOk(await upload(s.w, { file: IMG, token }));
    await s.site.setDown(true);
    try {
      expectOk(await upload(s.w, { file: fixture('orient-1.jpg'), token }));
    } finally { await s.site.setDown(false); }
  });
});

describe('origin mode: the write-back', { skip: SKIP, timeout: 120_000 }, () => {
  test('lands in the site\'s database with the key AnqiCMS picks, as our avatar pixel for pixel', async () => {
    const s = await setup();
    try {
      const token = s.site.mintToken(1);
      const url = expectOk(await upload(s.w, { file: IMG, token }));
      const { key, bytes } = await writtenBack(s.site, 1);
      assert.equal(key, 'uploads/user/1.png', 'a PNG was sent, so AnqiCMS stores .png');
      const ours = Buffer.from(await (await get(s.w, new URL(url).pathname)).arrayBuffer());
      assert.equal(await maxDiff(bytes, ours), 0, 'what the site keeps is our avatar');
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.width, meta.height], [256, 256]);
      const [line] = s.writebacks();
      assert.equal(line.outcome, 'landed');
      assert.equal(line.attempt, 1);
      assert.ok(!JSON.stringify(s.lines).includes(token), 'no token in the logs');
      // The site now shows it too: its own detail names its copy.
      const site = await fetch(new URL('/api/user/detail', s.site.url), { headers: { token } }).then((x) => x.json());
      assert.equal(site.data.avatar_url, 'uploads/user/1.png');
    } finally { await s.dispose(); }
  });

  test('fails twice, then lands: retried through the queue with growing delays, one log line per attempt', async () => {
    const s = await setup();
    try {
      s.site.failAvatarPosts(2, 'http500');
      expectOk(await upload(s.w, { file: IMG, token: s.site.mintToken(1) }));
      await writtenBack(s.site, 1);
      await until('three log lines', () => s.writebacks().length >= 3);
      const lines = s.writebacks();
      assert.deepEqual(lines.map((l) => [l.attempt, l.outcome]), [[1, 'retry'], [2, 'retry'], [3, 'landed']], JSON.stringify(lines));
      assert.deepEqual(lines.slice(0, 2).map((l) => l.next_attempt_in_s), [1, 2]);
      assert.match(lines[0].detail, /HTTP 500/);
    } finally { await s.dispose(); }
  });

  test('a newer upload makes an older write-back moot', async () => {
    const s = await setup();
    try {
      s.site.failAvatarPosts(1, 'code-1');
      expectOk(await upload(s.w, { file: IMG, token: s.site.mintToken(1) }));
      await until('the first failure', () => s.writebacks().length >= 1);
      const newer = expectOk(await upload(s.w, { file: fixture('orient-1.jpg'), token: s.site.mintToken(1, { expiresInSeconds: 5555 }) }));
      await until('both jobs settled', () => s.writebacks().filter((l) => l.outcome !== 'retry').length >= 2);
      const outcomes = s.writebacks().map((l) => l.outcome).sort();
      assert.deepEqual(outcomes, ['landed', 'retry', 'superseded']);
      const ours = Buffer.from(await (await get(s.w, new URL(newer).pathname)).arrayBuffer());
      assert.equal(await maxDiff(s.site.file('uploads/user/1.png'), ours), 0, 'the site holds the newer avatar');
    } finally { await s.dispose(); }
  });

  test('without TOKEN_SECRET: the site alone judges tokens, and the member\'s token writes back', async () => {
    const s = await setup({ TOKEN_SECRET: undefined });
    try {
      const forged = forge(s.site.mintToken(1));
      expectError(await upload(s.w, { file: IMG, token: forged, lang: 'en' }), 1001);
      assert.equal(s.site.requestsTo('GET', '/api/user/detail').length, 1, 'the site judged the forged token');
      expectOk(await upload(s.w, { file: IMG, token: s.site.mintToken(1) }));
      assert.equal((await writtenBack(s.site, 1)).key, 'uploads/user/1.png');
      // Logout works in this mode too: the worker then refuses the token.
      const token = s.site.mintToken(1, { expiresInSeconds: 4444 });
      const out = await readEnvelope(await get(s.w, '/api/user/logout', { method: 'POST', headers: { Token: token } }));
      assert.equal(out.code, 0);
      expectError(await upload(s.w, { file: IMG, token, lang: 'en' }), 1001, /logged out/);
    } finally { await s.dispose(); }
  });
});

describe('origin mode: serving beside the site', { skip: SKIP, timeout: 120_000 }, () => {
  let s;
  before(async () => { s = await setup(); });
  after(() => s?.dispose());

  test('an old .gif avatar the Worker never stored comes from the site, unchanged', async () => {
    const res = await get(s.w, '/uploads/user/5.gif');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/gif');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(fixture('gif_animated.gif')));
    const head = await get(s.w, '/uploads/user/5.gif', { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  test('one neither holds is the site\'s 404; one R2 holds is served from R2', async () => {
    const missing = await get(s.w, '/uploads/user/9.webp');
    await missing.arrayBuffer();
    assert.equal(missing.status, 404);
    assert.ok(s.site.requestsTo('GET', '/uploads/user/9.webp').length >= 1, 'the site was asked');
    const url = new URL(expectOk(await upload(s.w, { file: IMG, token: s.site.mintToken(1) })));
    const asked = s.site.requestsTo('GET', url.pathname).length;
    const ours = await get(s.w, url.pathname + url.search);
    await ours.arrayBuffer();
    assert.equal(ours.status, 200);
    assert.equal(s.site.requestsTo('GET', url.pathname).length, asked, 'R2 answered');
  });
});

describe('KV-only mode is unchanged without ANQICMS_ORIGIN', { skip: SKIP, timeout: 60_000 }, () => {
  test('a missing avatar is a 404 of the worker\'s own, nothing is fetched', async () => {
    const w = await startWorker({});
    try {
      const res = await get(w, '/uploads/user/5.gif');
      assert.equal(res.status, 404);
      assert.equal(await res.text(), 'Not Found');
    } finally { await w.dispose(); }
  });
});

describe('origin-mode uploads do not wait for the site', { skip: SKIP, timeout: 60_000 }, () => {
  test('the member has the answer while the write-back is still hanging', async () => {
    const s = await setup({ ORIGIN_TIMEOUT_MS: '3000' });
    try {
      s.site.failAvatarPosts(1, 'hang');
      const t0 = Date.now();
      expectOk(await upload(s.w, { file: IMG, token: s.site.mintToken(1) }));
      assert.ok(Date.now() - t0 < 2500, 'answered before the write-back gave up');
      assert.equal(s.writebacks().length, 0, 'the first attempt is still running');
    } finally { await s.dispose(); }
  });
});

