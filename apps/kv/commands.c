/* commands.c: kv's commands (the table, arity checks, Redis's error
 * words), Redis's integer syntax and glob matching. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "kv_impl.h"

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

static const char ERR_INT[] = "-ERR value is not an integer or out of range\r\n";
static const char ERR_SYNTAX[] = "-ERR syntax error\r\n";
static const char ERR_OOM[] = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

typedef void cmd_fn(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl);

static int argeq(const char *a, size_t al, const char *lit)
{
    return strlen(lit) == al && strncasecmp(a, lit, al) == 0;
}

static void cmd_ping(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    if (argc == 2)
        kv_out_bulk(c, argv[1], argl[1]);
    else
        kv_out_str(c, "+PONG\r\n");
}

static void cmd_echo(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    kv_out_bulk(c, argv[1], argl[1]);
}

static void cmd_get(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    struct kv_entry *e = kv_lookup(c->s, argv[1], argl[1]);
    if (e)
        kv_out_bulk(c, e->val, e->vlen);
    else
        kv_out_null(c);
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
                kv_out_str(c, ERR_INT);
                return;
            }
            at = expiry_at(c->s, n, (a[0] | 0x20) == 'e' ? 1000 : 1);
            if (!at) {
                kv_out_str(c, "-ERR invalid expire time in 'set' command\r\n");
                return;
            }
            have_exp = 1;
            i++;
        } else {
            kv_out_str(c, ERR_SYNTAX);
            return;
        }
    }
    struct kv_entry *e = kv_lookup(c->s, argv[1], argl[1]);
    size_t mark = c->out_len;
    if (get) {                /* the old value is the reply */
        if (e)
            kv_out_bulk(c, e->val, e->vlen);
        else
            kv_out_null(c);
    }
    if ((nx && e) || (xx && !e)) {
        if (!get)
            kv_out_null(c);
        return;
    }
    size_t more = e ? (argl[2] > e->vlen ? argl[2] - e->vlen : 0) : kv_entry_cost(argl[1], argl[2]);
    if (kv_over_memory(c->s, more) || !(e = kv_set(c->s, argv[1], argl[1], argv[2], argl[2], keep))) {
        c->out_len = mark;    /* one reply: the error instead of the old value */
        kv_out_str(c, ERR_OOM);
        return;
    }
    if (have_exp)
        kv_set_expire(c->s, e, at);
    if (!get)
        kv_out_ok(c);
}

static void cmd_del(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    long long n = 0;
    for (size_t i = 1; i < argc; i++)
        n += kv_del(c->s, argv[i], argl[i]);
    kv_out_int(c, n);
}

static void cmd_exists(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    long long n = 0;
    for (size_t i = 1; i < argc; i++)
        n += kv_lookup(c->s, argv[i], argl[i]) != NULL;
    kv_out_int(c, n);
}

static void incr_by(struct kv_conn *c, const char *k, size_t kl, long long by)
{
    struct kv_entry *e = kv_lookup(c->s, k, kl);
    long long v = 0;
    if (e && kv_parse_ll(e->val, e->vlen, &v)) {
        kv_out_str(c, ERR_INT);
        return;
    }
    if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
        kv_out_str(c, "-ERR increment or decrement would overflow\r\n");
        return;
    }
    v += by;
    char b[32];
    int n = snprintf(b, sizeof(b), "%lld", v);
    if ((!e && kv_over_memory(c->s, kv_entry_cost(kl, (size_t)n))) ||
        !kv_set(c->s, k, kl, b, (size_t)n, 1)) {
        kv_out_str(c, ERR_OOM);
        return;
    }
    kv_out_int(c, v);
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
        kv_out_str(c, ERR_INT);
        return;
    }
    incr_by(c, argv[1], argl[1], by);
}

static void cmd_decrby(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    long long by;
    if (kv_parse_ll(argv[2], argl[2], &by) || by == LLONG_MIN) {
        kv_out_str(c, by == LLONG_MIN ? "-ERR decrement would overflow\r\n" : ERR_INT);
        return;
    }
    incr_by(c, argv[1], argl[1], -by);
}

