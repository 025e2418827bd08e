#!/usr/bin/env bash
# The C toolchain libwebp (src/imaging/codecs/webp/, via libwebp-sys) needs to be
# compiled for wasm32-unknown-unknown: clang-14 (wasm32 backend), llvm-ar-14,
# and wasi-libc's headers; and what the AVIF/HEIC decoder modules need on top
# (decoders/README.md). .cargo/config.toml points the `cc` crate at them.
# Native builds and `cargo test` need none of this (they use the system cc).
# Idempotent: installs via apt only what is missing; quick when all is there.
set -euo pipefail
say() { printf '\033[36m[setup-webp]\033[0m %s\n' "$*" >&2; }

# libwebp's SSE2 code on wasm simd128 (docs/webp-encoder.md): Emscripten's
# x86-intrinsics headers (<emmintrin.h> etc. written on <wasm_simd128.h>)
# let clang-14 compile libwebp's *_sse2.c files for wasm32; libwebp's own
# EMSCRIPTEN branch (dsp/cpu.c) then enables them. Only those headers are
# taken, from Debian's emscripten package (downloaded, not installed: no
# root needed), into a per-user cache shared by every clone. The same
# package gives dlmalloc.c (public domain), the allocator of the phone-format
# decoder modules (decoders/README.md).
#   --sse-include   installs them when missing and prints their directory
#   --dlmalloc      the same for dlmalloc.c; prints its path
sse_dir="${XDG_CACHE_HOME:-$HOME/.cache}/avatar-edge/emscripten-sse-include"
dlmalloc_dir="${XDG_CACHE_HOME:-$HOME/.cache}/avatar-edge/emscripten-dlmalloc"
emscripten_files() {
  if [ -f "$sse_dir/emmintrin.h" ] && [ -f "$dlmalloc_dir/dlmalloc.c" ]; then return 0; fi
  say "fetching Emscripten's SSE-on-wasm-simd128 headers and dlmalloc.c (Debian's emscripten package)"
  local tmp
  tmp=$(mktemp -d)
  # The download runs in $tmp; apt may warn that _apt cannot write there.
  if ! (cd "$tmp" && apt-get download -qq emscripten 2>/dev/null); then
    apt_update
    (cd "$tmp" && apt-get download -qq emscripten)
  fi
  dpkg-deb -x "$tmp"/emscripten_*.deb "$tmp/x"
  if [ ! -f "$sse_dir/emmintrin.h" ]; then
    mkdir -p "$sse_dir.partial"
    cp "$tmp"/x/usr/share/emscripten/system/include/compat/*intrin.h "$sse_dir.partial/"
    dpkg-deb -f "$tmp"/emscripten_*.deb Version > "$sse_dir.partial/VERSION"
    rm -rf "$sse_dir"
    mv "$sse_dir.partial" "$sse_dir"
  fi
  if [ ! -f "$dlmalloc_dir/dlmalloc.c" ]; then
    mkdir -p "$dlmalloc_dir.partial"
    cp "$tmp"/x/usr/share/emscripten/system/lib/dlmalloc.c "$dlmalloc_dir.partial/"
    dpkg-deb -f "$tmp"/emscripten_*.deb Version > "$dlmalloc_dir.partial/VERSION"
    rm -rf "$dlmalloc_dir"
    mv "$dlmalloc_dir.partial" "$dlmalloc_dir"
  fi
  rm -rf "$tmp"
  [ -f "$sse_dir/emmintrin.h" ] || { echo "[setup-webp] no emmintrin.h in the emscripten package" >&2; exit 1; }
  [ -f "$dlmalloc_dir/dlmalloc.c" ] || { echo "[setup-webp] no dlmalloc.c in the emscripten package" >&2; exit 1; }
}
sudo=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=(sudo); fi
apt_update() { "${sudo[@]}" apt-get update -qq; }

missing=()
command -v clang-14 >/dev/null 2>&1 || missing+=(clang-14)
command -v llvm-ar-14 >/dev/null 2>&1 || missing+=(llvm-14)
[ -f /usr/include/wasm32-wasi/stdlib.h ] || missing+=(wasi-libc)
# The phone-format decoder modules (decoders/README.md): wasm-ld 14 (AVIF)
# and 16 (HEIC: lld 14 turns hidden weak C++ template instances into imports
# in position-independent links), libc++'s wasm32 headers (HEIC), clang's
# wasm32 builtins (64-bit arithmetic helpers), dpkg-source (for
# `apt-get source libde265`).
command -v wasm-ld-14 >/dev/null 2>&1 || missing+=(lld-14)
command -v wasm-ld-16 >/dev/null 2>&1 || missing+=(lld-16)
[ -d /usr/lib/llvm-14/include/wasm32-wasi/c++/v1 ] || missing+=(libc++-14-dev-wasm32)
ls /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || missing+=(libclang-rt-14-dev-wasm32)
command -v dpkg-source >/dev/null 2>&1 || missing+=(dpkg-dev)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && [ ${#sudo[@]} -eq 0 ]; then
    echo "[setup-webp] need root (or sudo) to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]} (C toolchain for libwebp and the decoder modules on wasm32)"
  export DEBIAN_FRONTEND=noninteractive
  apt_update
  "${sudo[@]}" apt-get install -y -qq "${missing[@]}"

  command -v clang-14 >/dev/null && command -v llvm-ar-14 >/dev/null \
    && [ -f /usr/include/wasm32-wasi/stdlib.h ] && command -v wasm-ld-14 >/dev/null \
    && command -v wasm-ld-16 >/dev/null && command -v dpkg-source >/dev/null \
    || { echo "[setup-webp] toolchain still incomplete after apt-get" >&2; exit 1; }
fi

emscripten_files
if [ "${1:-}" = --sse-include ]; then echo "$sse_dir"; fi
if [ "${1:-}" = --dlmalloc ]; then echo "$dlmalloc_dir/dlmalloc.c"; fi
