#!/usr/bin/env node
// Two builds of ours on whole uploads, interleaved: did a change make the
// Worker cheaper? Each fixture gets a fresh workerd per build (through
// Miniflare, with KV and R2 as in the bench), both warmed up, then
// `--rounds` rounds in which each build serves `--block` uploads one after
// the other, the builds' order alternating from round to round (so that
// neither always runs after the other). Per block: the CPU of workerd's
// isolate thread per upload (/proc schedstat, the bench's CPU column) and
// the median end to end. Prints per fixture the medians and minimums over
// the rounds, B over A, and whether the two made the same avatar bytes.
//
//   node bench/ab.mjs --a=DIR|sharp --b=DIR [FIXTURE...] [--rounds=8] [--block=20] [--warmup=30]
//        [--a-set=K=V,...] [--b-set=K=V,...]
//
// DIR: a build directory (index.js + index_bg.wasm), e.g. `build` and a
// copy of it made before the change (`cp -r build build-before`).
// `--a=sharp`: A is sharp's native job instead (the bench's: rotate, 256²
// cover, WebP q85, one libvips thread), its CPU this process's, so that
// B / A is issue 15's "CPU: ours / sharp" with the two interleaved and
// the machine's drift does not land on one side. `--a-set`, `--b-set`:
// settings (wrangler vars) for that side's worker, e.g. the same build
// twice with `--b-set=RESIZE_SPACE=linear`.
// FIXTURE: files (default: the small uploads of bench/fixtures, where the
// request is a large share). A machine whose speed drifts moves both
// builds alike within a round; compare B/A, not the milliseconds.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ours, sharpNative, multipart } from './lib/contestants.mjs';
import { wranglerCompat } from './lib/main.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
};
const dirs = { A: flag('a', null), B: flag('b', null) };
const rounds = Number(flag('rounds', 8));
const block = Number(flag('block', 20));
const warmup = Number(flag('warmup', 30));
const settingsOf = (side) => Object.fromEntries((flag(`${side}-set`, '') || '').split(',').filter(Boolean).map((kv) => {
  const at = kv.indexOf('=');
  if (at < 1) throw new Error(`--${side}-set=${kv}: expected NAME=VALUE`);
  return [kv.slice(0, at), kv.slice(at + 1)];
}));
const settings = { A: settingsOf('a'), B: settingsOf('b') };
const files = args.filter((a) => !a.startsWith('--'));
const fixtures = files.length ? files
  : ['png-1x1.png', 'png-512.png', 'jpeg-2mp.jpg', 'jpeg-1mp.jpg', 'webp-2mp.webp', 'gif-480x360.gif']
    .map((f) => path.join(root, 'bench/fixtures', f));

for (const [name, dir] of Object.entries(dirs)) {
  if (!dir) throw new Error(`--${name.toLowerCase()}=DIR is missing (usage: node bench/ab.mjs --a=DIR --b=DIR [FIXTURE...])`);
  if (dir !== 'sharp' && !existsSync(path.join(dir, 'index.js'))) throw new Error(`${dir}/index.js is missing: not a build directory`);
}
for (const f of fixtures) {
  if (!existsSync(f)) throw new Error(`${f} is missing (the fixtures: node bench/make-fixtures.mjs)`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => (ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

async function start(dir, bindings) {
  if (dir === 'sharp') return sharpNative({ threads: 1 }).instance().start();
  const contestant = ours({ root, ...wranglerCompat(), maxUploadBytes: 64 * 1048576, dir: path.resolve(dir), bindings });
  return contestant.instance().start();
}

/** `block` uploads: isolate-thread CPU per upload, median ms end to end,
 * and the last upload (for its avatar). */
async function timeBlock(worker, req) {
  const before = worker.cpu();
  const ms = [];
  let last;
  for (let i = 0; i < block; i++) {
    last = await worker.upload(req);
    if (!last.ok) throw new Error(`upload failed: ${last.error}`);
    ms.push(last.ms);
  }
  return { cpu: (worker.cpu().main - before.main) / block, ms: median(ms), last };
}

const described = (side) => `${dirs[side]}${Object.keys(settings[side]).length ? ` with ${JSON.stringify(settings[side])}` : ''}`;
console.log(`A: ${described('A')}\nB: ${described('B')}\n${rounds} rounds of ${block} uploads per build, order alternating; ` +
  'CPU = workerd isolate thread per upload, ms = end to end\n');
console.log('| fixture | A: CPU ms median [min] | B: CPU ms median [min] | B / A CPU | A: ms | B: ms | B / A ms | same avatar |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const file of fixtures) {
  const bytes = readFileSync(file);
  const req = { ...multipart(bytes, path.basename(file)), bytes };
  const workers = { A: await start(dirs.A, settings.A), B: await start(dirs.B, settings.B) };
  try {
    for (let i = 0; i < warmup; i++) {
      for (const w of Object.values(workers)) {
        const r = await w.upload(req);
        if (!r.ok) throw new Error(`${path.basename(file)}: upload failed: ${r.error}`);
      }
    }
    const cpu = { A: [], B: [] }, ms = { A: [], B: [] }, last = {};
    for (let r = 0; r < rounds; r++) {
      for (const name of (r % 2 ? ['B', 'A'] : ['A', 'B'])) {
        const t = await timeBlock(workers[name], req);
        cpu[name].push(t.cpu);
        ms[name].push(t.ms);
        last[name] = t.last;
      }
    }
    const [a, b] = await Promise.all(['A', 'B'].map((n) => last[n].fetchOutput()));
    const same = dirs.A === 'sharp' || dirs.B === 'sharp' ? 'n/a' : a.equals(b) ? 'yes' : 'no';
    const cell = (xs) => `${fmt(median(xs))} [${fmt(Math.min(...xs))}]`;
    console.log(`| ${path.basename(file)} | ${cell(cpu.A)} | ${cell(cpu.B)} | ${(median(cpu.B) / median(cpu.A)).toFixed(2)}× | ` +
      `${fmt(median(ms.A))} | ${fmt(median(ms.B))} | ${(median(ms.B) / median(ms.A)).toFixed(2)}× | ${same} |`);
  } finally {
    await Promise.all(Object.values(workers).map((w) => w.stop()));
  }
}
