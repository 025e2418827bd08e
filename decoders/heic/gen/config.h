/* libde265 1.0.11 configuration for the wasm32 decoder module (what
 * configure would find with wasi-libc's headers; no SIMD, threads never
 * started). */
#define HAVE_POSIX_MEMALIGN 1
#define HAVE_STDINT_H 1
#define HAVE_STDBOOL_H 1
