/* test_kv.c: host unit test of kv's core (apps/kv/store.c, resp.c, commands.c) under ASan/UBSan:
 * the scripted conversation (kv_script.c) whole, pipelined and split at
 * every byte; expiry on a fake clock; globs; integers; limits and protocol
 * errors; maxmemory; reply flushing; table growth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kv.h"
#include "kv_impl.h"
#include "kv_script.h"
#include "unit.h"

static uint64_t clock_ms = 1000;
static uint64_t fake_now(void)
{
    return clock_ms;
}

/* Feeds req in pieces of chunk bytes; returns the replies (malloc'd,
 * NUL-terminated) and whether the connection ended. */
static char *talk(struct kv_conn *c, const char *req, size_t len, size_t chunk, int *closed)
{
    size_t cap = 1 << 16, n = 0;
    char *all = malloc(cap);
    *closed = 0;
    for (size_t off = 0; off < len && !*closed; off += chunk) {
        size_t piece = len - off < chunk ? len - off : chunk;
        char *buf = malloc(piece);
        memcpy(buf, req + off, piece);
        if (kv_feed(c, buf, piece)) {
            *closed = 1;
            free(buf);
            break;
        }
        free(buf);
        int r;
        do {
            r = kv_run(c);
            while (n + c->out_len + 1 > cap)
                all = realloc(all, cap *= 2);
            if (c->out_len)
                memcpy(all + n, c->out, c->out_len);
            n += c->out_len;
            c->out_len = 0;
        } while (r == 1);
        if (r < 0)
            *closed = 1;
    }
    all[n] = 0;
    return all;
}

static char *talk_s(struct kv_conn *c, const char *req)
{
    int closed;
    return talk(c, req, strlen(req), 1 << 30, &closed);
}

/* One request on c: its reply must be want. */
static void expect_reply(struct kv_conn *c, const char *req, const char *want)
{
    char *got = talk_s(c, req);
    if (strcmp(got, want))
        fprintf(stderr, "'%s': got '%s', expected '%s'\n", req, got, want);
    EXPECT(strcmp(got, want) == 0);
    free(got);
}

static void test_script(void)
{
    struct kv_store *s = kv_store_new(fake_now, 1, 0);
    struct kv_conn c;
    EXPECT(s && kv_conn_init(&c, s) == 0);
    size_t total = 0, wtotal = 0;
    for (size_t i = 0; i < kv_script_len; i++) {
        expect_reply(&c, kv_script[i].req, kv_script[i].want);
        total += strlen(kv_script[i].req);
        wtotal += strlen(kv_script[i].want);
    }
    char *req = calloc(1, total + 1), *want = calloc(1, wtotal + 1);
    for (size_t i = 0; i < kv_script_len; i++) {
        strcat(req, kv_script[i].req);
        strcat(want, kv_script[i].want);
    }
    /* pipelined whole, then in pieces of every size up to 40 */
    for (size_t chunk = 1; chunk <= 41; chunk++) {
        int closed;
        char *got = talk(&c, req, total, chunk == 41 ? total : chunk, &closed);
        if (strcmp(got, want))
            fprintf(stderr, "pipelined script in %zu-byte pieces differs\n", chunk);
        EXPECT(strcmp(got, want) == 0 && !closed);
        free(got);
    }
    free(req);
    free(want);
    kv_conn_free(&c);
    kv_store_free(s);
}

