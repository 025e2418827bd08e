#!/usr/bin/env bash
# `npm test`: set-up, native unit tests, the wasm build, then the integration
# tests that run the built Worker in workerd (Miniflare) with KV and R2.
set -euo pipefail
cd "$(dirname "$0")/.."
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
bash scripts/setup.sh
echo "== native unit tests (cargo test)"
cargo test --lib --quiet
echo "== wasm build"
bash scripts/build.sh
echo "== integration tests (workerd via Miniflare)"
node --test --test-concurrency=1 tests/integration/
