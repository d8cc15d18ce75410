/* mbedTLS 2.28 configuration for minios: only the crypto the image library uses (LUKS). */
#ifndef KEEL_MBEDTLS_CONFIG_H
#define KEEL_MBEDTLS_CONFIG_H

/* No operating system: no file system, sockets, clock or platform
 * entropy.  Randomness comes from the embedder through img_set_entropy. */
#define MBEDTLS_NO_PLATFORM_ENTROPY

/* LUKS in qemu's format: AES-XTS, PBKDF2 over SHA-1/256/512, the AF
 * splitter's hash, and a CTR-DRBG seeded from the entropy collector. */
#define MBEDTLS_AES_C
#define MBEDTLS_CIPHER_MODE_XTS
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_PKCS5_C
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

#include "mbedtls/check_config.h"
#endif
