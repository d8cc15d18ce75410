/* kv.c: the RESP2 key-value store's core (see kv.h): the request parser
 * (multibulk and inline), the commands, and the store: a chained hash table
 * of strings with expiry by monotonic time. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "kv.h"

struct entry {
    struct entry *next;
    uint64_t hash;
    uint64_t expire;          /* monotonic ms; 0: none */
    char *val;
    size_t vlen, klen;
    char key[];
};

struct kv_store {
    struct entry **tab;
    size_t nbuckets;          /* a power of two */
    size_t count, expires;
    size_t used, maxmemory;
    size_t sweep;             /* next bucket the active expiry looks at */
    uint64_t seed;
    uint64_t (*now_ms)(void);
    void (*lock)(void *), (*unlock)(void *);
    void *lock_arg;
    uint64_t start_ms, commands, connections, clients;
};

/* ---- the store ---- */

static uint64_t hash(const struct kv_store *s, const char *k, size_t len)
{
    uint64_t h = s->seed ^ (len * 0x9e3779b97f4a7c15ull);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)k[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    return h ^ (h >> 32);
}

static size_t entry_cost(size_t klen, size_t vlen)
{
    return sizeof(struct entry) + klen + vlen;
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
    s->maxmemory = maxmemory;
    s->start_ms = now_ms();
    return s;
}

static void entry_free(struct kv_store *s, struct entry *e)
{
    s->used -= entry_cost(e->klen, e->vlen);
    s->count--;
    if (e->expire)
        s->expires--;
    free(e->val);
    free(e);
}

static void flush(struct kv_store *s)
{
    for (size_t i = 0; i < s->nbuckets; i++)
        while (s->tab[i]) {
            struct entry *e = s->tab[i];
            s->tab[i] = e->next;
            entry_free(s, e);
        }
}

