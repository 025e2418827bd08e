// The README's AVIF/HEIC table from results of bench/phone-12mp.mjs --save
// (bench/results/phone/*.json): one results file, or a before and an after.
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const ms = (v) => `${Math.round(v).toLocaleString('en-US')} ms`;
const change = (a, b) => {
  const pct = Math.round((b / a - 1) * 100);
  return pct === 0 ? '±0 %' : `${pct > 0 ? '+' : '−'}${Math.abs(pct)} %`;
};
const name = (p) => p.replace(/^.*\//, '').replace(/\.json$/, '');

/** Markdown for `before` alone, or `before` → `after`; paths name the files. */
export function phoneMarkdown(before, after, paths) {
  const out = [];
  const runs = (r) => `${r.date.slice(0, 10)}, ${r.machine}, ${r.runs} uploads each after a warm-up, load average ${r.loadAverage.join(' / ')}`;
  if (!after) {
    out.push(`\`node bench/phone-12mp.mjs\` (${name(paths[0])}: ${runs(before)}):`, '');
    out.push('| file | bytes | upload, median | decode stage, median |', '| --- | ---: | ---: | ---: |');
    for (const r of before.rows) out.push(`| ${r.label} | ${(r.bytes / 1e6).toFixed(2)} MB | ${ms(median(r.uploadMs))} | ${ms(median(r.decodeMs))} |`);
  } else {
    const same = before.machine === after.machine && before.runs === after.runs && before.date.slice(0, 10) === after.date.slice(0, 10);
    const when = same
      ? `${runs(after).replace(/, load average .*/, '')}; load average ${before.loadAverage.join(' / ')} before, ${after.loadAverage.join(' / ')} after`
      : `before: ${runs(before)}; after: ${runs(after)}`;
    out.push(`\`node bench/phone-12mp.mjs\`, ${name(paths[0])} → ${name(paths[1])} (${when}):`, '');
    out.push('| file | bytes | upload, median | decode stage, median |', '| --- | ---: | ---: | ---: |');
    for (const a of after.rows) {
      const b = before.rows.find((r) => r.label === a.label);
      if (!b) { out.push(`| ${a.label} | ${(a.bytes / 1e6).toFixed(2)} MB | ${ms(median(a.uploadMs))} | ${ms(median(a.decodeMs))} |`); continue; }
      const [bu, au, bd, ad] = [median(b.uploadMs), median(a.uploadMs), median(b.decodeMs), median(a.decodeMs)];
      out.push(`| ${a.label} | ${(a.bytes / 1e6).toFixed(2)} MB | ${ms(bu)} → ${ms(au)} (${change(bu, au)}) | ${ms(bd)} → ${ms(ad)} (${change(bd, ad)}) |`);
    }
  }
  const mods = (r) => Object.entries(r.modules);
  out.push('', `Modules, node's gzip at level 9: ${mods(after ?? before).map(([m, n]) => {
    const was = after ? before.modules[m] : undefined;
    return `${m} ${was !== undefined && was !== n ? `${was.toLocaleString('en-US')} → ` : ''}${n.toLocaleString('en-US')} B`;
  }).join(', ')}.`);
  return out.join('\n') + '\n';
}
