/* What the domain builder needs from the place it is linked into: a few
 * string and formatting functions that both the hypervisor's lib.h and
 * newlib (minios) provide, declared here so that the library includes
 * neither.  Everything else it uses is its own or <xen/...>. */
#ifndef KEEL_DOMBUILD_ENV_H
#define KEEL_DOMBUILD_ENV_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
size_t strnlen(const char *s, size_t max);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#define DB_PAGE_SHIFT 12
#define DB_PAGE_SIZE  (1ULL << DB_PAGE_SHIFT)
#define DB_MIN(a, b)  ((a) < (b) ? (a) : (b))
#define DB_MAX(a, b)  ((a) > (b) ? (a) : (b))
#define DB_ROUNDUP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

#endif
