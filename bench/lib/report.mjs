// Markdown from a run's results.json (bench/lib/main.mjs) and, optionally,
// the load test's figures (bench/load.mjs, kept under `load`). Used by
// bench/run.mjs (bench/out/results.md) and by bench/report.mjs, which
// writes the README's tables from committed results (bench/results/).
//
// Everything here is a pure function of the JSON: the same file always
// gives the same text, so `node bench/report.mjs --check` can tell whether
// the README still matches its results.
const MiB = 1048576;
const WORKERS_MEMORY_LIMIT = 128 * MiB; // per isolate on Cloudflare (JS heap + wasm)

/** Issue 15's targets, as ratios of ours to ... (see targets()). */
export const TARGETS = {
  peer: 1.0, // every fixture: faster than photon and jSquash (end to end)
  sharpCpu: 1.0, // CPU per upload at most sharp's single-thread time
  sharpEnd: 1.25, // end to end at most 1.25× sharp
  nullFixed: 1.5, // the 1×1 PNG end to end within 1.5× the null worker
  wasmGzip: 1_000_000, // bytes
};
/** The fixture that measures the fixed cost of an upload. */
export const FIXED_COST_FIXTURE = 'png-1x1.png';

const ms = (v) => (v == null ? '–' : v < 10 ? v.toFixed(1) : v.toFixed(0));
const kib = (v) => (v == null ? '–' : `${(v / 1024).toFixed(1)} KiB`);
const mib = (v) => (v == null ? '–' : `${(v / MiB).toFixed(v < 10 * MiB ? 1 : 0)} MiB`);
const times = (v) => (v == null || !Number.isFinite(v) ? '–' : `${v.toFixed(2)}×`);
const ratioOf = (a, b) => (a == null || b == null || !b ? null : a / b);
/** A ratio against its target: bold when the target is missed. */
const vsTarget = (v, max, strict = false) => {
  if (v == null) return '–';
  const miss = strict ? v >= max : v > max;
  return miss ? `**${times(v)}**` : times(v);
};

/** Median end-to-end time of a contestant on a fixture, when it ran cleanly. */
const endMs = (fx, name) => { const r = fx.results[name]; return r?.ok && r.median != null ? r.median : null; };
/**
 * CPU ms per upload used for the targets: workerd's main thread (the one
 * that runs the isolate; docs/benchmark.md says why), sharp's process CPU.
 */
export const cpuMs = (fx, name) => { const r = fx.results[name]; return r?.ok && r.cpu?.main != null ? r.cpu.main : null; };

/** Issue 15's ratios for one fixture (null where not measured). */
export function targets(fx) {
  const o = endMs(fx, 'ours');
  return {
    photon: ratioOf(o, endMs(fx, 'photon')),
    jsquash: ratioOf(o, endMs(fx, 'jsquash')),
    sharpCpu: ratioOf(cpuMs(fx, 'ours'), cpuMs(fx, 'sharp')),
    sharpEnd: ratioOf(o, endMs(fx, 'sharp')),
    null: ratioOf(o, endMs(fx, 'null')),
  };
}

/** Total wasm bytes (raw, gzip) of a contestant. */
const wasmOf = (c) => (c?.wasm?.length ? { raw: c.wasm.reduce((a, w) => a + w.bytes, 0), gzip: c.wasm.reduce((a, w) => a + w.gzip, 0) } : null);

/** Which crop window each contestant's outputs matched (for the quality legend). */
function alignment(report) {
  const parts = report.contestants.filter((c) => !c.noOutput).map((c) => {
    const shifts = report.fixtures.map((fx) => fx.results[c.name]).filter((r) => r?.ssim != null && r.shift != null)
      .map((r) => r.shift);
    if (!shifts.length) return null;
    const off = shifts.filter((v) => v !== 0);
    const what = off.length ? `${off.length} of ${shifts.length} at ${[...new Set(off)].map((v) => `${v > 0 ? '+' : '−'}½`).join('/')} px`
      : `all ${shifts.length} at the centre`;
    return `${c.label}: ${what}`;
  }).filter(Boolean);
  return parts.length ? ` Windows matched: ${parts.join('; ')}.` : '';
}

const row = (cells) => `| ${cells.join(' | ')} |`;
const head = (cells) => [row(cells), row(cells.map((c, i) => (i === 0 ? '---' : '---:')))].join('\n');
const hashes = (n) => '#'.repeat(Math.min(6, n));

