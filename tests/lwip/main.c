/* Guest test: lwIP on minios threads — TCP echo (1 MiB, concurrent connections, 60 at once, IPv6), UDP, select/poll, timeouts, refused connects, leaks. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <minios/events.h>
#include <minios/net.h>
#include <minios/thread.h>
#include <minios/time.h>

#include "lwip/memp.h"
#include "lwip/stats.h"
#include "lwip/priv/tcp_priv.h"

#include "report.h"

#define ECHO_PORT   7000
#define ECHO6_PORT  7003
#define UDP_PORT_A  7001
#define UDP_PORT_B  7002
#define CLOSED_PORT 7999
#define STACK       (32u << 10)
#define MS          1000000ull

/* ---- helpers ---- */

/* Counts finished threads; main waits for them. */
struct done {
    int n;
    struct minios_waitq q;
};

static void done_one(struct done *d)
{
    unsigned long f = minios_events_save();
    d->n++;
    minios_waitq_wake_all(&d->q);
    minios_events_restore(f);
}

static void done_wait(struct done *d, int want)
{
    MINIOS_WAIT_EVENT(&d->q, d->n >= want);
}

static uint8_t pattern(uint32_t seed, uint32_t off)
{
    uint32_t x = off * 2654435761u ^ seed;
    return (uint8_t)(x ^ (x >> 13) ^ (x >> 24));
}

