// Markdown report of a run (pasteable into the README).
const MiB = 1048576;
const WORKERS_MEMORY_LIMIT = 128 * MiB; // per isolate on Cloudflare (JS heap + wasm)

const ms = (v) => (v == null ? '–' : v < 10 ? v.toFixed(1) : v.toFixed(0));
const kib = (v) => (v == null ? '–' : `${(v / 1024).toFixed(1)} KiB`);
const mib = (v) => (v == null ? '–' : `${(v / MiB).toFixed(v < 10 * MiB ? 1 : 0)} MiB`);
const ratio = (a, b) => (a == null || b == null ? '–' : `${(a / b).toFixed(2)}×`);

/** Which crop window each contestant's outputs matched (for the quality legend). */
function alignment(report) {
  const parts = report.contestants.map((c) => {
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

/**
 * Builds the markdown: time, ratios, output/quality, memory, cold start and
 * wasm size, then failures and notes as numbered footnotes.
 */
export function markdown(report) {
  const cs = report.contestants;
  const names = cs.map((c) => c.name);
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
  const row = (cells) => `| ${cells.join(' | ')} |`;
  const head = (cells) => [row(cells), row(cells.map((c, i) => (i === 0 ? '---' : '---:')))].join('\n');
  const L = [];
  const label = (n) => cs.find((c) => c.name === n)?.label ?? n;
  const s = report.settings;

  L.push('## Benchmark: avatar upload (decode, orient, centre crop, 256², WebP q85)', '');
  L.push(`${report.date.slice(0, 16).replace('T', ' ')} UTC · ${report.machine.cpu} × ${report.machine.cores} · ` +
    `Node ${report.versions.node} · Miniflare ${report.versions.miniflare} (workerd) · sharp ${report.versions.sharp} / libvips ${report.versions.libvips}. ` +
    `Each cell: median of ${s.runs} sequential timed uploads after ${s.warmup} warm-up request${s.warmup > 1 ? 's' : ''} ` +
    `(fewer when a fixture's runs passed ${s.budgetMs / 1000} s), end to end from Node through workerd, fresh worker per fixture. ` +
    [workers.length ? `Workers: ${workers.map((c) => label(c.name)).join(', ')}.` : '', has('sharp') ? `sharp: ${label('sharp')}.` : ''].filter(Boolean).join(' '), '');

  // 1. time
  L.push('### Time per upload, ms: median [min–max]', '');
  L.push(head(['Fixture', 'Input', ...names.map(label)]));
  for (const fx of report.fixtures) {
    L.push(row([fx.label, `${fx.width}×${fx.height}, ${mib(fx.bytes)}`,
      ...names.map((n) => cell(fx, n, (r) => `${ms(r.median)} [${ms(r.min)}–${ms(r.max)}]`))]));
  }
  L.push('');

  // 2. ratios
  const others = names.filter((n) => n !== 'ours');
  const oursRan = report.fixtures.some((fx) => fx.results.ours && !fx.results.ours.skipped);
  if (has('ours') && !oursRan) L.push('_Our worker was not available in this run, so there are no ours / peer ratios._', '');
  if (has('ours') && oursRan && others.length) {
    L.push('### Ours / peer, median time (below 1× = ours faster)', '');
    L.push(head(['Fixture', ...others.map((n) => `ours / ${n}`)]));
    for (const fx of report.fixtures) {
      const o = fx.results.ours;
      L.push(row([fx.label, ...others.map((n) => {
        const p = fx.results[n];
        return o?.median != null && p?.median != null && o.ok && p.ok ? ratio(o.median, p.median) : '–';
      })]));
    }
    L.push('');
  }

  // 3. output and quality
  const eq = report.fixtures.some((fx) => fx.equalQuality);
  L.push('### Output size and SSIM: vs the sRGB-space reference / vs the linear-light reference', '');
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
  L.push(head(['Fixture', ...names.map(label), ...(has('ours') && has('sharp') ? ['ours / sharp bytes'] : []),
    ...(eq ? ['… at sharp\'s SSIM (sRGB / linear)'] : [])]));
  for (const fx of report.fixtures) {
    const o = fx.results.ours, sh = fx.results.sharp;
    L.push(row([fx.label,
      ...names.map((n) => cell(fx, n, (r) => (r.outputBytes == null ? '–'
        : `${kib(r.outputBytes)}, ${r.ssim != null ? `${r.ssim.toFixed(3)} / ${r.ssimLinear.toFixed(3)}` : `SSIM n/a (${r.note})`}`))),
      ...(has('ours') && has('sharp') ? [o?.outputBytes && sh?.outputBytes ? ratio(o.outputBytes, sh.outputBytes) : '–'] : []),
      ...(eq ? [fx.equalQuality ? [fx.equalQuality.srgb, fx.equalQuality.linear]
        .map((e) => (e?.ratio != null ? `${e.ratio.toFixed(2)}×` : e?.note ?? '–')).join(' / ') : '–'] : [])]));
  }
  L.push('');

  // 4. memory
  if (workers.length) {
    L.push(`### Peak wasm memory per fixture (fresh worker; ⚠ = over the ${mib(WORKERS_MEMORY_LIMIT)} isolate limit on Cloudflare, wasm alone)`, '');
    L.push(head(['Fixture', ...workers.map((c) => c.label)]));
    for (const fx of report.fixtures) {
      L.push(row([fx.label, ...workers.map((c) => {
        const r = fx.results[c.name];
        if (!r || r.skipped) return 'n/a';
        if (r.memory == null) return r.ok ? 'not reported' : fail(fx, c.name, r);
        return `${mib(r.memory)}${r.memory > WORKERS_MEMORY_LIMIT ? ' ⚠' : ''}`;
      })]));
    }
    L.push('');
  }

  // 5. cold start and wasm size
  if (workers.length) {
    const first = report.fixtures[0];
    L.push(`### Cold start and code size (cold = first request to a fresh worker, ${first?.label ?? '–'})`, '');
    L.push(head(['Worker', 'startup (Miniflare ready), ms', 'first request, ms', 'warm median, ms', 'wasm', 'wasm gzip -9']));
    for (const c of workers) {
      const r = first?.results[c.name];
      const raw = c.wasm.reduce((a, w) => a + w.bytes, 0), gz = c.wasm.reduce((a, w) => a + w.gzip, 0);
      L.push(row([c.label, ms(r?.startupMs), r?.firstMs != null ? ms(r.firstMs) : (c.unavailable ? 'n/a' : '–'), ms(r?.median),
        c.wasm.length ? `${kib(raw)}${c.wasm.length > 1 ? ` (${c.wasm.length} modules)` : ''}` : 'n/a',
        c.wasm.length ? kib(gz) : 'n/a']));
    }
    L.push('');
  }

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
