/* tls.c: the agent's HTTPS (docs/agent.md, "HTTPS"): its ECDSA P-256 key
 * and self-signed certificate (CN and subjectAltName the hostname), made
 * on first boot and kept on its disk (/var/tls), and a TLS 1.2 server
 * context over which main.c runs the same HTTP layer.  mbedTLS configured
 * by toolchain/mbedtls-tls-config.h; randomness from the agent's DRBG. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include "agent.h"
#include "tls.h"

static struct agent_auth *rng_auth;
static mbedtls_pk_context key;
static mbedtls_x509_crt crt;
static mbedtls_ssl_config conf;
static char fingerprint[96];

static int rng(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    return auth_random(rng_auth, out, len) ? MBEDTLS_ERR_ECP_RANDOM_FAILED : 0;
}

static void mberr(char *err, size_t errlen, const char *what, int rc)
{
    char m[100];
    mbedtls_strerror(rc, m, sizeof(m));
    snprintf(err, errlen, "%s: %s (-0x%04x)", what, m, (unsigned)-rc);
}

/* The whole file (at most max bytes) NUL-terminated in buf: its length
 * with the NUL, 0 if it does not exist, -1 on another error. */
static long read_file(const char *path, unsigned char *buf, size_t max)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    size_t n = 0;
    ssize_t r;
    while (n < max - 1 && (r = read(fd, buf + n, max - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = 0;
    return (long)n + 1;
}

static int write_file(const char *path, const unsigned char *s, size_t n)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    int rc = 0;
    while (n && rc == 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            rc = -1;
        else {
            s += w;
            n -= (size_t)w;
        }
    }
    if (rc == 0)
        rc = fsync(fd);
    close(fd);
    return rc;
}

/* A new key and a self-signed certificate for hostname, as PEM. */
static int generate(const char *hostname, unsigned char *keypem, unsigned char *crtpem, size_t max,
                    char *err, size_t errlen)
{
    mbedtls_pk_context k;
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_pk_init(&k);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    int rc = mbedtls_pk_setup(&k, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (!rc)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k), rng, NULL);
    if (rc) {
        mberr(err, errlen, "ECDSA P-256 key", rc);
        goto out;
    }
    char subject[96];
    snprintf(subject, sizeof(subject), "CN=%s", hostname);
    unsigned char sn[16];
    rng(NULL, sn, sizeof(sn));
    sn[0] &= 0x7f;
    /* subjectAltName: SEQUENCE { [2] dNSName hostname } (hostname < 64). */
    size_t hl = strlen(hostname);
    unsigned char san[80] = { 0x30, (unsigned char)(hl + 2), 0x82, (unsigned char)hl };
    memcpy(san + 4, hostname, hl);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &k);
    mbedtls_x509write_crt_set_issuer_key(&w, &k);
    if ((rc = mbedtls_mpi_read_binary(&serial, sn, sizeof(sn))) ||
        (rc = mbedtls_x509write_crt_set_serial(&w, &serial)) ||
        (rc = mbedtls_x509write_crt_set_subject_name(&w, subject)) ||
        (rc = mbedtls_x509write_crt_set_issuer_name(&w, subject)) ||
        /* No clock of the day in the agent: a fixed validity. */
        (rc = mbedtls_x509write_crt_set_validity(&w, "20260101000000", "20460101000000")) ||
        (rc = mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0)) ||
        (rc = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE |
                                                          MBEDTLS_X509_KU_KEY_CERT_SIGN)) ||
        (rc = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                  san, hl + 4)) ||
        (rc = mbedtls_x509write_crt_pem(&w, crtpem, max, rng, NULL)) ||
        (rc = mbedtls_pk_write_key_pem(&k, keypem, max))) {
        mberr(err, errlen, "self-signed certificate", rc);
        goto out;
    }
out:
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    mbedtls_pk_free(&k);
    return rc ? -1 : 0;
}

