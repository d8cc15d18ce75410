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

const char *auth_user(const struct agent_auth *a)
{
    return a->user;
}

int auth_change_password(struct agent_auth *a, const char *pass, size_t plen, char *err,
                         size_t errlen)
{
    if (plen == 0 || plen > AUTH_PASS_MAX || memchr(pass, 0, plen)) {
        snprintf(err, errlen, "the password must be 1 to %d bytes, without NUL", AUTH_PASS_MAX);
        return -1;
    }
    unsigned char old_salt[AUTH_SALT_LEN], h[AUTH_HASH_LEN];
    memcpy(old_salt, a->salt, sizeof(old_salt));
    if (mbedtls_ctr_drbg_random(&a->drbg, a->salt, sizeof(a->salt)) || kdf(a, pass, plen, h)) {
        memcpy(a->salt, old_salt, sizeof(old_salt));
        snprintf(err, errlen, "no salt or PBKDF2 failed");
        return -1;
    }
    memcpy(a->hash, h, sizeof(h));
    wipe(h, sizeof(h));
    return 0;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = "0123456789abcdef"[b[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

char *auth_export(const struct agent_auth *a)
{
    char salt[2 * AUTH_SALT_LEN + 1], hash[2 * AUTH_HASH_LEN + 1];
    hex(a->salt, AUTH_SALT_LEN, salt);
    hex(a->hash, AUTH_HASH_LEN, hash);
    json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s}", "version", 1, "kdf",
                          "PBKDF2-HMAC-SHA256", "user", a->user, "iterations",
                          (json_int_t)a->iter, "salt", salt, "hash", hash);
    char *s = o ? json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(o);
    wipe(hash, sizeof(hash));
    return s;
}

int auth_import(struct agent_auth *a, const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    const char *why = NULL;
    unsigned char salt[AUTH_SALT_LEN], hash[AUTH_HASH_LEN];
    json_t *v = json_object_get(o, "version"), *k = json_object_get(o, "kdf");
    json_t *u = json_object_get(o, "user"), *it = json_object_get(o, "iterations");
    json_t *sa = json_object_get(o, "salt"), *ha = json_object_get(o, "hash");
    if (!json_is_object(o))
        why = "not a JSON object";
    else if (!json_is_integer(v) || json_integer_value(v) != 1)
        why = "version: not 1";
    else if (!json_is_string(k) || strcmp(json_string_value(k), "PBKDF2-HMAC-SHA256"))
        why = "kdf: not PBKDF2-HMAC-SHA256";
    else if (!json_is_string(u) || json_string_length(u) < 1 || json_string_length(u) > AUTH_USER_MAX ||
             strlen(json_string_value(u)) != json_string_length(u))
        why = "user: not 1 to 64 bytes";
    else if (!json_is_integer(it) || json_integer_value(it) < 1000 || json_integer_value(it) > 10000000)
        why = "iterations: not 1000 to 10000000";
    else if (!json_is_string(sa) || unhex(json_string_value(sa), salt, sizeof(salt)))
        why = "salt: not 16 bytes in hex";
    else if (!json_is_string(ha) || unhex(json_string_value(ha), hash, sizeof(hash)))
        why = "hash: not 32 bytes in hex";
    if (why) {
        snprintf(err, errlen, "%s", why);
        json_decref(o);
        return -1;
    }
    memset(a->user, 0, sizeof(a->user));
    a->ulen = json_string_length(u);
    memcpy(a->user, json_string_value(u), a->ulen);
    a->iter = (unsigned)json_integer_value(it);
    memcpy(a->salt, salt, sizeof(salt));
    memcpy(a->hash, hash, sizeof(hash));
    wipe(hash, sizeof(hash));
    json_decref(o);
    return 0;
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
