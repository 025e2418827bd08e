// Times the image pipeline's stages as the Worker's wasm runs them
// (wasm32, simd128, libwebp with its SSE2 code on simd128) in Node's V8,
// without workerd, Miniflare or the request around them. The end-to-end
// bench (`bench/run.mjs`) moves by ±20 % from one run to the next on a
// busy machine; a stage called in a loop moves by a few per cent, so a
// change to one stage can be measured in wasm, not only natively. Node 20's
// V8 is older than workerd's: compare builds here (`--against`), quote
// upload figures from `bench/run.mjs`.
//
//   BUILD_VARIANT=wasm-stages bash scripts/build.sh     # into target/wasm-stages/
//   node bench/wasm-stages.mjs [FIXTURE...] [--stages=decode,resize,encode,pipeline]
//        [--rounds=7] [--ms=300] [--wasm=PATH] [--against=PATH] [--in=workerd]
//
// FIXTURE: files (default: bench/fixtures' small uploads, where a stage's
// milliseconds are a large share). Each round calls the stage in a loop
// for about `--ms`; the table shows the median of `--rounds` rounds and
// their minimum, per call. `--against=PATH`: a second build of the module
// (e.g. of an earlier commit, copied aside), run interleaved with the
// first round by round, and the ratio of medians. GIFs run as the bench's
// worker runs them (ANIMATION=first). `--sharp`: with the pipeline stage,
// sharp's whole job on the same file (the bench's: rotate, 256² cover,
// WebP q85; one libvips thread, no cache) interleaved round by round, as
// this process's CPU per job, and ours' pipeline over it: the image work
// alone, without the request around it.
//
// `--in=workerd`: the stages run inside workerd (through Miniflare; a
// worker that holds every build, one instance each), each call timed as
// the CPU of workerd's isolate thread, less the same request with no runs.
// Node 20's V8 is older than workerd's and compiles some code differently:
// a change to how the wasm is built or optimised (wasm-opt, inlining,
// target features) is measured here, where the Worker runs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import sharp from 'sharp';
import { workerdWatcher, processCpu } from './lib/cpu.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const defaultWasm = path.join(root, 'target/wasm-stages/wasm32-unknown-unknown/release/avatar_edge_wasm_stages.wasm');
const STAGES = { decode: 0, resize: 1, encode: 2, pipeline: 3 };
const DEFAULT_FIXTURES = ['png-512.png', 'png-1mp.png', 'png-alpha.png', 'jpeg-2mp.jpg', 'webp-2mp.webp',
  'gif-480x360.gif', 'gif-animated.gif', 'png-1x1.png'];

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
};
const files = args.filter((a) => !a.startsWith('--'));
const fixtures = files.length ? files : DEFAULT_FIXTURES.map((f) => path.join(root, 'bench/fixtures', f));
const stages = flag('stages', 'decode,resize,encode,pipeline').split(',');
const rounds = Number(flag('rounds', 7));
const roundMs = Number(flag('ms', 300));
const builds = [flag('wasm', defaultWasm), flag('against', null)].filter(Boolean);
const withSharp = args.includes('--sharp');
const where = flag('in', 'node');
if (!['node', 'workerd'].includes(where)) throw new Error(`--in=${where}: node or workerd`);

for (const s of stages) if (!(s in STAGES)) throw new Error(`unknown stage ${s}; known: ${Object.keys(STAGES)}`);
for (const f of [...builds, ...fixtures]) {
  if (!fs.existsSync(f)) {
    throw new Error(`${f} is missing (the module: BUILD_VARIANT=wasm-stages bash scripts/build.sh; ` +
      'the fixtures: node bench/make-fixtures.mjs)');
  }
}

// The module links the Worker's glue too (its imports go unused by the
// stages): every import is a function that fails if it is ever called.
function instantiate(module) {
  const imports = {};
  for (const { module: m, name, kind } of WebAssembly.Module.imports(module)) {
    if (kind !== 'function') throw new Error(`unexpected ${kind} import ${m}.${name}`);
    imports[m] ??= {};
    imports[m][name] = () => { throw new Error(`the stages called the import ${m}.${name}`); };
  }
  return new WebAssembly.Instance(module, imports).exports;
}

/** Copies a file into the module's input buffer. */
function copyIn(stages, bytes) {
  const at = stages.input(bytes.length); // may grow the memory: its buffer is read after
  new Uint8Array(stages.memory.buffer, at, bytes.length).set(bytes);
}

/** A build run in this process: `input` copies the file in, `run` times
 * one call of the module's `run` (wall clock: one thread, nothing else). */
function inNode(file) {
  const stages = instantiate(new WebAssembly.Module(fs.readFileSync(file)));
  return {
    async input(bytes) { copyIn(stages, bytes); },
    async run(stage, n, first) {
      const t = process.hrtime.bigint();
      const out = stages.run(stage, n, first);
      return { ms: Number(process.hrtime.bigint() - t) / 1e6, out };
    },
  };
}

/** The builds inside one workerd: a worker imports them all
 * (`instantiate` and `copyIn` above, as their source) and answers `/input` and `/run` for
 * the one named by `?build=`. A call's time is the CPU of workerd's isolate
 * thread over the request; the request's own cost cancels out in `time`. */
