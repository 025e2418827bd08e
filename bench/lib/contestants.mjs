// The contestants: our worker, the two peer workers and the null worker,
// each run in workerd through Miniflare, and sharp run natively in this
// Node process.
//
// A worker contestant is started fresh for every fixture (new Miniflare ->
// new workerd process): wasm memory only grows, so the X-Wasm-Memory-Bytes
// of the last response is the peak for that fixture alone, and the first
// request of every instance is a cold one.
import { Miniflare } from 'miniflare';
import sharp from 'sharp';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { mintToken } from '../../scripts/lib/token.mjs';
import { ownCpu, processCpu, workerdWatcher } from './cpu.mjs';

const ORIGIN = 'http://127.0.0.1';
// One upload that takes longer than this is recorded as a failure (and the
// instance is thrown away), so a hung worker cannot stall the run.
const REQUEST_TIMEOUT_MS = Number(process.env.BENCH_REQUEST_TIMEOUT_MS || 180000);
const SECRET = 'bench-secret';
const MiB = 1048576;

/** Raw and gzip -9 size of each wasm module in a folder. */
export function wasmSizes(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.wasm')).map((f) => {
    const buf = readFileSync(path.join(dir, f));
    return { file: f, bytes: buf.length, gzip: gzipSync(buf, { level: 9 }).length };
  });
}

