// `node bench/run.mjs --fixed-cost`: where the milliseconds of the
// smallest upload (the 1×1 PNG) go, in this harness.
//
// The same authenticated multipart POST is sent to ours and to the null
// worker (bench/peers/null) run bare and with each platform call ours makes
// on every upload, one at a time and all together (STEPS: kv = two KV
// reads, r2 = one small R2 put, log = one console.log line, formdata =
// parsing the body as a form). Each variant: fresh workerd, warm-up until
// V8 has stopped compiling, then --runs timed uploads (default 100) one
// after the other; median and p90 end to end, CPU per upload of workerd's
// isolate thread (and of its other threads). Ours also gives its log
// line's ms per stage. The difference between "null + kv, r2, log" and the
// null worker is what those calls cost in Miniflare; ours minus "null +
// kv, r2, log" is what our own code costs (token, multipart, image, JSON,
// the wasm glue).
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeFixtures } from '../make-fixtures.mjs';
import { buildPeer } from './peers.mjs';
import { ours, nullWorker, multipart } from './contestants.mjs';
import { cpuDelta, settled } from './cpu.mjs';

const STAGES = ['auth', 'read', 'decode', 'orient', 'resize', 'encode', 'store'];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] : null; };

export const VARIANTS = [
  { name: 'null', steps: '', what: 'null worker: body read, fixed envelope' },
  { name: 'null+log', steps: 'log', what: '+ one console.log line' },
  { name: 'null+kv', steps: 'kv', what: '+ two KV reads (in parallel)' },
  { name: 'null+r2', steps: 'r2', what: '+ one R2 put (202 B)' },
  { name: 'null+formdata', steps: 'formdata', what: 'body parsed by formData() instead' },
  { name: 'null+kv,r2,log', steps: 'kv,r2,log', what: "+ all of ours' platform calls" },
  { name: 'ours', steps: null, what: 'ours (Rust): token, KV, multipart, image, R2, log' },
];

async function measure(contestant, req, { runs, warmupMax, log }) {
  const inst = contestant.instance();
  try {
    await inst.start();
    const first = await inst.upload(req);
    if (!first.ok) return { error: first.error };
    let warm = 1, quiet = 0;
    while (warm < 10 || (quiet < 3 && warm < warmupMax)) {
      const c0 = inst.cpu();
      const r = await inst.upload(req);
      if (!r.ok) return { error: `warm-up: ${r.error}` };
      warm++;
      quiet = settled(cpuDelta(c0, inst.cpu())) ? quiet + 1 : 0;
    }
    const times = [], logs = [];
    const c0 = inst.cpu();
    for (let i = 0; i < runs; i++) {
      const r = await inst.upload(req);
      if (!r.ok) return { error: `run ${i + 1}: ${r.error}` };
      times.push(r.ms);
      if (r.log) logs.push(r.log);
    }
    const cpu = cpuDelta(c0, inst.cpu(), runs);
    const out = { warmup: warm, settled: quiet >= 3, median: median(times), p90: pct(times, 90), min: Math.min(...times), cpu };
    if (logs.length) {
      out.stages = Object.fromEntries(STAGES.map((k) => [k, median(logs.map((l) => l.ms?.[k] ?? 0))]));
      out.stages.total = median(logs.map((l) => l.total_ms));
      // The share of runs in which a stage took at least 1 ms (the clock's tick).
      out.stagesAtLeast1ms = Object.fromEntries(STAGES.map((k) => [k, logs.filter((l) => (l.ms?.[k] ?? 0) >= 1).length / logs.length]));
    }
    log(`${contestant.name.padEnd(16)} median ${out.median.toFixed(2)} ms, p90 ${out.p90.toFixed(2)}, CPU ${cpu?.main.toFixed(2)} (+${cpu?.other.toFixed(2)}) ms/upload` +
      `${out.stages ? `, stages ${STAGES.map((k) => `${k} ${out.stages[k]}`).join(' ')} total ${out.stages.total}` : ''} (warm-up ${warm}${out.settled ? '' : ', not settled'})`);
    return out;
  } finally {
    await inst.stop();
  }
}

export async function fixedCost({ root, compat, runs, warmupMax, rounds, log, outDir }) {
  const fixtures = await makeFixtures({ log });
  const fx = fixtures.find((f) => f.name === 'png-1x1.png');
  const bytes = readFileSync(fx.path);
  const req = { ...multipart(bytes, fx.name), bytes };
  const built = await buildPeer('null');
  const contestants = VARIANTS.map((v) => (v.steps == null
    ? ours({ root, ...compat, maxUploadBytes: 20 * 1048576 })
    : nullWorker(built, { ...compat, steps: v.steps, name: v.name, label: v.what })));
  const results = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round} of ${rounds}: ${runs} timed uploads of the 1×1 PNG per variant`);
    for (let i = 0; i < VARIANTS.length; i++) results[VARIANTS[i].name].push(await measure(contestants[i], req, { runs, warmupMax, log }));
  }
  // Per variant: the median over rounds of each figure.
  const summary = VARIANTS.map((v) => {
    const rs = results[v.name].filter((r) => !r.error);
    const m = (f) => median(rs.map(f).filter((x) => x != null));
    return { name: v.name, what: v.what, error: results[v.name].find((r) => r.error)?.error,
      median: m((r) => r.median), p90: m((r) => r.p90), cpuMain: m((r) => r.cpu?.main), cpuOther: m((r) => r.cpu?.other),
      stages: rs[0]?.stages ? Object.fromEntries([...STAGES, 'total'].map((k) => [k, m((r) => r.stages[k])])) : null };
  });
  const base = summary[0];
  const lines = ['| variant | end to end, ms (p90) | × null worker | CPU, isolate thread, ms (+ other threads) |', '| --- | ---: | ---: | ---: |'];
  for (const s of summary) {
    lines.push(s.error ? `| ${s.what} | ✗ ${s.error} | | |`
      : `| ${s.what} | ${s.median.toFixed(2)} (${s.p90.toFixed(2)}) | ${(s.median / base.median).toFixed(2)}× | ${s.cpuMain?.toFixed(2)} (+${s.cpuOther?.toFixed(2)}) |`);
  }
  const o = summary.find((s) => s.name === 'ours');
  if (o?.stages) {
    lines.push('', `ours' log line, median ms: ${[...STAGES, 'total'].map((k) => `${k} ${o.stages[k]}`).join(', ')}; ` +
      `end to end − total = ${(o.median - o.stages.total).toFixed(2)} ms outside the Rust handler.`);
  }
  const report = { date: new Date().toISOString(), runs, rounds, variants: summary, rawRounds: results };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'fixed-cost.json'), JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`\n${lines.join('\n')}\n`);
  log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'fixed-cost.json'))}`);
}
