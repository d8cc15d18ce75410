/* test_httpd.c: host unit test of httpd's protocol core (apps/httpd/httpd.c)
 * with Debian's http-parser, under ASan/UBSan: ranges, requests split at
 * every byte, pipelining, keep-alive and every refusal; and serving from a
 * directory (httpd_root): files, ranges, index.html, every way out refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "httpd.h"
#include "unit.h"

#define MAXR 8
struct run {
    int n;                    /* responses */
    int status[MAXR];
    char head[MAXR][512];
    size_t body_len[MAXR];
    const unsigned char *body[MAXR];
    int closed;               /* the last one closes */
};

/* Feeds req in pieces of chunk bytes, collecting the responses. */
static struct run run(const char *req, size_t len, size_t chunk)
{
    struct run o;
    memset(&o, 0, sizeof(o));
    struct httpd_conn *c = malloc(sizeof(*c));
    httpd_conn_init(c, httpd_www, (size_t)httpd_www_count);
    size_t off = 0;
    while (off < len && !o.closed) {
        size_t piece = len - off < chunk ? len - off : chunk;
        /* copy each piece so ASan sees reads past it */
        char *buf = malloc(piece);
        memcpy(buf, req + off, piece);
        size_t used = 0;
        while (used < piece && !o.closed) {
            struct httpd_resp r;
            int ready;
            size_t u = httpd_feed(c, buf + used, piece - used, &r, &ready);
            used += u;
            if (ready && o.n < MAXR) {
                o.status[o.n] = r.status;
                memcpy(o.head[o.n], r.head, r.head_len);
                o.head[o.n][r.head_len] = 0;
                o.body[o.n] = r.body;
                o.body_len[o.n] = r.body_len;
                o.n++;
                o.closed = r.close;
            } else if (!ready && u == 0) {
                break;
            }
        }
        free(buf);
        off += piece;
    }
    free(c);
    return o;
}

static struct run run_s(const char *req)
{
    return run(req, strlen(req), 1 << 20);
}

static const struct httpd_file *f(const char *p)
{
    return httpd_lookup(httpd_www, (size_t)httpd_www_count, p, strlen(p));
}