static void test_expiry(void)
{
    struct kv_store *s = kv_store_new(fake_now, 2, 0);
    struct kv_conn c;
    kv_conn_init(&c, s);
    clock_ms = 5000;
    expect_reply(&c, "SET a 1 EX 10\r\n", "+OK\r\n");
    expect_reply(&c, "SET b 1 PX 1500\r\n", "+OK\r\n");
    expect_reply(&c, "SET c 1\r\n", "+OK\r\n");
    expect_reply(&c, "TTL a\r\n", ":10\r\n");
    expect_reply(&c, "PTTL b\r\n", ":1500\r\n");
    clock_ms += 1499;
    expect_reply(&c, "PTTL b\r\n", ":1\r\n");
    expect_reply(&c, "TTL a\r\n", ":9\r\n");     /* 8501 ms rounds to 9 */
    clock_ms += 1;
    expect_reply(&c, "GET b\r\n", "$-1\r\n");
    expect_reply(&c, "PTTL b\r\n", ":-2\r\n");
    expect_reply(&c, "INCR a\r\n", ":2\r\n");    /* INCR keeps the expiry */
    expect_reply(&c, "PTTL a\r\n", ":8500\r\n");
    expect_reply(&c, "SET a 5 KEEPTTL\r\n", "+OK\r\n");
    expect_reply(&c, "PTTL a\r\n", ":8500\r\n");
    expect_reply(&c, "EXPIRE c 1\r\n", ":1\r\n");
    expect_reply(&c, "DBSIZE\r\n", ":2\r\n");
    clock_ms += 1000;
    expect_reply(&c, "DBSIZE\r\n", ":1\r\n");
    expect_reply(&c, "KEYS *\r\n", "*1\r\n$1\r\na\r\n");
    /* Number lines at the extremes (kv_out_num). */
    expect_reply(&c, "SET n -9223372036854775807\r\n", "+OK\r\n");
    expect_reply(&c, "DECR n\r\n", ":-9223372036854775808\r\n");
    expect_reply(&c, "SET n 9223372036854775806\r\n", "+OK\r\n");
    expect_reply(&c, "INCR n\r\n", ":9223372036854775807\r\n");
    expect_reply(&c, "SET n 0\r\n", "+OK\r\n");
    expect_reply(&c, "INCRBY n 0\r\n", ":0\r\n");
    expect_reply(&c, "DEL n\r\n", ":1\r\n");
    expect_reply(&c, "PEXPIRE a -5\r\n", ":1\r\n");
    expect_reply(&c, "EXISTS a\r\n", ":0\r\n");
    /* keys nobody reads again go by the active sweep */
    for (int i = 0; i < 500; i++) {
        char b[64];
        snprintf(b, sizeof(b), "SET x%d v PX 10\r\n", i);
        expect_reply(&c, b, "+OK\r\n");
    }
    clock_ms += 10;
    for (int i = 0; i < 2000; i++)
        expect_reply(&c, "PING\r\n", "+PONG\r\n");
    char *info = talk_s(&c, "INFO\r\n");
    EXPECT(info[0] == '$' && strstr(info, "\r\nredis_version:") &&
           strstr(info, "\r\nconnected_clients:1\r\n") && !strstr(info, "db0:"));
    free(info);
    expect_reply(&c, "DBSIZE\r\n", ":0\r\n");
    kv_conn_free(&c);
    kv_store_free(s);
}

/* SipHash-2-4 against the paper's vector (key 00..0f, message 00..0e)
 * and the empty message's (key 00..0f). */
static void test_siphash(void)
{
    unsigned char msg[15];
    for (int i = 0; i < 15; i++)
        msg[i] = (unsigned char)i;
    uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
    EXPECT(kv_siphash(k0, k1, msg, 15) == 0xa129ca6149be45e5ull);
    EXPECT(kv_siphash(k0, k1, msg, 0) == 0x726fdb47dd0e0e31ull);
    EXPECT(kv_siphash(k0, k1, msg, 8) == 0x93f5f5799a932462ull);
}

static void test_glob(void)
{
#define G(p, str) kv_glob(p, strlen(p), str, strlen(str))
    EXPECT(G("*", "") && G("*", "abc") && G("a*", "abc") && G("*c", "abc"));
    EXPECT(G("a?c", "abc") && !G("a?c", "ac") && G("a*b*c", "aXbYc"));
    EXPECT(G("[abc]x", "bx") && !G("[abc]x", "dx") && G("[^abc]x", "dx"));
    EXPECT(G("[a-c]", "b") && G("[c-a]", "b") && !G("[a-c]", "d"));
    EXPECT(G("\\*", "*") && !G("\\*", "a") && G("[\\]]", "]"));
    EXPECT(G("h[", "h") == 0 && G("h[a", "ha"));
    EXPECT(!G("", "a") && G("", "") && G("**", "x"));
    EXPECT(!G("a*", "") && G("*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaab"));
    /* no exponential blow-up on a hostile pattern */
    char str[4001];
    memset(str, 'a', 4000);
    str[4000] = 0;
    EXPECT(!G("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", str));
#undef G
}

