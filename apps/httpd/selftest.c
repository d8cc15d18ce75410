/* selftest.c: httpd's self test: a client in the same image talks HTTP to
 * the server over lwIP's loopback and checks every answer byte for byte
 * against the compiled-in files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <minios/events.h>
#include <minios/net.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "httpd.h"
#include "selftest.h"
#include "report.h"

static uint16_t port;

struct client {
    int fd;
    char buf[2048 + 1];       /* + 1: a NUL after the bytes */
    size_t have;              /* bytes in buf not yet used */
};

struct reply {
    int status;
    long long clen;           /* -1: no Content-Length */
    char crange[80];
    int close;                /* Connection: close */
    char date[40];            /* the Date header's value */
};

static int client_open(struct client *c)
{
    c->have = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a))) {
        test_fail("connect to port %u failed", port);
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        return -1;
    }
    struct timeval tv = { .tv_sec = 120 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return 0;
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int client_send(struct client *c, const char *s, size_t len)
{
    while (len) {
        ssize_t n = send(c->fd, s, len, 0);
        if (n <= 0)
            return -1;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

static int client_fill(struct client *c)
{
    if (c->have == sizeof(c->buf) - 1)
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
    if (n <= 0)
        return -1;
    c->have += (size_t)n;
    return 0;
}

static const char *header(const char *head, const char *name)
{
    size_t k = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, name, k) == 0 && l[2 + k] == ':') {
            l += 3 + k;
            while (*l == ' ')
                l++;
            return l;
        }
    return NULL;
}

/* Reads one response head; the body stays in c->buf. */
static int read_head(struct client *c, struct reply *r)
{
    char *end;
    for (;;) {
        c->buf[c->have] = 0;
        end = c->have >= 4 ? strstr(c->buf, "\r\n\r\n") : NULL;
        if (end)
            break;
        if (client_fill(c))
            return -1;
    }
    end[2] = 0;
    size_t used = (size_t)(end + 4 - c->buf);
    memset(r, 0, sizeof(*r));
    r->clen = -1;
    if (sscanf(c->buf, "HTTP/1.1 %d", &r->status) != 1)
        return -1;
    const char *v = header(c->buf, "Content-Length");
    if (v)
        r->clen = atoll(v);
    v = header(c->buf, "Content-Range");
    if (v)
        snprintf(r->crange, sizeof(r->crange), "%.*s", (int)strcspn(v, "\r"), v);
    v = header(c->buf, "Date");
    if (v)
        snprintf(r->date, sizeof(r->date), "%.*s", (int)strcspn(v, "\r"), v);
    v = header(c->buf, "Connection");
    r->close = v && strncasecmp(v, "close", 5) == 0;
    memmove(c->buf, c->buf + used, c->have - used);
    c->have -= used;
    return 0;
}

/* Reads len body bytes; compares them with want unless it is NULL. */
static int read_body(struct client *c, size_t len, const unsigned char *want)
{
    size_t off = 0;
    while (off < len) {
        if (c->have == 0 && client_fill(c))
            return -1;
        size_t n = c->have < len - off ? c->have : len - off;
        if (want && memcmp(c->buf, want + off, n))
            return -2;
        memmove(c->buf, c->buf + n, c->have - n);
        c->have -= n;
        off += n;
    }
    return 0;
}

static const struct httpd_file *file(const char *path)
{
    const struct httpd_file *f = httpd_lookup(httpd_www, (size_t)httpd_www_count,
                                              path, strlen(path));
    if (!f)
        test_error("the site has no %s", path);
    return f;
}

/* Sends req, expects status and (if want) a body equal to want[0..len). */
static int exchange(struct client *c, const char *req, int status,
                    const unsigned char *want, long long len, const char *crange)
{
    struct reply r;
    if (client_send(c, req, strlen(req)) || read_head(c, &r)) {
        test_fail("no response to '%.40s'", req);
        return -1;
    }
    if (r.status != status) {
        test_fail("'%.40s': status %d, expected %d", req, r.status, status);
        return -1;
    }
    if (len >= 0 && r.clen != len) {
        test_fail("'%.40s': Content-Length %lld, expected %lld", req, r.clen, len);
        return -1;
    }
    if (crange && strcmp(r.crange, crange)) {
        test_fail("'%.40s': Content-Range '%s', expected '%s'", req, r.crange, crange);
        return -1;
    }
    int head = strncmp(req, "HEAD ", 5) == 0;
    if (!head && r.clen > 0) {
        int e = read_body(c, (size_t)r.clen, want);
        if (e) {
            test_fail("'%.40s': body %s", req, e == -2 ? "differs" : "cut short");
            return -1;
        }
    }
    return 0;
}

/* The server must close the connection now (after its last response). */
static void expect_closed(struct client *c, const char *what)
{
    if (c->have || client_fill(c) == 0)
        test_fail("%s: data after the last response", what);
}

static void check_files(void)
{
    const struct httpd_file *k1 = file("/1k.bin"), *m4 = file("/4m.bin"),
                            *e = file("/empty"), *ix = file("/index.html");
    if (!k1 || !m4 || !e || !ix)
        return;
    if (k1->len != 1024 || m4->len != 4u << 20 || e->len != 0)
        test_fail("site files have the wrong sizes");
    struct client c;
    if (client_open(&c))
        return;
    /* One keep-alive connection for all of these. */
    exchange(&c, "GET /1k.bin HTTP/1.1\r\nHost: t\r\n\r\n", 200, k1->data, 1024, NULL);
    exchange(&c, "GET /4m.bin HTTP/1.1\r\nHost: t\r\n\r\n", 200, m4->data, 4 << 20, NULL);
    exchange(&c, "GET /empty HTTP/1.1\r\nHost: t\r\n\r\n", 200, NULL, 0, NULL);
    exchange(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 200, ix->data, (long long)ix->len, NULL);
    exchange(&c, "HEAD /4m.bin HTTP/1.1\r\nHost: t\r\n\r\n", 200, NULL, 4 << 20, NULL);
    exchange(&c, "GET /1k%2ebin?x=1 HTTP/1.1\r\nHost: t\r\n\r\n", 200, k1->data, 1024, NULL);
    /* Ranges. */
    exchange(&c, "GET /1k.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=100-199\r\n\r\n", 206,
             k1->data + 100, 100, "bytes 100-199/1024");
    exchange(&c, "GET /1k.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=-10\r\n\r\n", 206,
             k1->data + 1014, 10, "bytes 1014-1023/1024");
    exchange(&c, "GET /1k.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-5000\r\n\r\n", 206,
             k1->data + 1000, 24, "bytes 1000-1023/1024");
    exchange(&c, "GET /4m.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=4000000-\r\n\r\n", 206,
             m4->data + 4000000, (4 << 20) - 4000000, "bytes 4000000-4194303/4194304");
    exchange(&c, "GET /1k.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1024-\r\n\r\n", 416,
             NULL, -1, "bytes */1024");
    exchange(&c, "GET /empty HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0\r\n\r\n", 416,
             NULL, -1, "bytes */0");
    exchange(&c, "GET /1k.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,5-6\r\n\r\n", 200,
             k1->data, 1024, "");
    exchange(&c, "GET /1k.bin HTTP/1.1\r\nHost: t\r\nRange: pages=1-2\r\n\r\n", 200,
             k1->data, 1024, "");
    /* Errors that keep the connection. */
    exchange(&c, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL, -1, NULL);
    exchange(&c, "GET /1k.bin%00 HTTP/1.1\r\nHost: t\r\n\r\n", 400, NULL, -1, NULL);
    /* Pipelining: three requests in one send, three answers in order. */
    const char *three = "GET /1k.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                        "HEAD /empty HTTP/1.1\r\nHost: t\r\n\r\n"
                        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    struct reply r;
    if (client_send(&c, three, strlen(three)) || read_head(&c, &r) || r.status != 200 ||
        read_body(&c, 1024, k1->data) || read_head(&c, &r) || r.status != 200 ||
        r.clen != 0 || read_head(&c, &r) || r.status != 200 || !r.close ||
        read_body(&c, (size_t)r.clen, file("/hello.txt")->data))
        test_fail("pipelined requests answered wrongly");
    else
        expect_closed(&c, "Connection: close");
    client_close(&c);
    /* The Date header, from the PV wall clock. */
    uint64_t sec;
    uint32_t nsec;
    if (minios_wallclock(&sec, &nsec) == 0 && client_open(&c) == 0) {
        const char *req = "GET /empty HTTP/1.1\r\nHost: t\r\n\r\n";
        char want[30], later[30];
        uint64_t sec2 = 0;
        if (client_send(&c, req, strlen(req)) || read_head(&c, &r))
            test_fail("no response for the Date check");
        else if (minios_wallclock(&sec2, &nsec) || httpd_date(want, (int64_t)sec) ||
                 httpd_date(later, (int64_t)sec2) ||
                 (strncmp(r.date, want, 16) && strncmp(r.date, later, 16)))
            test_fail("Date '%s', expected the day of '%s'", r.date, want);
        else
            printf("httpd selftest: Date: %s\n", r.date);
        client_close(&c);
    }
    printf("httpd selftest: files, ranges, pipelining and keep-alive done\n");
}

/* A request that must be refused with status, then the connection closed. */
static void refused(const char *what, const char *req, size_t len, int status)
{
    struct client c;
    if (client_open(&c))
        return;
    struct reply r;
    if (client_send(&c, req, len) || read_head(&c, &r))
        test_fail("%s: no response", what);
    else if (r.status != status)
        test_fail("%s: status %d, expected %d", what, r.status, status);
    else if (!r.close)
        test_fail("%s: no Connection: close", what);
    else {
        read_body(&c, (size_t)(r.clen > 0 ? r.clen : 0), NULL);
        expect_closed(&c, what);
    }
    client_close(&c);
}

static void check_errors(void)
{
    static char big[HTTPD_MAX_HEAD + 512];
    const char *s;
    s = "POST /1k.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
    refused("POST", s, strlen(s), 405);
    s = "DELETE / HTTP/1.1\r\nHost: t\r\n\r\n";
    refused("DELETE", s, strlen(s), 405);
    s = "FROB / HTTP/1.1\r\nHost: t\r\n\r\n";
    refused("unknown method", s, strlen(s), 501);
    s = "GET / HTTP/1.1\r\n\r\n";
    refused("no Host", s, strlen(s), 400);
    s = "GET / HTPT/1.1\r\nHost: t\r\n\r\n";
    refused("garbage", s, strlen(s), 400);
    s = "GET / HTTP/2.0\r\nHost: t\r\n\r\n";
    refused("HTTP/2.0", s, strlen(s), 505);
    s = "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n";
    refused("big body", s, strlen(s), 413);
    int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(big + n, 'a', sizeof(big) - (size_t)n - 4);
    memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
    refused("huge header", big, sizeof(big), 431);
    n = snprintf(big, sizeof(big), "GET /");
    memset(big + n, 'a', HTTPD_MAX_URL + 10);
    n += HTTPD_MAX_URL + 10;
    n += snprintf(big + n, sizeof(big) - (size_t)n, " HTTP/1.1\r\nHost: t\r\n\r\n");
    refused("long URL", big, (size_t)n, 414);
    n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < HTTPD_MAX_HEADERS + 1; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, "X-%d: 1\r\n", i);
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n");
    refused("too many headers", big, (size_t)n, 431);
    /* HTTP/1.0 without keep-alive: one answer, then the close. */
    s = "GET /hello.txt HTTP/1.0\r\n\r\n";
    refused("HTTP/1.0", s, strlen(s), 200);
    printf("httpd selftest: refusals done\n");
}

