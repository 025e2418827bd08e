// Starts the BUILT worker (build/worker/shim.mjs from `worker-build
// --release`) in workerd through Miniflare, with real KV and R2 simulators,
// and offers small helpers to seed and inspect state and to upload.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare, Log, LogLevel } from 'miniflare';
import { Agent, setGlobalDispatcher } from 'undici';
import { mintToken, TEST_SECRET } from './token.mjs';

// The tests' own requests (global fetch) each go on a new connection.
// workerd closes an idle connection after about five seconds, and undici
// keeps one for four, counted by a coarse timer that falls behind when the
// event loop is busy or the machine loaded: a request could then go out on
// a connection workerd had just closed ("fetch failed: other side closed").
// Loopback connections cost nothing, so none is reused.
setGlobalDispatcher(new Agent({ pipelining: 0 }));

process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
process.env.WRANGLER_SEND_METRICS ??= 'false';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
export const FIXTURES = path.join(REPO_ROOT, 'tests', 'fixtures');

/**
 * The build directory: $AVATAR_BUILD_DIR (either the `build` directory or
 * a project root holding one), else <repo>/build.
 */
export function buildDir() {
  const env = process.env.AVATAR_BUILD_DIR;
  const candidates = env ? [env, path.join(env, 'build')] : [path.join(REPO_ROOT, 'build')];
  for (const c of candidates) {
    if (existsSync(path.join(c, 'worker', 'shim.mjs'))) return path.resolve(c);
  }
  return null;
}

export const BUILD_DIR = buildDir();
const NOT_BUILT = 'worker not built: run `npm run build` (build/worker/shim.mjs) or set AVATAR_BUILD_DIR';
/**
 * Skip option for `describe`/`test` when the worker is not built. In CI
 * (CI set) or with AVATAR_REQUIRE_BUILD=1 a missing build fails instead of
 * skipping, so a green run always exercised the worker.
 */
export const SKIP = BUILD_DIR || process.env.CI || process.env.AVATAR_REQUIRE_BUILD ? false : NOT_BUILT;

/** The test build (`BUILD_VARIANT=test`: cargo feature test-hooks, with the test-only routes and hooks). */
export const TEST_BUILD = path.join(REPO_ROOT, 'build-test');
export const TEST_BUILT = existsSync(path.join(TEST_BUILD, 'worker', 'shim.mjs'));
/** Skip option for suites that need the test build; in CI a missing one fails instead. */
export const SKIP_TEST_BUILD = TEST_BUILT || process.env.CI ? false : 'test build missing: BUILD_VARIANT=test bash scripts/build.sh';

export function fixture(name) {
  return readFileSync(path.join(FIXTURES, name));
}

export const MANIFEST = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'));

/**
 * Starts the worker with `vars` merged over { TOKEN_SECRET: 'test-secret' }
 * (pass TOKEN_SECRET: undefined to leave it out). `ratelimits`: Miniflare
 * rate-limit bindings, e.g. { UPLOAD_LIMITER: { simple: { limit: 2, period: 60 } } }.
 * `queue: true`: the WRITEBACK queue (producer, and this worker as its
 * consumer, as in wrangler.toml's origin-mode setup), delivering each
 * message on its own at once. Returns { mf, url, kv, r2, origin, dispose }.
 */