static struct sockaddr_in addr4(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_len = sizeof(a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void set_nodelay(int s)
{
    int one = 1;
    if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        test_fail("setsockopt(TCP_NODELAY): errno %d", errno);
}

static void set_rcvtimeo(int s, long ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
        test_fail("setsockopt(SO_RCVTIMEO): errno %d", errno);
}

static int send_all(int s, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = send(s, p, len, 0);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- the TCP echo server: an acceptor thread, a thread per connection ---- */

struct server {
    int listener;
    volatile int stop;
    int accepted;
    struct done handlers, acceptor;
};

struct conn {
    struct server *srv;
    int fd;
};

static void echo_handler(void *arg)
{
    struct conn *c = arg;
    uint8_t buf[4096];
    ssize_t n;

    set_nodelay(c->fd);
    while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
        if (send_all(c->fd, buf, (size_t)n) != 0) {
            test_fail("echo: send: errno %d", errno);
            break;
        }
    }
    if (n < 0)
        test_fail("echo: recv: errno %d", errno);
    if (close(c->fd) != 0)
        test_fail("echo: close: errno %d", errno);
    done_one(&c->srv->handlers);
    free(c);
}

static void acceptor(void *arg)
{
    struct server *srv = arg;

    /* accept() gives up every 50 ms (SO_RCVTIMEO) to look at stop. */
    set_rcvtimeo(srv->listener, 50);
    while (!srv->stop) {
        int fd = accept(srv->listener, NULL, NULL);
        if (fd < 0) {
            if (errno != EWOULDBLOCK && errno != EAGAIN)
                test_fail("accept: errno %d", errno);
            continue;
        }
        struct conn *c = malloc(sizeof(*c));
        if (!c) {
            test_error("out of memory");
            close(fd);
            continue;
        }
        c->srv = srv;
        c->fd = fd;
        srv->accepted++;
        if (!minios_thread_create("echo", echo_handler, c, STACK)) {
            test_error("thread_create failed");
            close(fd);
            free(c);
            srv->accepted--;
        }
    }
    close(srv->listener);
    done_one(&srv->acceptor);
}

static int server_start(struct server *srv, int family, uint16_t port)
{
    int one = 1;

    memset(srv, 0, sizeof(*srv));
    minios_waitq_init(&srv->handlers.q);
    minios_waitq_init(&srv->acceptor.q);
    srv->listener = socket(family, SOCK_STREAM, 0);
    if (srv->listener < 0) {
        test_fail("socket(stream): errno %d", errno);
        return -1;
    }
    setsockopt(srv->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET) {
        struct sockaddr_in a = addr4(port);
        if (bind(srv->listener, (struct sockaddr *)&a, sizeof(a)) != 0)
            goto fail;
    } else {
        struct sockaddr_in6 a;
        memset(&a, 0, sizeof(a));
        a.sin6_len = sizeof(a);
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        a.sin6_addr = (struct in6_addr)IN6ADDR_LOOPBACK_INIT;
        if (bind(srv->listener, (struct sockaddr *)&a, sizeof(a)) != 0)
            goto fail;
    }
    if (listen(srv->listener, 8) != 0)
        goto fail;
    if (!minios_thread_create("acceptor", acceptor, srv, STACK)) {
        test_error("thread_create failed");
        return -1;
    }
    return 0;
fail:
    test_fail("bind/listen on port %u: errno %d", port, errno);
    close(srv->listener);
    return -1;
}

/* Stops the acceptor and waits for it and for every handler. */
static void server_stop(struct server *srv)
{
    srv->stop = 1;
    done_wait(&srv->acceptor, 1);
    done_wait(&srv->handlers, srv->accepted);
}

/* ---- TCP clients ---- */

/* Sends total bytes of pattern seed in chunks of varied sizes, reading each
 * chunk's echo back before the next, then half-closes and expects EOF. */
static int echo_exchange(int s, uint32_t seed, uint32_t total)
{
    static const uint32_t sizes[] = { 1, 7, 100, 536, 1000, 1460, 1461, 2920,
                                      4096, 5000, 8192, 3, 65, 777 };
    uint8_t out[8192], in[8192];
    uint32_t off = 0, k = 0;

    while (off < total) {
        uint32_t len = sizes[k++ % (sizeof(sizes) / sizeof(sizes[0]))];
        if (len > total - off)
            len = total - off;
        for (uint32_t i = 0; i < len; i++)
            out[i] = pattern(seed, off + i);
        if (send_all(s, out, len) != 0) {
            test_fail("client send at %u: errno %d", off, errno);
            return -1;
        }
        for (uint32_t got = 0; got < len;) {
            ssize_t n = recv(s, in + got, len - got, 0);
            if (n <= 0) {
                test_fail("client recv at %u: %ld, errno %d", off + got, (long)n, errno);
                return -1;
            }
            got += (uint32_t)n;
        }
        if (memcmp(in, out, len) != 0) {
            test_fail("echo mismatch in [%u, %u)", off, off + len);
            return -1;
        }
        off += len;
    }
    if (shutdown(s, SHUT_WR) != 0) {
        test_fail("shutdown(SHUT_WR): errno %d", errno);
        return -1;
    }
    ssize_t n = recv(s, in, sizeof(in), 0);
    if (n != 0) {
        test_fail("after shutdown: recv = %ld (errno %d), expected EOF", (long)n, errno);
        return -1;
    }
    return 0;
}

static int tcp_connect4(uint16_t port)
{
    struct sockaddr_in a = addr4(port);
    int s = socket(AF_INET, SOCK_STREAM, 0);

    if (s < 0) {
        test_fail("socket: errno %d", errno);
        return -1;
    }
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        test_fail("connect to port %u: errno %d", port, errno);
        close(s);
        return -1;
    }
    set_nodelay(s);
    return s;
}

struct client {
    uint32_t seed, total;
    struct done *done;
};

static void client_thread(void *arg)
{
    struct client *c = arg;
    int s = tcp_connect4(ECHO_PORT);

    if (s >= 0) {
        echo_exchange(s, c->seed, c->total);
        close(s);
    }
    done_one(c->done);
}

static void test_tcp_echo(void)
{
    int s = tcp_connect4(ECHO_PORT);
    uint64_t t0 = minios_monotonic_ns();

    if (s < 0)
        return;
    if (echo_exchange(s, 1, 1u << 20) == 0)
        printf("lwip: 1 MiB echoed in %llu ms\n",
               (unsigned long long)((minios_monotonic_ns() - t0) / MS));
    if (close(s) != 0)
        test_fail("close: errno %d", errno);
    /* The descriptor is gone. */
    char b;
    if (close(s) != -1 || errno != EBADF)
        test_fail("second close: errno %d, expected EBADF", errno);
    if (recv(s, &b, 1, 0) != -1 || errno != EBADF)
        test_fail("recv on a closed socket: errno %d, expected EBADF", errno);
}

static void test_tcp_concurrent(void)
{
    enum { N = 4 };
    static struct client cl[N];
    struct done d = { 0, MINIOS_WAITQ_INIT };

    for (int i = 0; i < N; i++) {
        cl[i] = (struct client){ .seed = 100 + (uint32_t)i, .total = 128u << 10, .done = &d };
        if (!minios_thread_create("client", client_thread, &cl[i], STACK)) {
            test_error("thread_create failed");
            done_one(&d);
        }
    }
    done_wait(&d, N);
}

/* read()/write() reach lwIP for sockets (and newlib for the console). */
static void test_read_write(void)
{
    int s = tcp_connect4(ECHO_PORT);
    char in[6] = { 0 };
    size_t got = 0;

    if (s < 0)
        return;
    if (write(s, "hello", 5) != 5)
        test_fail("write(socket): errno %d", errno);
    while (got < 5) {
        ssize_t n = read(s, in + got, 5 - got);
        if (n <= 0) {
            test_fail("read(socket): %ld, errno %d", (long)n, errno);
            break;
        }
        got += (size_t)n;
    }
    if (strcmp(in, "hello") != 0)
        test_fail("read(socket) gave \"%s\"", in);
    close(s);
    fflush(stdout);
    if (write(1, "lwip: console write ok\n", 23) != 23)
        test_fail("write(1) failed: errno %d", errno);
}

static void test_ipv6(void)
{
    struct server srv;
    struct sockaddr_in6 a;
    int s;

    if (server_start(&srv, AF_INET6, ECHO6_PORT) != 0)
        return;
    s = socket(AF_INET6, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin6_len = sizeof(a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(ECHO6_PORT);
    if (inet_pton(AF_INET6, "::1", &a.sin6_addr) != 1)
        test_fail("inet_pton(::1)");
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        test_fail("connect to [::1]:%u: errno %d", ECHO6_PORT, errno);
    } else {
        set_nodelay(s);
        echo_exchange(s, 6, 64u << 10);
    }
    if (s >= 0)
        close(s);
    server_stop(&srv);
}

/* ---- connect to a closed port ---- */

static void test_refused(void)
{
    struct sockaddr_in a = addr4(CLOSED_PORT);
    int s = socket(AF_INET, SOCK_STREAM, 0);

    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != -1 || errno != ECONNREFUSED)
        test_fail("connect to a closed port: errno %d, expected ECONNREFUSED (%d)",
                  errno, ECONNREFUSED);
    close(s);

    /* Non-blocking: EINPROGRESS, then writable with SO_ERROR ECONNREFUSED. */
    s = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    if (ioctlsocket(s, FIONBIO, &on) != 0)
        test_fail("FIONBIO: errno %d", errno);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != -1 || errno != EINPROGRESS) {
        test_fail("non-blocking connect: errno %d, expected EINPROGRESS", errno);
    } else {
        struct pollfd p = { .fd = s, .events = POLLOUT };
        int r = poll(&p, 1, 2000);
        int err = 0;
        socklen_t len = sizeof(err);
        if (r != 1)
            test_fail("poll after refused connect: %d (errno %d)", r, errno);
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != ECONNREFUSED)
            test_fail("SO_ERROR after refused connect: %d, expected ECONNREFUSED", err);
    }
    close(s);
}