/** A multipart/form-data body with one part `file` (built once per fixture). */
export function multipart(bytes, filename) {
  const boundary = `----avatar-bench-${Math.random().toString(16).slice(2)}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n'),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

const errorText = (e) => (e && e.message ? `${e.name && e.name !== 'Error' ? e.name + ': ' : ''}${e.message}` : String(e));

/** How long to wait for a request's log line after its response. */
const LOG_WAIT_MS = 2000;

/**
 * One worker instance. `upload(fixture)` resolves to
 *   {ok: true, ms, memory, fetchOutput, log}   (fetchOutput(): the WebP bytes)
 *   {ok: false, ms, memory, error, log}
 * and never throws for a failed job: failures are results. Every request
 * carries a `cf-ray` id, which our worker logs as its request_id: with
 * `captureLog`, the worker's output is read line by line and `log` is the
 * JSON log line of that request (its `ms` per stage), null if none came.
 * `cpu()`: CPU time of the instance's workerd process so far (lib/cpu.mjs).
 */
class WorkerInstance {
  constructor(kind, options) {
    this.kind = kind;
    this.options = options;
    this.seq = 0;
    this.logs = new Map(); // request id -> parsed log line
    this.waiting = new Map(); // request id -> resolve
    this.stderrTail = [];
  }

  /** Reads workerd's stdout (JSON log lines) and keeps stderr's last lines. */
  stdio(out, err) {
    let buf = '';
    out.on('data', (chunk) => {
      buf += chunk.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line.startsWith('{')) continue;
        let obj;
        try { obj = JSON.parse(line); } catch { continue; }
        if (!obj.request_id) continue;
        this.logs.set(obj.request_id, obj);
        this.waiting.get(obj.request_id)?.(obj);
      }
    });
    err.on('data', (chunk) => {
      this.stderrTail.push(...chunk.toString().split('\n').filter(Boolean));
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - 20));
    });
  }

  /** The log line of request `id` (waits up to LOG_WAIT_MS for it). */
  logOf(id) {
    if (this.logs.has(id)) return Promise.resolve(this.logs.get(id));
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiting.delete(id); resolve(null); }, LOG_WAIT_MS);
      this.waiting.set(id, (obj) => { clearTimeout(timer); this.waiting.delete(id); resolve(obj); });
    });
  }

  cpu() { return processCpu(this.pid); }

  async start() {
    const t0 = performance.now();
    const workerd = workerdWatcher();
    this.mf = new Miniflare({
      ...(this.options.captureLog ? { handleRuntimeStdio: (out, err) => this.stdio(out, err) } : {}),
      modules: true,
      modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
      compatibilityDate: this.options.compatibilityDate,
      compatibilityFlags: this.options.compatibilityFlags ?? [],
      r2Buckets: ['AVATARS'],
      // Module names are paths relative to modulesRoot; workerd refuses '..'.
      modulesRoot: path.dirname(this.options.miniflare.scriptPath),
      ...this.options.miniflare,
    });
    await this.mf.ready;
    this.startupMs = performance.now() - t0;
    this.pid = workerd();
    if (this.options.afterStart) await this.options.afterStart(this.mf);
    return this;
  }

  async upload(req) {
    const id = `bench-${this.kind}-${++this.seq}`;
    const withLog = async (r) => (this.options.captureLog ? { ...r, log: await this.logOf(id) } : r);
    const t0 = performance.now();
    let res;
    try {
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS);
      });
      const buf = await Promise.race([timeout, (async () => {
        res = await this.mf.dispatchFetch(`${ORIGIN}${this.options.uploadPath}`, {
          method: 'POST', body: req.body,
          // Browsers send Content-Length with a form upload; without it,
          // Miniflare's dispatchFetch sends the body chunked.
          headers: { 'Content-Type': req.contentType, 'Content-Length': String(req.body.length), 'cf-ray': id, ...this.options.headers },
        });
        return Buffer.from(await res.arrayBuffer());
      })()]).finally(() => clearTimeout(timer));
      const ms = performance.now() - t0;
      const memory = Number(res.headers.get('x-wasm-memory-bytes')) || null;
      const memoryDetail = res.headers.get('x-wasm-memory-detail') || undefined;
      return withLog({ ms, memory, memoryDetail, ...(await this.options.interpret(res, buf, this.mf)) });
    } catch (e) {
      // workerd crashed, the isolate was torn down, the fetch itself failed...
      return withLog({ ok: false, ms: performance.now() - t0, memory: null, error: errorText(e) });
    }
  }

  async stop() { try { await this.mf?.dispose(); } catch { /* already gone */ } }
}

/** Our worker (build/index.js + index_bg.wasm from `npm run build`; shim.mjs only re-exports it). */
export function ours({ root, compatibilityDate, compatibilityFlags, maxUploadBytes, bindings = {}, dir: buildDir = null }) {
  const dir = buildDir || process.env.BENCH_WORKER_DIR || path.join(root, 'build');
  const scriptPath = path.join(dir, 'index.js');
  const token = mintToken({ userId: 1, secret: SECRET, exp: Math.floor(Date.now() / 1000) + 86400 });
  return {
    name: 'ours',
    label: 'ours (Rust)',
    note: `run with MAX_UPLOAD_BYTES=${maxUploadBytes} (default 20 MiB; the 24 MP PNG is ~34 MiB), ANIMATION=first (a still, as the peers make) and no UPLOAD_LIMITER; ` +
      'each upload also checks the token (HS256), reads KV (profile, revocations) and writes R2',
    available: existsSync(scriptPath) ? null : `not built: ${path.relative(root, scriptPath)} is missing (run \`npm run build\`)`,
    wasm: () => wasmSizes(dir),
    instance: () => new WorkerInstance('ours', {
      compatibilityDate, compatibilityFlags,
      captureLog: true,
      uploadPath: '/api/user/avatar',
      headers: { Token: token },
      miniflare: {
        scriptPath,
        kvNamespaces: ['USERS'],
        bindings: {
          TOKEN_SECRET: SECRET,
          BENCH_HEADERS: 'on',
          // The 24 MP PNG is ~34 MiB, over the 20 MiB default: the bench
          // raises the cap so that the image work is what gets measured.
          MAX_UPLOAD_BYTES: String(maxUploadBytes),
          // The peers make a still avatar from an animation (its first
          // picture): the same job, not an animated WebP.
          ANIMATION: 'first',
          ...bindings,
        },
      },
      afterStart: async (mf) => {
        const kv = await mf.getKVNamespace('USERS');
        await kv.put('user:1', JSON.stringify({ id: 1, user_name: 'bench', status: 1, avatar_url: '' }));
      },
      // Success is {"code":0,...,"data":{"avatar_url":...}}; fetch the avatar
      // back through the worker for its bytes (not part of the timing).
      interpret: async (res, buf, mf) => {
        let json;
        try { json = JSON.parse(buf.toString('utf8')); } catch {
          return { ok: false, error: `HTTP ${res.status}, not JSON: ${buf.toString('utf8').slice(0, 200)}` };
        }
        if (json.code !== 0) return { ok: false, error: `code ${json.code}: ${json.msg}` };
        return { ok: true, fetchOutput: async () => {
          const url = new URL(json.data.avatar_url, ORIGIN);
          const img = await mf.dispatchFetch(`${ORIGIN}${url.pathname}${url.search}`);
          if (img.status !== 200) throw new Error(`GET ${url.pathname}: HTTP ${img.status}`);
          return Buffer.from(await img.arrayBuffer());
        } };
      },
    }),
  };
}