static void test_ranges(void)
{
    uint64_t a, b;
#define R(s, size, want) httpd_parse_range(s, strlen(s), size, &a, &b) == want
    EXPECT(R("bytes=0-99", 1024, HTTPD_RANGE_OK) && a == 0 && b == 99);
    EXPECT(R("  bytes=0-99 ", 1024, HTTPD_RANGE_OK) && a == 0 && b == 99);
    EXPECT(R("BYTES=5-", 1024, HTTPD_RANGE_OK) && a == 5 && b == 1023);
    EXPECT(R("bytes=-1", 1024, HTTPD_RANGE_OK) && a == 1023 && b == 1023);
    EXPECT(R("bytes=-5000", 1024, HTTPD_RANGE_OK) && a == 0 && b == 1023);
    EXPECT(R("bytes=1000-99999999999", 1024, HTTPD_RANGE_OK) && a == 1000 && b == 1023);
    EXPECT(R("bytes=1023-1023", 1024, HTTPD_RANGE_OK) && a == 1023 && b == 1023);
    EXPECT(R("bytes=1024-", 1024, HTTPD_RANGE_UNSAT));
    EXPECT(R("bytes=1024-2000", 1024, HTTPD_RANGE_UNSAT));
    EXPECT(R("bytes=-0", 1024, HTTPD_RANGE_UNSAT));
    EXPECT(R("bytes=0-0", 0, HTTPD_RANGE_UNSAT));
    EXPECT(R("bytes=-5", 0, HTTPD_RANGE_UNSAT));
    EXPECT(R("bytes=5-4", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("bytes=0-1,4-5", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("bytes=", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("bytes=-", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("bytes=a-5", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("bytes=5-b", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("bytes=+5-6", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("bytes=99999999999999999999999-", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("bytes=-99999999999999999999999", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("items=0-5", 1024, HTTPD_RANGE_NONE));
    EXPECT(R("", 1024, HTTPD_RANGE_NONE));
#undef R
}

static void test_get(void)
{
    const struct httpd_file *k1 = f("/1k.bin"), *m4 = f("/4m.bin"), *e = f("/empty");
    EXPECT(k1 && k1->len == 1024 && m4 && m4->len == 4u << 20 && e && e->len == 0);
    EXPECT(f("/") == f("/index.html") && f("/") != NULL);
    EXPECT(f("/nope") == NULL && f("") == NULL && f("/1k.bi") == NULL);
    if (!k1 || !m4 || !e)
        return;
    const char *req = "GET /4m.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    /* the same answer whatever the pieces the request comes in */
    for (size_t chunk = 1; chunk <= strlen(req); chunk++) {
        struct run o = run(req, strlen(req), chunk);
        EXPECT(o.n == 1 && o.status[0] == 200 && !o.closed);
        EXPECT(o.body[0] == m4->data && o.body_len[0] == 4u << 20);
        EXPECT(strstr(o.head[0], "\r\nContent-Length: 4194304\r\n") != NULL);
        EXPECT(strstr(o.head[0], "Connection") == NULL);
    }
    struct run o = run_s("HEAD /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT(o.n == 1 && o.status[0] == 200 && o.body_len[0] == 0);
    EXPECT(strstr(o.head[0], "Content-Length: 1024\r\n") != NULL);
    o = run_s("GET /empty HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT(o.n == 1 && o.status[0] == 200 && o.body_len[0] == 0);
    EXPECT(strstr(o.head[0], "Content-Length: 0\r\n") != NULL);
    o = run_s("GET http://x/hello%2Etxt?q=1#f HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT(o.n == 1 && o.status[0] == 200 && o.body[0] == f("/hello.txt")->data);
    EXPECT(strstr(o.head[0], "Content-Type: text/plain\r\n") != NULL);
    o = run_s("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT(o.n == 1 && strstr(o.head[0], "Content-Type: text/html\r\n") != NULL);
    /* ranges through the parser; header names in any case */
    o = run_s("GET /1k.bin HTTP/1.1\r\nHost: x\r\nrAnGe: bytes=10-19\r\n\r\n");
    EXPECT(o.n == 1 && o.status[0] == 206 && o.body[0] == k1->data + 10 && o.body_len[0] == 10);
    EXPECT(strstr(o.head[0], "Content-Range: bytes 10-19/1024\r\nAccept-Ranges") != NULL);
    EXPECT(strstr(o.head[0], "Content-Length: 10\r\n") != NULL);
    o = run_s("HEAD /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\n\r\n");
    EXPECT(o.n == 1 && o.status[0] == 206 && o.body_len[0] == 0);
    o = run_s("GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=2000-\r\n\r\n");
    EXPECT(o.n == 1 && o.status[0] == 416 && !o.closed);
    EXPECT(strstr(o.head[0], "Content-Range: bytes */1024\r\n") != NULL);
    o = run_s("GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nRange: bytes=4-5\r\n\r\n");
    EXPECT(o.n == 1 && o.status[0] == 200 && o.body_len[0] == 1024);
    char longrange[300] = "GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1";
    memset(longrange + strlen(longrange), ' ', 200);
    strcat(longrange, "\r\n\r\n");
    o = run_s(longrange);
    EXPECT(o.n == 1 && o.status[0] == 200);
}

static void test_keepalive(void)
{
    const char *three = "GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        "GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t chunk = 1; chunk < 200; chunk += 7) {
        struct run o = run(three, strlen(three), chunk);
        EXPECT(o.n == 3 && o.status[0] == 200 && o.status[1] == 404 && o.status[2] == 200);
        EXPECT(o.closed && strstr(o.head[2], "Connection: close\r\n") != NULL);
    }
    struct run o = run_s("GET /1k.bin HTTP/1.0\r\n\r\nGET /1k.bin HTTP/1.0\r\n\r\n");
    EXPECT(o.n == 1 && o.closed && o.status[0] == 200);
    o = run_s("GET /1k.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
              "GET /empty HTTP/1.0\r\n\r\n");
    EXPECT(o.n == 2 && o.status[0] == 200 && o.status[1] == 200 && o.closed);
    EXPECT(strstr(o.head[0], "Connection: keep-alive\r\n") != NULL);
    /* a GET with a small body is served; the body is skipped */
    o = run_s("GET /1k.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /empty HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT(o.n == 2 && o.status[0] == 200 && o.status[1] == 200 && !o.closed);
    o = run_s("GET /1k.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    EXPECT(o.n == 1 && o.status[0] == 200);
}

static void expect_refused(const char *req, size_t len, int status)
{
    struct run o = run(req, len, 1 << 20);
    if (!(o.n == 1 && o.status[0] == status && o.closed))
        fprintf(stderr, "request '%.30s...': %d responses, status %d, closed %d; expected %d\n",
                req, o.n, o.n ? o.status[0] : 0, o.closed, status);
    EXPECT(o.n == 1 && o.status[0] == status && o.closed);
    EXPECT(strstr(o.head[0], "Connection: close\r\n") != NULL);
    o = run(req, len, 3);     /* the same in small pieces */
    EXPECT(o.n == 1 && o.status[0] == status && o.closed);
}

static void test_refusals(void)
{
#define REF(s, st) expect_refused(s, strlen(s), st)
    REF("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 405);
    REF("PUT / HTTP/1.1\r\nHost: x\r\n\r\n", 405);
    REF("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 405);
    REF("FROB / HTTP/1.1\r\nHost: x\r\n\r\n", 501);
    REF("get / HTTP/1.1\r\nHost: x\r\n\r\n", 501);
    REF("GET / HTTP/1.1\r\n\r\n", 400);
    REF("GET / HTPT/1.1\r\nHost: x\r\n\r\n", 400);
    REF("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400);
    REF("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400);
    REF("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400);
    REF("GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505);
    REF("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n", 413);
    REF("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400);
    REF("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 413);
    static char big[3 * HTTPD_MAX_HEAD];
    int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: x\r\nX: ");
    memset(big + n, 'a', HTTPD_MAX_HEAD);
    strcpy(big + n + HTTPD_MAX_HEAD, "\r\n\r\n");
    REF(big, 431);
    n = snprintf(big, sizeof(big), "GET /");
    memset(big + n, 'a', HTTPD_MAX_URL);
    strcpy(big + n + HTTPD_MAX_URL, " HTTP/1.1\r\nHost: x\r\n\r\n");
    REF(big, 414);
    n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < HTTPD_MAX_HEADERS; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, "X%d: 1\r\n", i);
    strcpy(big + n, "\r\n");
    REF(big, 431);
    REF("GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400);
    REF("GET /1k.bin%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400);
    REF("GET /1k.bin%0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400);
    char nul[] = "GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_refused(nul, sizeof(nul) - 1, 400);
#undef REF
    /* a refused connection takes nothing more */
    struct httpd_conn *c = malloc(sizeof(*c));
    httpd_conn_init(c, httpd_www, (size_t)httpd_www_count);
    struct httpd_resp r;
    int ready;
    const char *bad = "BAD";
    httpd_feed(c, bad, 3, &r, &ready);
    EXPECT(ready && r.status == 501 && r.close);
    const char *good = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT(httpd_feed(c, good, strlen(good), &r, &ready) == strlen(good) && !ready);
    free(c);
}

/* Seeded fuzzing: mutated requests and random bytes, fed in random
 * pieces; every response must be well formed and the core must never read
 * or write out of bounds (ASan) or overflow (UBSan). */
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
    static const char *seeds[] = {
        "GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\n\r\n",
        "HEAD /4m.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET /1k.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET http://x/%41?a=b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    };
    char buf[512];
    int responses = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len;
        if (iter % 5 == 4) {              /* random bytes */
            len = next() % sizeof(buf);
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)next();
        } else {                          /* a request with a few bytes changed */
            const char *seed = seeds[next() % 4];
            len = strlen(seed);
            memcpy(buf, seed, len);
            for (int m = (int)(next() % 4); m >= 0; m--) {
                size_t at = next() % len;
                switch (next() % 3) {
                case 0: buf[at] = (char)next(); break;
                case 1: buf[at] = "\r\n :-=,0"[next() % 9]; break;
                default: len = at + 1; break;
                }
            }
        }
        struct run o = run(buf, len, 1 + next() % 64);
        responses += o.n;
        for (int i = 0; i < o.n; i++) {
            EXPECT(strncmp(o.head[i], "HTTP/1.1 ", 9) == 0);
            EXPECT(strstr(o.head[i], "\r\nContent-Length: ") != NULL);
            EXPECT(strlen(o.head[i]) > 4 && strcmp(o.head[i] + strlen(o.head[i]) - 4, "\r\n\r\n") == 0);
            EXPECT(o.status[i] >= 200 && o.status[i] <= 505);
        }
    }
    printf("fuzz: %d responses to 20000 inputs\n", responses);
    EXPECT(responses > 10000);
}

static int64_t fixed_clock(void)
{
    return 784111777;         /* RFC 9110's example date */
}

static void test_date(void)
{
    char d[30];
    EXPECT(httpd_date(d, 784111777) == 0 && strcmp(d, "Sun, 06 Nov 1994 08:49:37 GMT") == 0);
    EXPECT(httpd_date(d, 0) == 0 && strcmp(d, "Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    EXPECT(httpd_date(d, 951782400) == 0 && strcmp(d, "Tue, 29 Feb 2000 00:00:00 GMT") == 0);
    EXPECT(httpd_date(d, 1798761599) == 0 && strcmp(d, "Thu, 31 Dec 2026 23:59:59 GMT") == 0);
    EXPECT(httpd_date(d, 253402300799LL) == 0 && strcmp(d, "Fri, 31 Dec 9999 23:59:59 GMT") == 0);
    EXPECT(httpd_date(d, -1) == -1 && httpd_date(d, 253402300800LL) == -1);
    httpd_clock = fixed_clock;
    struct run o = run_s("GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT(o.n == 2 && strstr(o.head[0], "\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n") &&
           strstr(o.head[1], "\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
    httpd_clock = NULL;
    o = run_s("GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT(o.n == 1 && !strstr(o.head[0], "Date:"));
}

/* One request against httpd_root: the status, the body (read from the
 * response's file, which is closed) into body (up to cap), its length. */
static int root_get(const char *req, char *body, size_t cap, size_t *blen, char *head)
{
    struct httpd_conn *c = malloc(sizeof(*c));
    httpd_conn_init(c, httpd_www, (size_t)httpd_www_count);
    struct httpd_resp r;
    int ready = 0;
    httpd_feed(c, req, strlen(req), &r, &ready);
    free(c);
    if (!ready)
        return -1;
    if (head) {
        memcpy(head, r.head, r.head_len);
        head[r.head_len] = 0;
    }
    *blen = 0;
    if (r.body_fd >= 0) {
        ssize_t n;
        size_t want = r.body_len < cap ? r.body_len : cap;
        while (*blen < want && (n = read(r.body_fd, body + *blen, want - *blen)) > 0)
            *blen += (size_t)n;
        close(r.body_fd);
        if (*blen != r.body_len)
            return -2;
    } else {
        *blen = r.body_len < cap ? r.body_len : cap;
        if (r.body_len)
            memcpy(body, r.body, *blen);
    }
    return r.status;
}

/* httpd_root: files from a directory, and every way out of it refused. */
static void test_root(void)
{
    char dir[] = "/tmp/test_httpd.XXXXXX";
    if (!mkdtemp(dir)) {
        EXPECT(!"mkdtemp");
        return;
    }
    char p[256], q[256];
    static char big[300000], got[300000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7 + (i >> 9));
#define W(name, data, len) do { snprintf(p, sizeof(p), "%s/%s", dir, name);       \
        FILE *f_ = fopen(p, "wb"); EXPECT(f_ && fwrite(data, 1, len, f_) == (size_t)(len)); \
        if (f_) fclose(f_); } while (0)
    snprintf(p, sizeof(p), "%s/www", dir); EXPECT(mkdir(p, 0755) == 0);
    snprintf(p, sizeof(p), "%s/www/sub", dir); EXPECT(mkdir(p, 0755) == 0);
    snprintf(p, sizeof(p), "%s/www/noindex", dir); EXPECT(mkdir(p, 0755) == 0);
    W("www/big.bin", big, sizeof(big));
    W("www/index.html", "<p>root</p>\n", 12);
    W("www/sub/index.html", "<p>sub</p>\n", 11);
    W("www/a.CSS", "b{}", 3);
    W("secret.txt", "secret\n", 7);
    snprintf(p, sizeof(p), "%s/www/out", dir); EXPECT(symlink("../secret.txt", p) == 0);
    snprintf(p, sizeof(p), "%s/www/updir", dir); EXPECT(symlink("..", p) == 0);
    snprintf(q, sizeof(q), "%s/www", dir);
    httpd_root = q;
    size_t n;
    char head[512];
#define G(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"
    EXPECT(root_get(G("/big.bin"), got, sizeof(got), &n, head) == 200 && n == sizeof(big) &&
           memcmp(got, big, n) == 0 && strstr(head, "Content-Length: 300000\r\n") &&
           strstr(head, "Content-Type: application/octet-stream\r\n"));
    EXPECT(root_get("GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-1999\r\n\r\n",
                    got, sizeof(got), &n, head) == 206 && n == 1000 &&
           memcmp(got, big + 1000, 1000) == 0);
    EXPECT(root_get("HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", got, sizeof(got), &n, head) == 200 &&
           n == 0 && strstr(head, "Content-Length: 300000\r\n"));
    EXPECT(root_get(G("/"), got, sizeof(got), &n, head) == 200 && n == 12 &&
           memcmp(got, "<p>root</p>\n", 12) == 0 && strstr(head, "Content-Type: text/html\r\n"));
    EXPECT(root_get(G("/sub"), got, sizeof(got), &n, NULL) == 200 && n == 11);
    EXPECT(root_get(G("/sub/"), got, sizeof(got), &n, NULL) == 200 && n == 11);
    EXPECT(root_get(G("/%73ub/index.html"), got, sizeof(got), &n, NULL) == 200 && n == 11);
    EXPECT(root_get(G("/a.CSS"), got, sizeof(got), &n, head) == 200 &&
           strstr(head, "Content-Type: text/css\r\n"));
    EXPECT(root_get(G("/missing"), got, sizeof(got), &n, NULL) == 404);
    EXPECT(root_get(G("/noindex"), got, sizeof(got), &n, NULL) == 404);
    EXPECT(root_get(G("/big.bin/"), got, sizeof(got), &n, NULL) == 404);
    EXPECT(root_get(G("/big.bin/x"), got, sizeof(got), &n, NULL) == 404);
    EXPECT(root_get(G("/../secret.txt"), got, sizeof(got), &n, NULL) == 403);
    EXPECT(root_get(G("/sub/../../secret.txt"), got, sizeof(got), &n, NULL) == 403);
    EXPECT(root_get(G("/%2e%2e/secret.txt"), got, sizeof(got), &n, NULL) == 403);
    EXPECT(root_get(G("/%2E%2E%2Fsecret.txt"), got, sizeof(got), &n, NULL) == 403);
    EXPECT(root_get(G("/sub/%2e/index.html"), got, sizeof(got), &n, NULL) == 403);
    EXPECT(root_get(G("//etc/passwd"), got, sizeof(got), &n, NULL) == 403);
    EXPECT(root_get(G("/out"), got, sizeof(got), &n, NULL) == 403);
    EXPECT(root_get(G("/updir/secret.txt"), got, sizeof(got), &n, NULL) == 403);
    EXPECT(root_get(G("http://x/../secret.txt"), got, sizeof(got), &n, NULL) == 403);
    EXPECT(root_get(G("secret.txt"), got, sizeof(got), &n, NULL) == 400);
    EXPECT(root_get(G("/%00"), got, sizeof(got), &n, NULL) == 400);
    httpd_root_error = "the disk did not mount";
    EXPECT(root_get(G("/big.bin"), got, sizeof(got), &n, NULL) == 503);
    httpd_root_error = NULL;
    httpd_root = NULL;
    EXPECT(root_get(G("/1k.bin"), got, sizeof(got), &n, NULL) == 200 && n == 1024);
#undef G
#undef W
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    EXPECT(system(cmd) == 0);
}

int main(void)
{
    test_ranges();
    test_date();
    test_get();
    test_keepalive();
    test_refusals();
    test_fuzz();
    test_root();
    UNIT_DONE();
}
