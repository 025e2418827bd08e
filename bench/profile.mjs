#!/usr/bin/env node
// Where an upload's CPU goes inside workerd, by function: V8's sampling
// profiler over N uploads of one fixture, through Miniflare's inspector.
// Needs a build with the wasm name section (the production build with its
// names kept):
//
//   BUILD_VARIANT=profile bash scripts/build.sh
//   node bench/profile.mjs bench/fixtures/png-512.png [--runs=200] [--top=40]
//
// Prints self time per function (wasm functions by their Rust names) and,
// with --by=crate, per crate. A tool for finding what to speed up; the
// figures that count are the benchmark's.
import { Miniflare } from 'miniflare';
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../scripts/lib/token.mjs';
import { multipart } from './lib/contestants.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => {
  const [k, v] = a.slice(2).split('=');
  return [k, v ?? 'true'];
}));
const fixture = process.argv.slice(2).find((a) => !a.startsWith('--'));
if (!fixture) {
  console.error('usage: node bench/profile.mjs FIXTURE [--runs=N] [--top=N] [--by=crate] [--dir=build-profile] [--set=K=V,...]');
  process.exit(2);
}
const runs = Number(args.runs ?? 200);
const top = Number(args.top ?? 40);
const dir = path.resolve(root, args.dir ?? 'build-profile');
const extra = Object.fromEntries((args.set ?? '').split(',').filter(Boolean).map((kv) => kv.split('=')));
const port = 9300 + Math.floor(Math.random() * 500);
const SECRET = 'profile-secret';

const mf = new Miniflare({
  modules: true,
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
  modulesRoot: dir,
  scriptPath: path.join(dir, 'index.js'),
  compatibilityDate: '2025-01-01',
  kvNamespaces: ['USERS'],
  r2Buckets: ['AVATARS'],
  inspectorPort: port,
  bindings: { TOKEN_SECRET: SECRET, MAX_UPLOAD_BYTES: String(64 << 20), ANIMATION: 'first', ...extra },
});
await mf.ready;
const kv = await mf.getKVNamespace('USERS');
await kv.put('user:1', JSON.stringify({ id: 1, user_name: 'p', status: 1, avatar_url: '' }));
const token = mintToken({ userId: 1, secret: SECRET, exp: Math.floor(Date.now() / 1000) + 86400 });
const { body, contentType } = multipart(readFileSync(fixture), path.basename(fixture));
const upload = async () => {
  const res = await mf.dispatchFetch('http://127.0.0.1/api/user/avatar', {
    // With its length, as browsers send a form (the Worker reads it in one go).
    method: 'POST', headers: { Token: token, 'Content-Type': contentType, 'Content-Length': String(body.length) }, body,
  });
  const json = await res.json();
  if (json.code !== 0) throw new Error(`upload failed: ${JSON.stringify(json)}`);
};
for (let i = 0; i < 20; i++) await upload();

const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
const target = targets.find((t) => !/miniflare|entry|proxy/i.test(t.title ?? '')) ?? targets[0];
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((r) => ws.once('open', r));
let seq = 0;
const pending = new Map();
ws.on('message', (m) => {
  const msg = JSON.parse(m);
  if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
});
const send = (method, params = {}) => new Promise((r) => {
  const id = ++seq;
  pending.set(id, r);
  ws.send(JSON.stringify({ id, method, params }));
});
await send('Profiler.enable');
await send('Profiler.setSamplingInterval', { interval: 100 });
await send('Profiler.start');
const t0 = performance.now();
for (let i = 0; i < runs; i++) await upload();
const wall = performance.now() - t0;
const { result } = await send('Profiler.stop');
ws.close();
await mf.dispose();

const { nodes, samples, timeDeltas } = result.profile;
const byId = new Map(nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
samples.forEach((id, i) => {
  const dt = timeDeltas[i] ?? 0;
  const n = byId.get(id);
  let name = n.callFrame.functionName || `(${n.callFrame.url || 'anonymous'})`;
  if (args.by === 'crate') {
    // Rust names carry their crate's hash in the production build: `avatar_edge[0123…]::…`.
    const m = name.match(/^(?:<)?([a-z_][a-z0-9_]*)(?:\[[0-9a-f]+\])?::/);
    name = m ? m[1] : name.startsWith('(') ? name : 'other';
  }
  self.set(name, (self.get(name) ?? 0) + dt);
  total += dt;
});
const idle = ['(idle)', '(program)', '(garbage collector)'];
const busy = total - idle.reduce((s, k) => s + (self.get(k) ?? 0), 0) + (self.get('(garbage collector)') ?? 0);
console.log(`${path.basename(fixture)}: ${runs} uploads, ${(wall / runs).toFixed(1)} ms each end to end; ` +
  `sampled busy ${(busy / 1000 / runs).toFixed(2)} ms per upload`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  if (name === '(idle)') continue;
  console.log(`${(us / 1000 / runs).toFixed(3).padStart(8)} ms  ${(100 * us / busy).toFixed(1).padStart(5)} %  ${name.slice(0, 150)}`);
}