/* Concurrent clients, each on its own keep-alive connection. */
#define CLIENTS 8
#define ROUNDS 10
static int clients_left;
static struct minios_waitq clients_done = MINIOS_WAITQ_INIT;

static void client_thread(void *arg)
{
    (void)arg;
    const struct httpd_file *k1 = file("/1k.bin");
    struct client *c = malloc(sizeof(*c));
    if (c && k1 && client_open(c) == 0) {
        for (int i = 0; i < ROUNDS; i++)
            if (exchange(c, "GET /1k.bin HTTP/1.1\r\nHost: t\r\n\r\n", 200, k1->data, 1024, NULL))
                break;
        client_close(c);
    }
    free(c);
    clients_left--;
    minios_waitq_wake_all(&clients_done);
}

#define PLAUSIBLE "GET /1k.bin HTTP/1.1\r\nHost: t\r\n"
/* Hostile clients alongside the good ones: seeded random bytes (half of
 * them after a plausible start), sent in random pieces, then the write
 * side shut. The server must answer and close, or just close; the good
 * clients must all be served exactly as without them. */
#define HOSTILE 3
#define HOSTILE_CONNS 6
static unsigned hostile_closed;

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void hostile_thread(void *arg)
{
    uint64_t x = 0x2545f4914f6cdd1dull * ((uint64_t)(uintptr_t)arg + 1);
    char *buf = malloc(4096);
    for (int k = 0; buf && k < HOSTILE_CONNS; k++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
            test_fail("hostile client: connect failed");
            if (fd >= 0)
                close(fd);
            break;
        }
        struct timeval tv = { .tv_sec = 120 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        size_t len = 1 + xorshift(&x) % 4096;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)xorshift(&x);
        if (k % 2)
            memcpy(buf, PLAUSIBLE, len < sizeof(PLAUSIBLE) - 1 ? len : sizeof(PLAUSIBLE) - 1);
        for (size_t off = 0; off < len;) {
            size_t piece = 1 + xorshift(&x) % 512;
            if (piece > len - off)
                piece = len - off;
            if (send(fd, buf + off, piece, 0) <= 0)
                break;        /* the server already closed: fine */
            off += piece;
        }
        shutdown(fd, SHUT_WR);
        char sink[256];
        ssize_t n;
        while ((n = recv(fd, sink, sizeof(sink), 0)) > 0)
            ;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            test_fail("a hostile connection was still open after 120 s");
        else
            hostile_closed++;
        close(fd);
    }
    free(buf);
    clients_left--;
    minios_waitq_wake_all(&clients_done);
}

