/* mbedtls-tls-config.h: mbedTLS 2.28 configured for the management
 * agent's HTTPS (docs/agent.md, "HTTPS"): a TLS 1.2 server with ECDHE-ECDSA
 * and AES-GCM on P-256, X.509 writing (its self-signed certificate) and
 * parsing, PEM, and the crypto the agent's sessions use (PBKDF2, CTR-DRBG,
 * SHA-256).  Built by toolchain/mbedtls-tls.mk as its own library; nothing
 * compiled with toolchain/mbedtls-config.h is linked beside it. */
#ifndef KEEL_MBEDTLS_TLS_CONFIG_H
#define KEEL_MBEDTLS_TLS_CONFIG_H

/* The platform: newlib on minios, no /dev/urandom, no sockets of mbedTLS's
 * own (net_sockets), no time of day for certificate checks. */
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_HAVE_ASM

/* The agent's sessions (session.c). */
#define MBEDTLS_AES_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_PKCS5_C
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* Keys and certificates: ECDSA P-256, PEM and DER. */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CREATE_C
#define MBEDTLS_X509_CRT_WRITE_C

/* TLS 1.2, server side, ECDHE-ECDSA with AES-GCM. */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_ERROR_C
#define MBEDTLS_GCM_C
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_SSL_CIPHERSUITES MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, \
                                 MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
/* Records: 16 KiB in (what clients send), 4 KiB out (less memory per
 * connection; the agent's answers are split into records). */
#define MBEDTLS_SSL_IN_CONTENT_LEN  16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#include "mbedtls/check_config.h"
#endif
