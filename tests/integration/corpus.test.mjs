// Conformance corpus: every file of tests/corpus/ (PngSuite, bmpsuite,
// libwebp's test vectors, GIF/JPEG/BMP/ICO edge cases from decoder
// projects; MANIFEST.json has each file's source and licence) is uploaded
// through the built worker (OUTPUT_FORMAT=png, so no lossy step blurs the
// comparison) and our avatar is compared with the avatar made from a
// reference decoder's picture of the same file (tests/lib/corpus.mjs says
// which decoder, and how the reference avatar is made).
//
// Fails when: an answer is not an HTTP 200 envelope (code 0 or -1) or takes
// over 30 s; a file the reference decodes is refused and MANIFEST does not
// list it as a deliberate refusal (`expect: "refuse"`, with `why`); a file
// is accepted and differs from the reference beyond THRESHOLD (or its own
// justified `tolerance`); a file the reference refuses is accepted without
// a judgement in MANIFEST (`expect: "accept"`, with `why`). Files failing
// for a reason recorded below in KNOWN_ISSUES pass, loudly, until fixed; a
// known issue that no longer occurs fails the test, so that its entry is
// removed.
//
// Prints a table per suite, writes tests/output/corpus-results.json, from
// which `node scripts/corpus/report.mjs` regenerates docs/conformance.md.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SKIP, REPO_ROOT, startWorker, seedUser } from '../lib/worker.mjs';
import { mintToken } from '../lib/token.mjs';
import { corpusFiles, runFile, verdict, PASSING, THRESHOLD, PILLOW_VERSION } from '../lib/corpus.mjs';
import { countsTable } from '../lib/corpus-report.mjs';

// ===================================================================
// KNOWN ISSUES: current failures, found by this corpus, to be fixed in
// the pipeline. Each file here may fail (its verdict is shown as KNOWN);
// once it passes, the test fails until its entry is removed.
// ===================================================================
const KNOWN_ISSUES = [
  {
    id: 'K7',
    title: 'BMP embedded ICC profile ignored',
    what: 'bmpsuite q/rgb24prof2.bmp stores red and green swapped with a profile that swaps them back; ours shows them swapped (the suite: "support for this is uncommon"; Chromium applies BMP profiles).',
    cause: 'The BMP path does not read the V5 header\'s embedded profile (PROFILE_EMBEDDED) into the colour step that JPEG/PNG/WebP get.',
    files: ['bmp/bmpsuite/q/rgb24prof2.bmp'],
  },
  {
    id: 'K10',
    title: 'Corrupt JPEG accepted as noise',
    what: 'A fuzzer-made JPEG whose entropy-coded data is corrupt (libjpeg: "premature end of data segment"; sharp refuses it) is accepted, and the avatar is noise below the first rows.',
    cause: 'Probably jpeg-decoder decoding through the corrupt Huffman data (its own crash test only asks that it not panic), and the truncated-scan check not seeing it because the data does not end early.',
    files: ['jpeg/jpeg-decoder/crashtest/images/dc-predictor-overflow.jpg'],
  },
];

const KNOWN = new Map(KNOWN_ISSUES.flatMap((k) => k.files.map((f) => [f, k])));

const f2 = (v) => (v === undefined || v === null ? '' : v.toFixed(2));

/** One table per suite, as text. */
function table(suite, rows) {
  const head = ['file', 'reference', 'ours', 'Δ mean', 'Δ block', 'verdict'];
  const body = rows.map((r) => [
    r.rel.slice(suite.length + 1), `${r.ref.decoder}: ${r.ref.status}`, r.ours, f2(r.metrics?.mae), f2(r.metrics?.block),
    r.known ? `KNOWN ${r.known} (${r.verdict})` : r.verdict,
  ]);
  const width = head.map((h, i) => Math.min(60, Math.max(h.length, ...body.map((b) => b[i].length))));
  const line = (cells) => cells.map((c, i) => (i >= 3 && i <= 4 ? c.padStart(width[i]) : c.padEnd(width[i]))).join('  ');
  return [`== ${suite} (${rows.length} files)`, line(head), ...body.map(line)].join('\n');
}

