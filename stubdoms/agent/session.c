/* session.c: the agent's credentials (PBKDF2-HMAC-SHA256 with a random
 * salt, from mbedTLS's crypto) and its sessions (random refs from
 * mbedTLS's CTR-DRBG, idle expiry). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include "agent.h"

struct session {
    int live;
    uint64_t last;
    char ref[SESSION_REF_LEN + 1];
};

struct agent_auth {
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    char user[AUTH_USER_MAX + 1];
    size_t ulen;
    unsigned char salt[AUTH_SALT_LEN];
    unsigned char hash[AUTH_HASH_LEN];
    unsigned iter;
    uint64_t idle;
    struct session s[SESSION_MAX];
};

/* Wipes n bytes so that the compiler cannot drop the stores. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *b = p;
    while (n--)
        *b++ = 0;
}

/* Equal in time that depends only on n. */
static int ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

static int kdf(const struct agent_auth *a, const char *pass, size_t plen, unsigned char out[AUTH_HASH_LEN])
{
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
    if (!rc)
        rc = mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)pass, plen, a->salt,
                                       AUTH_SALT_LEN, a->iter, AUTH_HASH_LEN, out);
    mbedtls_md_free(&md);
    return rc;
}

struct agent_auth *auth_create(const char *user, char *password, unsigned iterations,
                               uint64_t idle_seconds, agent_entropy_fn entropy, void *ectx,
                               char *err, size_t errlen)
{
    size_t plen = password ? strlen(password) : 0;
    struct agent_auth *a = NULL;
    if (!user || !*user || strlen(user) > AUTH_USER_MAX) {
        snprintf(err, errlen, "the user name must be 1 to %d bytes", AUTH_USER_MAX);
        goto out;
    }
    if (plen == 0 || plen > AUTH_PASS_MAX) {
        snprintf(err, errlen, "the password must be 1 to %d bytes", AUTH_PASS_MAX);
        goto out;
    }
    if (iterations < 1000 || idle_seconds == 0) {
        snprintf(err, errlen, "at least 1000 KDF iterations and an idle time above 0");
        goto out;
    }
    a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    mbedtls_entropy_init(&a->ent);
    mbedtls_ctr_drbg_init(&a->drbg);
    static const char pers[] = "keel-agent";
    if (mbedtls_entropy_add_source(&a->ent, entropy, ectx, 32, MBEDTLS_ENTROPY_SOURCE_STRONG) ||
        mbedtls_ctr_drbg_seed(&a->drbg, mbedtls_entropy_func, &a->ent,
                              (const unsigned char *)pers, sizeof(pers) - 1)) {
        snprintf(err, errlen, "the DRBG could not be seeded (no entropy)");
        goto fail;
    }
    if (mbedtls_ctr_drbg_random(&a->drbg, a->salt, sizeof(a->salt))) {
        snprintf(err, errlen, "the DRBG gave no salt");
        goto fail;
    }
    a->ulen = strlen(user);
    memcpy(a->user, user, a->ulen);
    a->iter = iterations;
    a->idle = idle_seconds;
    if (kdf(a, password, plen, a->hash)) {
        snprintf(err, errlen, "PBKDF2 failed");
        goto fail;
    }
    goto out;
fail:
    auth_free(a);
    a = NULL;
out:
    if (password)
        wipe(password, plen);
    return a;
}

void auth_free(struct agent_auth *a)
{
    if (!a)
        return;
    mbedtls_ctr_drbg_free(&a->drbg);
    mbedtls_entropy_free(&a->ent);
    wipe(a, sizeof(*a));
    free(a);
}

unsigned auth_iterations(const struct agent_auth *a)
{
    return a->iter;
}

int auth_random(struct agent_auth *a, void *buf, size_t len)
{
    return mbedtls_ctr_drbg_random(&a->drbg, buf, len) ? -1 : 0;
}

int auth_check(struct agent_auth *a, const char *user, size_t ulen, const char *pass, size_t plen)
{
    unsigned char h[AUTH_HASH_LEN];
    /* The KDF runs whatever the user name, so that timing does not tell
     * whether the name was right. */
    int ok = plen <= AUTH_PASS_MAX && kdf(a, pass, plen, h) == 0 && ct_equal(h, a->hash, sizeof(h));
    int uok = ulen == a->ulen && ct_equal(user, a->user, ulen);
    wipe(h, sizeof(h));
    return ok & uok;
}

/* Drops sessions idle for longer than a->idle. */
static void expire(struct agent_auth *a, uint64_t now)
{
    for (unsigned i = 0; i < SESSION_MAX; i++)
        if (a->s[i].live && now - a->s[i].last > a->idle) {
            wipe(&a->s[i], sizeof(a->s[i]));
        }
}

int session_new(struct agent_auth *a, uint64_t now, char out[SESSION_REF_LEN + 1])
{
    expire(a, now);
    struct session *slot = NULL;
    for (unsigned i = 0; i < SESSION_MAX; i++) {
        if (!a->s[i].live) {
            slot = &a->s[i];
            break;
        }
        if (!slot || a->s[i].last < slot->last)
            slot = &a->s[i];
    }
    /* A version 4 UUID: 122 random bits. */
    unsigned char u[16];
    if (auth_random(a, u, sizeof(u)))
        return -1;
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    snprintf(slot->ref, sizeof(slot->ref),
             "OpaqueRef:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
             u[13], u[14], u[15]);
    wipe(u, sizeof(u));
    slot->live = 1;
    slot->last = now;
    memcpy(out, slot->ref, SESSION_REF_LEN + 1);
    return 0;
}

/* The live session named ref, compared in constant time against each. */
static struct session *find(struct agent_auth *a, const char *ref, uint64_t now)
{
    expire(a, now);
    if (strlen(ref) != SESSION_REF_LEN)
        return NULL;
    struct session *hit = NULL;
    for (unsigned i = 0; i < SESSION_MAX; i++)
        if (a->s[i].live && ct_equal(a->s[i].ref, ref, SESSION_REF_LEN))
            hit = &a->s[i];
    return hit;
}

int session_check(struct agent_auth *a, const char *ref, uint64_t now)
{
    struct session *s = find(a, ref, now);
    if (!s)
        return 0;
    s->last = now;
    return 1;
}

int session_end(struct agent_auth *a, const char *ref, uint64_t now)
{
    struct session *s = find(a, ref, now);
    if (!s)
        return 0;
    wipe(s, sizeof(*s));
    return 1;
}