static void expire_cmd(struct kv_conn *c, const char **argv, const size_t *argl,
                       long long unit)
{
    long long n;
    if (kv_parse_ll(argv[2], argl[2], &n)) {
        kv_out_str(c, ERR_INT);
        return;
    }
    struct kv_entry *e = kv_lookup(c->s, argv[1], argl[1]);
    if (!e) {
        kv_out_int(c, 0);
        return;
    }
    if (n > 0 && n > LLONG_MAX / unit) {
        kv_out_str(c, "-ERR invalid expire time in 'expire' command\r\n");
        return;
    }
    uint64_t at = expiry_at(c->s, n, unit);
    if (!at)                  /* now or in the past: the key goes */
        kv_del(c->s, argv[1], argl[1]);
    else
        kv_set_expire(c->s, e, at);
    kv_out_int(c, 1);
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
    struct kv_entry *e = kv_lookup(c->s, argv[1], argl[1]);
    if (!e)
        kv_out_int(c, -2);
    else if (!e->expire)
        kv_out_int(c, -1);
    else {
        uint64_t left = e->expire - c->s->now_ms();   /* > 0: kv_lookup removed expired keys */
        kv_out_int(c, (long long)(ms ? left : (left + 500) / 1000));
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
    kv_out_array(c, argc - 1);
    for (size_t i = 1; i < argc; i++) {
        struct kv_entry *e = kv_lookup(c->s, argv[i], argl[i]);
        if (e)
            kv_out_bulk(c, e->val, e->vlen);
        else
            kv_out_null(c);
    }
}

static void cmd_mset(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    if (argc % 2 == 0) {
        kv_out_str(c, "-ERR wrong number of arguments for 'mset' command\r\n");
        return;
    }
    size_t more = 0;
    for (size_t i = 1; i < argc; i += 2)
        more += kv_entry_cost(argl[i], argl[i + 1]);
    if (kv_over_memory(c->s, more)) {
        kv_out_str(c, ERR_OOM);
        return;
    }
    for (size_t i = 1; i < argc; i += 2)
        if (!kv_set(c->s, argv[i], argl[i], argv[i + 1], argl[i + 1], 0)) {
            kv_out_str(c, ERR_OOM);
            return;
        }
    kv_out_ok(c);
}

static void cmd_keys(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    struct kv_store *s = c->s;
    kv_sweep_all(s);
    size_t n = 0;
    for (size_t b = 0; b < s->nbuckets; b++)
        for (struct kv_entry *e = s->tab[b]; e; e = e->next)
            n += kv_glob(argv[1], argl[1], e->key, e->klen);
    kv_out_array(c, n);
    for (size_t b = 0; b < s->nbuckets; b++)
        for (struct kv_entry *e = s->tab[b]; e; e = e->next)
            if (kv_glob(argv[1], argl[1], e->key, e->klen))
                kv_out_bulk(c, e->key, e->klen);
}

static void cmd_dbsize(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    kv_out_int(c, (long long)kv_store_size(c->s));
}

static void cmd_flushall(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    if (argc == 2 && !argeq(argv[1], argl[1], "async") && !argeq(argv[1], argl[1], "sync")) {
        kv_out_str(c, ERR_SYNTAX);
        return;
    }
    kv_flush(c->s);
    kv_out_ok(c);
}

static void cmd_select(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc;
    long long n;
    if (kv_parse_ll(argv[1], argl[1], &n))
        kv_out_str(c, ERR_INT);
    else if (n != 0)
        kv_out_str(c, "-ERR DB index is out of range\r\n");
    else
        kv_out_ok(c);
}

static void cmd_quit(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    kv_out_ok(c);
    c->close = 1;
}

static void cmd_info(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    struct kv_store *s = c->s;
    kv_sweep_all(s);
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
    kv_out_bulk(c, b, n < (int)sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

static void cmd_config(struct kv_conn *c, size_t argc, const char **argv, const size_t *argl)
{
    if (!argeq(argv[1], argl[1], "get")) {
        kv_out_err_quoted(c, "-ERR CONFIG subcommand '", argv[1], argl[1],
                       "' is not supported (only CONFIG GET)\r\n");
        return;
    }
    if (argc < 3) {
        kv_out_str(c, "-ERR wrong number of arguments for 'config|get' command\r\n");
        return;
    }
    char mm[24], mc[16], to[16];
    snprintf(mm, sizeof(mm), "%llu", (unsigned long long)c->s->maxmemory);
    snprintf(mc, sizeof(mc), "%u", c->s->maxclients);
    snprintf(to, sizeof(to), "%u", c->s->timeout);
    const char *params[][2] = {
        { "save", "" }, { "appendonly", "no" }, { "databases", "1" },
        { "maxmemory", mm }, { "maxclients", mc }, { "timeout", to },
    };
    size_t n = sizeof(params) / sizeof(params[0]), hits = 0;
    int hit[sizeof(params) / sizeof(params[0])] = { 0 };
    for (size_t i = 2; i < argc; i++)
        for (size_t j = 0; j < n; j++)
            if (!hit[j] && kv_glob(argv[i], argl[i], params[j][0], strlen(params[j][0])))
                hit[j] = 1, hits++;
    kv_out_array(c, hits * 2);
    for (size_t j = 0; j < n; j++)
        if (hit[j]) {
            kv_out_bulk(c, params[j][0], strlen(params[j][0]));
            kv_out_bulk(c, params[j][1], strlen(params[j][1]));
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
        kv_out_int(c, (long long)NCOMMANDS);
        return;
    }
    if (argc >= 2 && argeq(argv[1], argl[1], "docs")) {
        kv_out_array(c, 0);
        return;
    }
    if (argc >= 2) {
        kv_out_err_quoted(c, "-ERR unknown subcommand '", argv[1], argl[1],
                       "'. Try COMMAND COUNT or COMMAND DOCS.\r\n");
        return;
    }
    kv_out_array(c, NCOMMANDS);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        kv_out_array(c, 6);
        kv_out_bulk(c, commands[i].name, strlen(commands[i].name));
        kv_out_int(c, commands[i].arity);
        kv_out_array(c, 0);
        kv_out_int(c, commands[i].first_key);
        kv_out_int(c, commands[i].last_key);
        kv_out_int(c, commands[i].step);
    }
}

void kv_execute(struct kv_conn *c, size_t argc)
{
    const char **argv = c->argv;
    const size_t *argl = c->argl;
    c->s->commands++;
    kv_sweep_some(c->s);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct command *k = &commands[i];
        if (!argeq(argv[0], argl[0], k->name))
            continue;
        if ((k->arity > 0 && argc != (size_t)k->arity) ||
            (k->arity < 0 && argc < (size_t)-k->arity)) {
            kv_out_str(c, "-ERR wrong number of arguments for '");
            kv_out_str(c, k->name);
            kv_out_str(c, "' command\r\n");
            return;
        }
        k->fn(c, argc, argv, argl);
        return;
    }
    kv_out_err_quoted(c, "-ERR unknown command '", argv[0], argl[0], "', with args beginning with: ");
    for (size_t i = 1; i < argc && i < 4; i++)
        kv_out_err_quoted(c, "'", argv[i], argl[i], "' ");
    kv_out_str(c, "\r\n");
}