/** One line saying when, where and how a run was made. */
export function provenance(report) {
  const s = report.settings;
  const load = report.machine.loadavgStart ? ` Load average (1 min) ${report.machine.loadavgStart[0].toFixed(2)} at the start, ` +
    `${report.machine.loadavg[0].toFixed(2)} at the end${report.durationS ? ` (the run took ${report.durationS < 120 ? `${report.durationS} s` : `${Math.round(report.durationS / 60)} min`})` : ''}.` : '';
  return `${report.date.slice(0, 16).replace('T', ' ')} UTC · ${report.machine.cpu} × ${report.machine.cores} · ` +
    `Node ${report.versions.node} · Miniflare ${report.versions.miniflare} (workerd) · sharp ${report.versions.sharp} / libvips ${report.versions.libvips}` +
    `${s.quick === true || (s.runs <= 2 && s.warmup <= 1) ? ' · quick mode' : ''}.${load}`;
}

/**
 * The full report: time, targets, CPU, where ours spends an upload,
 * output/quality, memory, cold start and wasm size, load, then failures
 * and notes as numbered footnotes. `level`: the heading level of the
 * title (its sections one below); `title: false` leaves the title out.
 */
export function markdown(report, { level = 2, title = true } = {}) {
  const cs = report.contestants;
  const names = cs.map((c) => c.name);
  const imaging = cs.filter((c) => !c.noOutput);
  const workers = cs.filter((c) => c.name !== 'sharp');
  const has = (n) => names.includes(n);
  const notes = []; // {key, contestant, error, fixtures: Set}
  // A failed cell shows ✗ with a footnote number; one footnote per contestant
  // and error text, listing the fixtures it happened on.
  const fail = (fx, c, r) => {
    const key = `${c}\n${r.error}`;
    let i = notes.findIndex((n) => n.key === key);
    if (i < 0) { notes.push({ key, contestant: c, error: r.error, fixtures: new Set() }); i = notes.length - 1; }
    notes[i].fixtures.add(fx.label);
    return `✗ [${i + 1}]`;
  };
  const cell = (fx, c, f) => {
    const r = fx.results[c];
    if (!r) return '–';
    if (!r.ok && r.skipped) return 'n/a';
    if (!r.ok && r.median == null) return fail(fx, c, r);
    const v = f(r);
    return r.ok ? v : `${v} ${fail(fx, c, r)}`;
  };
  const L = [];
  const h = hashes(level + (title ? 1 : 0));
  const label = (n) => cs.find((c) => c.name === n)?.label ?? n;
  const s = report.settings;
  const fixedFx = report.fixtures.find((fx) => fx.name === FIXED_COST_FIXTURE);

  if (title) L.push(`${hashes(level)} Benchmark: avatar upload (decode, orient, centre crop, 256², WebP q85)`, '');
  L.push(`${provenance(report)} Each time: median of ${s.runs} sequential timed uploads (the 1×1 PNG: at least 30) after ` +
    `at least ${s.warmup} untimed one${s.warmup > 1 ? 's' : ''}, more until V8 stopped compiling (up to ${s.warmupMax ?? s.warmup}; ` +
    `fewer timed when a fixture's runs passed ${s.budgetMs / 1000} s), end to end from Node through workerd, fresh worker per fixture. ` +
    [workers.length ? `Workers: ${workers.map((c) => label(c.name)).join(', ')}.` : '', has('sharp') ? `sharp: ${label('sharp')}.` : ''].filter(Boolean).join(' '), '');

  // 1. time
  L.push(`${h} Time per upload, ms: median [min–max]`, '');
  const loads = report.fixtures.some((fx) => fx.loadavg1 != null);
  if (loads) L.push('"Load": the machine\'s 1-minute load average when the fixture\'s turn began (the bench itself keeps about one core busy).', '');
  L.push(head(['Fixture', 'Input', ...names.map(label), ...(loads ? ['Load'] : [])]));
  for (const fx of report.fixtures) {
    L.push(row([fx.label, `${fx.width}×${fx.height}${fx.pages > 1 ? ` ×${fx.pages}` : ''}, ${fx.bytes < 0.1 * MiB ? kib(fx.bytes) : mib(fx.bytes)}`,
      ...names.map((n) => cell(fx, n, (r) => `${ms(r.median)} [${ms(r.min)}–${ms(r.max)}]`)),
      ...(loads ? [fx.loadavg1 != null ? fx.loadavg1.toFixed(1) : '–'] : [])]));
  }
  L.push('');

  // 2. targets
  const oursRan = report.fixtures.some((fx) => fx.results.ours && !fx.results.ours.skipped);
  if (has('ours') && !oursRan) L.push('_Our worker was not available in this run, so there are no ratios._', '');
  if (has('ours') && oursRan) {
    L.push(`${h} Ours against the others (issue 15's targets; **bold** = missed)`, '');
    L.push(`Time ratios are of the medians above, end to end. CPU: workerd's isolate thread per upload for ours, ` +
      `this process's CPU for sharp (next table). Targets: below ${TARGETS.peer}× photon and jSquash; CPU at most ` +
      `${TARGETS.sharpCpu}× sharp's; end to end at most ${TARGETS.sharpEnd}× sharp; the 1×1 PNG at most ${TARGETS.nullFixed}× the null worker.`, '');
    const cols = [['photon', 'ours / photon'], ['jsquash', 'ours / jSquash'], ['sharpCpu', 'CPU: ours / sharp'],
      ['sharpEnd', 'ours / sharp'], ['null', 'ours / null worker']].filter(([k]) => has(k === 'sharpCpu' || k === 'sharpEnd' ? 'sharp' : k));
    L.push(head(['Fixture', ...cols.map(([, t]) => t)]));
    for (const fx of report.fixtures) {
      const t = targets(fx);
      L.push(row([fx.label, ...cols.map(([k]) => {
        if (k === 'photon' || k === 'jsquash') return vsTarget(t[k], TARGETS.peer, true);
        if (k === 'sharpCpu') return vsTarget(t[k], TARGETS.sharpCpu);
        if (k === 'sharpEnd') return vsTarget(t[k], TARGETS.sharpEnd);
        return fx.name === FIXED_COST_FIXTURE ? vsTarget(t[k], TARGETS.nullFixed) : times(t[k]);
      })]));
    }
    L.push('');
  }

  // 3. CPU
  const cpuRan = report.fixtures.some((fx) => Object.values(fx.results).some((r) => r?.cpu));
  if (cpuRan) {
    L.push(`${h} CPU per upload, ms: isolate thread (+ V8 background threads)`, '');
    L.push('A worker: CPU time of its workerd process over the timed uploads, divided by their number, split into ' +
      'the thread that runs the isolate (and, in Miniflare, its entry worker and the KV/R2 simulators) and the other ' +
      'threads (V8\'s background compiler and GC); /proc per-thread schedstat. sharp: this process\'s CPU ' +
      '(process.cpuUsage) over its timed jobs, libvips with one thread. docs/benchmark.md says why the isolate ' +
      'thread is the stand-in for Cloudflare\'s billed CPU time.', '');
    L.push(head(['Fixture', ...names.map(label)]));
    for (const fx of report.fixtures) {
      L.push(row([fx.label, ...names.map((n) => cell(fx, n, (r) => (r.cpu?.main == null ? '–'
        : n === 'sharp' ? ms(r.cpu.main) : `${ms(r.cpu.main)} (+${ms(r.cpu.other)})`)))]));
    }
    L.push('');
  }

  // 4. where ours spends an upload
  const staged = report.fixtures.filter((fx) => fx.results.ours?.stages);
  if (staged.length) {
    const ST = ['auth', 'read', 'decode', 'orient', 'resize', 'encode', 'store'];
    L.push(`${h} Where ours spends an upload, ms (its request log line, medians of the timed uploads)`, '');
    L.push('auth: token, KV profile and revocation reads; read: the body into wasm and the multipart parse; ' +
      'decode … encode: the image pipeline; store: the R2 put. "in worker": the log line\'s total_ms (from the ' +
      'start of the Rust fetch handler to the response). "outside": end to end minus in worker (Node → Miniflare → ' +
      'workerd, the JS glue, the body transfer). The worker\'s clock ticks in whole milliseconds.', '');
    L.push(head(['Fixture', ...ST, 'in worker', 'end to end', 'outside', ...(has('null') ? ['null worker, end to end'] : [])]));
    for (const fx of staged) {
      const r = fx.results.ours;
      L.push(row([fx.label, ...ST.map((k) => ms(r.stages[k])), ms(r.stages.total), ms(r.median),
        ms(r.median != null && r.stages.total != null ? r.median - r.stages.total : null),
        ...(has('null') ? [ms(endMs(fx, 'null'))] : [])]));
    }
    L.push('');
    if (fixedFx?.results.ours?.stages && endMs(fixedFx, 'null') != null) {
      const r = fixedFx.results.ours;
      L.push(`Fixed cost (${fixedFx.label}): ours ${ms(r.median)} ms end to end, the null worker ${ms(endMs(fixedFx, 'null'))} ms ` +
        `(${times(targets(fixedFx).null)}; target ≤ ${TARGETS.nullFixed}×); CPU ${ms(r.cpu?.main)} ms against ` +
        `${ms(cpuMs(fixedFx, 'null'))} ms.`, '');
    }
  }

  // 5. output and quality
  const scored = report.fixtures.filter((fx) => imaging.some((c) => fx.results[c.name]?.ssim != null));
  if (scored.length) {
    const eq = scored.some((fx) => fx.equalQuality);
    const inames = imaging.map((c) => c.name);
    L.push(`${h} Output size and SSIM: vs the sRGB-space reference / vs the linear-light reference`, '');
    L.push('Both references are the exact centre square of the full-resolution decode, resized to 256² by one Lanczos3 ' +
      'implementation (bench/lib/quality.mjs): once on the gamma-encoded sRGB values (what sharp/libvips, and ours by ' +
      'default, do), once in linear light (exact sRGB transfer function; how jSquash resizes, and ours with ' +
      'RESIZE_SPACE=linear). A resizer scores higher against ' +
      'the reference made its own way; neither is the "right" one. Each output is matched to the window at the centre ' +
      'or ½ output px either side along the long side, whichever fits best, so that a crop-rounding convention is not ' +
      'scored as quality loss.' + alignment(report) +
      (eq ? ' "At sharp\'s SSIM": the bytes ours needs to score what sharp ' +
        'scores, against each reference, over sharp\'s bytes (ours encoded at more OUTPUT_QUALITY values until its SSIM ' +
        'brackets sharp\'s, interpolated in log-bytes; the qualities used are in results.json): below 1× = ours smaller ' +
        'at equal quality.' : ''), '');
    L.push(head(['Fixture', ...inames.map(label), ...(has('ours') && has('sharp') ? ['ours / sharp bytes'] : []),
      ...(eq ? ['… at sharp\'s SSIM (sRGB / linear)'] : [])]));
    for (const fx of scored) {
      const o = fx.results.ours, sh = fx.results.sharp;
      L.push(row([fx.label,
        ...inames.map((n) => cell(fx, n, (r) => (r.outputBytes == null ? '–'
          : `${kib(r.outputBytes)}, ${r.ssim != null ? `${r.ssim.toFixed(3)} / ${r.ssimLinear.toFixed(3)}` : `SSIM n/a (${r.note})`}`))),
        ...(has('ours') && has('sharp') ? [o?.outputBytes && sh?.outputBytes ? times(o.outputBytes / sh.outputBytes) : '–'] : []),
        ...(eq ? [fx.equalQuality ? [fx.equalQuality.srgb, fx.equalQuality.linear]
          .map((e) => (e?.ratio != null ? `${e.ratio.toFixed(2)}×` : e?.note ?? '–')).join(' / ') : '–'] : [])]));
    }
    L.push('');
  }

  // 6. memory
  const wasmWorkers = workers.filter((c) => !c.noOutput);
  if (wasmWorkers.length) {
    L.push(`${h} Peak wasm memory per fixture (fresh worker; ⚠ = over the ${mib(WORKERS_MEMORY_LIMIT)} isolate limit on Cloudflare, wasm alone)`, '');
    L.push(head(['Fixture', ...wasmWorkers.map((c) => c.label)]));
    for (const fx of report.fixtures) {
      L.push(row([fx.label, ...wasmWorkers.map((c) => {
        const r = fx.results[c.name];
        if (!r || r.skipped) return 'n/a';
        if (r.memory == null) return r.ok ? 'not reported' : fail(fx, c.name, r);
        return `${mib(r.memory)}${r.memory > WORKERS_MEMORY_LIMIT ? ' ⚠' : ''}`;
      })]));
    }
    L.push('');
  }

  // 7. cold start and wasm size
  if (workers.length) {
    const first = report.fixtures.find((fx) => fx.name === 'jpeg-2mp.jpg') ?? report.fixtures[0];
    L.push(`${h} Cold start and code size (cold = first request to a fresh worker, ${first?.label ?? '–'})`, '');
    L.push(head(['Worker', 'startup (Miniflare ready), ms', 'first request, ms', 'warm median, ms', 'wasm', 'wasm gzip -9']));
    for (const c of workers) {
      const r = first?.results[c.name];
      const w = wasmOf(c);
      L.push(row([c.label, ms(r?.startupMs), r?.firstMs != null ? ms(r.firstMs) : (c.unavailable ? 'n/a' : '–'), ms(r?.median),
        w ? `${kib(w.raw)}${c.wasm.length > 1 ? ` (${c.wasm.length} modules)` : ''}` : 'n/a',
        w ? `${kib(w.gzip)} (${w.gzip.toLocaleString('en-US')} B)` : 'n/a']));
    }
    L.push('');
  }

  // 8. load
  if (report.load) L.push(...loadMarkdown(report.load, { h }));

  const contestantNotes = cs.filter((c) => c.note || c.unavailable).map((c) => `- ${c.label}: ${c.unavailable ?? c.note}.`);
  if (notes.length || contestantNotes.length) {
    L.push('Failures and notes:', '');
    notes.forEach((n, i) => L.push(`${i + 1}. ${label(n.contestant)}: ${n.error.replace(/\|/g, '\\|').replace(/\s+/g, ' ')} ` +
      `(${[...n.fixtures].join('; ')})`));
    if (notes.length) L.push('');
    L.push(...contestantNotes);
    L.push('');
  }
  return L.join('\n') + '\n';
}

