/* kv.h: the Redis-protocol (RESP2) key-value store's core: portable C, no
 * minios specifics. A store (strings with optional expiry) and per-client
 * connections that turn request bytes into reply bytes; the caller moves
 * the bytes (kv_sock.c does it over BSD sockets). */
#ifndef KEEL_KV_H
#define KEEL_KV_H
#include <stddef.h>
#include <stdint.h>

/* Limits. A request breaking one gets a protocol error and its connection
 * is closed, as Redis does. */
#define KV_MAX_ARGS    4096          /* arguments of one command */
#define KV_MAX_BULK    (1u << 20)    /* bytes of one argument */
#define KV_MAX_QUERY   (4u << 20)    /* bytes of one command */
#define KV_MAX_INLINE  (64u << 10)   /* an inline command's line, a "*N" or "$N" line */
#define KV_OUT_FLUSH   (64u << 10)   /* kv_run stops for the caller to send */

struct kv_store;

/* A store. now_ms: monotonic milliseconds (expiry); seed: hash seed
 * (distinct per run, so that clients cannot pick colliding keys);
 * maxmemory: bytes of keys and values (0: no limit). NULL without memory. */
struct kv_store *kv_store_new(uint64_t (*now_ms)(void), uint64_t seed, size_t maxmemory);
void kv_store_free(struct kv_store *s);
/* With several threads: lock(arg)/unlock(arg) bracket each kv_run. */
void kv_store_set_lock(struct kv_store *s, void (*lock)(void *), void (*unlock)(void *),
                       void *arg);
/* maxclients: what CONFIG GET reports; timeout: seconds a client may stay
 * silent before kv_serve_fd closes its connection (0, the default: no
 * limit, as Redis's "timeout 0"). Set before serving. */
void kv_store_set_clients(struct kv_store *s, unsigned maxclients, unsigned timeout);
unsigned kv_store_timeout(const struct kv_store *s);
/* Keys stored now (expired ones removed first). */
size_t kv_store_size(struct kv_store *s);

struct kv_conn {
    struct kv_store *s;
    char *in;                 /* received, not yet executed */
    size_t in_len, in_cap;
    char *out;                /* replies not yet sent */
    size_t out_len, out_cap;
    const char **argv;        /* the command being executed (into in) */
    size_t *argl;
    size_t args_cap;
    int close;                /* close after sending out (QUIT, protocol error) */
    int oom;                  /* a reply could not be stored: close */
};

/* 0, or -1 without memory. */
int kv_conn_init(struct kv_conn *c, struct kv_store *s);
void kv_conn_free(struct kv_conn *c);

/* Appends len received bytes; -1 if the connection must close now (no
 * memory, or more than KV_MAX_QUERY bytes buffered). */
int kv_feed(struct kv_conn *c, const char *data, size_t len);
/*
 * Executes the complete commands received, appending replies to c->out.
 * Returns 1 when it stopped with KV_OUT_FLUSH bytes of replies (send them,
 * empty c->out, call again), 0 when it needs more input, -1 when the
 * connection ends after c->out is sent (c->close).
 */
int kv_run(struct kv_conn *c);

/* Glob matching as Redis's KEYS and CONFIG GET: * ? [abc] [^a] [a-z] \x. */
int kv_glob(const char *pat, size_t plen, const char *str, size_t slen);
/* Redis's strict integer syntax (no spaces, "+" or leading zeros). */
int kv_parse_ll(const char *s, size_t len, long long *v);

/* Serves one connected socket until the client leaves, an error, or
 * QUIT; then closes fd. (kv_sock.c: BSD sockets, host or lwIP.) */
void kv_serve_fd(int fd, struct kv_store *s);

#endif
