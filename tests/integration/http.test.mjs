// Contract: serving route (step 7), response envelope for every /api/*
// answer, languages, CORS, and configuration errors.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP, startWorker, seedUser, snapshot, upload, fixture, get, readEnvelope, getObjectBytes } from '../lib/worker.mjs';
import { mintToken } from '../lib/token.mjs';
import { expectOk, expectError, expectUnchanged, expectStored } from '../lib/expect.mjs';

const ORIGIN_OK = 'https://app.example.com';
const CJK = /[\u4e00-\u9fff]/;

describe('serving, envelope, languages, CORS', { skip: SKIP, timeout: 120_000 }, () => {
  let w;
  let url;
  before(async () => {
    w = await startWorker({ ALLOWED_ORIGINS: `${ORIGIN_OK}, https://admin.example.com` });
    await seedUser(w.kv);
    url = expectOk(await upload(w, { file: fixture('jpeg_baseline.jpg') }));
    await expectStored(w, url);
  });
  after(() => w?.dispose());

  // ---- GET /uploads/user/{id}.{ext}
  test('GET the returned URL: stored bytes, Content-Type, ETag, nosniff, long cache with ?v=', async () => {
    const u = new URL(url);
    const res = await get(w, u.pathname + u.search);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/webp');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const etag = res.headers.get('etag');
    assert.ok(etag && /^(W\/)?"[^"]+"$/.test(etag), `ETag ${etag}`);
    const cc = res.headers.get('cache-control') ?? '';
    const maxAge = Number(/max-age=(\d+)/.exec(cc)?.[1] ?? 0);
    assert.ok(maxAge >= 86400 * 30 || /immutable/.test(cc), `long Cache-Control expected for a versioned URL, got "${cc}"`);
    const body = Buffer.from(await res.arrayBuffer());
    const stored = await getObjectBytes(w.r2, 'uploads/user/1.webp');
    assert.ok(body.equals(stored.bytes), 'served bytes = stored bytes');
  });

  test('If-None-Match with the ETag -> 304 without body', async () => {
    const u = new URL(url);
    const first = await get(w, u.pathname + u.search);
    await first.arrayBuffer();
    const etag = first.headers.get('etag');
    const res = await get(w, u.pathname + u.search, { headers: { 'If-None-Match': etag } });
    assert.equal(res.status, 304);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
    const other = await get(w, u.pathname, { headers: { 'If-None-Match': '"something-else"' } });
    assert.equal(other.status, 200);
    await other.arrayBuffer();
  });

  test('a new image gets a new ETag on the same path', async () => {
    const a = await get(w, '/uploads/user/1.webp');
    await a.arrayBuffer();
    const url2 = expectOk(await upload(w, { file: fixture('png_rgb8.png') }));
    assert.notEqual(url2, url);
    const b = await get(w, '/uploads/user/1.webp');
    await b.arrayBuffer();
    assert.notEqual(a.headers.get('etag'), b.headers.get('etag'));
    const stale = await get(w, '/uploads/user/1.webp', { headers: { 'If-None-Match': a.headers.get('etag') } });
    assert.equal(stale.status, 200, 'old ETag must not give 304');
    await stale.arrayBuffer();
    url = url2;
  });

  test('missing avatar and paths outside the scheme -> 404, never another object', async () => {
    await w.r2.put('secret.txt', 'do not serve');
    await w.r2.put('uploads/user/1.gif', 'not ours');
    for (const p of ['/uploads/user/999.webp', '/uploads/user/1.png', '/uploads/user/1.gif', '/uploads/user/../../secret.txt',
      '/uploads/user/%2e%2e%2f%2e%2e%2fsecret.txt', '/uploads/user/01.webp', '/secret.txt', '/uploads/user/1.webp.png']) {
      const res = await get(w, p);
      const body = Buffer.from(await res.arrayBuffer()).toString('latin1');
      assert.ok(res.status === 404 || (res.status >= 400 && res.status < 500), `${p}: HTTP ${res.status}`);
      assert.ok(!body.includes('do not serve') && !body.includes('not ours'), `${p} served a foreign object`);
    }
    await w.r2.delete('secret.txt');
    await w.r2.delete('uploads/user/1.gif');
  });

  // ---- envelope
  for (const [method, path] of [
    ['GET', '/api/nope'], ['POST', '/api/nope'], ['POST', '/api/user/avatar/extra'], ['GET', '/api'],
    ['GET', '/api/user/avatar'], ['PUT', '/api/user/avatar'], ['DELETE', '/api/user/avatar'], ['PATCH', '/api/user/avatar'],
  ]) {
    test(`${method} ${path} -> HTTP 200 JSON envelope code -1`, async () => {
      const res = await get(w, path, { method, headers: { Token: mintToken(), 'Accept-Language': 'en' } });
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const r = await readEnvelope(res);
      expectError(r, -1);
    });
  }

  test('success envelope: Chinese by default, English for Accept-Language: en-US', async () => {
    const zh = await upload(w, { file: fixture('orient-1.jpg') });
    expectOk(zh);
    assert.equal(zh.msg, '上传成功');
    assert.deepEqual(Object.keys(zh.body).sort(), ['code', 'data', 'msg']);
    assert.deepEqual(Object.keys(zh.data), ['avatar_url']);
    for (const lang of ['en', 'en-US,en;q=0.9', 'EN-gb']) {
      const en = await upload(w, { file: fixture('jpeg_gray.jpg'), lang });
      expectOk(en);
      assert.ok(en.msg.length > 0 && !CJK.test(en.msg), `English success message expected for ${lang}: ${en.msg}`);
    }
    const zhPref = await upload(w, { file: fixture('orient-1.jpg'), lang: 'zh-CN,zh;q=0.9,en;q=0.8' });
    assert.equal(zhPref.msg, '上传成功');
  });

  test('error messages: English for en, Chinese otherwise', async () => {
    const en = await upload(w, { file: null, lang: 'en' });
    expectError(en, -1, /file/i);
    assert.doesNotMatch(en.msg, CJK);
    const zh = await upload(w, { file: null });
    expectError(zh, -1, CJK);
    const nf = await readEnvelope(await get(w, '/api/nope', { headers: { 'Accept-Language': 'en' } }));
    expectError(nf, -1);
    assert.doesNotMatch(nf.msg, CJK);
  });

  // ---- CORS
  test('preflight from an allowed origin: origin echoed, POST allowed, Token header allowed', async () => {
    const res = await get(w, '/api/user/avatar', {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN_OK, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'token, content-type' },
    });
    await res.arrayBuffer();
    assert.ok(res.status === 200 || res.status === 204, `preflight status ${res.status}`);
    assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN_OK);
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/i);
    const allowHeaders = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    assert.ok(allowHeaders.includes('token') || allowHeaders.includes('*'), `Allow-Headers: ${allowHeaders}`);
  });

  test('second allowed origin (list with spaces) works too; a foreign origin gets no CORS grant', async () => {
    const ok = await get(w, '/api/user/avatar', { method: 'OPTIONS', headers: { Origin: 'https://admin.example.com', 'Access-Control-Request-Method': 'POST' } });
    await ok.arrayBuffer();
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://admin.example.com');
    const bad = await get(w, '/api/user/avatar', { method: 'OPTIONS', headers: { Origin: 'https://evil.example.net', 'Access-Control-Request-Method': 'POST' } });
    await bad.arrayBuffer();
    const acao = bad.headers.get('access-control-allow-origin');
    assert.ok(acao === null || (acao !== '*' && acao !== 'https://evil.example.net'), `evil origin granted: ${acao}`);
  });

  test('actual cross-origin POST: origin allowed and Update-Token exposed', async () => {
    const r = await upload(w, { file: fixture('orient-1.jpg'), headers: { Origin: ORIGIN_OK } });
    expectOk(r);
    assert.equal(r.headers.get('access-control-allow-origin'), ORIGIN_OK);
    assert.match(r.headers.get('access-control-expose-headers') ?? '', /update-token/i);
  });

  test('CORS headers also on error envelopes (so the browser can read them)', async () => {
    const r = await upload(w, { file: null, token: null, headers: { Origin: ORIGIN_OK } });
    expectError(r, 1001);
    assert.equal(r.headers.get('access-control-allow-origin'), ORIGIN_OK);
  });
});