void kv_store_free(struct kv_store *s)
{
    if (!s)
        return;
    flush(s);
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

static int expired(const struct entry *e, uint64_t now)
{
    return e->expire && e->expire <= now;
}

/* The slot that points at key's entry (or at the NULL ending its chain);
 * an expired entry met on the way is removed. */
static struct entry **slot(struct kv_store *s, const char *k, size_t len, uint64_t h)
{
    uint64_t now = s->now_ms();
    struct entry **p = &s->tab[h & (s->nbuckets - 1)];
    while (*p) {
        struct entry *e = *p;
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

static struct entry *lookup(struct kv_store *s, const char *k, size_t len)
{
    return *slot(s, k, len, hash(s, k, len));
}

static void sweep_bucket(struct kv_store *s, size_t b)
{
    uint64_t now = s->now_ms();
    struct entry **p = &s->tab[b];
    while (*p) {
        if (expired(*p, now)) {
            struct entry *e = *p;
            *p = e->next;
            entry_free(s, e);
        } else
            p = &(*p)->next;
    }
}

/* Active expiry: a few buckets per command, so that keys nobody reads
 * again still go. */
static void sweep_some(struct kv_store *s)
{
    if (!s->expires)
        return;
    for (int i = 0; i < 4; i++) {
        sweep_bucket(s, s->sweep & (s->nbuckets - 1));
        s->sweep++;
    }
}

static void sweep_all(struct kv_store *s)
{
    if (!s->expires)
        return;
    for (size_t b = 0; b < s->nbuckets; b++)
        sweep_bucket(s, b);
}

size_t kv_store_size(struct kv_store *s)
{
    sweep_all(s);
    return s->count;
}

static void grow(struct kv_store *s)
{
    if (s->count < s->nbuckets || s->nbuckets >= ((size_t)1 << 26))
        return;
    size_t n = s->nbuckets * 2;
    struct entry **t = calloc(n, sizeof(*t));
    if (!t)
        return;               /* longer chains, nothing worse */
    for (size_t i = 0; i < s->nbuckets; i++)
        while (s->tab[i]) {
            struct entry *e = s->tab[i];
            s->tab[i] = e->next;
            e->next = t[e->hash & (n - 1)];
            t[e->hash & (n - 1)] = e;
        }
    free(s->tab);
    s->tab = t;
    s->nbuckets = n;
}

static int over_memory(struct kv_store *s, size_t more)
{
    return s->maxmemory && s->used + more > s->maxmemory;
}

/* Sets key to a copy of val; the expiry is kept if keep_ttl, else cleared.
 * NULL without memory (the store unchanged). */
static struct entry *store_set(struct kv_store *s, const char *k, size_t klen,
                               const char *v, size_t vlen, int keep_ttl)
{
    uint64_t h = hash(s, k, klen);
    struct entry **p = slot(s, k, klen, h);
    char *copy = malloc(vlen ? vlen : 1);
    if (!copy)
        return NULL;
    memcpy(copy, v, vlen);
    struct entry *e = *p;
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
    s->used += entry_cost(klen, vlen);
    grow(s);
    return e;
}

static int store_del(struct kv_store *s, const char *k, size_t klen)
{
    struct entry **p = slot(s, k, klen, hash(s, k, klen));
    if (!*p)
        return 0;
    struct entry *e = *p;
    *p = e->next;
    entry_free(s, e);
    return 1;
}

static void set_expire(struct kv_store *s, struct entry *e, uint64_t at)
{
    if (!e->expire && at)
        s->expires++;
    else if (e->expire && !at)
        s->expires--;
    e->expire = at;
}

/* ---- parsing helpers ---- */

int kv_parse_ll(const char *p, size_t len, long long *v)
{
    if (len == 0 || len > 20)
        return -1;
    int neg = p[0] == '-';
    size_t i = neg;
    if (i == len || (p[i] == '0' && len > i + 1) || (neg && p[i] == '0'))
        return -1;
    unsigned long long x = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        unsigned d = (unsigned)(p[i] - '0');
        if (x > (ULLONG_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    if (neg) {
        if (x > (unsigned long long)LLONG_MAX + 1)
            return -1;
        *v = x == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)x;
    } else {
        if (x > LLONG_MAX)
            return -1;
        *v = (long long)x;
    }
    return 0;
}

/* Does str[si] match the single-character element at pat[*pi]? Advances
 * *pi past the element. */
static int glob_one(const char *pat, size_t plen, size_t *pi, char ch)
{
    size_t p = *pi;
    if (pat[p] == '?') {
        *pi = p + 1;
        return 1;
    }
    if (pat[p] == '\\' && p + 1 < plen) {
        *pi = p + 2;
        return pat[p + 1] == ch;
    }
    if (pat[p] != '[') {
        *pi = p + 1;
        return pat[p] == ch;
    }
    p++;
    int neg = p < plen && pat[p] == '^';
    if (neg)
        p++;
    int match = 0;
    while (p < plen && pat[p] != ']') {
        if (pat[p] == '\\' && p + 1 < plen) {
            match |= pat[p + 1] == ch;
            p += 2;
        } else if (p + 2 < plen && pat[p + 1] == '-' && pat[p + 2] != ']') {
            unsigned char a = (unsigned char)pat[p], b = (unsigned char)pat[p + 2];
            unsigned char c = (unsigned char)ch;
            if (a > b) {
                unsigned char t = a;
                a = b;
                b = t;
            }
            match |= c >= a && c <= b;
            p += 3;
        } else {
            match |= pat[p] == ch;
            p++;
        }
    }
    *pi = p < plen ? p + 1 : p;   /* an unclosed class ends with the pattern */
    return neg ? !match : match;
}

/* Iterative, backtracking only to the last '*': O(len(pat) * len(str)). */
int kv_glob(const char *pat, size_t plen, const char *str, size_t slen)
{
    size_t p = 0, s = 0, star_p = SIZE_MAX, star_s = 0;
    while (s < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*')
                p++;
            if (p == plen)
                return 1;
            star_p = p;
            star_s = s;
            continue;
        }
        if (p < plen) {
            size_t np = p;
            if (glob_one(pat, plen, &np, str[s])) {
                p = np;
                s++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return 0;
        p = star_p;
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

/* ---- replies ---- */

static void out_add(struct kv_conn *c, const char *p, size_t len)
{
    if (c->oom)
        return;
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *n = realloc(c->out, cap);
        if (!n) {
            c->oom = 1;
            return;
        }
        c->out = n;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
}

static void out_str(struct kv_conn *c, const char *s)
{
    out_add(c, s, strlen(s));
}

static void out_fmt(struct kv_conn *c, const char *fmt, long long v)
{
    char b[32];
    int n = snprintf(b, sizeof(b), fmt, v);
    out_add(c, b, (size_t)n);
}

static void out_int(struct kv_conn *c, long long v)
{
    out_fmt(c, ":%lld\r\n", v);
}

static void out_bulk(struct kv_conn *c, const char *p, size_t len)
{
    out_fmt(c, "$%lld\r\n", (long long)len);
    out_add(c, p, len);
    out_add(c, "\r\n", 2);
}

static void out_null(struct kv_conn *c)
{
    out_str(c, "$-1\r\n");
}

static void out_array(struct kv_conn *c, size_t n)
{
    out_fmt(c, "*%lld\r\n", (long long)n);
}

/* An error naming client bytes: CR and LF become spaces (the reply is one
 * line), and each is cut at 128 bytes. */
static void out_err_quoted(struct kv_conn *c, const char *pre, const char *p, size_t len,
                           const char *post)
{
    char b[160];
    size_t n = len < 128 ? len : 128;
    for (size_t i = 0; i < n; i++)
        b[i] = (p[i] == '\r' || p[i] == '\n') ? ' ' : p[i];
    out_str(c, pre);
    out_add(c, b, n);
    out_str(c, post);
}

static void out_ok(struct kv_conn *c)
{
    out_str(c, "+OK\r\n");
}

static const char ERR_INT[] = "-ERR value is not an integer or out of range\r\n";
static const char ERR_SYNTAX[] = "-ERR syntax error\r\n";
static const char ERR_OOM[] = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/* ---- commands ---- */

typedef void cmd_fn(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl);

static int argeq(const char *a, size_t al, const char *lit)
{
    return strlen(lit) == al && strncasecmp(a, lit, al) == 0;
}

static void cmd_ping(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    if (argc == 2)
        out_bulk(c, argv[1], argl[1]);
    else
        out_str(c, "+PONG\r\n");
}

static void cmd_echo(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    out_bulk(c, argv[1], argl[1]);
}

static void cmd_get(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    struct entry *e = lookup(c->s, argv[1], argl[1]);
    if (e)
        out_bulk(c, e->val, e->vlen);
    else
        out_null(c);
}

/* A relative expiry in unit ms (1000 or 1) as an absolute time; 0 if the
 * number is not positive or would overflow. */
static uint64_t expiry_at(struct kv_store *s, long long n, long long unit)
{
    if (n <= 0 || n > LLONG_MAX / unit)
        return 0;
    uint64_t now = s->now_ms(), d = (uint64_t)(n * unit);
    if (d > UINT64_MAX - now)
        return 0;
    return now + d;
}

static void cmd_set(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    int nx = 0, xx = 0, keep = 0, get = 0;
    uint64_t at = 0;
    int have_exp = 0;
    for (size_t i = 3; i < argc; i++) {
        const char *a = argv[i];
        size_t l = argl[i];
        if (argeq(a, l, "nx") && !xx)
            nx = 1;
        else if (argeq(a, l, "xx") && !nx)
            xx = 1;
        else if (argeq(a, l, "keepttl") && !have_exp)
            keep = 1;
        else if (argeq(a, l, "get"))
            get = 1;
        else if ((argeq(a, l, "ex") || argeq(a, l, "px")) && !have_exp && !keep &&
                 i + 1 < argc) {
            long long n;
            if (kv_parse_ll(argv[i + 1], argl[i + 1], &n)) {
                out_str(c, ERR_INT);
                return;
            }
            at = expiry_at(c->s, n, (a[0] | 0x20) == 'e' ? 1000 : 1);
            if (!at) {
                out_str(c, "-ERR invalid expire time in 'set' command\r\n");
                return;
            }
            have_exp = 1;
            i++;
        } else {
            out_str(c, ERR_SYNTAX);
            return;
        }
    }
    struct entry *e = lookup(c->s, argv[1], argl[1]);
    size_t mark = c->out_len;
    if (get) {                /* the old value is the reply */
        if (e)
            out_bulk(c, e->val, e->vlen);
        else
            out_null(c);
    }
    if ((nx && e) || (xx && !e)) {
        if (!get)
            out_null(c);
        return;
    }
    size_t more = e ? (argl[2] > e->vlen ? argl[2] - e->vlen : 0) : entry_cost(argl[1], argl[2]);
    if (over_memory(c->s, more) || !(e = store_set(c->s, argv[1], argl[1], argv[2], argl[2], keep))) {
        c->out_len = mark;    /* one reply: the error instead of the old value */
        out_str(c, ERR_OOM);
        return;
    }
    if (have_exp)
        set_expire(c->s, e, at);
    if (!get)
        out_ok(c);
}

static void cmd_del(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    long long n = 0;
    for (size_t i = 1; i < argc; i++)
        n += store_del(c->s, argv[i], argl[i]);
    out_int(c, n);
}

static void cmd_exists(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    long long n = 0;
    for (size_t i = 1; i < argc; i++)
        n += lookup(c->s, argv[i], argl[i]) != NULL;
    out_int(c, n);
}

static void incr_by(struct kv_conn *c, const char *k, size_t kl, long long by)
{
    struct entry *e = lookup(c->s, k, kl);
    long long v = 0;
    if (e && kv_parse_ll(e->val, e->vlen, &v)) {
        out_str(c, ERR_INT);
        return;
    }
    if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
        out_str(c, "-ERR increment or decrement would overflow\r\n");
        return;
    }
    v += by;
    char b[32];
    int n = snprintf(b, sizeof(b), "%lld", v);
    if ((!e && over_memory(c->s, entry_cost(kl, (size_t)n))) ||
        !store_set(c->s, k, kl, b, (size_t)n, 1)) {
        out_str(c, ERR_OOM);
        return;
    }
    out_int(c, v);
}

static void cmd_incr(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    incr_by(c, argv[1], argl[1], 1);
}

static void cmd_decr(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    incr_by(c, argv[1], argl[1], -1);
}

static void cmd_incrby(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    long long by;
    if (kv_parse_ll(argv[2], argl[2], &by)) {
        out_str(c, ERR_INT);
        return;
    }
    incr_by(c, argv[1], argl[1], by);
}

static void cmd_decrby(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    long long by;
    if (kv_parse_ll(argv[2], argl[2], &by) || by == LLONG_MIN) {
        out_str(c, by == LLONG_MIN ? "-ERR decrement would overflow\r\n" : ERR_INT);
        return;
    }
    incr_by(c, argv[1], argl[1], -by);
}

static void expire_cmd(struct kv_conn *c, const char **argv, const size_t *argl,
                       long long unit)
{
    long long n;
    if (kv_parse_ll(argv[2], argl[2], &n)) {
        out_str(c, ERR_INT);
        return;
    }
    struct entry *e = lookup(c->s, argv[1], argl[1]);
    if (!e) {
        out_int(c, 0);
        return;
    }
    if (n > 0 && n > LLONG_MAX / unit) {
        out_str(c, "-ERR invalid expire time in 'expire' command\r\n");
        return;
    }
    uint64_t at = expiry_at(c->s, n, unit);
    if (!at)                  /* now or in the past: the key goes */
        store_del(c->s, argv[1], argl[1]);
    else
        set_expire(c->s, e, at);
    out_int(c, 1);
}

static void cmd_expire(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    expire_cmd(c, argv, argl, 1000);
}

static void cmd_pexpire(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    expire_cmd(c, argv, argl, 1);
}

static void ttl_cmd(struct kv_conn *c, const char **argv, const size_t *argl, int ms)
{
    struct entry *e = lookup(c->s, argv[1], argl[1]);
    if (!e)
        out_int(c, -2);
    else if (!e->expire)
        out_int(c, -1);
    else {
        uint64_t left = e->expire - c->s->now_ms();   /* > 0: lookup removed expired keys */
        out_int(c, (long long)(ms ? left : (left + 500) / 1000));
    }
}

static void cmd_ttl(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    ttl_cmd(c, argv, argl, 0);
}

static void cmd_pttl(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    ttl_cmd(c, argv, argl, 1);
}

static void cmd_mget(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    out_array(c, argc - 1);
    for (size_t i = 1; i < argc; i++) {
        struct entry *e = lookup(c->s, argv[i], argl[i]);
        if (e)
            out_bulk(c, e->val, e->vlen);
        else
            out_null(c);
    }
}

static void cmd_mset(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    if (argc % 2 == 0) {
        out_str(c, "-ERR wrong number of arguments for 'mset' command\r\n");
        return;
    }
    size_t more = 0;
    for (size_t i = 1; i < argc; i += 2)
        more += entry_cost(argl[i], argl[i + 1]);
    if (over_memory(c->s, more)) {
        out_str(c, ERR_OOM);
        return;
    }
    for (size_t i = 1; i < argc; i += 2)
        if (!store_set(c->s, argv[i], argl[i], argv[i + 1], argl[i + 1], 0)) {
            out_str(c, ERR_OOM);
            return;
        }
    out_ok(c);
}

static void cmd_keys(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    struct kv_store *s = c->s;
    sweep_all(s);
    size_t n = 0;
    for (size_t b = 0; b < s->nbuckets; b++)
        for (struct entry *e = s->tab[b]; e; e = e->next)
            n += kv_glob(argv[1], argl[1], e->key, e->klen);
    out_array(c, n);
    for (size_t b = 0; b < s->nbuckets; b++)
        for (struct entry *e = s->tab[b]; e; e = e->next)
            if (kv_glob(argv[1], argl[1], e->key, e->klen))
                out_bulk(c, e->key, e->klen);
}

static void cmd_dbsize(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    out_int(c, (long long)kv_store_size(c->s));
}

static void cmd_flushall(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    if (argc == 2 && !argeq(argv[1], argl[1], "async") && !argeq(argv[1], argl[1], "sync")) {
        out_str(c, ERR_SYNTAX);
        return;
    }
    flush(c->s);
    out_ok(c);
}

static void cmd_select(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    long long n;
    if (kv_parse_ll(argv[1], argl[1], &n))
        out_str(c, ERR_INT);
    else if (n != 0)
        out_str(c, "-ERR DB index is out of range\r\n");
    else
        out_ok(c);
}

static void cmd_quit(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    out_ok(c);
    c->close = 1;
}

static void cmd_info(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    struct kv_store *s = c->s;
    sweep_all(s);
    char b[1024];
    int n = snprintf(b, sizeof(b),
        "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\n"
        "server_name:keel-kv\r\nuptime_in_seconds:%llu\r\n\r\n"
        "# Clients\r\nconnected_clients:%llu\r\n\r\n"
        "# Memory\r\nused_memory:%llu\r\nmaxmemory:%llu\r\n\r\n"
        "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n\r\n"
        "# Keyspace\r\n",
        (unsigned long long)((s->now_ms() - s->start_ms) / 1000),
        (unsigned long long)s->clients, (unsigned long long)s->used,
        (unsigned long long)s->maxmemory, (unsigned long long)s->connections,
        (unsigned long long)s->commands);
    if (s->count)
        n += snprintf(b + n, sizeof(b) - (size_t)n, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n",
                      (unsigned long long)s->count, (unsigned long long)s->expires);
    out_bulk(c, b, (size_t)n);
}

static void cmd_config(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    if (!argeq(argv[1], argl[1], "get")) {
        out_err_quoted(c, "-ERR CONFIG subcommand '", argv[1], argl[1],
                       "' is not supported (only CONFIG GET)\r\n");
        return;
    }
    if (argc < 3) {
        out_str(c, "-ERR wrong number of arguments for 'config|get' command\r\n");
        return;
    }
    char mm[24];
    snprintf(mm, sizeof(mm), "%llu", (unsigned long long)c->s->maxmemory);
    const char *params[][2] = {
        { "save", "" }, { "appendonly", "no" }, { "databases", "1" },
        { "maxmemory", mm }, { "maxclients", "56" }, { "timeout", "0" },
    };
    size_t n = sizeof(params) / sizeof(params[0]), hits = 0;
    int hit[sizeof(params) / sizeof(params[0])] = { 0 };
    for (size_t i = 2; i < argc; i++)
        for (size_t j = 0; j < n; j++)
            if (!hit[j] && kv_glob(argv[i], argl[i], params[j][0], strlen(params[j][0])))
                hit[j] = 1, hits++;
    out_array(c, hits * 2);
    for (size_t j = 0; j < n; j++)
        if (hit[j]) {
            out_bulk(c, params[j][0], strlen(params[j][0]));
            out_bulk(c, params[j][1], strlen(params[j][1]));
        }
}

static void cmd_command(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl);

static const struct command {
    const char *name;
    int arity;                /* as Redis: N exactly, -N at least N */
    int first_key, last_key, step;
    cmd_fn *fn;
} commands[] = {
    { "ping", -1, 0, 0, 0, cmd_ping },
    { "echo", 2, 0, 0, 0, cmd_echo },
    { "get", 2, 1, 1, 1, cmd_get },
    { "set", -3, 1, 1, 1, cmd_set },
    { "del", -2, 1, -1, 1, cmd_del },
    { "exists", -2, 1, -1, 1, cmd_exists },
    { "incr", 2, 1, 1, 1, cmd_incr },
    { "decr", 2, 1, 1, 1, cmd_decr },
    { "incrby", 3, 1, 1, 1, cmd_incrby },
    { "decrby", 3, 1, 1, 1, cmd_decrby },
    { "expire", 3, 1, 1, 1, cmd_expire },
    { "pexpire", 3, 1, 1, 1, cmd_pexpire },
    { "ttl", 2, 1, 1, 1, cmd_ttl },
    { "pttl", 2, 1, 1, 1, cmd_pttl },
    { "mget", -2, 1, -1, 1, cmd_mget },
    { "mset", -3, 1, -1, 2, cmd_mset },
    { "keys", 2, 0, 0, 0, cmd_keys },
    { "dbsize", 1, 0, 0, 0, cmd_dbsize },
    { "flushall", -1, 0, 0, 0, cmd_flushall },
    { "flushdb", -1, 0, 0, 0, cmd_flushall },
    { "info", -1, 0, 0, 0, cmd_info },
    { "config", -2, 0, 0, 0, cmd_config },
    { "select", 2, 0, 0, 0, cmd_select },
    { "quit", -1, 0, 0, 0, cmd_quit },
    { "command", -1, 0, 0, 0, cmd_command },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* COMMAND: each command as Redis 2.8 to 6 described it (name, arity,
 * flags, first key, last key, step); COMMAND COUNT; COMMAND DOCS (which
 * redis-cli asks for) as an empty map. */
static void cmd_command(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    if (argc >= 2 && argeq(argv[1], argl[1], "count")) {
        out_int(c, (long long)NCOMMANDS);
        return;
    }
    if (argc >= 2 && argeq(argv[1], argl[1], "docs")) {
        out_array(c, 0);
        return;
    }
    if (argc >= 2) {
        out_err_quoted(c, "-ERR unknown subcommand '", argv[1], argl[1],
                       "'. Try COMMAND COUNT or COMMAND DOCS.\r\n");
        return;
    }
    out_array(c, NCOMMANDS);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        out_array(c, 6);
        out_bulk(c, commands[i].name, strlen(commands[i].name));
        out_int(c, commands[i].arity);
        out_array(c, 0);
        out_int(c, commands[i].first_key);
        out_int(c, commands[i].last_key);
        out_int(c, commands[i].step);
    }
}

static void execute(struct kv_conn *c, size_t argc)
{
    const char **argv = c->argv;
    const size_t *argl = c->argl;
    c->s->commands++;
    sweep_some(c->s);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct command *k = &commands[i];
        if (!argeq(argv[0], argl[0], k->name))
            continue;
        if ((k->arity > 0 && argc != (size_t)k->arity) ||
            (k->arity < 0 && argc < (size_t)-k->arity)) {
            out_str(c, "-ERR wrong number of arguments for '");
            out_str(c, k->name);
            out_str(c, "' command\r\n");
            return;
        }
        k->fn(c, argc, argv, argl);
        return;
    }
    out_err_quoted(c, "-ERR unknown command '", argv[0], argl[0], "', with args beginning with: ");
    for (size_t i = 1; i < argc && i < 4; i++)
        out_err_quoted(c, "'", argv[i], argl[i], "' ");
    out_str(c, "\r\n");
}

/* ---- connections and the request parser ---- */

int kv_conn_init(struct kv_conn *c, struct kv_store *s)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->args_cap = 16;
    c->argv = malloc(c->args_cap * sizeof(*c->argv));
    c->argl = malloc(c->args_cap * sizeof(*c->argl));
    if (!c->argv || !c->argl) {
        free(c->argv);
        free(c->argl);
        return -1;
    }
    if (s->lock)
        s->lock(s->lock_arg);
    s->clients++;
    s->connections++;
    if (s->unlock)
        s->unlock(s->lock_arg);
    return 0;
}

void kv_conn_free(struct kv_conn *c)
{
    struct kv_store *s = c->s;
    if (s->lock)
        s->lock(s->lock_arg);
    s->clients--;
    if (s->unlock)
        s->unlock(s->lock_arg);
    free(c->in);
    free(c->out);
    free(c->argv);
    free(c->argl);
}

int kv_feed(struct kv_conn *c, const char *data, size_t len)
{
    if (c->in_len + len > KV_MAX_QUERY + (64u << 10))
        return -1;
    if (c->in_len + len > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 4096;
        while (cap < c->in_len + len)
            cap *= 2;
        char *n = realloc(c->in, cap);
        if (!n)
            return -1;
        c->in = n;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return 0;
}

static int args_room(struct kv_conn *c, size_t n)
{
    if (n <= c->args_cap)
        return 0;
    size_t cap = c->args_cap;
    while (cap < n)
        cap *= 2;
    const char **v = realloc(c->argv, cap * sizeof(*v));
    if (!v)
        return -1;
    c->argv = v;
    size_t *l = realloc(c->argl, cap * sizeof(*l));
    if (!l)
        return -1;
    c->argl = l;
    c->args_cap = cap;
    return 0;
}

static int protocol_error(struct kv_conn *c, const char *what)
{
    out_str(c, "-ERR Protocol error: ");
    out_str(c, what);
    out_str(c, "\r\n");
    c->close = 1;
    return -1;
}

/* A "<ch>N\r\n" header line at in[off] (of len bytes): 1 and *n, 0 if
 * incomplete, -1 on a protocol error (already replied). */
static int number_line(struct kv_conn *c, const char *in, size_t len, size_t off,
                       long long *n, size_t *next, const char *toobig, const char *invalid)
{
    const char *p = in + off;
    size_t avail = len - off;
    const char *cr = memchr(p, '\r', avail > KV_MAX_INLINE ? KV_MAX_INLINE : avail);
    if (!cr)
        return avail > KV_MAX_INLINE ? protocol_error(c, toobig) : 0;
    if ((size_t)(cr - p) + 1 >= avail)
        return 0;             /* the \n has not arrived */
    if (cr[1] != '\n' || kv_parse_ll(p + 1, (size_t)(cr - p) - 1, n))
        return protocol_error(c, invalid);
    *next = off + (size_t)(cr - p) + 2;
    return 1;
}

/* Parses the multibulk command at in (len bytes received) into c->argv:
 * its argument count, 0 if incomplete, -1 on a protocol error (replied),
 * -2 for an empty command. *used: its bytes. */
static long long parse_multibulk(struct kv_conn *c, const char *in, size_t len,
                                 size_t *used)
{
    long long n;
    size_t off;
    int r = number_line(c, in, len, 0, &n, &off, "too big mbulk count string",
                        "invalid multibulk length");
    if (r <= 0)
        return r;
    if (n > KV_MAX_ARGS)
        return protocol_error(c, "invalid multibulk length");
    if (n <= 0) {             /* an empty command: nothing to do */
        *used = off;
        return -2;
    }
    if (args_room(c, (size_t)n)) {
        c->oom = 1;
        return -1;
    }
    for (long long i = 0; i < n; i++) {
        if (off >= len)
            return 0;
        if (in[off] != '$') {
            char what[40];
            unsigned char ch = (unsigned char)in[off];
            if (ch >= 32 && ch < 127 && ch != '\'')
                snprintf(what, sizeof(what), "expected '$', got '%c'", ch);
            else
                snprintf(what, sizeof(what), "expected '$', got byte %u", ch);
            return protocol_error(c, what);
        }
        long long blen;
        r = number_line(c, in, len, off, &blen, &off, "too big bulk count string",
                        "invalid bulk length");
        if (r <= 0)
            return r;
        if (blen < 0 || blen > (long long)KV_MAX_BULK)
            return protocol_error(c, "invalid bulk length");
        size_t b = (size_t)blen;
        if (off + b > KV_MAX_QUERY)
            return protocol_error(c, "too big request");
        if (len - off < b + 2)
            return 0;
        if (in[off + b] != '\r' || in[off + b + 1] != '\n')
            return protocol_error(c, "bulk not followed by CRLF");
        c->argv[i] = in + off;
        c->argl[i] = b;
        off += b + 2;
    }
    *used = off;
    return n;
}

/* An inline command: one line of words separated by spaces or tabs.
 * Returns as parse_multibulk. */
static long long parse_inline(struct kv_conn *c, const char *in, size_t len, size_t *used)
{
    const char *nl = memchr(in, '\n', len > KV_MAX_INLINE ? KV_MAX_INLINE : len);
    if (!nl)
        return len > KV_MAX_INLINE ? protocol_error(c, "too big inline request") : 0;
    size_t end = (size_t)(nl - in);
    *used = end + 1;
    if (end && in[end - 1] == '\r')
        end--;
    size_t n = 0;
    for (size_t i = 0; i < end;) {
        while (i < end && (in[i] == ' ' || in[i] == '\t'))
            i++;
        if (i == end)
            break;
        size_t start = i;
        while (i < end && in[i] != ' ' && in[i] != '\t')
            i++;
        if (n == KV_MAX_ARGS)
            return protocol_error(c, "too many arguments");
        if (args_room(c, n + 1)) {
            c->oom = 1;
            return -1;
        }
        c->argv[n] = in + start;
        c->argl[n] = i - start;
        n++;
    }
    return n ? (long long)n : -2;
}

int kv_run(struct kv_conn *c)
{
    struct kv_store *s = c->s;
    size_t done = 0;
    int ret = 0;
    if (s->lock)
        s->lock(s->lock_arg);
    while (!c->close && !c->oom && done < c->in_len) {
        if (c->out_len >= KV_OUT_FLUSH) {
            ret = 1;
            break;
        }
        const char *in = c->in + done;
        size_t len = c->in_len - done, used = 0;
        long long n = in[0] == '*' ? parse_multibulk(c, in, len, &used)
                                   : parse_inline(c, in, len, &used);
        if (n > 0)
            execute(c, (size_t)n);
        if (n == 0)
            break;            /* incomplete: wait for more */
        if (n == -1)
            break;            /* protocol error or no memory: close */
        done += used;
    }
    if (s->unlock)
        s->unlock(s->lock_arg);
    if (done) {
        memmove(c->in, c->in + done, c->in_len - done);
        c->in_len -= done;
    }
    if (c->oom) {             /* a reply is lost: the stream is broken */
        c->close = 1;
        c->out_len = 0;
    }
    if (c->close)
        return -1;
    return ret;
}