export async function startWorker(vars = {}, { log = false, ratelimits, entry, build = BUILD_DIR, stdout, queue = false } = {}) {
  if (!build) throw new Error(NOT_BUILT);
  const bindings = { TOKEN_SECRET: TEST_SECRET, ...vars };
  for (const k of Object.keys(bindings)) if (bindings[k] === undefined) delete bindings[k];
  const mf = new Miniflare({
    modules: true,
    // `entry`: a test-only module that imports the build (fault-wrapper.mjs).
    // `build`: another build directory, e.g. build-test/ (test-hooks).
    scriptPath: entry ?? path.join(build, 'worker', 'shim.mjs'),
    modulesRoot: entry ? REPO_ROOT : build,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm', '**/*.wasm?module'] },
    ],
    compatibilityDate: '2025-01-01',
    kvNamespaces: ['USERS'],
    r2Buckets: ['AVATARS'],
    bindings,
    ...(ratelimits ? { ratelimits } : {}),
    ...(queue ? {
      queueProducers: { WRITEBACK: { queueName: 'avatar-writeback' } },
      queueConsumers: { 'avatar-writeback': { maxBatchSize: 1, maxBatchTimeout: 1, maxRetries: 3 } },
    } : {}),
    // `stdout(line)`: receives the worker's console output line by line.
    ...(stdout ? {
      handleRuntimeStdio(out, err) {
        let buf = '';
        out.on('data', (c) => {
          buf += c.toString();
          let i;
          while ((i = buf.indexOf('\n')) >= 0) { stdout(buf.slice(0, i)); buf = buf.slice(i + 1); }
        });
        err.resume();
      },
    } : {}),
    log: log || process.env.AVATAR_TEST_LOG ? new Log(LogLevel.DEBUG) : undefined,
  });
  const url = await mf.ready;
  const kv = await mf.getKVNamespace('USERS');
  const r2 = await mf.getR2Bucket('AVATARS');
  return { mf, url, origin: url.origin, kv, r2, dispose: () => mf.dispose() };
}

// ---------------------------------------------------------------- state

export const PROFILE = Object.freeze({
  id: 1,
  user_name: 'alice',
  status: 1,
  avatar_url: '',
  email: 'alice@example.com',
  phone: '13800000000',
  group_id: 2,
  extra: { x: 1, nested: ['a', { b: true }] },
  real_name: '爱丽丝',
});

/** Puts `user:{id}` (a profile like PROFILE) and returns the raw JSON written. */
export async function seedUser(kv, { id = 1, ...fields } = {}) {
  const profile = { ...PROFILE, id, user_name: id === 1 ? 'alice' : `user${id}`, ...fields };
  const raw = JSON.stringify(profile);
  await kv.put(`user:${id}`, raw);
  return raw;
}

export async function getProfile(kv, id = 1) {
  const raw = await kv.get(`user:${id}`);
  return raw === null ? null : JSON.parse(raw);
}

/** Everything an upload could change: all R2 objects and the profile. */
export async function snapshot({ kv, r2 }, id = 1) {
  const objects = {};
  let cursor;
  do {
    const list = await r2.list({ cursor, include: ['httpMetadata', 'customMetadata'] });
    for (const o of list.objects) {
      const obj = await r2.get(o.key);
      objects[o.key] = {
        bytes: Buffer.from(await obj.arrayBuffer()).toString('base64'),
        contentType: obj.httpMetadata?.contentType ?? null,
        etag: obj.etag,
      };
    }
    cursor = list.truncated ? list.cursor : undefined;
  } while (cursor);
  const profile = await kv.get(`user:${id}`);
  return { objects, profile };
}

export async function getObjectBytes(r2, key) {
  const obj = await r2.get(key);
  if (!obj) return null;
  return { bytes: Buffer.from(await obj.arrayBuffer()), contentType: obj.httpMetadata?.contentType ?? null, obj };
}

// ---------------------------------------------------------------- requests

/**
 * Posts a multipart upload. `file`: Buffer (or null for no file part);
 * `fields`: extra form fields; `token`: put in the `Token` header unless
 * `headers` says otherwise (token: null for none).
 */
export async function upload(w, {
  file,
  filename = 'avatar.jpg',
  type = 'image/jpeg',
  fields = {},
  token = mintToken(),
  headers = {},
  lang,
  path: p = '/api/user/avatar',
} = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, String(v));
  if (file !== null && file !== undefined) form.append('file', new File([file], filename, { type }));
  const h = { ...headers };
  if (token) h.Token = token;
  if (lang) h['Accept-Language'] = lang;
  const res = await fetch(new URL(p, w.url), { method: 'POST', body: form, headers: h });
  return readEnvelope(res);
}

/** Reads a response that must be an HTTP 200 JSON envelope. */
export async function readEnvelope(res) {
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`not a JSON envelope (HTTP ${res.status}): ${text.slice(0, 300)}`);
  }
  return { res, status: res.status, headers: res.headers, body, code: body.code, msg: body.msg, data: body.data };
}

/** Polls `check` until it gives a truthy value, which it returns; throws after `ms`. */
export async function until(what, check, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Fetches a path (or absolute URL) on the worker. */
export function get(w, p, init = {}) {
  return fetch(new URL(p, w.url), init);
}

/**
 * Like `upload`, over node:http instead of fetch, for bodies the worker
 * refuses before reading them all (over the size limit): the worker answers
 * and workerd closes the connection with the rest of the body unread (a TCP
 * reset). undici's fetch reports that as "fetch failed", and a client still
 * writing can lose the answer to the reset. So:
 * - with Content-Length (default) it sends `Expect: 100-continue`, as curl
 *   does for large uploads, and holds the body until the server says
 *   100 Continue or 1 s passes: a worker that refuses by the headers alone
 *   answers before any body byte is sent;
 * - `chunked: true` sends no Content-Length (Transfer-Encoding: chunked);
 * - either way it stops writing as soon as the answer arrives.
 * Resolves like `readEnvelope`, plus `bodyBytesSent`.
 */
export async function uploadEarlyAnswer(w, { file, filename = 'avatar.jpg', token = mintToken(), lang, chunked = false } = {}) {
  const http = await import('node:http');
  const boundary = '----avatar-early-answer';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: image/jpeg\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const body = Buffer.concat([head, file, tail]);
  const url = new URL('/api/user/avatar', w.url);
  const headers = { 'Content-Type': `multipart/form-data; boundary=${boundary}`, Token: token };
  if (!chunked) Object.assign(headers, { 'Content-Length': body.length, Expect: '100-continue' });
  if (lang) headers['Accept-Language'] = lang;
  return new Promise((resolve, reject) => {
    let answered = false;
    let sent = 0;
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      answered = true;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const hdrs = new Headers(Object.entries(res.headers).map(([k, v]) => [k, String(v)]));
        readEnvelope({ status: res.statusCode, headers: hdrs, text: async () => text })
          .then((r) => resolve({ ...r, bodyBytesSent: sent }), reject);
      });
    });
    req.on('error', (e) => {
      if (!answered) reject(new Error(`no answer before the connection closed (${e.code ?? e.message}) after ${sent} body bytes`));
    });
    // Once the answer is in, node detaches the request's socket listener, so
    // a late reset on the socket needs its own handler (else it is uncaught).
    req.on('socket', (sock) => sock.on('error', () => {}));
    const STEP = 64 * 1024;
    const pump = () => {
      while (!answered && !req.destroyed) {
        if (sent >= body.length) { req.end(); return; }
        const piece = body.subarray(sent, sent + STEP);
        sent += piece.length;
        if (!req.write(piece)) { req.once('drain', pump); return; }
      }
    };
    if (chunked) {
      pump();
    } else {
      let started = false;
      const go = () => { if (!started) { started = true; pump(); } };
      req.on('continue', go);
      req.flushHeaders();
      setTimeout(go, 1000).unref();
    }
  });
}
