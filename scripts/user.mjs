#!/usr/bin/env node
// The token tool: manage users in KV and print AnqiCMS-compatible tokens.
//
//   npm run user -- add <id> <user_name> [--status 1|0|-1] [--remote]
//   npm run user -- show <id> [--remote]
//   npm run token -- <id> [--hours 24]
//
// Local runs write into wrangler's local KV (.wrangler/state), the one
// `npm run dev` uses; --remote writes to the deployed namespace. The token is
// signed with TOKEN_SECRET from the environment or .dev.vars.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { mintToken, localSecret } from './lib/token.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const remote = args.includes('--remote');
if (remote) args.splice(args.indexOf('--remote'), 1);

function wrangler(...a) {
  const r = spawnSync(path.join(root, 'node_modules/.bin/wrangler'), a, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
  });
  if (r.status !== 0) {
    process.stderr.write(r.stderr || r.stdout);
    process.exit(r.status ?? 1);
  }
  return r.stdout;
}
const where = remote ? ['--remote'] : ['--local'];

export function profileJson(id, name, status = 1) {
  return JSON.stringify({ id, user_name: name, status, avatar_url: '' });
}

async function main() {
  const [cmd, ...rest] = args;
  const usage = () => {
    console.error('usage: npm run user -- add <id> <user_name> [--status 1|0|-1] [--remote]\n' +
      '       npm run user -- show <id> [--remote]\n' +
      '       npm run token -- <id> [--hours 24]');
    process.exit(2);
  };
  const hours = Number(flag('hours', '24'));
  if (cmd === 'add') {
    const status = Number(flag('status', '1'));
    const [idText, name] = rest;
    const id = Number(idText);
    if (!Number.isInteger(id) || id <= 0 || !name) usage();
    wrangler('kv', 'key', 'put', '--binding', 'USERS', ...where, `user:${id}`, profileJson(id, name, status));
    console.log(`user:${id} written (${name}, status ${status})`);
    console.log(mintToken({ userId: id, secret: await localSecret(root), exp: now() + hours * 3600 }));
  } else if (cmd === 'show') {
    const id = Number(rest[0]);
    if (!Number.isInteger(id) || id <= 0) usage();
    console.log(wrangler('kv', 'key', 'get', '--binding', 'USERS', ...where, `user:${id}`).trim());
  } else if (cmd === 'token') {
    const id = Number(rest[0]);
    if (!Number.isInteger(id) || id <= 0) usage();
    console.log(mintToken({ userId: id, secret: await localSecret(root), exp: now() + hours * 3600 }));
  } else {
    usage();
  }
}
const now = () => Math.floor(Date.now() / 1000);

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((e) => { console.error(e.message); process.exit(1); });
}
