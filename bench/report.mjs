#!/usr/bin/env node
// Benchmark results -> markdown, and the README's tables from committed
// results. Only node: builtins and bench/lib/report.mjs (no install needed).
//
//   node bench/report.mjs --save=NAME      bench/out/results.json (+ bench/out/load.json when there)
//                                          -> bench/results/<date>-NAME.json (compact; commit it)
//   node bench/report.mjs --md [FILE]      the full report of a results file (default bench/out/results.json)
//   node bench/report.mjs --compare BEFORE [AFTER]
//                                          issue 15's figures from two results files, and the change
//   node bench/report.mjs --readme         rewrites every generated block of README.md
//   node bench/report.mjs --check          exit 1 when README.md's blocks differ from their results
//
// A generated block in README.md is
//   <!-- bench:begin report=bench/results/2026-12-03-main.json -->
//   ...
//   <!-- bench:end -->
// (the full report of that file), `compare=BEFORE.json[,AFTER.json]` (the
// before/after table) or `phone=BEFORE.json[,AFTER.json]` (the AVIF/HEIC
// table of bench/phone-12mp.mjs --save). Paths are relative to the repository root. The text
// between the markers is generated: edit the results or the code, not it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareMarkdown, markdown } from './lib/report.mjs';
import { phoneMarkdown } from './lib/phone-report.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(benchDir, '..');
const README = path.join(ROOT, 'README.md');
const OUT = path.join(benchDir, 'out');

const readJson = (p) => JSON.parse(readFileSync(path.resolve(ROOT, p), 'utf8'));
/** A results file's short name: its file name without .json. */
const shortName = (p) => path.basename(p).replace(/\.json$/, '');

/**
 * A results object made small enough to commit: numbers rounded (SSIM to 6
 * decimals, everything else to 3), the per-window SSIM breakdown and the
 * memory split dropped (bench/out/results.json keeps them).
 */
export function compact(report) {
  const round = (key, v) => {
    if (typeof v !== 'number' || Number.isInteger(v)) return v;
    const d = /^ssim/i.test(key) ? 6 : 3;
    return Number(v.toFixed(d));
  };
  return JSON.parse(JSON.stringify(report, (key, v) => {
    if (key === 'byShift' || key === 'memoryDetail') return undefined;
    if (Array.isArray(v)) return v.map((x) => round(key, x));
    return round(key, v);
  }));
}

/** A results file's text: one level of indent, arrays of numbers on one line. */
export function resultsJson(results) {
  return JSON.stringify(results, null, 1)
    .replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_, xs) => `[${xs.split(/,\s*/).join(', ')}]`) + '\n';
}

/** The text a block's attributes call for. Heading level fits the README's "## Measured figures". */
export function blockText(attrs) {
  if (attrs.report) return markdown(readJson(attrs.report), { level: 4, title: false });
  if (attrs.compare) {
    const [before, after] = attrs.compare.split(',').map((s) => s.trim()).filter(Boolean);
    return compareMarkdown(readJson(before), after ? readJson(after) : null,
      { h: '####', names: [shortName(before), after ? shortName(after) : null] }).join('\n') + '\n';
  }
  if (attrs.phone) {
    const files = attrs.phone.split(',').map((s) => s.trim()).filter(Boolean);
    return phoneMarkdown(readJson(files[0]), files[1] ? readJson(files[1]) : null, files.map(shortName));
  }
  throw new Error(`a bench block needs report=, compare= or phone=: ${JSON.stringify(attrs)}`);
}

const BLOCK = /<!-- bench:begin ([^>]*?) -->\n([\s\S]*?)<!-- bench:end -->/g;
const attrsOf = (s) => Object.fromEntries([...s.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));

/** README text with every block regenerated; and which blocks changed. */
export function regenerate(text) {
  const changed = [];
  const out = text.replace(BLOCK, (whole, attrs, body) => {
    const fresh = `\n${blockText(attrsOf(attrs)).trimEnd()}\n\n`;
    if (fresh !== body) changed.push(attrs);
    return `<!-- bench:begin ${attrs} -->\n${fresh}<!-- bench:end -->`;
  });
  return { text: out, changed, blocks: [...text.matchAll(BLOCK)].length };
}

function main(argv) {
  const opt = (name) => {
    const hit = argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    return hit == null ? null : hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : true;
  };
  const rest = argv.filter((a) => !a.startsWith('--'));

  if (opt('save')) {
    const name = opt('save');
    if (name === true || !/^[\w.-]+$/.test(name)) throw new Error('--save=NAME: letters, digits, . _ -');
    const from = opt('results') || path.join(OUT, 'results.json');
    const report = readJson(from);
    const loadFile = opt('load') || path.join(OUT, 'load.json');
    if (existsSync(path.resolve(ROOT, loadFile))) {
      report.load = readJson(loadFile);
      console.error(`[report] load figures from ${path.relative(ROOT, path.resolve(ROOT, loadFile))} (${report.load.date})`);
    } else {
      console.error('[report] no load figures (run `npm run load` first to include them)');
    }
    const dir = path.join(benchDir, 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${report.date.slice(0, 10)}-${name}.json`);
    writeFileSync(file, resultsJson(compact(report)));
    console.error(`[report] wrote ${path.relative(ROOT, file)}`);
    return 0;
  }
  if (opt('md')) {
    const file = opt('md') === true ? (rest[0] ?? path.join(OUT, 'results.json')) : opt('md');
    process.stdout.write(markdown(readJson(file)));
    return 0;
  }
  if (opt('compare')) {
    const files = opt('compare') === true ? rest : [opt('compare'), ...rest];
    if (!files.length || files.length > 2) throw new Error('--compare BEFORE.json [AFTER.json]');
    process.stdout.write(compareMarkdown(readJson(files[0]), files[1] ? readJson(files[1]) : null,
      { names: [shortName(files[0]), files[1] ? shortName(files[1]) : null] }).join('\n') + '\n');
    return 0;
  }
  if (opt('readme') || opt('check')) {
    const text = readFileSync(README, 'utf8');
    const { text: fresh, changed, blocks } = regenerate(text);
    if (!blocks) { console.error('[report] README.md has no <!-- bench:begin ... --> block'); return 1; }
    if (opt('check')) {
      if (changed.length) {
        console.error(`[report] README.md is out of date with its results: ${changed.join('; ')} ` +
          '(run `node bench/report.mjs --readme`)');
        return 1;
      }
      console.error(`[report] README.md matches its results (${blocks} block${blocks > 1 ? 's' : ''})`);
      return 0;
    }
    writeFileSync(README, fresh);
    console.error(`[report] README.md: ${changed.length} of ${blocks} block${blocks > 1 ? 's' : ''} rewritten`);
    return 0;
  }
  console.error('usage: node bench/report.mjs --save=NAME | --md [FILE] | --compare BEFORE [AFTER] | --readme | --check');
  return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try { process.exitCode = main(process.argv.slice(2)); } catch (e) { console.error(`[report] ${e.message}`); process.exitCode = 1; }
}
