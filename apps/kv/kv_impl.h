/* kv_impl.h: what the parts of kv's core share (not for its users: see
 * kv.h): the store's types and operations (store.c), reply building
 * (resp.c), and command execution (commands.c). */
#ifndef KEEL_KV_IMPL_H
#define KEEL_KV_IMPL_H
#include "kv.h"

struct kv_entry {
    struct kv_entry *next;
    uint64_t hash;
    uint64_t expire;          /* monotonic ms; 0: none */
    char *val;
    size_t vlen, klen;
    char key[];
};

struct kv_store {
    struct kv_entry **tab;
    size_t nbuckets;          /* a power of two */
    size_t count, expires;
    size_t used, maxmemory;
    size_t sweep;             /* next bucket the active expiry looks at */
    uint64_t seed, seed2;     /* the hash key */
    uint64_t (*now_ms)(void);
    void (*lock)(void *), (*unlock)(void *);
    void *lock_arg;
    uint64_t start_ms, commands, connections, clients;
    unsigned maxclients, timeout;
};

/* store.c. Every operation removes the expired entries it meets. */
/* SipHash-2-4 of data with the key (k0, k1) (k0 from its first 8 bytes,
 * little-endian). */
uint64_t kv_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);
size_t kv_entry_cost(size_t klen, size_t vlen);
/* The live entry of key k, or NULL. */
struct kv_entry *kv_lookup(struct kv_store *s, const char *k, size_t len);
/* Sets k to a copy of v; the expiry is kept if keep_ttl, else cleared.
 * NULL without memory (the store unchanged). */
struct kv_entry *kv_set(struct kv_store *s, const char *k, size_t klen,
                     const char *v, size_t vlen, int keep_ttl);
/* 1 if k was there (and is gone). */
int kv_del(struct kv_store *s, const char *k, size_t klen);
/* Expiry at monotonic ms at (0: none). */
void kv_set_expire(struct kv_store *s, struct kv_entry *e, uint64_t at);
void kv_flush(struct kv_store *s);
int kv_over_memory(struct kv_store *s, size_t more);
/* Active expiry: a few buckets (each command), or all of them. */
void kv_sweep_some(struct kv_store *s);
void kv_sweep_all(struct kv_store *s);

/* resp.c: appending replies to c->out (on no memory, c->oom is set and
 * the connection closes). */
void kv_out_add(struct kv_conn *c, const char *p, size_t len);
void kv_out_str(struct kv_conn *c, const char *s);
void kv_out_num(struct kv_conn *c, char type, long long v);
void kv_out_int(struct kv_conn *c, long long v);
void kv_out_bulk(struct kv_conn *c, const char *p, size_t len);
void kv_out_null(struct kv_conn *c);
void kv_out_array(struct kv_conn *c, size_t n);
void kv_out_ok(struct kv_conn *c);
/* An error naming client bytes: pre, p (CR/LF as spaces, cut at 128), post. */
void kv_out_err_quoted(struct kv_conn *c, const char *pre, const char *p, size_t len,
                       const char *post);

/* commands.c: runs the command in c->argv[0..argc). */
void kv_execute(struct kv_conn *c, size_t argc);

#endif