static void check_concurrency(void)
{
    clients_left = CLIENTS + HOSTILE;
    for (int i = 0; i < CLIENTS; i++)
        if (!minios_thread_create("client", client_thread, NULL, 0)) {
            test_error("no memory for client threads");
            clients_left--;
        }
    for (int i = 0; i < HOSTILE; i++)
        if (!minios_thread_create("hostile", hostile_thread, (void *)(uintptr_t)i, 0)) {
            test_error("no memory for client threads");
            clients_left--;
        }
    MINIOS_WAIT_EVENT(&clients_done, clients_left == 0);
    if (hostile_closed != HOSTILE * HOSTILE_CONNS)
        test_fail("%u of %d hostile connections ended", hostile_closed, HOSTILE * HOSTILE_CONNS);
    printf("httpd selftest: %d clients x %d requests done beside %u hostile connections\n",
           CLIENTS, ROUNDS, hostile_closed);
}

/* The bound: with maxconn connections held open, one more gets no answer
 * until one of them closes. */
static __attribute__((noinline)) void check_bound(void)
{
    unsigned m = httpd_maxconn();
    if (m > 8) {
        printf("httpd selftest: bound not checked (maxconn=%u; tests/httpd uses 4)\n", m);
        return;
    }
    struct client *held = calloc(m, sizeof(*held)), extra;
    if (!held) {
        test_error("no memory");
        return;
    }
    const char *req = "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    const struct httpd_file *h = file("/hello.txt");
    for (unsigned i = 0; i < m; i++) {
        if (client_open(&held[i])) {
            free(held);
            return;
        }
        exchange(&held[i], req, 200, h->data, (long long)h->len, NULL);
    }
    if (client_open(&extra)) {
        free(held);
        return;
    }
    client_send(&extra, req, strlen(req));
    struct timeval tv = { .tv_sec = 1 };
    setsockopt(extra.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (client_fill(&extra) == 0)
        test_fail("connection %u was served while %u were open (maxconn)", m + 1, m);
    tv.tv_sec = 120;
    setsockopt(extra.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    client_close(&held[0]);
    struct reply r;
    if (read_head(&extra, &r) || r.status != 200)
        test_fail("the waiting connection was not served after one closed");
    client_close(&extra);
    for (unsigned i = 1; i < m; i++)
        client_close(&held[i]);
    free(held);
    if (httpd_active_peak() > m)
        test_fail("%u connections served at once, maxconn is %u", httpd_active_peak(), m);
    printf("httpd selftest: connection bound %u held (peak %u)\n", m, httpd_active_peak());
}

void httpd_selftest(uint16_t p)
{
    port = p;
    check_files();
    check_errors();
    check_concurrency();
    check_bound();
}
