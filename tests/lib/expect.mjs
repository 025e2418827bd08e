// Assertions shared by the integration tests.
import assert from 'node:assert/strict';
import { PROFILE, getProfile, snapshot, getObjectBytes, get, readEnvelope } from './worker.mjs';
import { mintToken } from './token.mjs';
import { imageInfo, EXT_FOR, MIME_FOR } from './images.mjs';

const show = (r) => `HTTP ${r.status} ${JSON.stringify(r.body)}`;

/** A success envelope; returns the avatar URL. */
export function expectOk(r) {
  assert.equal(r.status, 200, show(r));
  assert.equal(r.code, 0, `expected code 0, got ${show(r)}`);
  assert.equal(typeof r.msg, 'string', show(r));
  assert.ok(r.data && typeof r.data.avatar_url === 'string', `no data.avatar_url: ${show(r)}`);
  return r.data.avatar_url;
}

/**
 * An error envelope with `code` (HTTP 200, data null or absent, a message).
 * `msg`: RegExp or array of RegExps the message must match.
 */
export function expectError(r, code, msg) {
  assert.equal(r.status, 200, `envelope must be HTTP 200: ${show(r)}`);
  assert.equal(r.code, code, `expected code ${code}, got ${show(r)}`);
  assert.ok(r.data === undefined || r.data === null, `data must be null/absent on errors: ${show(r)}`);
  assert.equal(typeof r.msg, 'string', show(r));
  assert.ok(r.msg.trim().length > 0, `empty msg: ${show(r)}`);
  for (const re of [msg ?? []].flat()) assert.match(r.msg, re, `message does not say ${re}: ${show(r)}`);
}

/** The state must be byte-identical to `before` (a `snapshot()`). */
export async function expectUnchanged(w, before, why = '') {
  const after = await snapshot(w);
  assert.deepEqual(Object.keys(after.objects).sort(), Object.keys(before.objects).sort(), `R2 keys changed ${why}`);
  for (const k of Object.keys(before.objects)) {
    assert.ok(after.objects[k].bytes === before.objects[k].bytes, `R2 object ${k} bytes changed ${why}`);
    assert.equal(after.objects[k].contentType, before.objects[k].contentType, `R2 ${k} content-type changed ${why}`);
  }
  assert.equal(after.profile, before.profile, `KV profile changed ${why}`);
}

/**
 * After a success: the URL has the expected shape, the object is stored
 * under the right key with the right Content-Type and size, the profile in
 * KV is untouched, and GET /api/user/detail shows exactly this URL with
 * every other field as stored.
 * Returns { bytes, info, key }.
 */
export async function expectStored(w, url, {
  format = 'webp', size = 256, id = 1, origin = w.origin, profile = { ...PROFILE, id },
} = {}) {
  const ext = EXT_FOR[format];
  const escaped = origin.replace(/\/$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(url, new RegExp(`^${escaped}/uploads/user/${id}\\.${ext}\\?v=[A-Za-z0-9_-]+$`), `avatar_url shape: ${url}`);
  const key = `uploads/user/${id}.${ext}`;
  const obj = await getObjectBytes(w.r2, key);
  assert.ok(obj, `no R2 object ${key}`);
  assert.equal(obj.contentType, MIME_FOR[format], `R2 Content-Type of ${key}`);
  const info = imageInfo(obj.bytes);
  assert.equal(info.format, format, `stored bytes are ${info.format}, not ${format}`);
  assert.equal(info.width, size, `stored width ${info.width}`);
  assert.equal(info.height, size, `stored height ${info.height}`);
  // The upload wrote the image only: the profile in KV is as seeded, and
  // the profile the worker shows names the new avatar.
  const stored = await getProfile(w.kv, id);
  assert.deepEqual(stored, profile, 'KV profile untouched by the upload');
  const shown = await readEnvelope(await get(w, '/api/user/detail', { headers: { Token: mintToken({ userId: id }) } }));
  assert.equal(shown.code, 0, `detail: ${JSON.stringify(shown.body)}`);
  const { password, ...visible } = profile;
  assert.deepEqual(shown.data, { ...visible, avatar_url: url }, 'detail: avatar_url is the returned URL, all other fields as stored');
  return { bytes: obj.bytes, info, key };
}
