// The README's benchmark tables are generated from committed results
// (bench/results/*.json) by bench/report.mjs; this checks they still
// match, and that the before/after table reads two results files. Needs no
// build and no worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, regenerate } from '../../bench/report.mjs';
import { compareMarkdown, markdown } from '../../bench/lib/report.mjs';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const RESULTS = path.join(ROOT, 'bench', 'results');

test('README benchmark blocks match the results files they name', () => {
  const { changed, blocks } = regenerate(README);
  assert.ok(blocks >= 1, 'README.md has no <!-- bench:begin ... --> block');
  assert.deepEqual(changed, [], 'run `node bench/report.mjs --readme` after changing results or bench/lib/report.mjs');
});

test('every committed results file renders, and compares with itself as unchanged', () => {
  const files = readdirSync(RESULTS).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 1, 'no results committed under bench/results/');
  for (const f of files) {
    const report = JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8'));
    const md = markdown(report);
    assert.match(md, /Time per upload/, f);
    const cmp = compareMarkdown(report, report).join('\n');
    // one row per fixture, and no change anywhere
    for (const fx of report.fixtures) assert.ok(cmp.includes(`| ${fx.label} |`), `${f}: ${fx.label} missing`);
    assert.doesNotMatch(cmp, /\(\+[1-9]\d* %\)|\(−[1-9]\d* %\)/, `${f}: a file compared with itself shows a change`);
  }
});

test('every committed AVIF/HEIC results file renders, alone and compared with itself', async () => {
  const { phoneMarkdown } = await import('../../bench/lib/phone-report.mjs');
  const dir = path.join(RESULTS, 'phone');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 1, 'no results committed under bench/results/phone/');
  for (const f of files) {
    const r = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
    const alone = phoneMarkdown(r, null, [f]);
    const self = phoneMarkdown(r, r, [f, f]);
    for (const row of r.rows) {
      const med = [...row.uploadMs].sort((a, b) => a - b)[Math.floor(row.uploadMs.length / 2)];
      assert.ok(alone.includes(`| ${row.label} |`) && alone.includes(`${Math.round(med).toLocaleString('en-US')} ms`), `${f}: ${row.label}`);
      const line = self.split('\n').find((l) => l.startsWith(`| ${row.label} |`));
      assert.equal(line.match(/±0 %/g)?.length, 2, `${f}: ${row.label} compared with itself shows a change: ${line}`);
    }
  }
});
