// The benchmark proper (bench/run.mjs installs bench/node_modules first).
//
// For every fixture, every contestant in turn (interleaved, so background
// load on a shared machine hits all of them alike):
//   fresh instance -> first request (cold) -> warm-up -> N timed requests,
//   sequential, with the CPU time of the instance's workerd process (sharp:
//   of this process) read before and after them (lib/cpu.mjs) and, for
//   ours, the request log line of each (ms per stage) -> peak wasm memory
//   from the last response -> output bytes and SSIM against two reference
//   crops (resized in sRGB and in linear light; lib/quality.mjs). Each output is also kept in
//   bench/out/outputs/<fixture>.<contestant>.<format> for inspection.
// Then, per fixture, ours at a few more OUTPUT_QUALITY values (one untimed
// upload each), for the bytes ours needs to reach sharp's SSIM
// (equalQualityBytes below).
import { readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { makeFixtures } from '../make-fixtures.mjs';
import { PEERS, buildPeer } from './peers.mjs';
import { ours, peer, nullWorker, sharpNative, multipart, MiB } from './contestants.mjs';
import { cpuDelta, settled } from './cpu.mjs';
import { references, score } from './quality.mjs';
import { markdown } from './report.mjs';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(benchDir, '..');
const outDir = path.join(benchDir, 'out');
const outputsDir = path.join(outDir, 'outputs');
const log = (...a) => console.error('[bench]', ...a);

/** Settings from the command line (--name=value) or BENCH_* variables. */
function settings(argv) {
  const arg = (name, env, dflt) => {
    const hit = argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (hit) return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : 'true';
    return process.env[env] ?? dflt;
  };
  const list = (v) => (v ? String(v).split(',').map((s) => s.trim()).filter(Boolean) : null);
  const quick = arg('quick', 'BENCH_QUICK', 'false') === 'true';
  return {
    quick,
    runs: Number(arg('runs', 'BENCH_RUNS', quick ? 2 : 5)),
    // Untimed requests, the cold one included: V8 runs new wasm with its
    // baseline compiler (Liftoff) first and tiers functions up to optimised
    // code as they get hot; a function that runs once per request (a
    // decoder's main loop) is swapped only at a later call. Our worker's
    // libwebp encode took 56 ms in the first requests and 18-20 ms only
    // from about the eighth on (12 MP JPEG: 196 ms for the first upload,
    // ~70 ms from the eighth). A live isolate serves most uploads with
    // optimised code; the cold figure is reported on its own.
    warmup: Math.max(1, Number(arg('warmup', 'BENCH_WARMUP', quick ? 1 : 10))),
    // ... and then more untimed requests, up to this many in all, until V8
    // has stopped compiling (settled(), below).
    warmupMax: Number(arg('warmup-max', 'BENCH_WARMUP_MAX', quick ? 40 : 100)),
    budgetMs: Number(arg('budget', 'BENCH_BUDGET_MS', quick ? 5000 : 20000)), // per fixture and contestant
    only: list(arg('only', 'BENCH_ONLY', null)), // fixture name substrings
    set: arg('set', 'BENCH_SET', null), // a fixture set (make-fixtures.mjs `sets`), e.g. issue
    contestants: list(arg('contestants', 'BENCH_CONTESTANTS', 'ours,photon,jsquash,sharp,null')),
    sharpThreads: Number(arg('sharp-threads', 'BENCH_SHARP_THREADS', 1)),
    // The largest MAX_UPLOAD_BYTES our config accepts (64 MiB): the 24 MP
    // PNG (~34 MiB) is over the 20 MiB default.
    maxUploadBytes: Number(arg('max-upload', 'BENCH_MAX_UPLOAD_BYTES', 64 * MiB)),
    equalQuality: arg('equal-quality', 'BENCH_EQUAL_QUALITY', 'true') !== 'false',
  };
}

/** compatibility_date / _flags of the project's wrangler.toml. */
export function wranglerCompat() {
  const toml = readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
  const date = toml.match(/^\s*compatibility_date\s*=\s*"([^"]+)"/m)?.[1] ?? '2025-09-01';
  const flags = toml.match(/^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m)?.[1]
    ?.split(',').map((s) => s.trim().replace(/^"|"$/g, '')).filter(Boolean) ?? [];
  return { compatibilityDate: date, compatibilityFlags: flags };
}

