#!/usr/bin/env bash
# Builds the Worker into build/ with worker-build, fully offline: the
# wasm-bindgen, wasm-opt and esbuild it would download come from cargo and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/.bin/esbuild}"
# Skip the rebuild when nothing it depends on changed since the last build.
if [ -f build/worker/shim.mjs ] && [ -z "${FORCE_BUILD:-}" ]; then
  newer=$(find src Cargo.toml Cargo.lock .cargo -newer build/worker/shim.mjs -type f 2>/dev/null | head -n 1)
  if [ -z "$newer" ]; then echo "[build] up to date"; exit 0; fi
fi
worker-build --release
for f in build/*.wasm; do printf "[build] %s: %s bytes, gzip -9 %s bytes\n" "$f" "$(wc -c < "$f")" "$(gzip -9c "$f" | wc -c)"; done
