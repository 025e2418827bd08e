// Contract: Tokens (AnqiCMS-compatible JWT) and session state in KV.
// Every refused request must leave R2 and KV exactly as they were.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP, startWorker, seedUser, snapshot, upload, fixture } from '../lib/worker.mjs';
import { mintToken, verifyToken, claimsUserAndExp, tokenHash, nowSec } from '../lib/token.mjs';
import { expectOk, expectError, expectUnchanged, expectStored } from '../lib/expect.mjs';

const IMG = fixture('orient-1.jpg');
const IMG2 = fixture('jpeg_baseline.jpg');

describe('auth', { skip: SKIP, timeout: 120_000 }, () => {
  let w;
  let before0; // state after a first good upload

  before(async () => {
    w = await startWorker();
    await seedUser(w.kv);
    await seedUser(w.kv, { id: 2, status: -1 });
    const url = expectOk(await upload(w, { file: IMG }));
    await expectStored(w, url);
    before0 = await snapshot(w);
  });
  after(() => w?.dispose());

  // ---- refused: each must be 1001/1002 and change nothing
  const refused = [
    ['no token at all', 1001, () => ({ token: null })],
    ['expired token (t in the past)', 1001, () => ({ token: mintToken({ exp: nowSec() - 10 }) })],
    ['token signed with another secret', 1001, () => ({ token: mintToken({ secret: 'not-the-secret' }) })],
    ['token signed with the bare secret (no "-user-token" suffix)', 1001, () => ({ token: mintToken({ rawKey: 'test-secret' }) })],
    ['tampered payload (user id changed after signing)', 1001, () => ({ token: mintToken({ tamper: 'payload' }) })],
    ['tampered signature', 1001, () => ({ token: mintToken({ tamper: 'signature' }) })],
    ['alg none, empty signature', 1001, () => ({ token: mintToken({ alg: 'none' }) })],
    ['alg HS384 with the right key', 1001, () => ({ token: mintToken({ alg: 'HS384' }) })],
    ['alg RS256 header (HMAC-signed)', 1001, () => ({ token: mintToken({ alg: 'RS256' }) })],
    ['garbage token', 1001, () => ({ token: 'not.a.jwt' })],
    ['token with only two parts', 1001, () => ({ token: mintToken().split('.').slice(0, 2).join('.') })],
    ['user does not exist in KV', 1001, () => ({ token: mintToken({ userId: 999 }) })],
    ['user is banned (status -1)', 1002, () => ({ token: mintToken({ userId: 2 }) })],
    ['standard claims, expired', 1001, () => ({ token: mintToken({ style: 'standard', exp: nowSec() - 10 }) })],
    ['Authorization scheme other than Bearer', 1001, () => ({ token: null, headers: { Authorization: `Basic ${mintToken()}` } })],
    ['cookie with another name', 1001, () => ({ token: null, headers: { Cookie: `mytoken=${mintToken()}` } })],
  ];

  for (const [name, code, make] of refused) {
    test(`refused: ${name} -> ${code}, nothing changed`, async () => {
      const r = await upload(w, { file: IMG2, ...make() });
      expectError(r, code);
      await expectUnchanged(w, before0, `after "${name}"`);
    });
  }

  test('refused: revoked token (revoked:{sha256 hex}) -> 1001, another token of the same user still works', async () => {
    const revoked = mintToken({ exp: nowSec() + 3600 * 5 });
    await w.kv.put(`revoked:${tokenHash(revoked)}`, '1');
    const r = await upload(w, { file: IMG2, token: revoked });
    expectError(r, 1001);
    await expectUnchanged(w, before0, 'after revoked token');
    // sanity: the same token without the revocation entry is accepted
    const fresh = mintToken({ exp: nowSec() + 3600 * 5 + 1 });
    const ok = await upload(w, { file: IMG, token: fresh });
    await expectStored(w, expectOk(ok));
  });

  // ---- accepted token sources and claim styles
  const accepted = [
    ['Token header', () => ({ token: null, headers: { Token: mintToken() } })],
    ['lowercase token header', () => ({ token: null, headers: { token: mintToken() } })],
    ['upper-case TOKEN header', () => ({ token: null, headers: { TOKEN: mintToken() } })],
    // A browser on the worker's own origin (cookies from other sites: csrf.test.mjs).
    ['cookie "token" among other cookies', (w) => ({ token: null, headers: { Cookie: `a=1; token=${mintToken()}; theme=dark`, Origin: w.origin } })],
    ['cookie "token" alone', (w) => ({ token: null, headers: { Cookie: `token=${mintToken()}`, 'Sec-Fetch-Site': 'same-origin' } })],
    ['Authorization: Bearer', () => ({ token: null, headers: { Authorization: `Bearer ${mintToken()}` } })],
    ['standard claims sub/exp as numbers', () => ({ token: mintToken({ style: 'standard' }) })],
    ['standard claims sub/exp as strings', () => ({ token: mintToken({ style: 'standard', stringClaims: true }) })],
    ['Token header wins over a bad cookie', () => ({ token: mintToken(), headers: { Cookie: 'token=garbage' } })],
    ['Site-Id header is ignored', () => ({ headers: { 'Site-Id': '7' } })],
  ];
  let flip = false;
  for (const [name, make] of accepted) {
    test(`accepted: ${name}`, async () => {
      // alternate images so each success really writes a new avatar
      flip = !flip;
      const r = await upload(w, { file: flip ? IMG2 : IMG, ...make(w) });
      const url = expectOk(r);
      await expectStored(w, url);
    });
  }

  test('Update-Token: a token expiring within the hour gets a fresh 24 h token for the same user', async () => {
    const t = mintToken({ exp: nowSec() + 30 * 60 });
    const r = await upload(w, { file: IMG, token: t });
    await expectStored(w, expectOk(r));
    const fresh = r.headers.get('update-token');
    assert.ok(fresh, 'no Update-Token header');
    assert.notEqual(fresh, t);
    const claims = verifyToken(fresh); // HS256 with TOKEN_SECRET + "-user-token"
    const { userId, exp } = claimsUserAndExp(claims);
    assert.equal(userId, 1, JSON.stringify(claims));
    const left = exp - nowSec();
    assert.ok(left > 23 * 3600 && left <= 24 * 3600 + 120, `fresh token lives ${left}s, want ~24 h`);
    // and the worker itself accepts it
    const again = await upload(w, { file: IMG2, token: fresh });
    await expectStored(w, expectOk(again));
  });

  test('Update-Token: standard-claims token expiring soon is renewed too', async () => {
    const r = await upload(w, { file: IMG, token: mintToken({ style: 'standard', exp: nowSec() + 600 }) });
    expectOk(r);
    const fresh = r.headers.get('update-token');
    assert.ok(fresh, 'no Update-Token header');
    assert.equal(claimsUserAndExp(verifyToken(fresh)).userId, 1);
  });

  test('no Update-Token when the token has more than an hour left', async () => {
    const r = await upload(w, { file: IMG2, token: mintToken({ exp: nowSec() + 3 * 3600 }) });
    expectOk(r);
    assert.equal(r.headers.get('update-token'), null);
  });

  test('refusals are AnqiCMS envelopes in English on request', async () => {
    const r = await upload(w, { file: IMG, token: null, lang: 'en' });
    expectError(r, 1001);
    assert.doesNotMatch(r.msg, /[\u4e00-\u9fff]/, `English message expected: ${r.msg}`);
    const zh = await upload(w, { file: IMG, token: null });
    expectError(zh, 1001);
    assert.match(zh.msg, /[\u4e00-\u9fff]/, `Chinese message expected by default: ${zh.msg}`);
  });
});

describe('auth without TOKEN_SECRET', { skip: SKIP, timeout: 60_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker({ TOKEN_SECRET: undefined });
    await seedUser(w.kv);
  });
  after(() => w?.dispose());

  test('uploads are refused with -1 naming TOKEN_SECRET, nothing stored', async () => {
    const s0 = await snapshot(w);
    for (const token of [mintToken(), mintToken({ secret: '' }), null]) {
      const r = await upload(w, { file: IMG, token, lang: 'en' });
      expectError(r, -1, /TOKEN_SECRET/);
    }
    await expectUnchanged(w, s0);
  });

  test('an empty TOKEN_SECRET is no secret either', async () => {
    const w2 = await startWorker({ TOKEN_SECRET: '' });
    try {
      await seedUser(w2.kv);
      const r = await upload(w2, { file: IMG, token: mintToken({ secret: '' }), lang: 'en' });
      expectError(r, -1, /TOKEN_SECRET/);
    } finally {
      await w2.dispose();
    }
  });
});
