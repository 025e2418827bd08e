// Hardening: cookies from other sites, token families and logout, bytes in
// flight per isolate, and the smaller edges (Vary, HEAD, ids, statuses,
// settings, the dev-only demo token).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { SKIP, REPO_ROOT, PROFILE, startWorker, seedUser, snapshot, upload, uploadEarlyAnswer, fixture, get, readEnvelope } from '../lib/worker.mjs';
import { mintToken, tokenHash, nowSec, verifyToken } from '../lib/token.mjs';
import { expectOk, expectError, expectUnchanged } from '../lib/expect.mjs';

const IMG = fixture('orient-1.jpg');
const detail = async (w, token, headers = {}) =>
  readEnvelope(await get(w, '/api/user/detail', { headers: { Token: token, 'Accept-Language': 'en', ...headers } }));
const logout = async (w, headers) =>
  readEnvelope(await get(w, '/api/user/logout', { method: 'POST', headers: { 'Accept-Language': 'en', ...headers } }));

describe('the token cookie on requests from other sites', { skip: SKIP, timeout: 120_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker({ ALLOWED_ORIGINS: 'https://app.example.com', PUBLIC_BASE_URL: 'https://cdn.example.com' });
    await seedUser(w.kv);
  });
  after(() => w?.dispose());
  const cookie = () => ({ Cookie: `token=${mintToken()}` });

  test('a form posted from another site with the member\'s cookie changes nothing (-1, says why, zh and en)', async () => {
    const before = await snapshot(w);
    const en = await upload(w, { file: IMG, token: null, lang: 'en', headers: { ...cookie(), Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' } });
    expectError(en, -1, [/cookie/i, /another site \(https:\/\/evil\.example\)/, /Token header/]);
    const zh = await upload(w, { file: IMG, token: null, headers: { ...cookie(), Origin: 'https://evil.example' } });
    expectError(zh, -1, [/其他网站（https:\/\/evil\.example）/, /Cookie/]);
    // Apart from the names Cookie and Token and the origin, nothing English.
    assert.doesNotMatch(zh.msg.replace(/https:\/\/evil\.example|Cookie|Token/g, ''), /[A-Za-z]/, zh.msg);
    await expectUnchanged(w, before, 'after cross-site posts');
  });

  test('a cookie with neither Origin nor Sec-Fetch-Site is not honoured for a change', async () => {
    const before = await snapshot(w);
    expectError(await upload(w, { file: IMG, token: null, lang: 'en', headers: cookie() }), -1, /does not say which site/);
    // `null` (a sandboxed or privacy-stripped page) is not an origin we trust.
    expectError(await upload(w, { file: IMG, token: null, lang: 'en', headers: { ...cookie(), Origin: 'null' } }), -1, /cookie/i);
    await expectUnchanged(w, before);
  });

  const trusted = [
    ['the worker\'s own origin', (w) => ({ Origin: w.origin })],
    ['Sec-Fetch-Site: same-origin', () => ({ 'Sec-Fetch-Site': 'same-origin' })],
    ['an origin in ALLOWED_ORIGINS', () => ({ Origin: 'https://app.example.com' })],
    ['the PUBLIC_BASE_URL origin', () => ({ Origin: 'https://cdn.example.com' })],
  ];
  for (const [name, headers] of trusted) {
    test(`a cookie is honoured from ${name}`, async () => {
      const r = await upload(w, { file: IMG, token: null, headers: { ...cookie(), ...headers(w) } });
      assert.ok(expectOk(r).startsWith('https://cdn.example.com/uploads/user/1.webp?v='));
    });
  }

  test('the Token header is not restricted: any origin may send it', async () => {
    expectOk(await upload(w, { file: IMG, headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' } }));
  });

  test('logout through a cross-site cookie is refused and the token still works', async () => {
    const token = mintToken();
    expectError(await logout(w, { Cookie: `token=${token}`, Origin: 'https://evil.example' }), -1, /cookie/i);
    assert.equal((await detail(w, token)).code, 0);
  });

  test('reading one\'s own profile with the cookie is fine from anywhere (the browser keeps the answer from other sites)', async () => {
    const r = await readEnvelope(await get(w, '/api/user/detail', { headers: { ...cookie(), Origin: 'https://evil.example' } }));
    assert.equal(r.code, 0);
    assert.equal(r.headers.get('access-control-allow-origin'), null, 'no CORS grant to evil.example');
  });

  test('ALLOWED_ORIGINS=* does not extend to the cookie', async () => {
    const star = await startWorker({ ALLOWED_ORIGINS: '*' });
    try {
      await seedUser(star.kv);
      expectError(await upload(star, { file: IMG, token: null, lang: 'en', headers: { ...cookie(), Origin: 'https://evil.example' } }), -1, /cookie/i);
    } finally { await star.dispose(); }
  });
});

describe('token families and logout', { skip: SKIP, timeout: 120_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker({});
    await seedUser(w.kv);
  });
  after(() => w?.dispose());

  // Tokens minted in the same second are identical: each test gets its own.
  let n = 0;
  /** A login token expiring within the hour, and the Update-Token the worker gives for it. */
  async function refreshed(t0 = mintToken({ exp: nowSec() + 1800 + ++n })) {
    const r = await detail(w, t0);
    assert.equal(r.code, 0, JSON.stringify(r.body));
    const t1 = r.headers.get('update-token');
    assert.ok(t1, 'an Update-Token');
    return { t0, t1 };
  }

  test('a refreshed token names the login it descends from (AnqiCMS ignores the extra claims)', async () => {
    const { t0, t1 } = await refreshed();
    const claims = verifyToken(t1);
    assert.equal(claims.root, tokenHash(t0));
    assert.equal(claims.rootT, JSON.parse(Buffer.from(t0.split('.')[1], 'base64url')).t);
    assert.equal(claims.userId, '1');
    assert.match(claims.t, /^\d+$/);
  });

  test('logging the login out ends the token refreshed from it', async () => {
    const { t0, t1 } = await refreshed();
    assert.equal((await logout(w, { Token: t0 })).code, 0);
    expectError(await detail(w, t1), 1001, /logged out/i);
    expectError(await upload(w, { file: IMG, token: t1, lang: 'en' }), 1001);
    expectError(await detail(w, t0), 1001);
  });

  test('logging a refreshed token out ends the login and its other refreshes', async () => {
    const { t0, t1 } = await refreshed();
    const { t1: sibling } = await refreshed(t0);
    assert.equal((await logout(w, { Token: t1 })).code, 0);
    for (const t of [t0, t1, sibling]) expectError(await detail(w, t), 1001);
  });

  test('a refresh of a refresh keeps the original login', async () => {
    const { t0, t1 } = await refreshed();
    const claims = verifyToken(t1);
    // t1 itself lives 24 h; a token of the same family close to expiry:
    const t1soon = mintToken({ exp: nowSec() + 600, claims: { root: claims.root, rootT: claims.rootT } });
    const t2 = (await detail(w, t1soon)).headers.get('update-token');
    assert.equal(verifyToken(t2).root, tokenHash(t0));
    assert.equal((await logout(w, { Token: t0 })).code, 0);
    expectError(await detail(w, t2), 1001);
  });

  test('the revocation mark outlives every token of the family (at least a day)', async () => {
    const { t0 } = await refreshed();
    assert.equal((await logout(w, { Token: t0 })).code, 0);
    const { keys } = await w.kv.list({ prefix: `revoked:${tokenHash(t0)}` });
    assert.equal(keys.length, 1);
    assert.ok(keys[0].expiration >= nowSec() + 24 * 3600, `mark expires at ${keys[0].expiration}`);
  });

  test('a banned member can log out, and the token stays dead after an unban', async () => {
    const token = mintToken({ userId: 9 });
    await seedUser(w.kv, { id: 9, status: -1 });
    expectError(await detail(w, token), 1002);
    assert.equal((await logout(w, { Token: token })).code, 0);
    await seedUser(w.kv, { id: 9, status: 1 });
    expectError(await detail(w, token), 1001, /logged out/i);
  });
});

describe('request bodies in flight per isolate', { skip: SKIP, timeout: 120_000 }, () => {
  test('an upload that would take the isolate past one largest body is refused as busy; later it goes through', async () => {
    // MAX_UPLOAD_BYTES 1 MiB: one body of up to ~1 MiB may be in flight at once.
    const w = await startWorker({ MAX_UPLOAD_BYTES: String(1024 * 1024) });
    try {
      await seedUser(w.kv);
      const boundary = '----inflight';
      const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="pad"\r\n\r\n`);
      const pad = Buffer.alloc(700 * 1024, 0x61);
      const file = Buffer.concat([
        Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
        IMG,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const body = Buffer.concat([head, pad, file]);
      // A slow client: headers and a first piece now, the rest later.
      let finish;
      const slow = new Promise((resolve, reject) => {
        const req = http.request(new URL('/api/user/avatar', w.url), {
          method: 'POST',
          headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': body.length, Token: mintToken() },
        }, (res) => {
          let text = '';
          res.on('data', (c) => { text += c; });
          res.on('end', () => resolve(JSON.parse(text)));
        });
        req.on('error', reject);
        req.write(body.subarray(0, 1024));
        finish = () => req.end(body.subarray(1024));
      });
      await new Promise((r) => setTimeout(r, 800));
      // Sent with Expect: 100-continue: refused by its headers, its body is never sent.
      const big = Buffer.concat([IMG, Buffer.alloc(600 * 1024)]);
      const busy = await uploadEarlyAnswer(w, { file: big, lang: 'en' });
      expectError(busy, -1, /busy/i);
      const zh = await uploadEarlyAnswer(w, { file: big });
      expectError(zh, -1, /正忙/);
      // A small upload still fits beside the slow one.
      expectOk(await upload(w, { file: IMG }));
      finish();
      assert.equal((await slow).code, 0, 'the slow upload completes');
      expectOk(await upload(w, { file: Buffer.concat([IMG, Buffer.alloc(600 * 1024)]) }));
    } finally { await w.dispose(); }
  });
});

describe('smaller edges', { skip: SKIP, timeout: 120_000 }, () => {
  test('Vary: Origin on every answer that depends on it, once, also on preflights and unlisted origins', async () => {
    const w = await startWorker({ ALLOWED_ORIGINS: 'https://app.example.com' });
    try {
      await seedUser(w.kv);
      const pre = await get(w, '/api/user/avatar', { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST' } });
      await pre.arrayBuffer();
      assert.equal(pre.headers.get('vary'), 'Origin');
      const other = await get(w, '/api/user/detail', { headers: { Origin: 'https://other.example', Token: mintToken() } });
      await other.arrayBuffer();
      assert.equal(other.headers.get('vary'), 'Origin', 'an unlisted origin gets another answer: caches must know');
      const url = expectOk(await upload(w, { file: IMG }));
      const img = await get(w, new URL(url).pathname);
      await img.arrayBuffer();
      assert.equal(img.headers.get('vary'), 'Origin');
    } finally { await w.dispose(); }
    const none = await startWorker({});
    try {
      const r = await get(none, '/api/user/detail', { headers: { Origin: 'https://app.example.com' } });
      await r.arrayBuffer();
      assert.equal(r.headers.get('vary'), null, 'no CORS, nothing varies');
    } finally { await none.dispose(); }
  });

  test('HEAD reads the metadata only: it answers while every R2 get fails', async () => {
    const w = await startWorker({ FAULTS: 'AVATARS.get' }, { entry: path.join(REPO_ROOT, 'tests', 'lib', 'fault-wrapper.mjs') });
    try {
      await seedUser(w.kv);
      const url = new URL(expectOk(await upload(w, { file: IMG })));
      const head = await get(w, url.pathname + url.search, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.ok(Number(head.headers.get('content-length')) > 100);
      assert.equal(head.headers.get('content-type'), 'image/webp');
      const body = await get(w, url.pathname);
      await body.arrayBuffer();
      assert.equal(body.status, 503, 'GET does read the object (and here fails)');
    } finally { await w.dispose(); }
  });

  test('every user id a token may carry is served (20 digits)', async () => {
    const w = await startWorker({});
    try {
      const id = '18446744073709551615';
      await w.kv.put(`user:${id}`, JSON.stringify({ ...PROFILE, id: 1 }).replace('"id":1', `"id":${id}`));
      const url = new URL(expectOk(await upload(w, { file: IMG, token: mintToken({ userId: id }) })));
      assert.equal(url.pathname, `/uploads/user/${id}.webp`);
      const res = await get(w, url.pathname + url.search);
      await res.arrayBuffer();
      assert.equal(res.status, 200);
    } finally { await w.dispose(); }
  });

  test('a status below -1, or -1 written as a string or a float, is a ban (1002)', async () => {
    const w = await startWorker({});
    try {
      for (const [i, status] of ['-2', '"-1"', '-1.0', '" -3 "'].entries()) {
        const id = 100 + i;
        await w.kv.put(`user:${id}`, `{"id":${id},"user_name":"u","status":${status},"avatar_url":""}`);
        expectError(await upload(w, { file: IMG, token: mintToken({ userId: id }), lang: 'en' }), 1002, undefined);
      }
    } finally { await w.dispose(); }
  });

  test('MAX_UPLOAD_BYTES above what the memory bound leaves room for is a setting error', async () => {
    const w = await startWorker({ MAX_UPLOAD_BYTES: String(100 * 1024 * 1024) });
    try {
      await seedUser(w.kv);
      expectError(await upload(w, { file: IMG, lang: 'en' }), -1, [/MAX_UPLOAD_BYTES/, /67108864/]);
    } finally { await w.dispose(); }
  });

  test('DEV_DEMO_TOKEN is handed out on localhost only; anywhere else the page refuses to serve', async () => {
    const demo = mintToken();
    const w = await startWorker({ UPLOAD_PAGE: 'on', DEV_DEMO_TOKEN: demo });
    try {
      const local = await get(w, '/');
      assert.equal(local.status, 200);
      assert.ok((await local.text()).includes(demo), 'the dev page carries the demo token');
      const deployed = await w.mf.dispatchFetch('https://avatars.example.com/');
      const text = await deployed.text();
      assert.equal(deployed.status, 500);
      assert.match(text, /DEV_DEMO_TOKEN/);
      assert.ok(!text.includes(demo), 'the token is not handed out');
    } finally { await w.dispose(); }
  });
});
