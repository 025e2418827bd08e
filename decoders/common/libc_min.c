/* The few C library functions the decoder modules need, with no import of
 * any kind: they run inside the Worker's memory (js/phone.mjs).
 * malloc/free/calloc/realloc/posix_memalign come from dlmalloc.c (public
 * domain, from Debian's emscripten package; dlmalloc_cfg.c), which gets its
 * memory from shim_sbrk below: the fixed arena [base, end) the loader hands
 * over (shim_heap_init), and nothing else. An allocation past it is NULL,
 * never a memory.grow. */
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

#define EXPORT __attribute__((visibility("default")))

static uintptr_t heap_cur, heap_end, heap_base;
static size_t heap_peak; /* high-water mark, reported in ph_result */
static int heap_failed;  /* an sbrk past the arena was refused */

EXPORT void shim_heap_init(uintptr_t base, uintptr_t end) {
    heap_base = heap_cur = (base + 15) & ~(uintptr_t)15;
    heap_end = end;
    heap_peak = 0;
    heap_failed = 0;
}
/* Whether the allocator ran out of arena: a decoder's failure after that
 * is the arena's (PH_E_MEMORY), whatever the decoder calls it. */
int shim_heap_failed(void) { return heap_failed; }
EXPORT size_t shim_heap_peak(void) { return heap_peak; }

void *shim_sbrk(intptr_t inc) {
    if (inc < 0 || heap_cur == 0 || (uintptr_t)inc > heap_end - heap_cur) {
        heap_failed = 1;
        return (void *)-1;
    }
    void *p = (void *)heap_cur;
    heap_cur += (uintptr_t)inc;
    if (heap_cur - heap_base > heap_peak) heap_peak = heap_cur - heap_base;
    return p;
}

/* string.h: the bulk-memory instructions do the work (-mbulk-memory). */
void *memcpy(void *restrict d, const void *restrict s, size_t n) { __builtin_memcpy(d, s, n); return d; }
void *memmove(void *d, const void *s, size_t n) { __builtin_memmove(d, s, n); return d; }
void *memset(void *d, int c, size_t n) { __builtin_memset(d, c, n); return d; }
int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++) if (*x != *y) return *x - *y;
    return 0;
}
size_t strlen(const char *s) { const char *p = s; while (*p) p++; return p - s; }
size_t strnlen(const char *s, size_t n) { size_t i = 0; while (i < n && s[i]) i++; return i; }
int strcmp(const char *a, const char *b) { while (*a && *a == *b) a++, b++; return (unsigned char)*a - (unsigned char)*b; }
int strncmp(const char *a, const char *b, size_t n) { for (; n; n--, a++, b++) { if (*a != *b) return (unsigned char)*a - (unsigned char)*b; if (!*a) return 0; } return 0; }
char *strncpy(char *restrict d, const char *restrict s, size_t n) { size_t i = 0; for (; i < n && s[i]; i++) d[i] = s[i]; for (; i < n; i++) d[i] = 0; return d; }
char *strchr(const char *s, int c) { for (;; s++) { if (*s == (char)c) return (char *)s; if (!*s) return 0; } }

/* A small vsnprintf: %d %i %u %x %X %s %c %p %%, flags 0 and -, width,
 * length modifiers l ll z h (diagnostic messages only; no floats). */
static void put(char *buf, size_t cap, size_t *n, char c) { if (*n + 1 < cap) buf[*n] = c; (*n)++; }
int vsnprintf(char *restrict buf, size_t cap, const char *restrict f, va_list ap) {
    size_t n = 0;
    for (; *f; f++) {
        if (*f != '%') { put(buf, cap, &n, *f); continue; }
        f++;
        int left = 0, zero = 0, width = 0, lng = 0;
        for (;; f++) { if (*f == '-') left = 1; else if (*f == '0') zero = 1; else break; }
        if (*f == '*') { width = va_arg(ap, int); f++; } else while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
        if (*f == '.') { f++; if (*f == '*') { (void)va_arg(ap, int); f++; } else while (*f >= '0' && *f <= '9') f++; }
        for (;; f++) { if (*f == 'l') lng++; else if (*f == 'z' || *f == 'j' || *f == 't') lng = 2; else if (*f == 'h') ; else break; }
        char tmp[24]; const char *s = tmp; int len = 0, neg = 0;
        unsigned long long v = 0;
        switch (*f) {
        case 'd': case 'i': { long long x = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int); neg = x < 0; v = neg ? -(unsigned long long)x : (unsigned long long)x; goto num10; }
        case 'u': v = lng >= 2 ? va_arg(ap, unsigned long long) : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned); goto num10;
        case 'x': case 'X': case 'p': {
            v = *f == 'p' ? (uintptr_t)va_arg(ap, void *) : lng >= 2 ? va_arg(ap, unsigned long long) : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            const char *dig = *f == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            char *e = tmp + sizeof tmp; do { *--e = dig[v & 15]; v >>= 4; } while (v);
            s = e; len = tmp + sizeof tmp - e; break; }
        num10: { char *e = tmp + sizeof tmp; do { *--e = '0' + v % 10; v /= 10; } while (v); if (neg) *--e = '-'; s = e; len = tmp + sizeof tmp - e; break; }
        case 's': s = va_arg(ap, const char *); if (!s) s = "(null)"; len = (int)strlen(s); break;
        case 'c': tmp[0] = (char)va_arg(ap, int); len = 1; break;
        case '%': tmp[0] = '%'; len = 1; break;
        default: tmp[0] = '?'; len = 1; if (!*f) f--; break;
        }
        if (!left) for (int i = len; i < width; i++) put(buf, cap, &n, zero ? '0' : ' ');
        for (int i = 0; i < len; i++) put(buf, cap, &n, s[i]);
        if (left) for (int i = len; i < width; i++) put(buf, cap, &n, ' ');
    }
    if (cap) buf[n < cap ? n : cap - 1] = 0;
    return (int)n;
}
int snprintf(char *restrict buf, size_t cap, const char *restrict f, ...) {
    va_list ap; va_start(ap, f); int r = vsnprintf(buf, cap, f, ap); va_end(ap); return r;
}

_Noreturn void abort(void) { __builtin_trap(); }
long sysconf(int name) { (void)name; return 1; }

/* stdio: no files here (libavif's file reader and dav1d's logging are
 * compiled in but never reached). */
FILE *fopen(const char *restrict p, const char *restrict m) { (void)p; (void)m; return 0; }
int fclose(FILE *f) { (void)f; return -1; }
size_t fread(void *restrict p, size_t s, size_t n, FILE *restrict f) { (void)p; (void)s; (void)n; (void)f; return 0; }
int fseek(FILE *f, long o, int w) { (void)f; (void)o; (void)w; return -1; }
long ftell(FILE *f) { (void)f; return -1; }
int ferror(FILE *f) { (void)f; return 1; }
