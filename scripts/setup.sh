#!/usr/bin/env bash
# Installs whatever the project needs and is missing; quick when all is there.
# Used by `npm run dev`, `npm test`, `npm run build` and CI. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
say() { printf '\033[36m[setup]\033[0m %s\n' "$*"; }

# 1. npm packages (wrangler, miniflare, binaryen for wasm-opt, test tools).
stamp=node_modules/.setup-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  say "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  touch "$stamp"
fi

# 2. Rust: the wasm32 target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2b. C toolchain for libwebp on wasm32 (clang-14, llvm-14, wasi-libc).
bash scripts/setup-webp-toolchain.sh

# 3. worker-build (pinned to the worker crate's version).
want_wb=$(awk '/^name = "worker"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
have_wb=$(worker-build --version 2>/dev/null || true)
if [ "$have_wb" != "$want_wb" ]; then
  say "installing worker-build $want_wb"
  cargo install worker-build --version "$want_wb" --force
fi

# 4. wasm-bindgen-cli at exactly the version in Cargo.lock (no --locked:
#    the registry index here lacks one locked dependency).
want_bg=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
have_bg=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_bg" != "$want_bg" ]; then
  say "installing wasm-bindgen-cli $want_bg"
  cargo install wasm-bindgen-cli --version "$want_bg" --force
fi

# 5. Local secrets: a random TOKEN_SECRET for wrangler dev (git-ignored).
if [ ! -f .dev.vars ]; then
  say "creating .dev.vars with a random TOKEN_SECRET"
  printf 'TOKEN_SECRET="%s"\n' "$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')" > .dev.vars
fi
