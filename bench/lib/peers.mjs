// Bundles the peer workers (bench/peers/<name>/worker.js) for Miniflare.
//
// esbuild bundles the JS; every `.wasm` import is left as an import of a
// sibling file (copied next to the bundle) so that workerd loads it as a
// CompiledWasm module, exactly as wrangler deploys it. Output:
// bench/.build/<name>/worker.mjs + *.wasm.
import * as esbuild from 'esbuild';
import { createRequire } from 'node:module';
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PEERS = ['photon', 'jsquash'];

/** esbuild plugin: `.wasm` imports become external sibling files. */
function wasmModules(outdir, copied) {
  return {
    name: 'wasm-modules',
    setup(build) {
      build.onResolve({ filter: /\.wasm$/ }, (args) => {
        const abs = args.path.startsWith('.') || path.isAbsolute(args.path)
          ? path.resolve(args.resolveDir, args.path)
          : createRequire(path.join(args.resolveDir, 'x.js')).resolve(args.path);
        // Flatten into the bundle folder; names are unique across our peers.
        const name = path.basename(abs);
        copyFileSync(abs, path.join(outdir, name));
        copied.set(name, statSync(abs).size);
        return { path: `./${name}`, external: true };
      });
    },
  };
}

/** Builds one peer; returns {name, scriptPath, wasm: {file: bytes}}. */
export async function buildPeer(name) {
  const outdir = path.join(benchDir, '.build', name);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const copied = new Map();
  await esbuild.build({
    entryPoints: [path.join(benchDir, 'peers', name, 'worker.js')],
    outfile: path.join(outdir, 'worker.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    // workerd's condition first, as wrangler resolves packages.
    conditions: ['workerd', 'worker', 'browser', 'import'],
    mainFields: ['module', 'main'],
    plugins: [wasmModules(outdir, copied)],
    logLevel: 'warning',
    // jSquash's Emscripten glue mentions node modules behind runtime checks.
    external: ['module', 'fs', 'path', 'url', 'worker_threads', 'crypto'],
  });
  return { name, scriptPath: path.join(outdir, 'worker.mjs'), wasm: Object.fromEntries(copied) };
}