describe('conformance corpus: files and manifest', () => {
  test('every MANIFEST file is there with its size and SHA-256, and nothing else is', async () => {
    const { createHash } = await import('node:crypto');
    const { readdirSync, statSync } = await import('node:fs');
    const { CORPUS, MANIFEST } = await import('../lib/corpus.mjs');
    const bad = [];
    for (const [rel, e] of Object.entries(MANIFEST.files)) {
      const b = readFileSync(path.join(CORPUS, rel));
      if (b.length !== e.bytes || createHash('sha256').update(b).digest('hex') !== e.sha256) bad.push(`${rel}: not the recorded bytes`);
      for (const r of e.reference ?? []) if (!MANIFEST.references[r]) bad.push(`${rel}: reference ${r} has no provenance`);
    }
    for (const [rel, e] of Object.entries(MANIFEST.references)) {
      const b = readFileSync(path.join(CORPUS, rel));
      if (createHash('sha256').update(b).digest('hex') !== e.sha256) bad.push(`${rel}: not the recorded bytes`);
    }
    const walk = (d) => readdirSync(d).flatMap((f) => (statSync(path.join(d, f)).isDirectory() ? walk(path.join(d, f)) : [path.join(d, f)]));
    for (const top of ['png', 'bmp', 'webp', 'gif', 'jpeg', 'ico']) {
      for (const f of walk(path.join(CORPUS, top))) {
        const rel = path.relative(CORPUS, f).split(path.sep).join('/');
        if (!MANIFEST.files[rel]) bad.push(`${rel}: not in MANIFEST`);
      }
    }
    for (const [rel, e] of Object.entries(MANIFEST.files)) {
      if ((e.expect || e.tolerance) && !e.why) bad.push(`${rel}: a decision without a why`);
      if (!MANIFEST.licences[e.licence]) bad.push(`${rel}: licence ${e.licence} not described`);
    }
    assert.deepEqual(bad, []);
  });
});

describe('conformance corpus: every file through the worker, compared with a reference decoder', { skip: SKIP, timeout: 600_000 }, () => {
  let w;
  const files = corpusFiles();
  const suites = [...new Set(files.map((f) => f.suite))];
  const results = [];
  const token = mintToken();

  before(async () => {
    w = await startWorker({ OUTPUT_FORMAT: 'png' }, { stdout: () => {} });
    await seedUser(w.kv);
  });
  after(async () => {
    await w?.dispose();
    if (results.length === files.length) {
      const out = path.join(REPO_ROOT, 'tests', 'output');
      mkdirSync(out, { recursive: true });
      writeFileSync(path.join(out, 'corpus-results.json'), `${JSON.stringify({
        threshold: THRESHOLD, pillow: PILLOW_VERSION, known_issues: KNOWN_ISSUES, rows: results,
      }, null, 1)}\n`);
    }
  });

  for (const suite of suites) {
    test(suite, async () => {
      const rows = [];
      for (const file of files.filter((f) => f.suite === suite)) {
        const row = await runFile(w, file, { token });
        row.verdict = verdict(row, file.entry);
        const k = KNOWN.get(file.rel);
        if (k) row.known = k.id;
        rows.push(row);
      }
      results.push(...rows);
      console.log(table(suite, rows));
      const problems = [];
      for (const r of rows) {
        const ok = PASSING.has(r.verdict);
        if (r.known && ok) problems.push(`${r.rel}: listed in ${r.known} but now passes (${r.verdict}): remove it from KNOWN_ISSUES`);
        if (!r.known && !ok) {
          const m = r.metrics ? ` (Δ mean ${f2(r.metrics.mae)}, block ${f2(r.metrics.block)}; threshold ${THRESHOLD.mae}/${THRESHOLD.block})` : '';
          problems.push(`${r.rel}: ${r.verdict}${m}; reference ${r.ref.decoder} ${r.ref.status} (${r.ref.note}); ours: ${r.msg}`);
        }
      }
      assert.deepEqual(problems, [], `${suite}:\n${problems.join('\n')}`);
    });
  }

  test('summary and known issues', () => {
    assert.equal(results.length, files.length, 'every suite ran');
    const count = (pred) => results.filter(pred).length;
    console.log(`\ncorpus: ${results.length} files; accepted ${count((r) => r.ours === 'accepted')}, refused ${count((r) => r.ours === 'refused')}, `
      + `matching the reference ${count((r) => r.verdict === 'match')}, deliberate refusals ${count((r) => r.verdict === 'deliberate refusal')}, `
      + `judged acceptances ${count((r) => r.verdict === 'judged')}, known issues ${count((r) => r.known)}`);
    const lines = ['', '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      `!!! KNOWN ISSUES (${KNOWN_ISSUES.length}): current failures the corpus found, to be fixed`];
    for (const k of KNOWN_ISSUES) {
      lines.push(`!!! ${k.id} ${k.title}`);
      for (const f of k.files) {
        const r = results.find((x) => x.rel === f);
        lines.push(`!!!     ${f}: ${r ? `${r.ours}, ${r.verdict}${r.metrics ? ` (Δ ${f2(r.metrics.mae)})` : ''}` : 'not in the corpus'}`);
      }
    }
    lines.push('!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!');
    console.log(lines.join('\n'));
    const missing = KNOWN_ISSUES.flatMap((k) => k.files).filter((f) => !results.some((r) => r.rel === f));
    assert.deepEqual(missing, [], 'known issues name files that are not in the corpus');
  });

  test('docs/conformance.md shows these counts', () => {
    // The doc's tables are generated from this run's results; the counts
    // (not the decimals) must be current.
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'conformance.md'), 'utf8');
    assert.ok(doc.includes(countsTable(results)),
      'docs/conformance.md is out of date: run `node scripts/corpus/report.mjs` (it reads tests/output/corpus-results.json, written by this test)');
  });
});
