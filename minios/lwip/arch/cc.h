/* arch/cc.h: lwIP's compiler and platform definitions for minios (clang, newlib, x86_64). */
#ifndef MINIOS_LWIP_ARCH_CC_H
#define MINIOS_LWIP_ARCH_CC_H

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>   /* ssize_t, and fd_set and struct timeval (sys/select.h) */
#include <sys/time.h>

/* newlib's ssize_t is long: tell lwIP's arch.h so that it takes the type
 * from <unistd.h> instead of typedef'ing its own int. */
#ifndef SSIZE_MAX
#define SSIZE_MAX LONG_MAX
#endif

/* struct timeval comes from newlib (<sys/_timeval.h>); errno is newlib's
 * per-thread errno (<errno.h>). */
#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1

#define BYTE_ORDER LITTLE_ENDIAN
#define lwip_htons(x) ((u16_t)__builtin_bswap16((u16_t)(x)))
#define lwip_htonl(x) ((u32_t)__builtin_bswap32((u32_t)(x)))

/* lwIP's struct sockaddr_in/_in6/sockaddr have sa_len (BSD layout); these
 * are the macros Debian's "port" patch makes sockets.c use for it. */
#define IP4ADDR_SOCKADDR_SET_LEN(sin)   ((sin)->sin_len = sizeof(struct sockaddr_in))
#define IP6ADDR_SOCKADDR_SET_LEN(sin6)  ((sin6)->sin6_len = sizeof(struct sockaddr_in6))
#define IPADDR_SOCKADDR_GET_LEN(addr)   ((addr)->sa.sa_len)

int minios_printk(const char *fmt, ...);
#define LWIP_PLATFORM_DIAG(x) do { minios_printk x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) do {                                      \
        minios_printk("lwIP assertion \"%s\" failed at %s:%d\n", (x),       \
                      __FILE__, __LINE__);                                  \
        abort();                                                            \
    } while (0)

/* Ephemeral ports and TCP initial sequence numbers (sys_arch.c). */
uint32_t minios_lwip_rand(void);
#define LWIP_RAND() ((u32_t)minios_lwip_rand())

#endif /* MINIOS_LWIP_ARCH_CC_H */