static void test_ints(void)
{
    long long v;
#define P(s) kv_parse_ll(s, strlen(s), &v)
    EXPECT(P("0") == 0 && v == 0);
    EXPECT(P("-1") == 0 && v == -1);
    EXPECT(P("9223372036854775807") == 0 && v == 9223372036854775807LL);
    EXPECT(P("-9223372036854775808") == 0 && v == (-9223372036854775807LL - 1));
    EXPECT(P("9223372036854775808") && P("-9223372036854775809"));
    EXPECT(P("") && P("-") && P("+1") && P(" 1") && P("1 ") && P("01") && P("-0") && P("1.0"));
    EXPECT(P("99999999999999999999999"));
#undef P
}

static void expect_protocol_error(const char *req, size_t len, const char *error)
{
    struct kv_store *s = kv_store_new(fake_now, 3, 0);
    struct kv_conn c;
    kv_conn_init(&c, s);
    char want[128];
    snprintf(want, sizeof(want), "+PONG\r\n-ERR Protocol error: %s\r\n", error);
    for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
        int closed;
        char *full = malloc(len + 6);
        memcpy(full, "PING\r\n", 6);
        memcpy(full + 6, req, len);
        char *got = talk(&c, full, len + 6, chunk, &closed);
        if (strcmp(got, want) || !closed)
            fprintf(stderr, "protocol error '%s': got '%.80s', closed %d\n", error, got, closed);
        EXPECT(strcmp(got, want) == 0 && closed);
        free(got);
        free(full);
        kv_conn_free(&c);
        kv_conn_init(&c, s);
    }
    kv_conn_free(&c);
    kv_store_free(s);
}

static void test_protocol_errors(void)
{
#define PE(s, e) expect_protocol_error(s, strlen(s), e)
    PE("*1\r\n$x\r\n", "invalid bulk length");
    PE("*1\r\n$-1\r\n", "invalid bulk length");
    PE("*1\r\n$1048577\r\n", "invalid bulk length");
    PE("*4097\r\n", "invalid multibulk length");
    PE("*x\r\n", "invalid multibulk length");
    PE("*1x\r\n", "invalid multibulk length");
    PE("*1\r\nfoo\r\n", "expected '$', got 'f'");
    PE("*1\r\n\x01oo\r\n", "expected '$', got byte 1");
    PE("*1\r\n$3\r\nfooXY", "bulk not followed by CRLF");
    PE("*1\r\n$3\rX", "invalid bulk length");
    PE("SET k \"abc\r\n", "unbalanced quotes in request");
    PE("SET k \"a\"b\r\n", "unbalanced quotes in request");
    PE("SET k 'a\r\n", "unbalanced quotes in request");
    PE("SET k \"a\\\r\n", "unbalanced quotes in request");
#undef PE
    static char big[(64 << 10) + 16];
    memset(big, 'a', sizeof(big));
    expect_protocol_error(big, sizeof(big), "too big inline request");
    big[0] = '*';
    expect_protocol_error(big, sizeof(big), "too big mbulk count string");
    memcpy(big, "*1\r\n$", 5);
    expect_protocol_error(big, sizeof(big), "too big bulk count string");
    /* a command too big in total: 5 arguments of 1 MiB */
    struct kv_store *s = kv_store_new(fake_now, 4, 0);
    struct kv_conn c;
    kv_conn_init(&c, s);
    size_t one = KV_MAX_BULK, total = 16 + 5 * (one + 16);
    char *req = malloc(total), *p = req;
    p += sprintf(p, "*5\r\n");
    for (int i = 0; i < 5; i++) {
        p += sprintf(p, "$%zu\r\n", one);
        memset(p, 'x', one);
        p += one;
        p += sprintf(p, "\r\n");
    }
    int closed;
    char *got = talk(&c, req, (size_t)(p - req), 65536, &closed);
    EXPECT(closed && strcmp(got, "-ERR Protocol error: too big request\r\n") == 0);
    free(got);
    free(req);
    kv_conn_free(&c);
    kv_store_free(s);
}