async function inWorkerd(files) {
  const { Miniflare } = await import('miniflare');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-stages-'));
  files.forEach((f, i) => fs.copyFileSync(f, path.join(dir, `build${i}.wasm`)));
  fs.writeFileSync(path.join(dir, 'worker.js'), [
    ...files.map((_, i) => `import build${i} from './build${i}.wasm';`),
    `const modules = [${files.map((_, i) => `build${i}`).join(', ')}];`,
    'const instances = [];',
    instantiate.toString(),
    copyIn.toString(),
    'export default {',
    '  async fetch(req) {',
    '    const u = new URL(req.url);',
    "    const i = Number(u.searchParams.get('build'));",
    '    const stages = (instances[i] ??= instantiate(modules[i]));',
    "    if (u.pathname === '/input') {",
    '      copyIn(stages, new Uint8Array(await req.arrayBuffer()));',
    "      return new Response('ok');",
    '    }',
    "    const [stage, n, first] = ['stage', 'n', 'first'].map((k) => Number(u.searchParams.get(k)));",
    '    return new Response(String(stages.run(stage, n, first)));',
    '  },',
    '};',
  ].join('\n'));
  const watch = workerdWatcher();
  const mf = new Miniflare({
    modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    scriptPath: path.join(dir, 'worker.js'),
    modulesRoot: dir,
    compatibilityDate: '2025-01-01',
  });
  await mf.ready;
  const pid = watch();
  if (!pid || !processCpu(pid)) throw new Error('--in=workerd needs Linux /proc to time workerd');
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const builds = files.map((_, i) => ({
    async input(bytes) {
      const res = await mf.dispatchFetch(`http://stages/input?build=${i}`, { method: 'POST', body: bytes });
      if ((await res.text()) !== 'ok') throw new Error(`build ${i}: the input was not taken`);
    },
    async run(stage, n, first) {
      const before = processCpu(pid).main;
      const res = await mf.dispatchFetch(`http://stages/run?build=${i}&stage=${stage}&n=${n}&first=${first}`);
      const out = Number(await res.text());
      return { ms: processCpu(pid).main - before, out };
    },
  }));
  builds.close = () => mf.dispose();
  return builds;
}

/** One call of `run` with `n` runs of the stage: ms, and its answer. */
async function call(stages, stage, first, n) {
  const { ms, out } = await stages.run(stage, n, first);
  if (out === 0) throw new Error('the stage refused the input');
  return { ms, out };
}

/** `n` runs of the stage: ms per run (less the call's setup, a decode and
 * a resize for the later stages' inputs, timed by a call with no runs),
 * and the last run's output figure. */
async function time(stages, stage, first, n) {
  const setup = (await call(stages, stage, first, 0)).ms;
  const { ms, out } = await call(stages, stage, first, n);
  return { ms: Math.max(ms - setup, 0) / n, out };
}

/** Runs per round: doubled until they take a tenth of a round. Also the
 * warm-up: V8 has optimised the stage's code by its end. */
async function callsPerRound(stages, stage, first) {
  for (let n = 1; ; n *= 2) {
    const { ms } = await time(stages, stage, first, n);
    if (ms * n >= roundMs / 10) return Math.max(1, Math.round(roundMs / Math.max(ms, 0.001)));
  }
}

/** sharp's job on `bytes`, `n` times one after the other: this process's
 * CPU per job in ms (libvips' worker thread and the one driving it). */
async function sharpJob(bytes, n) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    await sharp(bytes).rotate().resize(256, 256, { fit: 'cover' }).webp({ quality: 85 }).toBuffer();
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => (ms >= 10 ? ms.toFixed(1) : ms.toFixed(3));

const instances = where === 'workerd' ? await inWorkerd(builds) : builds.map(inNode);
if (withSharp) {
  sharp.cache(false);
  sharp.concurrency(1);
}
const header = ['fixture', 'stage', ...builds.map((b, i) => `${i ? 'against' : 'this'}: ms median [min]`)];
if (builds.length > 1) header.push('this / against', 'same output');
if (withSharp) header.push('sharp: CPU ms per job, median [min]', 'this / sharp');
console.log(where === 'workerd'
  ? `wasm stages in workerd (Miniflare), CPU of its isolate thread: ${rounds} rounds of ~${roundMs} ms per stage`
  : `wasm stages in V8 (Node ${process.version}): ${rounds} rounds of ~${roundMs} ms per stage`);
builds.forEach((b, i) => console.log(`${i ? 'against' : 'this'}: ${path.relative(process.cwd(), b)}`));
console.log(`| ${header.join(' | ')} |\n|${header.map(() => ' --- |').join('')}`);
for (const file of fixtures) {
  const bytes = fs.readFileSync(file);
  const first = /\.gif$/i.test(file) ? 1 : 0;
  for (const stages of instances) await stages.input(bytes);
  for (const name of stages) {
    const stage = STAGES[name];
    const perRound = [];
    for (const e of instances) perRound.push(await callsPerRound(e, stage, first));
    const n = Math.min(...perRound); // the same for every build
    const times = builds.map(() => []);
    const outs = builds.map(() => null);
    const vsSharp = withSharp && name === 'pipeline';
    const sharpTimes = [];
    if (vsSharp) await sharpJob(bytes, 5); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const [i, e] of instances.entries()) {
        const { ms, out } = await time(e, stage, first, n);
        times[i].push(ms);
        outs[i] = out;
      }
      if (vsSharp) sharpTimes.push(await sharpJob(bytes, n));
    }
    const cells = times.map((t) => `${fmt(median(t))} [${fmt(Math.min(...t))}]`);
    if (builds.length > 1) {
      const same = outs[0] === outs[1] ? 'yes' : `no (${outs[0]} / ${outs[1]})`;
      cells.push(`${(median(times[0]) / median(times[1])).toFixed(2)}×`, same);
    }
    if (withSharp) {
      cells.push(...(vsSharp
        ? [`${fmt(median(sharpTimes))} [${fmt(Math.min(...sharpTimes))}]`, `${(median(times[0]) / median(sharpTimes)).toFixed(2)}×`]
        : ['', '']));
    }
    console.log(`| ${path.basename(file)} | ${name} | ${cells.join(' | ')} |`);
  }
}
await instances.close?.();
