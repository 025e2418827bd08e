#!/usr/bin/env node
// Regenerates the generated block of docs/conformance.md (counts, known
// issues, deliberate refusals, judged acceptances, per-file tables) from
// the corpus test's last results, tests/output/corpus-results.json:
//
//   node --test tests/integration/corpus.test.mjs   # writes the results
//   node scripts/corpus/report.mjs                  # rewrites the doc
//   node scripts/corpus/report.mjs --check          # exit 1 if the doc differs
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../tests/lib/worker.mjs';
import { renderDoc, BEGIN, END } from '../../tests/lib/corpus-report.mjs';

const results = path.join(REPO_ROOT, 'tests', 'output', 'corpus-results.json');
const doc = path.join(REPO_ROOT, 'docs', 'conformance.md');
if (!existsSync(results)) {
  console.error(`${path.relative(REPO_ROOT, results)} missing: run node --test tests/integration/corpus.test.mjs first`);
  process.exit(2);
}
const block = renderDoc(JSON.parse(readFileSync(results, 'utf8')));
const text = readFileSync(doc, 'utf8');
const a = text.indexOf('<!-- corpus:begin'), b = text.indexOf(END);
if (a < 0 || b < 0) {
  console.error(`${path.relative(REPO_ROOT, doc)} has no generated block (<!-- corpus:begin … ${END})`);
  process.exit(2);
}
const next = text.slice(0, a) + block + text.slice(b + END.length);
if (process.argv.includes('--check')) {
  if (next !== text) {
    console.error('docs/conformance.md is not the report of the last results: run node scripts/corpus/report.mjs');
    process.exit(1);
  }
  console.log('docs/conformance.md matches the last results');
} else {
  writeFileSync(doc, next);
  console.log(`rewrote the generated block of ${path.relative(REPO_ROOT, doc)}`);
}
