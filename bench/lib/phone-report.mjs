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
/** A figure of `after`, as `before → after (change)` when `before` has it. */
const figure = (before, after) => (before === undefined ? ms(after) : `${ms(before)} → ${ms(after)} (${change(before, after)})`);

/**
 * Markdown for `before` alone, or `before` → `after`; `names` are the
 * results files' short names.
 */
export function phoneMarkdown(before, after, names) {
  const runs = (r) => `${r.date.slice(0, 10)}, ${r.machine}, ${r.runs} uploads each after a warm-up`;
  const load = (r) => r.loadAverage.join(' / ');
  let intro;
  if (!after) intro = `${names[0]}: ${runs(before)}, load average ${load(before)}`;
  else if (runs(before) === runs(after)) intro = `${names[0]} → ${names[1]} (${runs(after)}; load average ${load(before)} before, ${load(after)} after`;
  else intro = `${names[0]} → ${names[1]} (before: ${runs(before)}, load average ${load(before)}; after: ${runs(after)}, load average ${load(after)}`;
  const out = [after ? `\`node bench/phone-12mp.mjs\`, ${intro}):` : `\`node bench/phone-12mp.mjs\` (${intro}):`, ''];
  out.push('| file | bytes | upload, median | decode stage, median |', '| --- | ---: | ---: | ---: |');
  for (const r of (after ?? before).rows) {
    const was = after ? before.rows.find((b) => b.label === r.label) : undefined;
    out.push(`| ${r.label} | ${(r.bytes / 1e6).toFixed(2)} MB | ${figure(was && median(was.uploadMs), median(r.uploadMs))} | ${figure(was && median(was.decodeMs), median(r.decodeMs))} |`);
  }
  out.push('', `Modules, node's gzip at level 9: ${Object.entries((after ?? before).modules).map(([m, n]) => {
    const was = after?.modules && before.modules[m];
    return `${m} ${was && was !== n ? `${was.toLocaleString('en-US')} → ` : ''}${n.toLocaleString('en-US')} B`;
  }).join(', ')}.`);
  return out.join('\n') + '\n';
}
