#!/usr/bin/env bash
# worker-build's esbuild (ESBUILD_BIN, set by scripts/build.sh), told to
# leave the decoder modules' imports alone: js/phone-modules.mjs imports
# ./phone-avif.wasm and ./phone-heic.wasm, which scripts/build.sh copies
# next to the bundled index.js, where wrangler and Miniflare load them as
# CompiledWasm (worker-build itself only keeps ./index_bg.wasm external).
exec "${ESBUILD_REAL:?}" "$@" '--external:./phone-*.wasm'
