#!/usr/bin/env bash
# Builds the two decoder modules (decoders/README.md) and copies them into
# the directories given (scripts/build.sh passes the Worker's build dirs):
#
#   phone-avif.wasm   dav1d 1.4.3 + libavif 1.0.4 + avif/glue.c      (C)
#   phone-heic.wasm   libde265 1.0.11 (Debian) + heic/glue.cc, sse_init.cc (C++)
#
# Both are position-independent wasm side modules (wasm-ld -shared
# --experimental-pic) that run inside the Worker's own memory, in an arena
# the Worker allocates (js/phone.mjs); they import exactly env.memory,
# env.__indirect_function_table, env.__stack_pointer, env.__memory_base and
# env.__table_base, and no C library (wasi-libc gives headers only; the few
# functions needed are in common/).
#
# Built once per set of inputs: the result is cached in
# ~/.cache/avatar-edge/decoders/<key>/, the key being a hash of every file
# under decoders/, the sources' versions, the toolchain's versions and the
# flags; objects of the third-party sources are cached per flag set, so
# changing a glue file recompiles that file only.
#   bash decoders/build.sh [DEST_DIR...]
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[36m[decoders]\033[0m %s\n' "$*" >&2; }

eval "$(bash decoders/fetch.sh)"
SSE_INCLUDE=$(bash scripts/setup-webp-toolchain.sh --sse-include)
# LIBDE265_DIR: another libde265 source tree (a modified one: LGPL-3.0 s. 4).
if [ -n "${LIBDE265_DIR:-}" ]; then
  LIBDE265=$LIBDE265_DIR
  SOURCES_ID="$SOURCES_ID libde265-dir=$(cd "$LIBDE265" && find . -name '*.cc' -o -name '*.h' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)"
fi
WASM_OPT="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
[ -x "$WASM_OPT" ] || { echo "[decoders] wasm-opt missing ($WASM_OPT): run scripts/setup.sh (npm ci installs binaryen)" >&2; exit 1; }
RT=$(ls /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a | head -n 1)
CXX_INCLUDE=/usr/lib/llvm-14/include/wasm32-wasi/c++/v1

# clang-14 emits position-independent wasm only for the emscripten triple:
# that triple, without its __EMSCRIPTEN__ macro (dlmalloc and the decoders
# would take Emscripten's paths), with wasi-libc's headers.
TARGET="--target=wasm32-unknown-emscripten -U__EMSCRIPTEN__ -D__wasi__ -nostdlibinc"
# (C++: libc++'s headers must come before the C library's.)
LIBC_INCLUDE="-isystem /usr/include/wasm32-wasi"
ARCH="-msimd128 -mbulk-memory -mnontrapping-fptoint -msign-ext -mmutable-globals -fPIC -fvisibility=hidden"
COMMON="$TARGET $ARCH -DNDEBUG -DSHIM_ARENA -ffunction-sections -fdata-sections -w"
AVIF_OPT=-Os
HEIC_OPT=${HEIC_OPT:--O2}
CFLAGS_AVIF="$COMMON $AVIF_OPT -isystem decoders/common/include $LIBC_INCLUDE -DDAV1D_API="
CXXFLAGS_HEIC="$COMMON $HEIC_OPT -DHAVE_SSE4_1 -std=c++17 -fno-exceptions -fno-rtti -nostdinc++ -isystem decoders/common/cxx -isystem $CXX_INCLUDE -isystem decoders/common/include $LIBC_INCLUDE -D_LIBCPP_DISABLE_EXTERN_TEMPLATE -DSHIM_CXX_PIC"
CFLAGS_HEIC="$COMMON $HEIC_OPT -isystem decoders/common/include $LIBC_INCLUDE"
EXPORTS="--export=ph_decode --export=shim_heap_init --export=shim_heap_peak"
WASM_OPT_FLAGS="--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals"

toolchain=$( { clang-14 --version | head -n 1; wasm-ld-14 --version; wasm-ld-16 --version; "$WASM_OPT" --version; } 2>&1)
# The third-party objects depend on the flags and on our headers they see
# (the pthread/C++ shims, the generated config headers).
flags_id=$( { printf '%s\n' "$SOURCES_ID" "$toolchain" "$CFLAGS_AVIF" "$CXXFLAGS_HEIC" "$CFLAGS_HEIC";
  find decoders/common/include decoders/common/cxx decoders/avif/gen decoders/heic/gen -type f | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-16)
inputs_id=$( { printf '%s\n' "$flags_id" "$EXPORTS" "$WASM_OPT_FLAGS"; find decoders -type f ! -name '*.md' | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/avatar-edge/decoders"
out="$cache/$inputs_id"
obj="$cache/obj-$flags_id"

if [ ! -f "$out/.complete" ] || [ -n "${FORCE_DECODERS:-}" ]; then
  say "building the AVIF and HEIC decoder modules (cache key $inputs_id; a few minutes the first time)"
  mkdir -p "$obj/avif" "$obj/heic" "$obj/own"
  jobs=()
  # dav1d: C only (no asm), 8 and 16 bits per component, no threads used,
  # no logging; its config.h and version headers are hand-written in avif/gen/.
  DINC="-Idecoders/avif/gen -I$DAV1D -I$DAV1D/include -I$DAV1D/src"
  for f in cdf cpu data decode dequant_tables getbits intra_edge itx_1d lf_mask lib log mem msac obu pal picture qm ref refmvs scan tables thread_task warpmv wedge; do
    jobs+=("c|$DAV1D/src/$f.c|$obj/avif/d_$f.o|avif|$DINC")
  done
  for f in cdef_apply cdef fg_apply filmgrain ipred_prepare ipred itx lf_apply loopfilter looprestoration lr_apply mc recon; do
    for bd in 8 16; do jobs+=("c|$DAV1D/src/${f}_tmpl.c|$obj/avif/d_${f}_$bd.o|avif|$DINC -DBITDEPTH=$bd"); done
  done
  # libavif: the reader and its helpers, dav1d as the only codec. Its
  # calls of dav1d_send_data go through the glue's one-picture check.
  AINC="-I$LIBAVIF/include -I$DAV1D/include -Idecoders/avif/gen -DAVIF_CODEC_DAV1D=1"
  for f in alpha avif colr diag exif io mem obu rawdata read reformat reformat_libsharpyuv reformat_libyuv scale stream utils; do
    jobs+=("c|$LIBAVIF/src/$f.c|$obj/avif/a_$f.o|avif|$AINC")
  done
  jobs+=("c|$LIBAVIF/src/codec_dav1d.c|$obj/avif/a_codec_dav1d.o|avif|$AINC -Ddav1d_send_data=avatar_dav1d_send_data")
  # libde265: the decoder (no encoder). With HAVE_SSE4_1 (CXXFLAGS_HEIC)
  # decctx.cc calls init_acceleration_functions_sse(), which is ours
  # (heic/sse_init.cc: the inverse transforms of x86/sse-dct.cc, compiled
  # on Emscripten's SSE headers for wasm simd128 as libwebp is), and
  # image.cc pads the planes for those functions' 16-byte reads.
  L="$LIBDE265/libde265"
  LINC="-Idecoders/heic/gen -I$LIBDE265 -I$L -DHAVE_CONFIG_H"
  for f in alloc_pool bitstream cabac contextmodel de265 deblock decctx dpb fallback-dct fallback-motion fallback image intrapred md5 motion nal-parser nal pps quality refpic sao scan sei slice sps threads transform util vps vui; do
    jobs+=("cxx|$L/$f.cc|$obj/heic/l_$f.o|heic|$LINC")
  done
  SSE_FLAGS="-isystem $SSE_INCLUDE -D__SSE__ -D__SSE2__ -D__SSE3__ -D__SSSE3__ -D__SSE4_1__"
  jobs+=("cxx|$L/x86/sse-dct.cc|$obj/heic/x_sse-dct.o|heic|$LINC $SSE_FLAGS")
  # Our own files: always recompiled (a handful).
  own=(
    "c|decoders/avif/glue.c|$obj/own/avif_glue.o|avif|-I$LIBAVIF/include -I$DAV1D/include -Idecoders/avif/gen"
    "c|decoders/common/libc_min.c|$obj/own/avif_libc_min.o|avif|"
    "c|decoders/common/dlmalloc_cfg.c|$obj/own/avif_dlmalloc.o|avif|-I$(dirname "$DLMALLOC")"
    "cxx|decoders/heic/glue.cc|$obj/own/heic_glue.o|heic|-I$LIBDE265 -Idecoders/heic/gen"
    "cxx|decoders/heic/sse_init.cc|$obj/own/heic_sse_init.o|heic|-I$LIBDE265 -I$LIBDE265/libde265 -Idecoders/heic/gen -DHAVE_CONFIG_H"
    "cxx|decoders/common/cxx_rt.cc|$obj/own/heic_cxx_rt.o|heic|"
    "c|decoders/common/libc_min.c|$obj/own/heic_libc_min.o|heicc|"
    "c|decoders/common/stdio_stub.c|$obj/own/heic_stdio_stub.o|heicc|"
    "c|decoders/common/dlmalloc_cfg.c|$obj/own/heic_dlmalloc.o|heicc|-I$(dirname "$DLMALLOC")"
  )
  rm -f "$obj"/own/*.o
  export CFLAGS_AVIF CXXFLAGS_HEIC CFLAGS_HEIC
  printf '%s\n' "${jobs[@]}" "${own[@]}" | nice -n 10 xargs -P 2 -I{} bash -c '
    IFS="|" read -r lang src o set inc <<< "{}"
    [ -f "$o" ] && exit 0
    case "$set" in
      avif) flags=$CFLAGS_AVIF; cc=clang-14 ;;
      heicc) flags=$CFLAGS_HEIC; cc=clang-14 ;;
      heic) flags=$CXXFLAGS_HEIC; cc=clang++-14 ;;
    esac
    $cc $flags $inc -c "$src" -o "$o.tmp" && mv "$o.tmp" "$o"'
  tmp=$(mktemp -d)
  # AVIF is C: wasm-ld 14. HEIC: wasm-ld 16 (14 turns hidden weak C++
  # template instances into imports in -shared links); -Bsymbolic binds
  # the module's own symbols inside it.
  nice -n 10 wasm-ld-14 -shared --experimental-pic --gc-sections --strip-debug $EXPORTS \
    -o "$tmp/avif.wasm" "$obj"/avif/*.o "$obj"/own/avif_*.o "$RT"
  nice -n 10 wasm-ld-16 -shared --experimental-pic -Bsymbolic --gc-sections --strip-debug $EXPORTS \
    -o "$tmp/heic.wasm" "$obj"/heic/*.o "$obj"/own/heic_*.o "$RT"
  # --stack-check: every move of the stack pointer is checked against the
  # limits the loader sets (__set_stack_limits), so a stack overflow traps
  # (caught in js/phone.mjs) instead of writing below the decoder's stack.
  for m in avif heic; do
    nice -n 10 "$WASM_OPT" $WASM_OPT_FLAGS -O2 --stack-check "$tmp/$m.wasm" -o "$tmp/phone-$m.wasm"
    node decoders/check-module.mjs "$tmp/phone-$m.wasm"
  done
  mkdir -p "$out"
  cp "$tmp/phone-avif.wasm" "$tmp/phone-heic.wasm" "$out/"
  printf '%s\n' "$SOURCES_ID" > "$out/SOURCES"
  touch "$out/.complete"
  rm -rf "$tmp"
fi
for dest in "$@"; do
  mkdir -p "$dest"
  cp "$out/phone-avif.wasm" "$out/phone-heic.wasm" "$dest/"
done
for m in avif heic; do
  f="$out/phone-$m.wasm"
  printf '[decoders] phone-%s.wasm: %s bytes, gzip -9 %s bytes\n' "$m" "$(wc -c < "$f")" "$(gzip -9c "$f" | wc -c)" >&2
done
