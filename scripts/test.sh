#!/usr/bin/env bash
# `npm test`: set-up, the format and lint gate, native unit tests, the wasm build, the integration
# tests that run the built Worker in workerd (Miniflare) with KV and R2, the
# upload page in a real browser, a deploy dry run, and fuzz smoke runs when
# cargo-fuzz is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
bash scripts/setup.sh
bash scripts/setup-browser.sh

echo "== format and lint gate (rustfmt, clippy -D warnings, native and wasm32)"
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --target wasm32-unknown-unknown --lib --quiet -- -D warnings
cargo clippy --target wasm32-unknown-unknown --lib --features test-hooks --quiet -- -D warnings
# Again as scripts/build.sh compiles the Worker (simd128): the scalar code
# a simd128 path replaces is compiled out there, and must not be left over.
RUSTFLAGS="-C target-feature=+simd128" cargo clippy --target wasm32-unknown-unknown --lib --quiet -- -D warnings
RUSTFLAGS="-C target-feature=+simd128" cargo clippy --target wasm32-unknown-unknown --lib --features test-hooks --quiet -- -D warnings

echo "== native unit tests (cargo test)"
cargo test --lib --quiet -- --skip worst_case_inputs_stay_within_the_memory_bound
# The worst-case memory test on its own: natively jpeg-decoder decodes on
# worker threads that queue rows in unbounded channels, so the peak it
# measures grows when other tests compete for the CPU (the wasm build
# decodes on one thread; see the test).
cargo test --lib --quiet imaging::tests::worst_case_inputs_stay_within_the_memory_bound -- --exact
# The stage benchmark and the pipeline example must keep compiling.
cargo check --benches --examples --quiet

echo "== wasm build (production, and the test variant with test-hooks)"
bash scripts/build.sh
BUILD_VARIANT=test bash scripts/build.sh

echo "== integration tests (workerd via Miniflare)"
node --test --test-concurrency=1 tests/integration/

echo "== browser test (chromium + playwright-core)"
node --test --test-concurrency=1 tests/browser/

echo "== deploy dry run"
out=$(mktemp -d)
node_modules/.bin/wrangler deploy --dry-run --outdir "$out" 2>&1 | grep -vi "metrics" | tail -n 12
du -b "$out"/* | awk '{printf "[deploy] %s %s bytes\n", $2, $1}'
rm -rf "$out"

if [ -x scripts/fuzz-smoke.sh ]; then
  echo "== fuzz smoke"
  bash scripts/fuzz-smoke.sh
fi
