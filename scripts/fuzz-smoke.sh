#!/usr/bin/env bash
# Runs every fuzz target briefly (default 30 s each) on its corpus; exits
# non-zero if any target finds a crash, a timeout or an out-of-memory.
# Installs cargo-fuzz when it is missing; skips (exit 0) only when the
# nightly toolchain is missing (the Worker's build needs it too).
#
#   bash scripts/fuzz-smoke.sh            # all targets, 30 s each
#   FUZZ_SECONDS=120 bash scripts/fuzz-smoke.sh token pipeline
#
# Long runs and findings: docs/fuzzing.md.
set -uo pipefail
cd "$(dirname "$0")/.."

# cargo-fuzz, installed like every other tool (from crates.io, pinned).
want_fuzz=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$want_fuzz" ]; then
  echo "== installing cargo-fuzz $want_fuzz"
  nice -n 10 cargo install cargo-fuzz --version "$want_fuzz" --locked --force >/dev/null 2>&1 \
    || { echo "fuzz-smoke: FAILED (cargo install cargo-fuzz $want_fuzz)"; exit 1; }
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz-smoke: SKIPPED (no nightly toolchain; rustup toolchain install nightly)"
  exit 0
fi

seconds=${FUZZ_SECONDS:-30}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pipeline token multipart profile)

max_len() {
  case "$1" in
    pipeline) echo 262144 ;;   # 256 KiB: real photos are larger, but
                               # headers and chunk structure fit
    multipart) echo 65536 ;;
    *) echo 8192 ;;
  esac
}

# Natively (not on wasm32) jpeg-decoder decodes large JPEGs on worker
# threads; LeakSanitizer reports their thread-local state as a leak at
# thread exit (a false positive), so leak checks are off for the pipeline.
extra_flags() {
  case "$1" in
    pipeline) echo -detect_leaks=0 ;;
  esac
}

bash scripts/fuzz-seed.sh >/dev/null || { echo "fuzz-smoke: seeding the corpus failed"; exit 1; }
echo "== building fuzz targets (cargo +nightly fuzz build)"
mkdir -p fuzz/artifacts
for t in "${targets[@]}"; do
  if ! nice -n 10 cargo +nightly fuzz build "$t" >fuzz/artifacts/build.log 2>&1; then
    tail -40 fuzz/artifacts/build.log
    echo "fuzz-smoke: FAILED (build of $t)"
    exit 1
  fi
done

failed=()
mkdir -p fuzz/artifacts
for t in "${targets[@]}"; do
  log="fuzz/artifacts/$t-smoke.log"
  mkdir -p "fuzz/artifacts/$t"
  echo "== $t: ${seconds}s"
  nice -n 10 cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 $(extra_flags "$t") >"$log" 2>&1
  rc=$?
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log" | sed 's/^/   /'
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    grep -E 'panicked|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY|Test unit written|artifact_prefix' "$log" | head -8 | sed 's/^/   /'
    echo "   $t FAILED (exit $rc); full log: $log"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: FAILED: ${failed[*]} (reproduce: cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>)"
  exit 1
fi
echo "fuzz-smoke: OK (${targets[*]}: ${seconds}s each, no findings)"
