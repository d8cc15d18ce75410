/* store.c: kv's store: a chained hash table of strings (SipHash with a per-run key,
 * doubling as it fills), expiry by monotonic time (lazy on every access,
 * plus a sweep of a few buckets per command), and the maxmemory count. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "kv_impl.h"

/* SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed hash, so that a
 * client who does not know the key cannot choose keys that collide. */
#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3)                                              \
    do {                                                                      \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);             \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);             \
    } while (0)

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t kv_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = le64(p + i);
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = whole; i < len; i++)
        b |= (uint64_t)p[i] << (8 * (i - whole));
    v3 ^= b;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t hash(const struct kv_store *s, const char *k, size_t len)
{
    return kv_siphash(s->seed, s->seed2, k, len);
}

size_t kv_entry_cost(size_t klen, size_t vlen)
{
    return sizeof(struct kv_entry) + klen + vlen;
}

struct kv_store *kv_store_new(uint64_t (*now_ms)(void), uint64_t seed, size_t maxmemory)
{
    struct kv_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->nbuckets = 64;
    s->tab = calloc(s->nbuckets, sizeof(*s->tab));
    if (!s->tab) {
        free(s);
        return NULL;
    }
    s->now_ms = now_ms;
    s->seed = seed;
    s->seed2 = kv_siphash(seed, ~seed, "keel-kv", 7);   /* the key's second half */
    s->maxmemory = maxmemory;
    s->start_ms = now_ms();
    return s;
}

static void entry_free(struct kv_store *s, struct kv_entry *e)
{
    s->used -= kv_entry_cost(e->klen, e->vlen);
    s->count--;
    if (e->expire)
        s->expires--;
    free(e->val);
    free(e);
}

void kv_flush(struct kv_store *s)
{
    for (size_t i = 0; i < s->nbuckets; i++)
        while (s->tab[i]) {
            struct kv_entry *e = s->tab[i];
            s->tab[i] = e->next;
            entry_free(s, e);
        }
}

void kv_store_free(struct kv_store *s)
{
    if (!s)
        return;
    kv_flush(s);
    free(s->tab);
    free(s);
}

void kv_store_set_lock(struct kv_store *s, void (*lock)(void *), void (*unlock)(void *),
                       void *arg)
{
    s->lock = lock;
    s->unlock = unlock;
    s->lock_arg = arg;
}

static int expired(const struct kv_entry *e, uint64_t now)
{
    return e->expire && e->expire <= now;
}

/* The slot that points at key's entry (or at the NULL ending its chain);
 * an expired entry met on the way is removed. */
static struct kv_entry **slot(struct kv_store *s, const char *k, size_t len, uint64_t h)
{
    uint64_t now = s->now_ms();
    struct kv_entry **p = &s->tab[h & (s->nbuckets - 1)];
    while (*p) {
        struct kv_entry *e = *p;
        if (expired(e, now)) {
            *p = e->next;
            entry_free(s, e);
            continue;
        }
        if (e->hash == h && e->klen == len && memcmp(e->key, k, len) == 0)
            return p;
        p = &e->next;
    }
    return p;
}

struct kv_entry *kv_lookup(struct kv_store *s, const char *k, size_t len)
{
    return *slot(s, k, len, hash(s, k, len));
}

static void sweep_bucket(struct kv_store *s, size_t b)
{
    uint64_t now = s->now_ms();
    struct kv_entry **p = &s->tab[b];
    while (*p) {
        if (expired(*p, now)) {
            struct kv_entry *e = *p;
            *p = e->next;
            entry_free(s, e);
        } else
            p = &(*p)->next;
    }
}

/* Active expiry: a few buckets per command, so that keys nobody reads
 * again still go. */
void kv_sweep_some(struct kv_store *s)
{
    if (!s->expires)
        return;
    for (int i = 0; i < 4; i++) {
        sweep_bucket(s, s->sweep & (s->nbuckets - 1));
        s->sweep++;
    }
}

void kv_sweep_all(struct kv_store *s)
{
    if (!s->expires)
        return;
    for (size_t b = 0; b < s->nbuckets; b++)
        sweep_bucket(s, b);
}

void kv_store_set_clients(struct kv_store *s, unsigned maxclients, unsigned timeout)
{
    s->maxclients = maxclients;
    s->timeout = timeout;
}

unsigned kv_store_timeout(const struct kv_store *s)
{
    return s->timeout;
}

size_t kv_store_size(struct kv_store *s)
{
    kv_sweep_all(s);
    return s->count;
}

static void grow(struct kv_store *s)
{
    if (s->count < s->nbuckets || s->nbuckets >= ((size_t)1 << 26))
        return;
    size_t n = s->nbuckets * 2;
    struct kv_entry **t = calloc(n, sizeof(*t));
    if (!t)
        return;               /* longer chains, nothing worse */
    for (size_t i = 0; i < s->nbuckets; i++)
        while (s->tab[i]) {
            struct kv_entry *e = s->tab[i];
            s->tab[i] = e->next;
            e->next = t[e->hash & (n - 1)];
            t[e->hash & (n - 1)] = e;
        }
    free(s->tab);
    s->tab = t;
    s->nbuckets = n;
}

int kv_over_memory(struct kv_store *s, size_t more)
{
    return s->maxmemory && s->used + more > s->maxmemory;
}

/* Sets key to a copy of val; the expiry is kept if keep_ttl, else cleared.
 * NULL without memory (the store unchanged). */
struct kv_entry *kv_set(struct kv_store *s, const char *k, size_t klen,
                               const char *v, size_t vlen, int keep_ttl)
{
    uint64_t h = hash(s, k, klen);
    struct kv_entry **p = slot(s, k, klen, h);
    struct kv_entry *old = *p;
    if (old && vlen && vlen == old->vlen) {
        /* The same length (redis-benchmark's SET, counters of one width):
         * overwritten in place, no allocation. */
        memcpy(old->val, v, vlen);
        if (!keep_ttl && old->expire) {
            old->expire = 0;
            s->expires--;
        }
        return old;
    }
    char *copy = malloc(vlen ? vlen : 1);
    if (!copy)
        return NULL;
    memcpy(copy, v, vlen);
    struct kv_entry *e = *p;
    if (e) {
        s->used -= e->vlen;
        free(e->val);
        e->val = copy;
        e->vlen = vlen;
        s->used += vlen;
        if (!keep_ttl && e->expire) {
            e->expire = 0;
            s->expires--;
        }
        return e;
    }
    e = malloc(sizeof(*e) + klen);
    if (!e) {
        free(copy);
        return NULL;
    }
    e->next = NULL;
    e->hash = h;
    e->expire = 0;
    e->val = copy;
    e->vlen = vlen;
    e->klen = klen;
    memcpy(e->key, k, klen);
    *p = e;
    s->count++;
    s->used += kv_entry_cost(klen, vlen);
    grow(s);
    return e;
}

int kv_del(struct kv_store *s, const char *k, size_t klen)
{
    struct kv_entry **p = slot(s, k, klen, hash(s, k, klen));
    if (!*p)
        return 0;
    struct kv_entry *e = *p;
    *p = e->next;
    entry_free(s, e);
    return 1;
}

void kv_set_expire(struct kv_store *s, struct kv_entry *e, uint64_t at)
{
    if (!e->expire && at)
        s->expires++;
    else if (e->expire && !at)
        s->expires--;
    e->expire = at;
}