int tls_init(struct agent_auth *auth, const char *dir, const char *hostname, char *err, size_t errlen)
{
    rng_auth = auth;
    mbedtls_pk_init(&key);
    mbedtls_x509_crt_init(&crt);
    mbedtls_ssl_config_init(&conf);
    enum { MAXPEM = 4096 };
    unsigned char *kp = calloc(1, MAXPEM), *cp = calloc(1, MAXPEM);
    char kpath[64], cpath[64];
    int rc = -1, made = 0;
    if (!kp || !cp) {
        snprintf(err, errlen, "no memory");
        goto out;
    }
    long kn = 0, cn = 0;
    if (dir) {
        snprintf(kpath, sizeof(kpath), "%s/key.pem", dir);
        snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir);
        if (mkdir(dir, 0700) && errno != EEXIST) {
            snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
            goto out;
        }
        kn = read_file(kpath, kp, MAXPEM);
        cn = read_file(cpath, cp, MAXPEM);
        if (kn < 0 || cn < 0) {
            snprintf(err, errlen, "cannot read %s", kn < 0 ? kpath : cpath);
            goto out;
        }
    }
    if (kn == 0 || cn == 0) {
        if (generate(hostname, kp, cp, MAXPEM, err, errlen))
            goto out;
        kn = (long)strlen((char *)kp) + 1;
        cn = (long)strlen((char *)cp) + 1;
        made = 1;
    }
    int r = mbedtls_pk_parse_key(&key, kp, (size_t)kn, NULL, 0);
    if (r) {
        mberr(err, errlen, dir ? kpath : "the new key", r);
        goto out;
    }
    if ((r = mbedtls_x509_crt_parse(&crt, cp, (size_t)cn))) {
        mberr(err, errlen, dir ? cpath : "the new certificate", r);
        goto out;
    }
    if (!mbedtls_pk_can_do(&crt.pk, MBEDTLS_PK_ECKEY) ||
        mbedtls_pk_check_pair(&crt.pk, &key)) {
        snprintf(err, errlen, "%s does not match %s", dir ? cpath : "the certificate", dir ? kpath : "the key");
        goto out;
    }
    if (made && dir && (write_file(kpath, kp, (size_t)kn - 1) || write_file(cpath, cp, (size_t)cn - 1))) {
        snprintf(err, errlen, "cannot write %s: %s", kpath, strerror(errno));
        goto out;
    }
    unsigned char h[32];
    mbedtls_sha256_ret(crt.raw.p, crt.raw.len, h, 0);
    for (int i = 0; i < 32; i++)
        snprintf(fingerprint + 3 * i, 4, "%02X%s", h[i], i < 31 ? ":" : "");
    if ((r = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT)) ||
        (r = mbedtls_ssl_conf_own_cert(&conf, &crt, &key))) {
        mberr(err, errlen, "TLS configuration", r);
        goto out;
    }
    mbedtls_ssl_conf_rng(&conf, rng, NULL);
    mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    printf("agent: TLS certificate CN=%s (%s), SHA-256 fingerprint %s\n", hostname,
           made ? (dir ? "made now, kept on its disk" : "made now, in memory only: no disk")
                : "from its disk",
           fingerprint);
    rc = 0;
out:
    free(kp);
    free(cp);
    return rc;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t n = send((int)(intptr_t)ctx, buf, len, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    return (int)n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t n = recv((int)(intptr_t)ctx, buf, len, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    return (int)n;
}

struct tls_conn *tls_accept(int fd, char *err, size_t errlen)
{
    mbedtls_ssl_context *s = malloc(sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "no memory");
        return NULL;
    }
    mbedtls_ssl_init(s);
    int rc = mbedtls_ssl_setup(s, &conf);
    if (!rc) {
        mbedtls_ssl_set_bio(s, (void *)(intptr_t)fd, bio_send, bio_recv, NULL);
        rc = mbedtls_ssl_handshake(s);
    }
    if (rc) {
        mberr(err, errlen, "handshake", rc);
        mbedtls_ssl_free(s);
        free(s);
        return NULL;
    }
    return (struct tls_conn *)s;
}

long tls_read(struct tls_conn *c, void *buf, size_t len)
{
    int n = mbedtls_ssl_read((mbedtls_ssl_context *)c, buf, len);
    return n < 0 ? -1 : n;
}

int tls_write_all(struct tls_conn *c, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len) {
        int n = mbedtls_ssl_write((mbedtls_ssl_context *)c, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void tls_close(struct tls_conn *c)
{
    mbedtls_ssl_close_notify((mbedtls_ssl_context *)c);
    mbedtls_ssl_free((mbedtls_ssl_context *)c);
    free(c);
}

const char *tls_fingerprint(void)
{
    return fingerprint;
}