/* ---- many sockets at once ---- */

/* MANY connections over loopback at once: 2 * MANY sockets, more than the
 * 61 newlib's default FD_SETSIZE allowed.  Each echoes a byte; select()
 * sees the highest descriptor readable; all close cleanly. */
static void test_many(void)
{
    enum { MANY = 60 };
    static int fd[MANY];
    int n = 0, hi = -1;

    if (FD_SETSIZE < LWIP_SOCKET_OFFSET + MEMP_NUM_NETCONN)
        test_fail("FD_SETSIZE %d below the %d sockets", FD_SETSIZE, MEMP_NUM_NETCONN);
    for (; n < MANY; n++) {
        if ((fd[n] = tcp_connect4(ECHO_PORT)) < 0)
            break;
        if (fd[n] > hi)
            hi = fd[n];
    }
    for (int i = 0; i < n; i++) {
        char c = (char)('a' + i % 26), in = 0;
        if (send_all(fd[i], (const uint8_t *)&c, 1) != 0 || recv(fd[i], &in, 1, 0) != 1 || in != c)
            test_fail("many: connection %d (fd %d): echo failed (errno %d)", i, fd[i], errno);
    }
    /* select() on the highest descriptor, beyond newlib's default 64. */
    for (int i = 0; i < n; i++) {
        if (fd[i] != hi)
            continue;
        fd_set rd;
        struct timeval tv = { 2, 0 };
        FD_ZERO(&rd);
        FD_SET(hi, &rd);
        if (send_all(hi, (const uint8_t *)"z", 1) != 0)
            test_fail("many: send on fd %d: errno %d", hi, errno);
        int r = select(hi + 1, &rd, NULL, NULL, &tv);
        char in;
        if (r != 1 || !FD_ISSET(hi, &rd))
            test_fail("many: select on fd %d: %d (errno %d), expected it readable", hi, r, errno);
        else if (recv(hi, &in, 1, 0) != 1 || in != 'z')
            test_fail("many: recv on fd %d after select", hi);
    }
    for (int i = 0; i < n; i++)
        if (close(fd[i]) != 0)
            test_fail("many: close fd %d: errno %d", fd[i], errno);
    if (n == MANY && hi < 2 * MANY)
        test_fail("many: highest descriptor %d with %d connections open", hi, MANY);
    printf("lwip: %d connections open at once, highest descriptor %d\n", n, hi);
}

