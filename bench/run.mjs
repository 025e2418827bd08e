#!/usr/bin/env node
// `npm run bench`: our worker vs the photon and jSquash peer workers and sharp.
// See docs/benchmark.md. Options (or BENCH_* variables):
//   --quick             2 runs per fixture, 5 s budget (a smoke run)
//   --runs=N            timed runs per fixture (5)
//   --only=a,b          fixtures whose file name contains a or b
//   --contestants=...   any of ours,photon,jsquash,sharp,null
//   --sharp-threads=N   libvips threads for sharp (1)
//   --set=issue         issue 15's fixtures and the 1×1 PNG only
//   --fixed-cost        instead: where the ms of a 1×1 PNG upload go (lib/fixed-cost.mjs)
//
// This file only uses node: builtins: it installs bench/node_modules (the
// bench's own npm project, so the main install stays lean) when missing, then
// hands over to lib/main.mjs. miniflare and esbuild come from the main
// project's node_modules (`npm install` at the root).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));

// Install when any dependency of bench/package.json is missing.
const { dependencies = {} } = JSON.parse(readFileSync(path.join(benchDir, 'package.json'), 'utf8'));
if (Object.keys(dependencies).some((d) => !existsSync(path.join(benchDir, 'node_modules', d, 'package.json')))) {
  const cmd = existsSync(path.join(benchDir, 'package-lock.json')) ? 'ci' : 'install';
  console.error(`[bench] installing the bench's dependencies (npm ${cmd} in bench/)...`);
  const r = spawnSync('npm', [cmd, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: benchDir, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
for (const dep of ['miniflare', 'esbuild']) {
  try { createRequire(path.join(benchDir, 'run.mjs')).resolve(dep); } catch {
    console.error(`[bench] ${dep} not found: run \`npm install\` in the project root first`);
    process.exit(1);
  }
}

const { main } = await import('./lib/main.mjs');
await main(process.argv.slice(2));
