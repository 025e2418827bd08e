#!/usr/bin/env node
// `npm run dev`: local KV and R2, a demo user, wrangler dev, and a
// ready-to-paste upload request. Assumes scripts/setup.sh and build.sh ran.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { mintToken, localSecret } from './lib/token.mjs';
import { profileJson } from './user.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The value of `--name value` or `--name=value` among the arguments passed
 * through (`npm run dev -- --port 9000`), and the arguments without it.
 */
function takeOption(args, name) {
  const rest = [];
  let value;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === `--${name}` && i + 1 < args.length) value = args[++i];
    else if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
    else rest.push(a);
  }
  return { value, rest };
}

// wrangler takes --port and --ip once: ours are defaults, the caller's win.
const portOption = takeOption(process.argv.slice(2), 'port');
const ipOption = takeOption(portOption.rest, 'ip');
const passThrough = ipOption.rest;
const port = Number(portOption.value || process.env.PORT || 8787);
const ip = ipOption.value || '127.0.0.1';
const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' };
const wranglerBin = path.join(root, 'node_modules/.bin/wrangler');
const DEMO_ID = 1;

// Seed the demo user in the same local KV that wrangler dev uses, keeping an
// existing profile (and its avatar) if there is one.
const got = spawnSync(wranglerBin, ['kv', 'key', 'get', '--binding', 'USERS', '--local', `user:${DEMO_ID}`],
  { cwd: root, env, encoding: 'utf8' });
if (got.status !== 0 || !got.stdout.trim().startsWith('{')) {
  const put = spawnSync(wranglerBin, ['kv', 'key', 'put', '--binding', 'USERS', '--local',
    `user:${DEMO_ID}`, profileJson(DEMO_ID, 'demo')], { cwd: root, env, stdio: 'inherit' });
  if (put.status !== 0) process.exit(put.status ?? 1);
}

const secret = await localSecret(root);
const token = mintToken({ userId: DEMO_ID, secret, exp: Math.floor(Date.now() / 1000) + 7 * 86400 });

// --var overrides [vars] from wrangler.toml for this run only.
const child = spawn(wranglerBin, ['dev', '--ip', ip, '--port', String(port),
  '--var', 'UPLOAD_PAGE:on', '--var', `DEV_DEMO_TOKEN:${token}`, ...passThrough],
  { cwd: root, env, stdio: ['inherit', 'pipe', 'inherit'] });
let announced = false;
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!announced && /Ready on/.test(chunk.toString())) {
    announced = true;
    const sample = ['tests/fixtures/jpeg_baseline.jpg']
      .find((f) => existsSync(path.join(root, f))) ?? 'path/to/photo.jpg';
    // A wildcard address listens everywhere; this machine reaches it on loopback.
    const host = ['0.0.0.0', '::', '*'].includes(ip) ? '127.0.0.1' : ip.includes(':') ? `[${ip}]` : ip;
    const base = `http://${host}:${port}`;
    console.log(`
────────────────────────────────────────────────────────────────────────
 Avatar service running at ${base}  (local KV and R2 in .wrangler/state)
 Demo user: id ${DEMO_ID} "demo". Upload page: ${base}/

 Upload an avatar:

   curl -s -H 'Token: ${token}' -F 'file=@${sample}' ${base}/api/user/avatar

 More users and tokens: npm run user -- add 2 alice ; npm run token -- 2
────────────────────────────────────────────────────────────────────────
`);
  }
});
const stop = () => child.kill('SIGINT');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => process.exit(code ?? 0));