/** The load test's figures (bench/load.mjs's JSON) as a small table. */
export function loadMarkdown(load, { h = '###' } = {}) {
  const L = [];
  L.push(`${h} Under load (\`npm run load\`: ${load.concurrency} clients, ${load.seconds} s, ${load.fixtures.length} fixtures, ` +
    `${load.users} users, loopback)`, '');
  L.push(`${load.date.slice(0, 16).replace('T', ' ')} UTC; load average (1 min) ${load.loadavgStart?.[0]?.toFixed(2) ?? '–'} at the start. ` +
    'Uploads per second per core: successful uploads over the CPU seconds workerd used in the run (all its threads), ' +
    'i.e. what one core busy with nothing else would serve; the clients\' own CPU (Node, same machine) is not counted.', '');
  L.push(head(['uploads', 'uploads/s', 'workerd CPU, cores', 'uploads/s per core', 'latency p50 / p90 / p99 / max, ms', 'errors', 'wasm memory first / last third']));
  L.push(row([String(load.ok), load.throughput.toFixed(1), load.cores?.toFixed(2) ?? '–', load.perCore?.toFixed(1) ?? '–',
    `${[load.p50, load.p90, load.p99, load.max].map((v) => (v == null ? '–' : v.toFixed(0))).join(' / ')}`,
    String(load.errors), `${mib(load.memoryFirst)} / ${mib(load.memoryLast)}`]));
  L.push('');
  return L;
}

