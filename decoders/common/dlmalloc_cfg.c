/* dlmalloc configured for the decoder modules: memory from shim_sbrk only. */
#define USE_DL_PREFIX 1
#define HAVE_MMAP 0
#define HAVE_MREMAP 0
#define MORECORE shim_sbrk
#define MORECORE_CANNOT_TRIM 1
#define MORECORE_CONTIGUOUS 1
/* The arena (shared-memory mode) is handed over dirty: never assume zeros. */
#define MORECORE_CLEARS 0
#define USE_LOCKS 0
#define NO_MALLOC_STATS 1
#define LACKS_TIME_H 1
#define LACKS_SYS_PARAM_H 1
#define LACKS_SCHED_H 1
#define LACKS_ERRNO_H 1
#define ENOMEM 12
#define EINVAL 22
#define MALLOC_FAILURE_ACTION
#define ABORT __builtin_trap()
#define DEFAULT_GRANULARITY (256 * 1024)
#define MALLOC_ALIGNMENT 16
#include <stdint.h>
void *shim_sbrk(intptr_t);
#include "dlmalloc.c"
void *malloc(size_t n) { return dlmalloc(n); }
void free(void *p) { dlfree(p); }
void *calloc(size_t c, size_t n) { return dlcalloc(c, n); }
void *realloc(void *p, size_t n) { return dlrealloc(p, n); }
int posix_memalign(void **p, size_t a, size_t n) { return dlposix_memalign(p, a, n); }
void *aligned_alloc(size_t a, size_t n) { return dlmemalign(a, n); }
