#!/usr/bin/env bash
# Builds the Worker with worker-build, fully offline: the wasm-bindgen,
# wasm-opt and esbuild it would download come from cargo and npm.
#
#   scripts/build.sh                    production build into build/
#   BUILD_VARIANT=test scripts/build.sh test build (feature test-hooks) into build-test/
#   BUILD_VARIANT=profile scripts/build.sh the production build with its function
#                                       names kept, into build-profile/ (bench/profile.mjs)
#
# Both use --panic-unwind (nightly std rebuilt with panic=unwind), so a panic
# in one request is caught and answered instead of poisoning the isolate.
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
case "${ESBUILD_BIN:-}" in
  ""|*esbuild-keep-wasm.sh) export ESBUILD_REAL="${ESBUILD_REAL:-$PWD/node_modules/.bin/esbuild}" ;;
  *) export ESBUILD_REAL="$ESBUILD_BIN" ;;
esac
export ESBUILD_BIN="$PWD/scripts/esbuild-keep-wasm.sh"

# wasm simd128 (supported by workerd's V8): fast_image_resize and
# jpeg-decoder have simd128 code paths that are compiled in only with it.
# worker-build appends its own flags (-Cpanic=unwind) to RUSTFLAGS; with
# --target set, RUSTFLAGS applies to the wasm crates and the rebuilt std only.
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+simd128"
# A maximum for the module's memory (120 MiB, a multiple of 64 KiB pages):
# without one, memory.grow goes on until the isolate is over Cloudflare's
# 128 MB and killed with every request it serves. The heap ceiling
# (src/heap.rs, 103.4 MiB of live allocations) plus static data, stack and
# fragmentation stay under it; past it an allocation fails (dlmalloc gets
# -1 from memory.grow) and is refused like one over the ceiling.
WASM_MAX_MEMORY=$((120 * 1024 * 1024))
export RUSTFLAGS="$RUSTFLAGS -C link-arg=--max-memory=$WASM_MAX_MEMORY"

# libwebp's SSE2 paths compiled to wasm simd128 through Emscripten's SSE
# headers (docs/webp-encoder.md): the 256 px encode takes ~9 ms in workerd
# instead of ~19 with the C paths, byte-identical output. EMSCRIPTEN selects
# libwebp's compile-time CPU detection (dsp/cpu.c); __SSE2__ turns the SSE2
# files on. The base flags are .cargo/config.toml's, read from there: this
# variable, once set, replaces that entry (a plain `cargo build --target
# wasm32-...` still works, with the C paths).
sse_include=$(bash scripts/setup-webp-toolchain.sh --sse-include)
base_cflags=$(sed -n 's/^CFLAGS_wasm32_unknown_unknown = "\(.*\)"$/\1/p' .cargo/config.toml)
[ -n "$base_cflags" ] || { echo "[build] no CFLAGS_wasm32_unknown_unknown in .cargo/config.toml" >&2; exit 1; }
# -flto: libwebp goes to the linker as bitcode and is optimised there as
# one program (calls between its files inlined, e.g. the bit writer into the
# token loop): faster encodes and decodes in wasm and a smaller .wasm, the
# same bytes out (measured in docs/webp-encoder.md).
# scripts/wasm-include/emmintrin.h wraps Emscripten's header so that the
# bitcode holds no intrinsic the linker's newer LLVM no longer reads; its
# hash is in the flags so that an edit to it rebuilds libwebp.
wasm_include="$PWD/scripts/wasm-include"
wasm_include_hash=$(cat "$wasm_include"/*.h | sha256sum | cut -c1-16)
export CFLAGS_wasm32_unknown_unknown="$base_cflags -isystem $wasm_include -isystem $sse_include -DEMSCRIPTEN -D__SSE__ -D__SSE2__ -DWEBP_HAVE_SSE2 -mbulk-memory -msign-ext -mnontrapping-fptoint -flto -DAVATAR_EDGE_WASM_INCLUDE=$wasm_include_hash"

# The pipeline's stages alone, for `node bench/wasm-stages.mjs`: the same
# compiler flags, no worker-build, no wasm-bindgen.
if [ "${BUILD_VARIANT:-}" = wasm-stages ]; then
  exec cargo build --release --target wasm32-unknown-unknown --manifest-path bench/wasm-stages/Cargo.toml \
    --target-dir target/wasm-stages
fi

out=build
cargo_args=()
if [ "${BUILD_VARIANT:-}" = test ]; then
  out=build-test
  cargo_args=(-- --features test-hooks)
elif [ "${BUILD_VARIANT:-}" = profile ]; then
  out=build-profile
fi

# The AVIF and HEIC decoder modules (decoders/README.md): built once per set
# of inputs and cached; copied next to index.js below.
bash decoders/build.sh

# Skip the rebuild when nothing it depends on changed since the last build.
if [ -f "$out/index.js" ] && [ -z "${FORCE_BUILD:-}" ]; then
  newer=$(find src js Cargo.toml Cargo.lock .cargo scripts/build.sh scripts/wasm-include -newer "$out/index.js" -type f 2>/dev/null | head -n 1)
  if [ -z "$newer" ]; then
    bash decoders/build.sh "$out" 2>/dev/null
    echo "[build] $out up to date"
    exit 0
  fi
fi
worker-build --release --panic-unwind --out-dir "$out" "${cargo_args[@]}"
# The production wasm drops its name section (function names, a twentieth of
# the gzip size; the module's code is untouched): panics are caught and
# logged by message. The test build keeps the names, for stack traces.
if [ "$out" = build ]; then
  for f in "$out"/index_bg.wasm; do
    # worker-build's own feature list (explicit: newer binaryen encodings
    # such as compact imports must not be emitted before workerd reads them).
    "$WASM_OPT_BIN" --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
      --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling \
      --enable-simd --strip-debug --strip-producers "$f" -o "$f.stripped" && mv "$f.stripped" "$f"
  done
fi
for f in "$out"/index_bg.wasm; do
  printf "[build] %s: %s bytes, gzip -9 %s bytes, %s\n" "$f" "$(wc -c < "$f")" "$(gzip -9c "$f" | wc -c)" \
    "$(node scripts/wasm-memory.mjs "$f")"
done
# The decoder modules next to index.js (js/phone-modules.mjs imports them).
bash decoders/build.sh "$out"