/**
 * Before and after: the figures issue 15 names, per fixture, from two runs
 * (`after` may be null: then the "before" figures alone). Each cell is
 * "before → after (change)".
 */
export function compareMarkdown(before, after, { h = '###', names = ['before', 'after'] } = {}) {
  const L = [];
  const runs = after ? [before, after] : [before];
  const both = (f, fmt, { pct = true } = {}) => {
    const v = runs.map(f);
    if (!after) return v[0] == null ? '–' : fmt(v[0]);
    if (v[0] == null && v[1] == null) return '–';
    const change = pct && v[0] != null && v[1] != null && v[0] !== 0 ? ` (${v[1] >= v[0] ? '+' : '−'}${Math.abs((v[1] / v[0] - 1) * 100).toFixed(0)} %)` : '';
    return `${v[0] == null ? '–' : fmt(v[0])} → ${v[1] == null ? '–' : fmt(v[1])}${change}`;
  };
  const fixtureNames = [...new Set(runs.flatMap((r) => r.fixtures.map((fx) => fx.name)))];
  const fx = (r, name) => r.fixtures.find((f) => f.name === name);
  const label = (name) => runs.map((r) => fx(r, name)?.label).find(Boolean) ?? name;
  const t = (r, name, k) => { const f = fx(r, name); return f ? targets(f)[k] : null; };
  const ssim = (r, name) => fx(r, name)?.results.ours?.ssim ?? null;
  const ssimL = (r, name) => fx(r, name)?.results.ours?.ssimLinear ?? null;

  L.push(`${h} ${after ? `Before and after: ${names[0]} → ${names[1]}` : `Baseline (${names[0]})`}`, '');
  L.push(runs.map((r, i) => `${after ? `${names[i]}: ` : ''}${provenance(r)}`).join(' '), '');
  L.push(`Targets: ours / photon and ours / jSquash below ${TARGETS.peer}×, CPU: ours / sharp at most ${TARGETS.sharpCpu}×, ` +
    `ours / sharp at most ${TARGETS.sharpEnd}×, ours / null worker at most ${TARGETS.nullFixed}× on the ${FIXED_COST_FIXTURE.replace('png-1x1.png', '1×1 PNG')}; ` +
    'SSIM no lower at four decimals, wasm at most 1 MB gzip. Ratios are of medians (time) and of CPU per upload (isolate thread; sharp: its process).', '');
  L.push(head(['Fixture', 'ours, ms', 'ours CPU, ms', 'ours / photon', 'ours / jSquash', 'CPU: ours / sharp', 'ours / sharp',
    'ours / null worker', 'ours SSIM sRGB / linear', 'ours bytes']));
  for (const name of fixtureNames) {
    L.push(row([label(name),
      both((r) => endMs(fx(r, name) ?? { results: {} }, 'ours'), ms),
      both((r) => cpuMs(fx(r, name) ?? { results: {} }, 'ours'), ms),
      both((r) => t(r, name, 'photon'), times, { pct: false }),
      both((r) => t(r, name, 'jsquash'), times, { pct: false }),
      both((r) => t(r, name, 'sharpCpu'), times, { pct: false }),
      both((r) => t(r, name, 'sharpEnd'), times, { pct: false }),
      both((r) => t(r, name, 'null'), times, { pct: false }),
      runs.every((r) => ssim(r, name) == null) ? '–'
        : both((r) => (ssim(r, name) == null ? null : `${ssim(r, name).toFixed(4)} / ${ssimL(r, name).toFixed(4)}`), (v) => v, { pct: false }),
      both((r) => fx(r, name)?.results.ours?.outputBytes ?? null, (v) => v.toLocaleString('en-US')),
    ]));
  }
  L.push('');
  const ours = (r) => r.contestants.find((c) => c.name === 'ours');
  const first = (r) => fx(r, 'jpeg-2mp.jpg') ?? r.fixtures[0];
  const peakMem = (r) => { const m = r.fixtures.map((f) => f.results.ours?.memory).filter(Boolean); return m.length ? Math.max(...m) : null; };
  L.push(head(['', after ? `${names[0]} → ${names[1]}` : names[0]]));
  // The Worker's own module (the 1 MB target) apart from the decoder
  // modules shipped beside it (AVIF, HEIC), which load only for those files.
  const mainWasm = (r) => { const w = ours(r)?.wasm ?? []; return w.find((m) => m.file === 'index_bg.wasm') ?? w[0]; };
  const sideWasm = (r) => (ours(r)?.wasm ?? []).filter((m) => m !== mainWasm(r)).reduce((a, m) => a + m.gzip, 0);
  L.push(row(['main wasm, gzip -9 (target ≤ 1,000,000 B)', both((r) => mainWasm(r)?.gzip ?? null, (v) => `${v.toLocaleString('en-US')} B`)]));
  L.push(row(['decoder modules beside it (AVIF, HEIC), gzip -9', both((r) => sideWasm(r), (v) => `${v.toLocaleString('en-US')} B`, { pct: false })]));
  L.push(row([`cold start: Miniflare ready / first request (${first(before)?.label ?? '–'}), ms`, both((r) => {
    const f = first(r)?.results.ours;
    return f?.startupMs != null ? `${ms(f.startupMs)} / ${ms(f.firstMs)}` : null;
  }, (v) => v, { pct: false })]));
  L.push(row(['peak wasm memory, largest fixture', both(peakMem, mib)]));
  const hasLoad = runs.some((r) => r.load);
  if (hasLoad) {
    L.push(row([`load (${runs.find((r) => r.load).load.concurrency} clients): uploads/s per core`, both((r) => r.load?.perCore ?? null, (v) => v.toFixed(1))]));
    L.push(row(['load: uploads/s', both((r) => r.load?.throughput ?? null, (v) => v.toFixed(1))]));
    L.push(row(['load: latency p99, ms', both((r) => r.load?.p99 ?? null, (v) => v.toFixed(0))]));
    L.push(row(['load: latency p50, ms', both((r) => r.load?.p50 ?? null, (v) => v.toFixed(0))]));
    L.push(row(['load: errors', both((r) => r.load?.errors ?? null, String, { pct: false })]));
  }
  L.push('');
  return L;
}
