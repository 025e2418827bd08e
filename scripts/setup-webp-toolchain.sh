#!/usr/bin/env bash
# The C toolchain libwebp (src/imaging/codecs/webp/, via libwebp-sys) needs to be
# compiled for wasm32-unknown-unknown: clang-14 (wasm32 backend), llvm-ar-14,
# and wasi-libc's headers. .cargo/config.toml points the `cc` crate at them.
# Native builds and `cargo test` need none of this (they use the system cc).
# Idempotent: installs via apt only what is missing; quick when all is there.
set -euo pipefail
say() { printf '\033[36m[setup-webp]\033[0m %s\n' "$*" >&2; }

# libwebp's SSE2 code on wasm simd128 (docs/webp-encoder.md): Emscripten's
# x86-intrinsics headers (<emmintrin.h> etc. written on <wasm_simd128.h>)
# let clang-14 compile libwebp's *_sse2.c files for wasm32; libwebp's own
# EMSCRIPTEN branch (dsp/cpu.c) then enables them. Only those headers are
# taken, from Debian's emscripten package (downloaded, not installed: no
# root needed), into a per-user cache shared by every clone.
#   --sse-include   installs them when missing and prints their directory
sse_dir="${XDG_CACHE_HOME:-$HOME/.cache}/avatar-edge/emscripten-sse-include"
sse_headers() {
  if [ -f "$sse_dir/emmintrin.h" ]; then return 0; fi
  say "fetching Emscripten's SSE-on-wasm-simd128 headers (Debian's emscripten package)"
  local tmp
  tmp=$(mktemp -d)
  # The download runs in $tmp; apt may warn that _apt cannot write there.
  if ! (cd "$tmp" && apt-get download -qq emscripten 2>/dev/null); then
    apt_update
    (cd "$tmp" && apt-get download -qq emscripten)
  fi
  dpkg-deb -x "$tmp"/emscripten_*.deb "$tmp/x"
  mkdir -p "$sse_dir.partial"
  cp "$tmp"/x/usr/share/emscripten/system/include/compat/*intrin.h "$sse_dir.partial/"
  dpkg-deb -f "$tmp"/emscripten_*.deb Version > "$sse_dir.partial/VERSION"
  rm -rf "$sse_dir" "$tmp"
  mv "$sse_dir.partial" "$sse_dir"
  [ -f "$sse_dir/emmintrin.h" ] || { echo "[setup-webp] no emmintrin.h in the emscripten package" >&2; exit 1; }
}
sudo=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=(sudo); fi
apt_update() { "${sudo[@]}" apt-get update -qq; }

missing=()
command -v clang-14 >/dev/null 2>&1 || missing+=(clang-14)
command -v llvm-ar-14 >/dev/null 2>&1 || missing+=(llvm-14)
[ -f /usr/include/wasm32-wasi/stdlib.h ] || missing+=(wasi-libc)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && [ ${#sudo[@]} -eq 0 ]; then
    echo "[setup-webp] need root (or sudo) to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]} (C toolchain for libwebp on wasm32)"
  export DEBIAN_FRONTEND=noninteractive
  apt_update
  "${sudo[@]}" apt-get install -y -qq "${missing[@]}"

  command -v clang-14 >/dev/null && command -v llvm-ar-14 >/dev/null \
    && [ -f /usr/include/wasm32-wasi/stdlib.h ] \
    || { echo "[setup-webp] toolchain still incomplete after apt-get" >&2; exit 1; }
fi

sse_headers
if [ "${1:-}" = --sse-include ]; then echo "$sse_dir"; fi
