// The AnqiCMS stand-in (tests/lib/anqicms-standin.mjs) on its own, over real
// HTTP: tokens, GET /api/user/detail, POST /api/user/avatar with each
// extension rule, the file store, and the faults the origin-mode tests use.
// No worker needed.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import sharp from 'sharp';
import { start, signUserToken, verifyUserToken, processAvatar, imagingThumbnail, STANDIN_SECRET } from '../lib/anqicms-standin.mjs';
import { fixture } from '../lib/worker.mjs';
import { mintToken as repoMintToken } from '../lib/token.mjs';

const nowSec = () => Math.floor(Date.now() / 1000);
const b64json = (seg) => JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));

/** Reads an answer that must be AnqiCMS's envelope. */
async function envelope(res) {
  const text = await res.text();
  assert.equal(res.status, 200, `HTTP ${res.status}: ${text.slice(0, 200)}`);
  const body = JSON.parse(text);
  return { res, body, code: body.code, msg: body.msg, data: body.data, headers: res.headers };
}

describe('AnqiCMS stand-in', { timeout: 30_000 }, () => {
  let site;
  before(async () => {
    site = await start({
      users: [
        { id: 1, user_name: 'alice', real_name: '爱丽丝', email: 'alice@example.com', phone: '13800000000', group_id: 2, password: 'bcrypt-hash-never-shown' },
        { id: 2, user_name: 'bob' },
        { id: 5, user_name: 'eve', avatar_url: 'uploads/user/5.gif' },
        { id: 7, user_name: 'ext', avatar_url: 'https://cdn.example.com/a/7.png' },
      ],
      files: { 'uploads/user/5.gif': fixture('gif_animated.gif') },
    });
  });
  after(() => site?.close());

  const at = (p) => new URL(p, site.url);
  const detail = (headers = {}) => fetch(at('/api/user/detail'), { headers }).then(envelope);
  const uploadTo = (token, file, name = 'a.jpg', headers = {}) => {
    const form = new FormData();
    if (file) form.append('file', new File([file], name));
    return fetch(at('/api/user/avatar'), { method: 'POST', body: form, headers: { ...(token ? { token } : {}), ...headers } }).then(envelope);
  };

  describe('tokens', () => {
    test('minted like AnqiCMS: HS256, sorted keys, string claims, no padding; login tokens last 30 days', () => {
      const token = site.mintToken(1);
      const [h, c, s] = token.split('.');
      assert.equal(Buffer.from(h, 'base64url').toString(), '{"alg":"HS256","typ":"JWT"}');
      const raw = Buffer.from(c, 'base64url').toString();
      assert.match(raw, /^\{"t":"\d+","userId":"1"\}$/);
      assert.ok(!token.includes('='));
      const t = Number(b64json(c).t);
      assert.ok(Math.abs(t - (nowSec() + 30 * 86400)) <= 2, `t ${t}`);
      assert.equal(s, createHmac('sha256', `${site.secret}-user-token`).update(`${h}.${c}`).digest('base64url'));
    });

    test('the repo token tool and the stand-in agree (same secret)', async () => {
      const token = repoMintToken({ userId: 2, secret: site.secret });
      assert.equal((await detail({ Token: token })).data.user_name, 'bob');
      assert.deepEqual(verifyUserToken(STANDIN_SECRET, signUserToken(STANDIN_SECRET, 3, nowSec() + 60)).userId, '3');
    });

    test('read from the token header in any case, else the token cookie', async () => {
      const token = site.mintToken(1);
      for (const name of ['token', 'Token', 'TOKEN']) assert.equal((await detail({ [name]: token })).code, 0, name);
      assert.equal((await detail({ Cookie: `lang=zh-CN; token=${token}` })).data.id, 1);
      // The header wins over the cookie.
      assert.equal((await detail({ token: site.mintToken(2), Cookie: `token=${token}` })).data.id, 2);
      // A cookie that is not valid percent-encoding is just a bad token.
      assert.equal((await detail({ Cookie: 'token=%E0%A4%A' })).code, 1001);
      // Authorization: Bearer is not an AnqiCMS source.
      assert.equal((await detail({ Authorization: `Bearer ${token}` })).code, 1001);
    });

    test('1001 for no, bad, expired, foreign or unsigned tokens and deleted users; zh by default, en on request', async () => {
      const r = await detail({});
      assert.deepEqual(r.body, { code: 1001, msg: '该操作需要登录，请登录后重试' });
      assert.equal((await detail({ 'Accept-Language': 'en-US,en;q=0.9' })).msg, 'This operation requires login, please log in and try again');
      const bad = [
        site.mintToken(1, { expiresInSeconds: -5 }),
        signUserToken('another-secret', 1, nowSec() + 3600),
        repoMintToken({ userId: 1, secret: site.secret, alg: 'none' }),
        repoMintToken({ userId: 1, secret: site.secret, tamper: 'signature' }),
        repoMintToken({ userId: 1, secret: site.secret, tamper: 'payload' }),
        repoMintToken({ userId: 1, secret: site.secret, style: 'standard' }), // sub/exp: not AnqiCMS's claims
        repoMintToken({ userId: 1, secret: site.secret, rawKey: site.secret }), // key without -user-token
        site.mintToken(99), // no such user
        'not-a-token',
      ];
      for (const token of bad) assert.equal((await detail({ token })).code, 1001, token);
      site.addUser({ id: 40, user_name: 'gone' });
      const gone = site.mintToken(40);
      assert.equal((await detail({ token: gone })).code, 0);
      site.deleteUser(40);
      assert.equal((await detail({ token: gone })).code, 1001);
    });

    test('any HMAC alg passes, as golang-jwt with an HMAC key function allows', async () => {
      assert.equal((await detail({ token: repoMintToken({ userId: 1, secret: site.secret, alg: 'HS512' }) })).code, 0);
    });
  });

  describe('GET /api/user/detail', () => {
    test('the AnqiCMS user model: fields, types, msg null, no password', async () => {
      const r = await detail({ token: site.mintToken(1) });
      assert.equal(r.code, 0);
      assert.equal(r.msg, null);
      assert.deepEqual(Object.keys(r.body), ['code', 'data', 'msg']);
      const d = r.data;
      assert.deepEqual(Object.keys(d), ['id', 'created_time', 'updated_time', 'parent_id', 'user_name', 'url_token', 'real_name',
        'first_name', 'last_name', 'birthday', 'avatar_url', 'introduce', 'email', 'email_verified', 'phone', 'group_id',
        'google_id', 'reset_password', 'status', 'is_retailer', 'balance', 'total_reward', 'invite_code', 'last_login',
        'expire_time', 'extra', 'token', 'group', 'full_avatar_url', 'link']);
      assert.equal(d.id, 1);
      assert.equal(d.user_name, 'alice');
      assert.equal(d.real_name, '爱丽丝');
      assert.equal(d.status, 1);
      assert.equal(d.group_id, 2);
      assert.equal(typeof d.email_verified, 'boolean');
      assert.deepEqual(d.extra, {});
      assert.equal(d.token, '');
      assert.equal(d.group, null);
      assert.equal(d.link, `${site.origin}/people/1.html`);
      assert.ok(!('password' in d));
      assert.ok(!JSON.stringify(r.body).includes('bcrypt-hash-never-shown'));
    });

    test('full_avatar_url: a relative key gets the storage URL, an absolute URL stays', async () => {
      assert.equal((await detail({ token: site.mintToken(5) })).data.full_avatar_url, `${site.origin}/uploads/user/5.gif`);
      assert.equal((await detail({ token: site.mintToken(7) })).data.full_avatar_url, 'https://cdn.example.com/a/7.png');
      assert.equal((await detail({ token: site.mintToken(2) })).data.full_avatar_url, '');
    });

    test('a banned member (status -1) is still logged in: AnqiCMS does not check status', async () => {
      site.addUser({ id: 30, user_name: 'banned' });
      site.ban(30);
      const r = await detail({ token: site.mintToken(30) });
      assert.equal(r.code, 0);
      assert.equal(r.data.status, -1);
    });

    test('update-token when under an hour is left: a fresh 24 h token for the same user', async () => {
      assert.equal((await detail({ token: site.mintToken(1, { expiresInSeconds: 3700 }) })).headers.get('update-token'), null);
      const r = await detail({ token: site.mintToken(1, { expiresInSeconds: 1800 }) });
      const fresh = r.headers.get('update-token');
      assert.ok(fresh, 'Update-Token sent');
      const claims = verifyUserToken(site.secret, fresh);
      assert.equal(claims.userId, '1');
      assert.ok(Math.abs(claims.t - (nowSec() + 86400)) <= 2);
      assert.equal((await detail({ token: fresh })).data.id, 1);
      // Even a deleted user's token is renewed (AnqiCMS renews before it looks the user up)...
      const r2 = await detail({ token: site.mintToken(98, { expiresInSeconds: 600 }) });
      assert.equal(r2.code, 1001);
      assert.ok(r2.headers.get('update-token'));
      // ...but never an expired one.
      assert.equal((await detail({ token: site.mintToken(1, { expiresInSeconds: -1 }) })).headers.get('update-token'), null);
    });

    test('POST /api/user/detail replaces the names, ignores avatar_url and status', async () => {
      site.addUser({ id: 31, user_name: 'carol', real_name: 'Carol', introduce: 'hi', avatar_url: 'uploads/user/31.png' });
      const r = await fetch(at('/api/user/detail'), {
        method: 'POST', headers: { token: site.mintToken(31), 'Content-Type': 'application/json' },
        body: JSON.stringify({ user_name: 'carol2', avatar_url: 'https://evil.example/x.png', status: 1 }),
      }).then(envelope);
      assert.deepEqual(r.body, { code: 0, msg: '保存成功' });
      const row = site.user(31);
      assert.equal(row.user_name, 'carol2');
      assert.equal(row.real_name, '', 'left out = emptied');
      assert.equal(row.introduce, '');
      assert.equal(row.avatar_url, 'uploads/user/31.png');
    });

    test('GET /logout clears the cookie but the token stays valid', async () => {
      const token = site.mintToken(2);
      const res = await fetch(at('/logout?return=json'), { headers: { Cookie: `token=${token}` } });
      assert.deepEqual(await res.json(), { code: 1001, msg: '已退出登录' });
      assert.match(res.headers.get('set-cookie'), /^token=;/);
      assert.equal((await detail({ token })).code, 0);
    });
  });

  describe('POST /api/user/avatar', () => {
    const cases = [
      ['jpeg_baseline.jpg', 'jpg', 'jpeg'],
      ['jpeg_progressive.jpg', 'jpg', 'jpeg'],
      ['png_rgb8.png', 'png', 'png'],
      ['png_rgba_circle.png', 'png', 'png'],
      ['gif_animated.gif', 'gif', 'gif'],
      ['webp_lossy.webp', 'webp', 'png'], // no cwebp: PNG bytes under .webp
      ['webp_alpha.webp', 'webp', 'png'],
      ['bmp_24.bmp', 'png', 'png'],
    ];
    for (const [name, ext, stored] of cases) {
      test(`${name} → uploads/user/{id}.${ext} holding ${stored}, 256×256`, async () => {
        const id = 100 + cases.findIndex((c) => c[0] === name);
        site.addUser({ id });
        const r = await uploadTo(site.mintToken(id), fixture(name), 'whatever.name');
        assert.equal(r.code, 0, JSON.stringify(r.body));
        assert.equal(r.msg, '文件已上传完成');
        const key = `uploads/user/${id}.${ext}`;
        assert.deepEqual(r.data, { avatar_url: `${site.origin}/${key}` });
        assert.equal(site.user(id).avatar_url, key, 'the key, relative, goes into users.avatar_url');
        const bytes = site.files.get(key);
        const meta = await sharp(bytes).metadata();
        assert.equal(meta.format, stored);
        assert.equal(meta.width, 256);
        assert.equal(meta.height, 256);
        assert.equal(meta.pages ?? 1, 1, 'one frame');
        assert.equal(meta.orientation, undefined, 'no EXIF orientation');
      });
    }

    test('cwebp: WebP is re-encoded as lossy WebP at the quality setting', async () => {
      const s2 = await start({ users: [{ id: 1 }], cwebp: true, quality: 80 });
      try {
        const form = new FormData();
        form.append('file', new File([fixture('webp_lossy.webp')], 'x.webp'));
        const r = await fetch(new URL('/api/user/avatar', s2.url), { method: 'POST', body: form, headers: { token: s2.mintToken(1) } }).then(envelope);
        assert.equal(r.code, 0);
        const bytes = s2.files.get('uploads/user/1.webp');
        assert.equal(bytes.toString('latin1', 8, 16), 'WEBPVP8 ');
      } finally { await s2.close(); }
    });

    test('the quality setting drives the JPEG; the previous file of another extension stays', async () => {
      const pa = await processAvatar(fixture('jpeg_baseline.jpg'), { quality: 40 });
      const pb = await processAvatar(fixture('jpeg_baseline.jpg'));
      assert.ok(pa.bytes.length < pb.bytes.length * 0.7, `${pa.bytes.length} vs ${pb.bytes.length}`);
      const r = await uploadTo(site.mintToken(5), fixture('png_rgb8.png'));
      assert.equal(r.code, 0);
      assert.equal(site.user(5).avatar_url, 'uploads/user/5.png');
      assert.ok(site.files.has('uploads/user/5.gif'), 'AnqiCMS never deletes the old avatar');
    });

    test('what AnqiCMS cannot decode, no file, not multipart, no token', async () => {
      const token = site.mintToken(2);
      for (const name of ['svg.jpg', 'html.jpg', 'heic.jpg', 'pdf.jpg', 'text.jpg', 'empty.jpg', 'truncated.jpg', 'webp_animated.webp']) {
        const r = await uploadTo(token, fixture(name), name);
        assert.deepEqual(r.body, { code: -1, msg: '文件保存失败' }, name);
      }
      assert.equal(site.user(2).avatar_url, '');
      assert.deepEqual((await uploadTo(token, null)).body, { code: -1, msg: 'http: no such file' });
      const notForm = await fetch(at('/api/user/avatar'), { method: 'POST', headers: { token, 'Content-Type': 'application/json' }, body: '{}' }).then(envelope);
      assert.equal(notForm.code, -1);
      assert.equal((await uploadTo(null, fixture('orient-1.jpg'))).code, 1001);
      assert.equal((await uploadTo(token, fixture('orient-1.jpg'), 'a.jpg', { 'Accept-Language': 'en' })).msg, 'File upload completed');
    });

    test('the log records the received file and what was stored', async () => {
      site.addUser({ id: 60 });
      await uploadTo(site.mintToken(60), fixture('png_rgb8.png'), 'me.png');
      const e = site.requestsTo('POST', '/api/user/avatar').at(-1);
      assert.equal(e.userId, 60);
      assert.equal(e.file.name, 'me.png');
      assert.ok(e.file.bytes.equals(fixture('png_rgb8.png')));
      assert.deepEqual({ key: e.stored.key, encodedAs: e.stored.encodedAs }, { key: 'uploads/user/60.png', encodedAs: 'png' });
      assert.equal(typeof e.headers.token, 'string');
    });
  });

  describe('image path', () => {
    test('a 256×256 source is stored pixel for pixel (imaging.Thumbnail copies the same size)', async () => {
      const { data } = await sharp(fixture('png_gray1.png')).toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const out = await processAvatar(fixture('png_gray1.png'));
      assert.ok(out.pixels.equals(data));
      const png = await sharp(out.bytes).ensureAlpha().raw().toBuffer();
      assert.ok(png.equals(data), 'lossless PNG');
    });

    test('crop geometry: centre square, then Lanczos; small sources are resized then cropped', () => {
      // Left third red, middle green, right third blue: 300×100 → centre 100×100 is green.
      const img = { width: 300, height: 100, data: Buffer.alloc(300 * 100 * 4) };
      for (let y = 0; y < 100; y++) for (let x = 0; x < 300; x++) {
        const o = (y * 300 + x) * 4;
        img.data[o + (x < 100 ? 0 : x < 200 ? 1 : 2)] = 255; img.data[o + 3] = 255;
      }
      const t = imagingThumbnail(img, 256, 256);
      assert.equal(t.width, 256);
      const mid = (128 * 256 + 128) * 4;
      assert.deepEqual([...t.data.subarray(mid, mid + 4)], [0, 255, 0, 255]);
      const small = imagingThumbnail({ width: 60, height: 20, data: Buffer.from(img.data.subarray(0, 60 * 20 * 4)) }, 256, 256);
      assert.deepEqual([small.width, small.height], [256, 256]);
    });
  });

  describe('files', () => {
    test('GET and HEAD serve stored files with the type of their extension; 404 otherwise; 304 on If-Modified-Since', async () => {
      const get = await fetch(at('/uploads/user/5.gif'));
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('content-type'), 'image/gif');
      assert.ok(Buffer.from(await get.arrayBuffer()).equals(fixture('gif_animated.gif')));
      const head = await fetch(at('/uploads/user/5.gif'), { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(fixture('gif_animated.gif').length));
      assert.equal((await head.arrayBuffer()).byteLength, 0);
      const again = await fetch(at('/uploads/user/5.gif'), { headers: { 'If-Modified-Since': get.headers.get('last-modified') } });
      assert.equal(again.status, 304);
      assert.equal((await fetch(at('/uploads/user/404.png'))).status, 404);
      // A .webp holding PNG bytes is still served as image/webp (type by extension).
      site.files.set('uploads/user/77.webp', (await processAvatar(fixture('webp_lossy.webp'))).bytes);
      assert.equal((await fetch(at('/uploads/user/77.webp'))).headers.get('content-type'), 'image/webp');
    });
  });

  describe('faults', () => {
    test('setDown: connections refused, then back on the same port', async () => {
      const token = site.mintToken(1);
      await site.setDown(true);
      await assert.rejects(fetch(at('/api/user/detail'), { headers: { token } }), (e) => /ECONNREFUSED/.test(String(e.cause?.code ?? e.cause)));
      await site.setDown(false);
      assert.equal((await detail({ token })).code, 0);
    });

    test('setDelay: answers wait; a client timeout fires first', async () => {
      site.setDelay(300);
      try {
        const t0 = Date.now();
        assert.equal((await detail({ token: site.mintToken(1) })).code, 0);
        assert.ok(Date.now() - t0 >= 290);
        await assert.rejects(fetch(at('/api/user/detail'), { headers: { token: site.mintToken(1) }, signal: AbortSignal.timeout(100) }), /abort|timeout/i);
      } finally { site.setDelay(0); }
    });

    test('setGarbage: HTTP 200 without an envelope', async () => {
      site.setGarbage(true);
      try {
        const res = await fetch(at('/api/user/detail'), { headers: { token: site.mintToken(1) } });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /text\/html/);
        const page = await res.text();
        assert.match(page, /<html>/);
        assert.throws(() => JSON.parse(page));
        site.setGarbage('truncated');
        const t = await fetch(at('/api/user/detail')).then((r) => r.text());
        assert.throws(() => JSON.parse(t));
        // Files are not affected.
        assert.equal((await fetch(at('/uploads/user/5.gif'))).status, 200);
      } finally { site.setGarbage(false); }
    });

    test('failAvatarPosts: the next n posts fail (500, code -1, reset) without changing anything, then one lands', async () => {
      site.addUser({ id: 61, avatar_url: 'uploads/user/61.jpg' });
      const token = site.mintToken(61);
      site.failAvatarPosts(1, 'http500');
      site.failAvatarPosts(1, 'code-1');
      site.failAvatarPosts(1, 'reset');
      assert.equal(site.pendingFailures, 3);
      const form = () => { const f = new FormData(); f.append('file', new File([fixture('png_rgb8.png')], 'a.png')); return f; };
      const r500 = await fetch(at('/api/user/avatar'), { method: 'POST', body: form(), headers: { token } });
      assert.equal(r500.status, 500);
      await r500.text();
      assert.deepEqual((await uploadTo(token, fixture('png_rgb8.png'))).body, { code: -1, msg: '文件保存失败' });
      await assert.rejects(fetch(at('/api/user/avatar'), { method: 'POST', body: form(), headers: { token } }));
      assert.equal(site.user(61).avatar_url, 'uploads/user/61.jpg');
      assert.ok(!site.files.has('uploads/user/61.png'));
      assert.equal((await uploadTo(token, fixture('png_rgb8.png'))).code, 0);
      assert.equal(site.user(61).avatar_url, 'uploads/user/61.png');
      const log = site.requestsTo('POST', '/api/user/avatar').slice(-4).map((e) => e.failed ?? e.status);
      assert.deepEqual(log, ['http500', 'code-1', 'reset', 200]);
      assert.throws(() => site.failAvatarPosts(1, 'explode'));
    });
  });
});
