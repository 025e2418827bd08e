// libde265 calls init_acceleration_functions_sse() when it is built with
// HAVE_SSE4_1 (decoders/build.sh). Its own version (x86/sse.cc) asks the
// CPU through cpuid and also installs the motion-compensation functions;
// this one installs only the inverse transforms, from x86/sse-dct.cc on
// Emscripten's SSE headers (wasm simd128, which every Worker has). A HEIF
// image is one intra-coded picture, so motion compensation never runs on
// a file that decodes: its C fallback stays, and less SIMD code reads
// past its blocks.
#include "libde265/acceleration.h"
#include "libde265/x86/sse-dct.h"
#include "libde265/x86/sse.h"

void init_acceleration_functions_sse(struct acceleration_functions* accel) {
  accel->transform_skip_8 = ff_hevc_transform_skip_8_sse;
  // As upstream: its 4x4 SSE transforms are left out (no faster than C).
  accel->transform_add_8[1] = ff_hevc_transform_8x8_add_8_sse4;
  accel->transform_add_8[2] = ff_hevc_transform_16x16_add_8_sse4;
  accel->transform_add_8[3] = ff_hevc_transform_32x32_add_8_sse4;
}
