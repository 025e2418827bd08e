/* Debug/log output of libde265 (and libc++'s abort message): nowhere to
 * write in the Worker, so it goes nowhere. sprintf formats as usual. */
#include <stdio.h>
#include <stdarg.h>
static FILE *const dummy = (FILE *)16;
FILE *const stdout = dummy;
FILE *const stderr = dummy;
#ifdef SHIM_DEBUG_LOG
/* Debug builds only: what the decoder prints, readable from the host. */
static char log_buf[8192];
static size_t log_len;
__attribute__((visibility("default"))) const char *shim_log(void) { return log_buf; }
int vfprintf(FILE *restrict s, const char *restrict f, va_list ap) {
    (void)s;
    if (log_len + 1 >= sizeof log_buf) return 0;
    int n = vsnprintf(log_buf + log_len, sizeof log_buf - log_len, f, ap);
    if (n > 0) log_len += (size_t)n < sizeof log_buf - log_len ? (size_t)n : sizeof log_buf - log_len - 1;
    return n;
}
int fprintf(FILE *restrict s, const char *restrict f, ...) { va_list ap; va_start(ap, f); int r = vfprintf(s, f, ap); va_end(ap); return r; }
int printf(const char *restrict f, ...) { va_list ap; va_start(ap, f); int r = vfprintf(stdout, f, ap); va_end(ap); return r; }
#else
int printf(const char *restrict f, ...) { (void)f; return 0; }
int vfprintf(FILE *restrict s, const char *restrict f, va_list ap) { (void)s; (void)f; (void)ap; return 0; }
int fprintf(FILE *restrict s, const char *restrict f, ...) { (void)s; (void)f; return 0; }
#endif
int fflush(FILE *s) { (void)s; return 0; }
size_t fwrite(const void *restrict p, size_t sz, size_t n, FILE *restrict s) { (void)p; (void)s; return sz ? n : 0; }
int fputs(const char *restrict str, FILE *restrict s) { (void)str; (void)s; return 0; }
int sprintf(char *restrict buf, const char *restrict f, ...) {
    va_list ap; va_start(ap, f); int r = vsnprintf(buf, 4096, f, ap); va_end(ap); return r;
}
/* clang emits these integer-only variants for the emscripten triple (PIC builds). */
int iprintf(const char *restrict f, ...) { (void)f; return 0; }
int siprintf(char *restrict buf, const char *restrict f, ...) {
    va_list ap; va_start(ap, f); int r = vsnprintf(buf, 4096, f, ap); va_end(ap); return r;
}