static void test_limits_and_memory(void)
{
    struct kv_store *s = kv_store_new(fake_now, 5, 4096);
    struct kv_conn c;
    kv_conn_init(&c, s);
    char req[8192];
    int n = snprintf(req, sizeof(req), "SET a ");
    memset(req + n, 'v', 3000);
    strcpy(req + n + 3000, "\r\n");
    expect_reply(&c, req, "+OK\r\n");
    req[4] = 'b';
    expect_reply(&c, req, "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    expect_reply(&c, "MSET x 1 y 2\r\n", "+OK\r\n");
    expect_reply(&c, "INCR z\r\n", ":1\r\n");
    req[4] = 'a';
    expect_reply(&c, req, "+OK\r\n");                        /* same size in place */
    expect_reply(&c, "DEL a\r\n", ":1\r\n");
    req[4] = 'b';
    expect_reply(&c, req, "+OK\r\n");
    kv_conn_free(&c);
    kv_store_free(s);

    /* replies stop at KV_OUT_FLUSH for the caller to send */
    s = kv_store_new(fake_now, 6, 0);
    kv_conn_init(&c, s);
    n = snprintf(req, sizeof(req), "SET v ");
    memset(req + n, 'v', 5000);
    strcpy(req + n + 5000, "\r\n");
    expect_reply(&c, req, "+OK\r\n");
    size_t gets = 100;
    char *many = malloc(gets * 7 + 1);
    for (size_t i = 0; i < gets; i++)
        memcpy(many + i * 7, "GET v\r\n", 7);
    EXPECT(kv_feed(&c, many, gets * 7) == 0);
    int rounds = 0, r;
    size_t bytes = 0;
    while ((r = kv_run(&c)) == 1) {
        EXPECT(c.out_len >= KV_OUT_FLUSH && c.out_len < KV_OUT_FLUSH + 6000);
        bytes += c.out_len;
        c.out_len = 0;
        rounds++;
    }
    bytes += c.out_len;
    c.out_len = 0;
    EXPECT(r == 0 && rounds >= 7 && bytes == gets * (5 + 2 + 5000 + 2));
    free(many);
    /* a table that grows: 20000 keys */
    for (int i = 0; i < 20000; i++) {
        n = snprintf(req, sizeof(req), "SET key:%d %d\r\n", i, i);
        char *got = talk_s(&c, req);
        EXPECT(strcmp(got, "+OK\r\n") == 0);
        free(got);
    }
    expect_reply(&c, "DBSIZE\r\n", ":20001\r\n");
    expect_reply(&c, "GET key:12345\r\n", "$5\r\n12345\r\n");
    char *keys = talk_s(&c, "KEYS key:1234?\r\n");
    EXPECT(strncmp(keys, "*10\r\n", 5) == 0 && strlen(keys) == 5 + 10 * 15);
    for (int i = 0; i < 10; i++) {
        n = snprintf(req, sizeof(req), "$9\r\nkey:1234%d\r\n", i);
        EXPECT(strstr(keys, req) != NULL);
    }
    free(keys);
    kv_conn_free(&c);
    kv_store_free(s);
}

/* Seeded fuzzing: the script's requests mutated and random bytes, fed in
 * random pieces to one store; every reply must start with a RESP type
 * byte and the core must stay within bounds (ASan, UBSan). */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_fuzz(void)
{
    struct kv_store *s = kv_store_new(fake_now, 7, 1 << 20);
    char buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len;
        if (iter % 5 == 4) {
            len = next() % sizeof(buf);
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)next();
            if (len && next() % 2)
                buf[0] = "*$+:-"[next() % 5];
        } else {
            const char *seed = kv_script[next() % kv_script_len].req;
            len = strlen(seed);
            if (len > sizeof(buf))
                len = sizeof(buf);
            memcpy(buf, seed, len);
            for (int m = (int)(next() % 3); m >= 0 && len; m--) {
                size_t at = next() % len;
                switch (next() % 3) {
                case 0: buf[at] = (char)next(); break;
                case 1: buf[at] = "\r\n*$-0123456789 "[next() % 17]; break;
                default: len = at + 1; break;
                }
            }
        }
        struct kv_conn c;
        kv_conn_init(&c, s);
        int closed;
        clock_ms += next() % 50;
        char *got = talk(&c, buf, len, 1 + next() % 64, &closed);
        EXPECT(got[0] == 0 || strchr("+-:$*", got[0]) != NULL);
        free(got);
        kv_conn_free(&c);
    }
    kv_store_free(s);
}

int main(void)
{
    test_script();
    test_expiry();
    test_siphash();
    test_glob();
    test_ints();
    test_protocol_errors();
    test_limits_and_memory();
    test_fuzz();
    UNIT_DONE();
}
