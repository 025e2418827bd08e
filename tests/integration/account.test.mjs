// GET /api/user/detail and POST /api/user/logout.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP, PROFILE, startWorker, seedUser, upload, fixture, get, readEnvelope } from '../lib/worker.mjs';
import { mintToken, tokenHash, nowSec } from '../lib/token.mjs';
import { expectOk, expectError } from '../lib/expect.mjs';

describe('account routes', { skip: SKIP, timeout: 120_000 }, () => {
  let w;
  before(async () => {
    w = await startWorker({});
    await seedUser(w.kv, { password: 'hash-must-not-leak' });
  }, { timeout: 60_000 });
  after(() => w?.dispose());

  const detail = async (token, lang = 'en') => readEnvelope(await get(w, '/api/user/detail', { headers: { Token: token, 'Accept-Language': lang } }));
  const logout = async (token) => readEnvelope(await get(w, '/api/user/logout', { method: 'POST', headers: { Token: token, 'Accept-Language': 'en' } }));

  test('detail returns the profile with AnqiCMS field names, never the password', async () => {
    const r = await detail(mintToken());
    assert.equal(r.status, 200);
    assert.equal(r.code, 0, JSON.stringify(r.body));
    const { password, ...expected } = { ...PROFILE, password: 'x' };
    assert.deepEqual(r.data, expected);
    assert.equal('password' in r.data, false);
  });

  test('detail shows the new avatar after an upload', async () => {
    const url = expectOk(await upload(w, { file: fixture('orient-1.jpg') }));
    const r = await detail(mintToken());
    assert.equal(r.data.avatar_url, url);
  });

  test('detail without a token is 1001; wrong method is -1', async () => {
    expectError(await readEnvelope(await get(w, '/api/user/detail')), 1001);
    expectError(await readEnvelope(await get(w, '/api/user/detail', { method: 'POST' })), -1, /GET/);
  });

  test('logout revokes the token until its expiry; it then gives 1001, other tokens still work', async () => {
    const exp = nowSec() + 3 * 3600;
    const token = mintToken({ exp });
    assert.equal((await detail(token)).code, 0);
    const r = await logout(token);
    assert.equal(r.code, 0, JSON.stringify(r.body));
    const mark = await w.kv.getWithMetadata(`revoked:${tokenHash(token)}`);
    assert.notEqual(mark.value, null, 'revoked:{sha256} written');
    expectError(await detail(token), 1001, /logged out|log in/i);
    expectError(await upload(w, { file: fixture('orient-1.jpg'), token, lang: 'en' }), 1001);
    expectError(await logout(token), 1001);
    // Another token of the same user is not affected.
    assert.equal((await detail(mintToken({ exp: exp + 1 }))).code, 0);
  });
});