/** A peer worker bundled by lib/peers.mjs. */
export function peer(built, { compatibilityDate, label, note }) {
  return {
    name: built.name,
    label,
    note,
    available: built.error ? `could not be built: ${built.error}` : null,
    wasm: () => wasmSizes(path.dirname(built.scriptPath ?? '.')),
    instance: () => new WorkerInstance(built.name, {
      compatibilityDate,
      uploadPath: '/upload',
      headers: {},
      miniflare: { scriptPath: built.scriptPath },
      interpret: async (res, buf) => {
        if (res.status === 200 && res.headers.get('content-type') === 'image/webp') {
          return { ok: true, fetchOutput: async () => buf };
        }
        let error = `HTTP ${res.status}`;
        try { error = JSON.parse(buf.toString('utf8')).error ?? error; } catch { error += `: ${buf.toString('utf8').slice(0, 200)}`; }
        return { ok: false, error };
      },
    }),
  };
}

/**
 * The null worker (bench/peers/null, bundled by lib/peers.mjs): the same
 * authenticated multipart POST as ours, the whole body read, a fixed
 * envelope answered. No output image: it is timed, not scored.
 */
export function nullWorker(built, { compatibilityDate, steps = '', name = 'null', label = 'null worker' }) {
  const token = mintToken({ userId: 1, secret: SECRET, exp: Math.floor(Date.now() / 1000) + 86400 });
  return {
    name,
    label,
    noOutput: true,
    note: 'the baseline for the fixed cost: the same authenticated multipart POST, the whole body read, a fixed envelope ' +
      'answered; no token check, no image, no KV or R2 (bench/peers/null)',
    available: built.error ? `could not be built: ${built.error}` : null,
    wasm: () => [],
    instance: () => new WorkerInstance(name, {
      compatibilityDate,
      // With the `log` step its lines are read (and dropped) like ours'.
      captureLog: steps.includes('log'),
      uploadPath: '/api/user/avatar',
      headers: { Token: token },
      // `steps` (bench/fixed-cost.mjs): platform calls to make, see the worker.
      miniflare: { scriptPath: built.scriptPath, ...(steps ? { kvNamespaces: ['USERS'], bindings: { STEPS: steps } } : {}) },
      afterStart: steps.includes('kv') ? async (mf) => {
        const kv = await mf.getKVNamespace('USERS');
        await kv.put('user:1', JSON.stringify({ id: 1, user_name: 'bench', status: 1, avatar_url: '' }));
      } : undefined,
      interpret: async (res, buf) => {
        let json;
        try { json = JSON.parse(buf.toString('utf8')); } catch {
          return { ok: false, error: `HTTP ${res.status}, not JSON: ${buf.toString('utf8').slice(0, 200)}` };
        }
        return json.code === 0 ? { ok: true } : { ok: false, error: `code ${json.code}: ${json.msg}` };
      },
    }),
  };
}

/**
 * sharp in this process: exactly the brief's pipeline. libvips' operation
 * cache is off (else repeats of the same input would be served from it), and
 * its thread pool is `threads` (1 by default: a Worker gets one thread).
 */
export function sharpNative({ threads }) {
  sharp.cache(false);
  sharp.concurrency(threads);
  return {
    name: 'sharp',
    label: `sharp (native, ${threads} thread${threads > 1 ? 's' : ''})`,
    available: null,
    wasm: () => [],
    instance: () => ({
      startupMs: 0,
      async start() { return this; },
      // This process's CPU: the timed loop runs nothing but sharp's jobs
      // one after the other (libvips' worker thread and the libuv thread
      // that drives it, all counted).
      cpu() { const t = ownCpu(); return { main: t, other: 0, total: t, ticks: null }; },
      async upload(req) {
        const t0 = performance.now();
        try {
          const out = await sharp(req.bytes).rotate().resize(256, 256, { fit: 'cover' }).webp({ quality: 85 }).toBuffer();
          return { ok: true, ms: performance.now() - t0, memory: null, fetchOutput: async () => out };
        } catch (e) {
          return { ok: false, ms: performance.now() - t0, memory: null, error: errorText(e) };
        }
      },
      async stop() {},
    }),
  };
}

export { MiB };