/* ---- UDP, select, poll, receive timeouts ---- */

static int udp_socket(uint16_t port)
{
    struct sockaddr_in a = addr4(port);
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        test_fail("udp socket on port %u: errno %d", port, errno);
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

/* from sends count datagrams to port `to`; dst receives and checks them. */
static void udp_transfer(int from, int dst, uint16_t from_port, uint16_t to, uint32_t seed)
{
    static const uint16_t sizes[] = { 1, 64, 512, 1000, 1400, 0, 33 };
    struct sockaddr_in a = addr4(to);
    uint8_t out[1400], in[1500];

    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (unsigned j = 0; j < sizes[i]; j++)
            out[j] = pattern(seed + i, j);
        if (sendto(from, out, sizes[i], 0, (struct sockaddr *)&a, sizeof(a)) != sizes[i]) {
            test_fail("sendto: errno %d", errno);
            return;
        }
        struct sockaddr_in src;
        socklen_t slen = sizeof(src);
        ssize_t n = recvfrom(dst, in, sizeof(in), 0, (struct sockaddr *)&src, &slen);
        if (n != sizes[i] || memcmp(in, out, sizes[i]) != 0)
            test_fail("udp datagram %u: got %ld bytes (errno %d), expected %u", i,
                      (long)n, errno, sizes[i]);
        if (slen != sizeof(src) || src.sin_family != AF_INET ||
            ntohs(src.sin_port) != from_port || ntohl(src.sin_addr.s_addr) != INADDR_LOOPBACK)
            test_fail("udp datagram %u: from %08x:%u", i,
                      (unsigned)ntohl(src.sin_addr.s_addr), ntohs(src.sin_port));
    }
}

static void test_udp(void)
{
    int a = udp_socket(UDP_PORT_A), b = udp_socket(UDP_PORT_B);
    uint8_t buf[16];

    if (a < 0 || b < 0)
        goto out;
    udp_transfer(a, b, UDP_PORT_A, UDP_PORT_B, 10);
    udp_transfer(b, a, UDP_PORT_B, UDP_PORT_A, 20);

    /* Receive timeout: nothing comes for 100 ms. */
    set_rcvtimeo(b, 100);
    uint64_t t0 = minios_monotonic_ns();
    ssize_t n = recv(b, buf, sizeof(buf), 0);
    uint64_t dt = minios_monotonic_ns() - t0;
    if (n != -1 || (errno != EWOULDBLOCK && errno != EAGAIN))
        test_fail("recv with SO_RCVTIMEO: %ld, errno %d", (long)n, errno);
    if (dt < 90 * MS || dt > 2000 * MS)
        test_fail("SO_RCVTIMEO of 100 ms took %llu ms", (unsigned long long)(dt / MS));

    /* select(): times out when nothing is there, reports a datagram. */
    fd_set rd;
    struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
    FD_ZERO(&rd);
    FD_SET(a, &rd);
    FD_SET(b, &rd);
    t0 = minios_monotonic_ns();
    int r = select((a > b ? a : b) + 1, &rd, NULL, NULL, &tv);
    dt = minios_monotonic_ns() - t0;
    if (r != 0)
        test_fail("select on idle sockets: %d (errno %d), expected 0", r, errno);
    if (dt < 190 * MS || dt > 2000 * MS)
        test_fail("select timeout of 200 ms took %llu ms", (unsigned long long)(dt / MS));

    /* Connected UDP: send() and recv(). */
    struct sockaddr_in to = addr4(UDP_PORT_B);
    if (connect(a, (struct sockaddr *)&to, sizeof(to)) != 0)
        test_fail("udp connect: errno %d", errno);
    if (send(a, "ping", 4, 0) != 4)
        test_fail("udp send: errno %d", errno);
    FD_ZERO(&rd);
    FD_SET(a, &rd);
    FD_SET(b, &rd);
    tv = (struct timeval){ .tv_sec = 2, .tv_usec = 0 };
    r = select((a > b ? a : b) + 1, &rd, NULL, NULL, &tv);
    if (r != 1 || !FD_ISSET(b, &rd) || FD_ISSET(a, &rd))
        test_fail("select with a datagram for b: %d, b %d, a %d", r,
                  FD_ISSET(b, &rd) != 0, FD_ISSET(a, &rd) != 0);

    struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
    r = poll(p, 2, 1000);
    if (r != 1 || !(p[1].revents & POLLIN) || (p[0].revents & POLLIN))
        test_fail("poll with a datagram for b: %d, revents %x %x", r, p[0].revents, p[1].revents);
    n = recv(b, buf, sizeof(buf), 0);
    if (n != 4 || memcmp(buf, "ping", 4) != 0)
        test_fail("udp recv: %ld, errno %d", (long)n, errno);
    p[1].revents = 0;
    r = poll(p, 2, 50);
    if (r != 0)
        test_fail("poll on idle sockets: %d, expected 0", r);
out:
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
}

