/* arpa/inet.h: byte-order functions for e2fsprogs' journal code (jfs_compat.h), which newlib lacks; x86_64 is little-endian. */
#ifndef KEEL_E2FS_SHIM_ARPA_INET_H
#define KEEL_E2FS_SHIM_ARPA_INET_H
#include <stdint.h>
static inline uint32_t htonl(uint32_t x) { return __builtin_bswap32(x); }
static inline uint32_t ntohl(uint32_t x) { return __builtin_bswap32(x); }
static inline uint16_t htons(uint16_t x) { return __builtin_bswap16(x); }
static inline uint16_t ntohs(uint16_t x) { return __builtin_bswap16(x); }
#endif