describe('CORS settings', { skip: SKIP, timeout: 60_000 }, () => {
  test('no ALLOWED_ORIGINS: no CORS grant', async () => {
    const w = await startWorker();
    try {
      const res = await get(w, '/api/user/avatar', { method: 'OPTIONS', headers: { Origin: ORIGIN_OK, 'Access-Control-Request-Method': 'POST' } });
      await res.arrayBuffer();
      assert.equal(res.headers.get('access-control-allow-origin'), null);
    } finally {
      await w.dispose();
    }
  });

  test('ALLOWED_ORIGINS=* grants any origin', async () => {
    const w = await startWorker({ ALLOWED_ORIGINS: '*' });
    try {
      const res = await get(w, '/api/user/avatar', {
        method: 'OPTIONS', headers: { Origin: 'https://anything.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'Token' },
      });
      await res.arrayBuffer();
      assert.ok(['*', 'https://anything.example'].includes(res.headers.get('access-control-allow-origin')));
    } finally {
      await w.dispose();
    }
  });
});

describe('configuration errors name the setting (never a 500)', { skip: SKIP, timeout: 120_000 }, () => {
  const cases = [
    ['AVATAR_SIZE', '0'],
    ['AVATAR_SIZE', 'big'],
    ['AVATAR_SIZE', '100000'],
    ['OUTPUT_FORMAT', 'tiff'],
    ['OUTPUT_QUALITY', '0'],
    ['OUTPUT_QUALITY', '101'],
    ['MAX_UPLOAD_BYTES', 'lots'],
    ['MAX_UPLOAD_BYTES', '0'],
    ['MAX_UPLOAD_BYTES', String(100 * 1024 * 1024)],
    ['ANQICMS_ORIGIN', 'www.example.com'],
    ['MAX_PIXELS', '-5'],
    ['RESIZE_SPACE', 'gamma'],
  ];
  for (const [name, value] of cases) {
    test(`${name}=${value}`, async () => {
      const w = await startWorker({ [name]: value });
      try {
        await seedUser(w.kv);
        const s0 = await snapshot(w);
        const r = await upload(w, { file: fixture('orient-1.jpg'), lang: 'en' });
        expectError(r, -1, new RegExp(name));
        await expectUnchanged(w, s0);
      } finally {
        await w.dispose();
      }
    });
  }

  test('OUTPUT_FORMAT is case-insensitive-or-refused, never a 500 (JPEG/PNG/WEBP upper case)', async () => {
    const w = await startWorker({ OUTPUT_FORMAT: 'PNG' });
    try {
      await seedUser(w.kv);
      const r = await upload(w, { file: fixture('orient-1.jpg'), lang: 'en' });
      assert.equal(r.status, 200);
      if (r.code !== 0) expectError(r, -1, /OUTPUT_FORMAT/);
    } finally {
      await w.dispose();
    }
  });
});