const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Our quality setting in the timed runs (the default, as sharp's q85). */
const OUR_QUALITY = 85;

/**
 * The WebP bytes ours needs to score sharp's SSIM, as a ratio to sharp's
 * bytes, against each reference: the standard way to compare encoders at
 * equal quality (the "≤ 1.25× bytes at equal or better quality" target).
 * Ours is encoded at more OUTPUT_QUALITY values, stepping away from 85 until
 * its SSIM brackets sharp's, and the bytes are interpolated (log-bytes,
 * linear in SSIM) between the two qualities that bracket it. Returns
 * {points: [{quality, bytes, ssim, ssimLinear}], srgb: {ratio} | {note},
 * linear: ...}.
 */
async function equalQualityBytes(oursBase, req, refs, oursResult, sharpResult) {
  const points = [{ quality: OUR_QUALITY, bytes: oursResult.outputBytes, ssim: oursResult.ssim, ssimLinear: oursResult.ssimLinear }];
  const encodeAt = async (quality) => {
    const inst = ours({ ...oursBase, bindings: { OUTPUT_QUALITY: String(quality) } }).instance();
    try {
      await inst.start();
      const r = await inst.upload(req);
      if (!r.ok) throw new Error(r.error);
      const out = await r.fetchOutput();
      const s = await score(out, refs);
      points.push({ quality, bytes: out.length, ssim: s.ssim, ssimLinear: s.ssimLinear });
    } finally {
      await inst.stop();
    }
  };
  const solve = (key) => {
    const target = sharpResult[key];
    const sorted = [...points].sort((a, b) => a.quality - b.quality);
    for (let i = 0; i + 1 < sorted.length; i++) {
      const [a, b] = [sorted[i], sorted[i + 1]];
      if ((a[key] - target) * (b[key] - target) <= 0 && a[key] !== b[key]) {
        const t = (target - a[key]) / (b[key] - a[key]);
        const bytes = Math.exp(Math.log(a.bytes) + t * (Math.log(b.bytes) - Math.log(a.bytes)));
        return { ratio: bytes / sharpResult.outputBytes, bytes };
      }
    }
    return null;
  };
  const result = { points };
  try {
    for (const key of ['ssim', 'ssimLinear']) {
      // Step down while ours is above sharp, up while below, until bracketed.
      const above = points[0][key] > sharpResult[key]; // points[0]: the timed runs' q85
      for (let step = 0; step < 6 && !solve(key); step++) {
        const qs = points.map((p) => p.quality);
        const next = above ? Math.min(...qs) - 2 : Math.max(...qs) + 2;
        if (next < 1 || next > 100) break;
        await encodeAt(next);
      }
    }
  } catch (e) {
    result.error = e.message;
  }
  const label = (key) => solve(key) ?? { note: result.error ? `failed: ${result.error}` : 'not bracketed' };
  result.srgb = label('ssim');
  result.linear = label('ssimLinear');
  return result;
}

/** Stages of our request log line (`ms`), and the worker's own total. */
const STAGES = ['auth', 'read', 'decode', 'orient', 'resize', 'encode', 'store'];

/** Median per stage of the timed runs' log lines, plus `total` (total_ms) and `n`. */
function stageMedians(logs) {
  const got = logs.filter(Boolean);
  if (!got.length) return null;
  const out = { n: got.length };
  for (const k of STAGES) {
    const xs = got.map((l) => l.ms?.[k]).filter((v) => typeof v === 'number');
    if (xs.length) out[k] = median(xs);
  }
  out.total = median(got.map((l) => l.total_ms).filter((v) => typeof v === 'number'));
  return out;
}


/** Runs one contestant on one fixture; failures come back as results. */
async function runOne(contestant, fixture, req, refs, opt) {
  const runs = Math.max(opt.runs, fixture.minRuns ?? 0);
  const warmup = Math.max(opt.warmup, fixture.minWarmup ?? 0);
  if (contestant.available) return { ok: false, skipped: true, error: contestant.available };
  const inst = contestant.instance();
  const result = { ok: false, times: [], memory: null };
  try {
    await inst.start();
    result.startupMs = inst.startupMs;
  } catch (e) {
    await inst.stop();
    return { ...result, error: `did not start: ${e.message}` };
  }
  try {
    const note = (r) => { if (r.memory) result.memory = Math.max(result.memory ?? 0, r.memory); if (r.memoryDetail) result.memoryDetail = r.memoryDetail; };
    const first = await inst.upload(req);
    note(first);
    result.firstMs = first.ms;
    if (!first.ok) return { ...result, error: first.error };
    // Warm-up: `warmup` requests (the cold one included), then on while V8
    // is still compiling, up to warmupMax requests or the time budget.
    let warm = 1, warmSpent = first.ms, quiet = 0;
    for (;;) {
      const enough = warm >= warmup;
      if (enough && (quiet >= 3 || warm >= Math.max(warmup, opt.warmupMax) || warmSpent > opt.budgetMs)) break;
      const c0 = inst.cpu?.();
      const r = await inst.upload(req);
      note(r);
      if (!r.ok) return { ...result, error: `warm-up: ${r.error}` };
      warm++;
      warmSpent += r.ms;
      quiet = settled(cpuDelta(c0, inst.cpu?.())) ? quiet + 1 : 0;
    }
    result.warmup = { requests: warm, settled: quiet >= 3 };
    let spent = 0;
    let last = first;
    const logs = [];
    const cpu0 = inst.cpu?.();
    for (let i = 0; i < runs; i++) {
      const r = await inst.upload(req);
      note(r);
      if (!r.ok) { result.error = `run ${i + 1}: ${r.error}`; break; }
      result.times.push(r.ms);
      if ('log' in r) logs.push(r.log);
      last = r;
      spent += r.ms;
      if (spent > opt.budgetMs && result.times.length >= Math.min(3, runs)) break;
    }
    // CPU per timed upload: ms of CPU between the first timed request and
    // the end of the last, over their number (lib/cpu.mjs).
    result.cpu = cpuDelta(cpu0, inst.cpu?.(), result.times.length);
    if (result.times.length) {
      result.median = median(result.times);
      result.min = Math.min(...result.times);
      result.max = Math.max(...result.times);
    }
    if (logs.length) {
      result.stages = stageMedians(logs);
      result.logsMissing = logs.filter((l) => !l).length;
    }
    if (contestant.noOutput) {
      result.ok = !result.error;
      return result;
    }
    const output = await last.fetchOutput();
    result.outputBytes = output.length;
    if (refs) Object.assign(result, await score(output, refs));
    else result.format = (await sharp(output).metadata()).format;
    writeFileSync(path.join(outputsDir, `${fixture.name}.${contestant.name}.${result.format ?? 'bin'}`), output);
    result.ok = !result.error;
    return result;
  } catch (e) {
    return { ...result, error: `harness: ${e.message}` };
  } finally {
    await inst.stop();
  }
}

export async function main(argv) {
  const started = Date.now();
  const loadavgStart = os.loadavg();
  const opt = settings(argv);
  const compat = wranglerCompat();
  for (const [k, v] of Object.entries({ CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' })) process.env[k] ??= v;
  if (argv.includes('--fixed-cost')) {
    const { fixedCost } = await import('./fixed-cost.mjs');
    const num = (name, dflt) => Number(argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
    return fixedCost({ root, compat, runs: num('runs', 100), warmupMax: num('warmup-max', 200), rounds: num('rounds', 1), log, outDir });
  }

  let fixtures = await makeFixtures({ log });
  if (opt.set) fixtures = fixtures.filter((f) => f.sets?.includes(opt.set));
  if (opt.only) fixtures = fixtures.filter((f) => opt.only.some((o) => f.name.includes(o)));
  if (!fixtures.length) throw new Error('no fixture left by --set/--only');

  // Contestants, in report order. A peer that cannot be built is a result.
  const peerInfo = {
    photon: { label: '@cf-wasm/photon', note: 'photon can only write lossless WebP (no quality setting), so its output is lossless, not q85' },
    jsquash: { label: 'jSquash', note: 'jSquash has no GIF decoder' },
  };
  const oursBase = { root, ...compat, maxUploadBytes: opt.maxUploadBytes };
  const all = [ours(oursBase)];
  for (const name of PEERS) {
    let built;
    try { built = await buildPeer(name); } catch (e) { built = { name, error: e.message }; }
    all.push(peer(built, { ...compat, ...peerInfo[name] }));
  }
  all.push(sharpNative({ threads: opt.sharpThreads }));
  {
    let built;
    try { built = await buildPeer('null'); } catch (e) { built = { name: 'null', error: e.message }; }
    all.push(nullWorker(built, compat));
  }
  const contestants = all.filter((c) => opt.contestants.includes(c.name));
  for (const c of contestants) if (c.available) log(`${c.name}: ${c.available}`);

  rmSync(outputsDir, { recursive: true, force: true });
  mkdirSync(outputsDir, { recursive: true });

  const results = [];
  for (const fixture of fixtures) {
    const bytes = readFileSync(fixture.path);
    const meta = await sharp(bytes).metadata();
    const refs = fixture.score === false ? null : await references(bytes);
    const req = { ...multipart(bytes, fixture.name), bytes };
    const row = { name: fixture.name, label: fixture.label, loadavg1: os.loadavg()[0], bytes: bytes.length, width: meta.width, height: meta.height,
      format: meta.format, pages: meta.pages ?? 1, orientation: meta.orientation ?? null, sets: fixture.sets ?? [], results: {} };
    for (const c of contestants) {
      const r = await runOne(c, fixture, req, refs, opt);
      row.results[c.name] = r;
      log(`${fixture.name.padEnd(26)} ${c.name.padEnd(8)} ` + (r.ok
        ? `first ${r.firstMs.toFixed(0)} ms, median ${r.median.toFixed(1)} ms of ${r.times.length}` +
          (r.cpu ? `, CPU ${r.cpu.total.toFixed(1)} ms/upload (main ${r.cpu.main.toFixed(1)})` : '') +
          (r.stages ? `, stages ${STAGES.filter((k) => r.stages[k] != null).map((k) => `${k} ${r.stages[k]}`).join(' ')} total ${r.stages.total}` : '') +
          (c.noOutput ? '' : `, ${r.outputBytes} B, SSIM ${r.ssim != null ? `${r.ssim.toFixed(4)} sRGB / ${r.ssimLinear.toFixed(4)} linear, shift ${r.shift}` : r.note ?? 'not scored'}`) +
          (r.memory ? `, wasm ${(r.memory / MiB).toFixed(1)} MiB` : '')
        : r.skipped ? `skipped: ${r.error}` : `FAILED: ${r.error}`));
    }
    if (refs && row.results.ours?.ok && row.results.sharp?.ok && row.results.sharp.ssim != null && opt.equalQuality) {
      row.equalQuality = await equalQualityBytes(oursBase, req, refs, row.results.ours, row.results.sharp);
      const e = row.equalQuality;
      log(`${fixture.name.padEnd(26)} ours at sharp's SSIM: ${e.srgb?.ratio?.toFixed(3) ?? e.srgb?.note}× sRGB / ` +
        `${e.linear?.ratio?.toFixed(3) ?? e.linear?.note}× linear sharp's bytes (qualities ${e.points.map((p) => p.quality).join(', ')})`);
    }
    results.push(row);
  }

  const miniflareVersion = createRequire(import.meta.url)('miniflare/package.json').version;
  const report = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      loadavgStart, loadavg: os.loadavg() },
    durationS: Math.round((Date.now() - started) / 1000),
    versions: { node: process.version, miniflare: miniflareVersion, sharp: sharp.versions.sharp, libvips: sharp.versions.vips },
    settings: { ...opt, ...compat },
    contestants: contestants.map((c) => ({ name: c.name, label: c.label, note: c.note ?? null, unavailable: c.available,
      noOutput: !!c.noOutput, wasm: c.wasm() })),
    fixtures: results,
  };
  const md = markdown(report);
  writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(path.join(outDir, 'results.md'), md);
  process.stdout.write(md);
  log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'results.json'))} and results.md`);
}
