#!/usr/bin/env node
// Starts the built worker in workerd (Miniflare, local KV and R2) with demo
// user 1, prints one JSON line {"url","token"} and runs until killed. Used by
// scripts/schemathesis.sh; handy for any tool that needs a live endpoint.
import { startWorker, seedUser } from '../tests/lib/worker.mjs';
import { mintToken } from './lib/token.mjs';

const w = await startWorker({});
await seedUser(w.kv);
console.log(JSON.stringify({ url: w.url.href.replace(/\/$/, ''), token: mintToken({ userId: 1 }) }));
const stop = async () => { await w.dispose(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setInterval(() => {}, 1 << 30);
