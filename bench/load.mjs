#!/usr/bin/env node
// `npm run load`: a bounded load test on loopback. The built worker runs in
// workerd (Miniflare, local KV and R2); N concurrent clients upload a mix of
// fixtures for a fixed time, as distinct users so that every upload does the
// full job. Prints throughput, latency percentiles, errors, and the wasm
// memory seen at the start and end (from X-Wasm-Memory-Bytes) to show it
// stays flat, and uploads per second per core: the CPU time workerd used
// over the run (all its threads, /proc; bench/lib/cpu.mjs) is the number
// of cores it kept busy, and successful uploads over those CPU seconds is
// what one core would serve. Only 127.0.0.1 is targeted; the loop stops by
// itself. Writes bench/out/load.json (`node bench/report.mjs --save=NAME`
// puts it beside the bench's results).
//
//   node bench/load.mjs [--seconds=60] [--concurrency=8] [--out=bench/out/load.json]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorker, seedUser } from '../tests/lib/worker.mjs';
import { mintToken, TEST_SECRET } from '../scripts/lib/token.mjs';
import { cpuDelta, ownCpu, processCpu, workerdWatcher } from './lib/cpu.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => Number((process.argv.find((a) => a.startsWith(`--${name}=`)) ?? '').split('=')[1] || dflt);
const seconds = arg('seconds', 60);
const concurrency = arg('concurrency', 8);
const outFile = path.resolve((process.argv.find((a) => a.startsWith('--out=')) ?? '').slice(6) || path.join(root, 'bench', 'out', 'load.json'));
const loadavgStart = os.loadavg();
const USERS = 32;

const FIXTURES = ['jpeg_baseline.jpg', 'jpeg_progressive.jpg', 'png_rgb8.png', 'png_rgba_circle.png',
  'webp_lossy.webp', 'gif_animated.gif', 'jpeg_exif_orient6.jpg', 'bmp_24.bmp'];
const files = FIXTURES.map((f) => ({ name: f, bytes: readFileSync(path.join(root, 'tests', 'fixtures', f)) }));

const watch = workerdWatcher();
// The worker's log lines are read and dropped (else they go to our stdout).
const w = await startWorker({ TOKEN_SECRET: TEST_SECRET, BENCH_HEADERS: 'on' }, { stdout: () => {} });
const workerd = watch();
if (!['127.0.0.1', 'localhost', '[::1]'].includes(w.url.hostname)) {
  await w.dispose();
  throw new Error(`refusing to load a non-loopback address: ${w.url.href}`);
}
// Stops by itself even if a request hangs: each request times out, and a
// watchdog ends the process well after the deadline.
const REQUEST_TIMEOUT_MS = 30_000;
setTimeout(() => { console.error('load: watchdog fired, exiting'); process.exit(2); },
  (seconds + 120) * 1000).unref();
for (let id = 1; id <= USERS; id++) await seedUser(w.kv, { id });
const tokens = Array.from({ length: USERS }, (_, i) => mintToken({ userId: i + 1 }));

const latencies = [];
const errors = new Map();
const memory = [];
let done = 0;
let n = 0;
const deadline = Date.now() + seconds * 1000;

async function client() {
  while (Date.now() < deadline) {
    const i = n++;
    const file = files[i % files.length];
    const form = new FormData();
    form.append('file', new File([file.bytes], file.name));
    const t0 = performance.now();
    try {
      const res = await fetch(new URL('/api/user/avatar', w.url), {
        method: 'POST', body: form, headers: { Token: tokens[i % USERS] },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const body = await res.json();
      const ms = performance.now() - t0;
      const mem = Number(res.headers.get('x-wasm-memory-bytes'));
      if (mem) memory.push(mem);
      if (res.status !== 200 || body.code !== 0) {
        const key = `HTTP ${res.status} code ${body.code}: ${body.msg}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      } else {
        latencies.push(ms);
      }
    } catch (e) {
      errors.set(String(e.message), (errors.get(String(e.message)) ?? 0) + 1);
    }
    done++;
  }
}

const started = Date.now();
const cpu0 = processCpu(workerd), own0 = ownCpu();
await Promise.all(Array.from({ length: concurrency }, client));
const elapsed = (Date.now() - started) / 1000;
const cpu = cpuDelta(cpu0, processCpu(workerd));
const clientCpuS = (ownCpu() - own0) / 1000;
await w.dispose();

latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN;
const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
const mib = (b) => (b / 1048576).toFixed(1);
const third = Math.max(1, Math.floor(memory.length / 3));
const early = Math.max(...memory.slice(0, third));
const late = Math.max(...memory.slice(-third));

// Cores workerd kept busy: its CPU seconds (every thread) over the run's.
const cpuS = cpu ? cpu.total / 1000 : null;
const cores = cpuS != null ? cpuS / elapsed : null;
const perCore = cpuS ? latencies.length / cpuS : null;
const result = {
  date: new Date(started).toISOString(),
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length },
  loadavgStart, loadavgEnd: os.loadavg(),
  seconds, elapsed, concurrency, users: USERS, fixtures: FIXTURES,
  requests: done, ok: latencies.length, errors: errorCount, errorKinds: Object.fromEntries(errors),
  throughput: latencies.length / elapsed,
  workerdCpuS: cpuS, workerdMainCpuS: cpu ? cpu.main / 1000 : null, cores, perCore, clientCpuS,
  p50: pct(50), p90: pct(90), p99: pct(99), max: latencies.at(-1) ?? null,
  memoryFirst: early, memoryLast: late,
};
mkdirSync(path.dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');

console.log(`\n| load (${concurrency} concurrent, ${seconds} s, ${files.length} fixtures, ${USERS} users) | value |`);
console.log('| --- | ---: |');
console.log(`| requests | ${done} |`);
console.log(`| throughput | ${(latencies.length / elapsed).toFixed(1)} uploads/s |`);
console.log(`| workerd CPU (all threads; isolate thread) | ${cpuS?.toFixed(1) ?? '–'} s; ${cpu ? (cpu.main / 1000).toFixed(1) : '–'} s = ${cores?.toFixed(2) ?? '–'} cores busy |`);
console.log(`| uploads/s per core | ${perCore?.toFixed(1) ?? '–'} |`);
console.log(`| client (this Node process) CPU | ${clientCpuS.toFixed(1)} s |`);
console.log(`| latency p50 / p90 / p99 / max | ${pct(50).toFixed(0)} / ${pct(90).toFixed(0)} / ${pct(99).toFixed(0)} / ${latencies.at(-1)?.toFixed(0)} ms |`);
console.log(`| errors | ${errorCount} |`);
console.log(`| wasm memory, first third / last third of the run (max) | ${mib(early)} / ${mib(late)} MiB |`);
for (const [k, v] of errors) console.log(`  error ×${v}: ${k}`);
console.log(`load average (1 min) ${loadavgStart[0].toFixed(2)} at the start; wrote ${path.relative(process.cwd(), outFile)}`);
process.exit(errorCount === 0 && late <= early * 1.25 ? 0 : 1);
