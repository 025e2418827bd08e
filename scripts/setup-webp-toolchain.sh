#!/usr/bin/env bash
# The C toolchain libwebp (src/imaging/webp.rs, via libwebp-sys) needs to be
# compiled for wasm32-unknown-unknown: clang-14 (wasm32 backend), llvm-ar-14,
# and wasi-libc's headers. .cargo/config.toml points the `cc` crate at them.
# Native builds and `cargo test` need none of this (they use the system cc).
# Idempotent: installs via apt only what is missing; quick when all is there.
set -euo pipefail
say() { printf '\033[36m[setup-webp]\033[0m %s\n' "$*"; }

missing=()
command -v clang-14 >/dev/null 2>&1 || missing+=(clang-14)
command -v llvm-ar-14 >/dev/null 2>&1 || missing+=(llvm-14)
[ -f /usr/include/wasm32-wasi/stdlib.h ] || missing+=(wasi-libc)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "[setup-webp] need root (or sudo) to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
fi
say "installing ${missing[*]} (C toolchain for libwebp on wasm32)"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}"

command -v clang-14 >/dev/null && command -v llvm-ar-14 >/dev/null \
  && [ -f /usr/include/wasm32-wasi/stdlib.h ] \
  || { echo "[setup-webp] toolchain still incomplete after apt-get" >&2; exit 1; }