/* ---- leaks across connect/close ---- */

struct usage {
    int mem;
    int memp[MEMP_MAX];
    int malloc_used;
};

static int time_wait_pcbs(void)
{
    int n = 0;
    for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
        n++;
    return n;
}

static void usage_now(struct usage *u)
{
    u->mem = (int)lwip_stats.mem.used;
    for (int i = 0; i < MEMP_MAX; i++)
        u->memp[i] = (int)lwip_stats.memp[i]->used;
    /* PCBs in TIME_WAIT are not leaks: lwIP keeps them for 2 MSL and
     * reuses the oldest when the pool runs out. */
    u->memp[MEMP_TCP_PCB] -= time_wait_pcbs();
    u->malloc_used = mallinfo().uordblks;
}

static void test_leaks(struct server *srv)
{
    struct usage before, after;
    int rounds = 0;

    /* Let the earlier connections finish closing first. */
    minios_thread_sleep_ns(100 * MS);
    usage_now(&before);
    int accepted0 = srv->accepted;
    for (int i = 0; i < 40; i++) {
        int s = tcp_connect4(ECHO_PORT);
        if (s < 0)
            break;
        if (echo_exchange(s, 1000 + (uint32_t)i, 3000) != 0) {
            close(s);
            break;
        }
        close(s);
        rounds++;
    }
    done_wait(&srv->handlers, srv->accepted);
    minios_thread_sleep_ns(100 * MS);   /* exited threads' stacks are freed */
    usage_now(&after);
    if (rounds != 40 || srv->accepted - accepted0 != 40)
        test_fail("leak loop: %d rounds, %d accepted", rounds, srv->accepted - accepted0);
    if (after.mem != before.mem)
        test_fail("lwIP heap: %d bytes used before the loop, %d after", before.mem, after.mem);
    for (int i = 0; i < MEMP_MAX; i++)
        if (after.memp[i] != before.memp[i])
            test_fail("lwIP pool %d: %d used before the loop, %d after",
                      i, before.memp[i], after.memp[i]);
    if (after.malloc_used != before.malloc_used)
        test_fail("malloc: %d bytes used before the loop, %d after",
                  before.malloc_used, after.malloc_used);
    printf("lwip: %d connect/close rounds, heap %d bytes, malloc %d bytes\n", rounds,
           after.mem, after.malloc_used);
}

int main(void)
{
    struct server srv;
    int r = minios_net_init();

    if (r != 0) {
        test_error("minios_net_init: %d", r);
        return test_finish();
    }
    if (minios_net_init() != 0)
        test_fail("second minios_net_init failed");
    if (server_start(&srv, AF_INET, ECHO_PORT) != 0)
        return test_finish();

    test_tcp_echo();
    test_tcp_concurrent();
    test_many();
    test_read_write();
    test_refused();
    test_udp();
    test_ipv6();
    test_leaks(&srv);
    server_stop(&srv);

    if (lwip_stats.mem.err || lwip_stats.tcp.memerr)
        printf("lwip: memory errors: heap %u, tcp %u\n", (unsigned)lwip_stats.mem.err,
               (unsigned)lwip_stats.tcp.memerr);
    return test_finish();
}
