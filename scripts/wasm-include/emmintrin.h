/* Emscripten's <emmintrin.h> (SSE2 on wasm simd128), with its saturating
 * subtractions written as plain arithmetic.
 *
 * Why: libwebp is compiled with -flto (scripts/build.sh), so its objects are
 * clang-14 bitcode, which the Rust toolchain's newer LLVM links and
 * optimises together. clang-14 writes wasm's saturating subtractions as
 * target intrinsics (llvm.wasm.sub.sat.*) that later LLVM versions dropped
 * without an upgrade path, so the link would fail on them. The forms below
 * are exact for every input; clang-14 itself turns them into its generic
 * saturating-subtraction intrinsics, which every LLVM reads and lowers to
 * the same wasm instructions. (Saturating additions are generic already.)
 * Emscripten's header calls the four wasm_*_sub_saturate functions of
 * <wasm_simd128.h>, in _mm_subs_* and in helpers such as _mm_sad_epu8, so
 * those names are what is redirected. */
#ifndef AVATAR_EDGE_EMMINTRIN_H
#define AVATAR_EDGE_EMMINTRIN_H

#include <wasm_simd128.h>

typedef signed char avatar_edge_i8x16 __attribute__((__vector_size__(16)));
typedef short avatar_edge_i16x8 __attribute__((__vector_size__(16)));
typedef short avatar_edge_i16x16 __attribute__((__vector_size__(32)));
typedef int avatar_edge_i32x8 __attribute__((__vector_size__(32)));

/* Unsigned: a - min(a, b) is a - b where a >= b and 0 elsewhere. */
static __inline__ v128_t __attribute__((__always_inline__, __nodebug__))
avatar_edge_u8x16_sub_sat(v128_t __a, v128_t __b) {
  return wasm_i8x16_sub(__a, wasm_u8x16_min(__a, __b));
}

static __inline__ v128_t __attribute__((__always_inline__, __nodebug__))
avatar_edge_u16x8_sub_sat(v128_t __a, v128_t __b) {
  return wasm_i16x8_sub(__a, wasm_u16x8_min(__a, __b));
}

/* Signed: the difference in twice the width (it cannot overflow there),
 * clamped to the narrow type's range, then narrowed. */
static __inline__ v128_t __attribute__((__always_inline__, __nodebug__))
avatar_edge_i8x16_sub_sat(v128_t __a, v128_t __b) {
  avatar_edge_i16x16 __d = __builtin_convertvector((avatar_edge_i8x16)__a, avatar_edge_i16x16)
                         - __builtin_convertvector((avatar_edge_i8x16)__b, avatar_edge_i16x16);
  avatar_edge_i16x16 __lo = __d < -128, __hi = __d > 127;
  __d = (__d & ~__lo) | (-128 & __lo);
  __d = (__d & ~__hi) | (127 & __hi);
  return (v128_t)__builtin_convertvector(__d, avatar_edge_i8x16);
}

static __inline__ v128_t __attribute__((__always_inline__, __nodebug__))
avatar_edge_i16x8_sub_sat(v128_t __a, v128_t __b) {
  avatar_edge_i32x8 __d = __builtin_convertvector((avatar_edge_i16x8)__a, avatar_edge_i32x8)
                        - __builtin_convertvector((avatar_edge_i16x8)__b, avatar_edge_i32x8);
  avatar_edge_i32x8 __lo = __d < -32768, __hi = __d > 32767;
  __d = (__d & ~__lo) | (-32768 & __lo);
  __d = (__d & ~__hi) | (32767 & __hi);
  return (v128_t)__builtin_convertvector(__d, avatar_edge_i16x8);
}

#define wasm_u8x16_sub_saturate avatar_edge_u8x16_sub_sat
#define wasm_u16x8_sub_saturate avatar_edge_u16x8_sub_sat
#define wasm_i8x16_sub_saturate avatar_edge_i8x16_sub_sat
#define wasm_i16x8_sub_saturate avatar_edge_i16x8_sub_sat
#include_next <emmintrin.h>
#undef wasm_u8x16_sub_saturate
#undef wasm_u16x8_sub_saturate
#undef wasm_i8x16_sub_saturate
#undef wasm_i16x8_sub_saturate

#endif
