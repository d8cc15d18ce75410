/* Guest test appliance for the net-* tests: lwIP over netfront (xn0); echo servers, then a list of checks against a peer over the netback switch (docs/network.md). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <minios/events.h>
#include <minios/net.h>
#include <minios/netfront.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>

#include "lwip/icmp.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/prot/icmp.h"

#include "report.h"

/*
 * Arguments (besides netfront's ip= and gw=):
 *   listen=P:P:..   TCP echo servers; a connection whose data starts with
 *                   "quit" counts one quit
 *   ulisten=P:..    UDP echo servers
 *   peer=A.B.C.D    the other appliance
 *   do=CHECK        in order; CHECK is
 *                     ping:ok | ping:blocked     ICMP echo to peer
 *                     tcp:P:ok | tcp:P:blocked   connect, 64 KiB echoed
 *                     udp:P:ok | udp:P:blocked   one datagram echoed
 *                     crash                      the netback selftest
 *                                                trigger, then wait for
 *                                                the vif to reconnect
 *                     setnode:REL=VAL            write our store node REL
 *                     waitnode:REL=VAL           wait (60 s) until it says VAL
 *                     share:REL                  create our store node REL
 *                                                readable and writable by
 *                                                every domain (others report
 *                                                to us below it)
 *                     bulk:P:BYTES               BYTES echoed through TCP port P,
 *                                                content checked; prints the rate
 *                     nowrite:PATH=VAL           writing PATH must be refused (EACCES)
 *   dhcpd=A.B.C.D   a DHCP server (UDP 67) that offers A.B.C.D/24 to the
 *                   first client, with us as server and router
 *   quit=P          after the checks, "quit" to peer's TCP port P
 *   wait=N          before exiting, N quits received
 */
#define MS 1000000ull
#define SEC 1000000000ull

static struct in_addr peer;
static volatile int quits;
static struct minios_waitq quit_wq = MINIOS_WAITQ_INIT;

static struct sockaddr_in sa(struct in_addr a, unsigned port)
{
    struct sockaddr_in s;
    memset(&s, 0, sizeof(s));
    s.sin_len = sizeof(s);
    s.sin_family = AF_INET;
    s.sin_port = htons((uint16_t)port);
    s.sin_addr = a;
    return s;
}

static void echo_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    char buf[2048];
    bool first = true;
    for (;;) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        if (first && n >= 4 && !memcmp(buf, "quit", 4)) {
            unsigned long f = minios_events_save();
            quits++;
            minios_waitq_wake_all(&quit_wq);
            minios_events_restore(f);
            send(c, "ok", 2, 0);
            break;
        }
        first = false;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(c, buf + off, (size_t)(n - off), 0);
            if (w <= 0)
                goto out;
            off += w;
        }
    }
out:
    close(c);
    minios_thread_exit();
}

static void tcp_server(void *arg)
{
    unsigned port = (unsigned)(uintptr_t)arg;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct in_addr any = { .s_addr = INADDR_ANY };
    struct sockaddr_in a = sa(any, port);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 8)) {
        test_error("tcp server on port %u: errno %d", port, errno);
        minios_thread_exit();
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        minios_thread_create("echo", echo_conn, (void *)(intptr_t)c, 32 << 10);
    }
}

static void udp_server(void *arg)
{
    unsigned port = (unsigned)(uintptr_t)arg;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct in_addr any = { .s_addr = INADDR_ANY };
    struct sockaddr_in a = sa(any, port);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a))) {
        test_error("udp server on port %u: errno %d", port, errno);
        minios_thread_exit();
    }
    for (;;) {
        char buf[1500];
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n > 0)
            sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
}

/* A minimal DHCP server (RFC 2131) for the net-dhcp test: DISCOVER ->
 * OFFER, REQUEST -> ACK, for one address. */
static struct in_addr dhcp_offer;

static void dhcpd(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct in_addr any = { .s_addr = INADDR_ANY };
    struct sockaddr_in a = sa(any, 67);
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a))) {
        test_error("dhcpd: cannot bind UDP 67: errno %d", errno);
        minios_thread_exit();
    }
    for (;;) {
        static uint8_t m[576];
        ssize_t n = recv(s, m, sizeof(m), 0);
        /* BOOTREQUEST, Ethernet, magic cookie, then options. */
        if (n < 240 || m[0] != 1 || m[1] != 1 || m[2] != 6 ||
            memcmp(m + 236, "\x63\x82\x53\x63", 4))
            continue;
        int type = 0;
        for (ssize_t i = 240; i + 1 < n && m[i] != 255;) {
            if (m[i] == 0) {
                i++;
                continue;
            }
            if (m[i] == 53 && m[i + 1] == 1 && i + 2 < n)
                type = m[i + 2];
            i += 2 + m[i + 1];
        }
        if (type != 1 && type != 3)
            continue;
        uint32_t me = minios_netfront_ipv4();
        m[0] = 2;                                  /* BOOTREPLY */
        memcpy(m + 16, &dhcp_offer.s_addr, 4);     /* yiaddr */
        memcpy(m + 20, &me, 4);                    /* siaddr */
        memset(m + 240, 0, sizeof(m) - 240);
        uint8_t *o = m + 240;
        uint32_t mask = htonl(0xffffff00u), lease = htonl(3600);
        *o++ = 53, *o++ = 1, *o++ = type == 1 ? 2 : 5; /* OFFER / ACK */
        *o++ = 54, *o++ = 4, memcpy(o, &me, 4), o += 4;
        *o++ = 51, *o++ = 4, memcpy(o, &lease, 4), o += 4;
        *o++ = 1, *o++ = 4, memcpy(o, &mask, 4), o += 4;
        *o++ = 3, *o++ = 4, memcpy(o, &me, 4), o += 4;
        *o++ = 255;
        struct in_addr bc = { .s_addr = INADDR_BROADCAST };
        struct sockaddr_in to = sa(bc, 68);
        sendto(s, m, 300, 0, (struct sockaddr *)&to, sizeof(to));
        printf("dhcpd: %s for %s\n", type == 1 ? "OFFER" : "ACK", inet_ntoa(dhcp_offer));
    }
}

static void set_timeout(int s, unsigned ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* One ICMP echo round trip within ms. */
static bool ping_once(unsigned ms, uint16_t seq)
{
    int s = socket(AF_INET, SOCK_RAW, IP_PROTO_ICMP);
    if (s < 0)
        return false;
    set_timeout(s, ms);
    struct icmp_echo_hdr h;
    char pkt[sizeof(h) + 32];
    memset(pkt, 0x5a, sizeof(pkt));
    memset(&h, 0, sizeof(h));
    h.type = ICMP_ECHO;
    h.id = htons(0x4b4c);
    h.seqno = htons(seq);
    memcpy(pkt, &h, sizeof(h));
    ((struct icmp_echo_hdr *)pkt)->chksum = inet_chksum(pkt, sizeof(pkt));
    struct sockaddr_in to = sa(peer, 0);
    bool ok = false;
    if (sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)sizeof(pkt)) {
        uint64_t end = minios_monotonic_ns() + ms * MS;
        while (!ok && minios_monotonic_ns() < end) {
            char buf[256];
            ssize_t n = recv(s, buf, sizeof(buf), 0);
            if (n <= 0)
                break;
            size_t hl = (size_t)(buf[0] & 15) * 4;
            if ((size_t)n >= hl + sizeof(h)) {
                struct icmp_echo_hdr *r = (struct icmp_echo_hdr *)(buf + hl);
                ok = r->type == ICMP_ER && r->id == htons(0x4b4c) && r->seqno == htons(seq);
            }
        }
    }
    close(s);
    return ok;
}

/* connect within ms; -1 if it did not. */
static int tcp_connect(unsigned port, unsigned ms)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    int on = 1;
    ioctlsocket(s, FIONBIO, &on);
    struct sockaddr_in a = sa(peer, port);
    int rc = connect(s, (struct sockaddr *)&a, sizeof(a));
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd p = { .fd = s, .events = POLLOUT };
        if (poll(&p, 1, (int)ms) == 1) {
            int err = 0;
            socklen_t l = sizeof(err);
            getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l);
            rc = err ? -1 : 0;
        }
    }
    if (rc < 0) {
        close(s);
        return -1;
    }
    on = 0;
    ioctlsocket(s, FIONBIO, &on);
    set_timeout(s, 10000);
    return s;
}

static bool tcp_echo(int s, size_t total)
{
    static uint8_t out[65536], in[65536];
    for (size_t i = 0; i < total; i++)
        out[i] = (uint8_t)(i * 7 + 3);
    size_t sent = 0, got = 0;
    while (got < total) {
        if (sent < total) {
            size_t chunk = total - sent < 4096 ? total - sent : 4096;
            ssize_t w = send(s, out + sent, chunk, 0);
            if (w <= 0)
                return false;
            sent += (size_t)w;
        }
        while (got < sent) {
            ssize_t r = recv(s, in + got, total - got, sent < total ? MSG_DONTWAIT : 0);
            if (r == 0)
                return false;
            if (r < 0) {
                if (errno == EWOULDBLOCK || errno == EAGAIN)
                    break;
                return false;
            }
            got += (size_t)r;
        }
    }
    return !memcmp(in, out, total);
}

static bool udp_echo(unsigned port, unsigned ms)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        return false;
    set_timeout(s, ms);
    struct sockaddr_in to = sa(peer, port);
    const char msg[] = "keel udp over the switch";
    char buf[64];
    bool ok = sendto(s, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)) > 0 &&
              recv(s, buf, sizeof(buf), 0) == (ssize_t)sizeof(msg) && !memcmp(buf, msg, sizeof(msg));
    close(s);
    return ok;
}

/* "ok" checks retry for up to 20 s (ARP, a backend just connecting);
 * "blocked" checks wait 3 s for what must not come. */
static void check(const char *spec)
{
    char kind[8] = "";
    unsigned port = 0;
    char want[10] = "";
    if (!strcmp(spec, "crash")) {
        struct minios_netfront_stats st0;
        minios_netfront_stats(&st0);
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in to = sa(peer, 57005);
        const char msg[] = "netback: crash";
        sendto(s, msg, sizeof(msg) - 1, 0, (struct sockaddr *)&to, sizeof(to));
        close(s);
        printf("sent the netback crash trigger (connected %u times so far)\n", st0.connects);
        uint64_t end = minios_monotonic_ns() + 60 * SEC;
        struct minios_netfront_stats st;
        do {
            minios_sleep_ns(100 * MS);
            minios_netfront_stats(&st);
        } while (!(st.connects > st0.connects && st.connected) && minios_monotonic_ns() < end);
        if (st.connects > st0.connects && st.connected)
            printf("check crash: the vif reconnected (connection %u)\n", st.connects);
        else
            test_fail("check crash: no reconnection within 60 s");
        return;
    }
    unsigned long bytes;
    if (sscanf(spec, "bulk:%u:%lu", &port, &bytes) == 2) {
        int s = tcp_connect(port, 5000);
        if (s < 0) {
            test_fail("check %s: no connection", spec);
            return;
        }
        static uint8_t out[8192], in[8192];
        uint64_t t0 = minios_monotonic_ns();
        unsigned long sent = 0, got = 0;
        bool bad = false;
        while (got < bytes && !bad) {
            if (sent < bytes && sent - got < 256 * 1024) {
                size_t n = bytes - sent < sizeof(out) ? bytes - sent : sizeof(out);
                for (size_t i = 0; i < n; i++)
                    out[i] = (uint8_t)((sent + i) * 131 + ((sent + i) >> 12));
                ssize_t w = send(s, out, n, 0);
                if (w <= 0)
                    break;
                sent += (unsigned long)w;
            }
            ssize_t r = recv(s, in, sizeof(in), sent < bytes && sent - got < 256 * 1024 ? MSG_DONTWAIT : 0);
            if (r == 0)
                break;
            if (r < 0) {
                if (errno == EWOULDBLOCK || errno == EAGAIN)
                    continue;
                break;
            }
            for (ssize_t i = 0; i < r; i++)
                if (in[i] != (uint8_t)((got + (unsigned long)i) * 131 + ((got + (unsigned long)i) >> 12)))
                    bad = true;
            got += (unsigned long)r;
        }
        close(s);
        uint64_t ns = minios_monotonic_ns() - t0;
        if (got == bytes && !bad)
            printf("check %s: passed as expected (%lu bytes each way in %lu ms, %lu KiB/s)\n", spec,
                   bytes, (unsigned long)(ns / MS),
                   (unsigned long)(ns ? bytes * 1000000000ull / 1024 / ns : 0));
        else
            test_fail("check %s: %lu of %lu bytes came back%s", spec, got, bytes,
                      bad ? ", some wrong" : "");
        return;
    }
    if (!strncmp(spec, "nowrite:", 8)) {
        char path[128];
        const char *eq = strchr(spec, '=');
        if (!eq || (size_t)(eq - spec - 8) >= sizeof(path)) {
            test_error("bad do=%s", spec);
            return;
        }
        memcpy(path, spec + 8, (size_t)(eq - spec - 8));
        path[eq - spec - 8] = 0;
        int rc = minios_xs_write(MINIOS_XBT_NIL, path, eq + 1);
        if (rc == -EACCES)
            printf("check nowrite: %s refused (EACCES) as expected\n", path);
        else
            test_fail("check nowrite: writing %s gave %d, expected EACCES", path, rc);
        return;
    }
    if (!strncmp(spec, "share:", 6)) {
        char perm[16];
        const char *perms[] = { perm };
        snprintf(perm, sizeof(perm), "b%u", (unsigned)minios_domid());
        if (minios_xs_write(MINIOS_XBT_NIL, spec + 6, "") ||
            minios_xs_set_perms(MINIOS_XBT_NIL, spec + 6, perms, 1))
            test_error("cannot share %s", spec + 6);
        else
            printf("check %s: done\n", spec);
        return;
    }
    if (!strncmp(spec, "setnode:", 8) || !strncmp(spec, "waitnode:", 9)) {
        bool set = spec[0] == 's';
        char rel[64];
        const char *eq = strchr(spec, '=');
        const char *r = strchr(spec, ':') + 1;
        if (!eq || (size_t)(eq - r) >= sizeof(rel)) {
            test_error("bad do=%s", spec);
            return;
        }
        memcpy(rel, r, (size_t)(eq - r));
        rel[eq - r] = 0;
        if (set) {
            if (minios_xs_write(MINIOS_XBT_NIL, rel, eq + 1))
                test_error("cannot write %s", rel);
            return;
        }
        uint64_t end = minios_monotonic_ns() + 60 * SEC;
        for (;;) {
            char *v = NULL;
            bool ok = minios_xs_read(MINIOS_XBT_NIL, rel, &v, NULL) == 0 && !strcmp(v, eq + 1);
            free(v);
            if (ok) {
                printf("check %s: done\n", spec);
                return;
            }
            if (minios_monotonic_ns() > end) {
                test_fail("check %s: not within 60 s", spec);
                return;
            }
            minios_sleep_ns(50 * MS);
        }
    }
    if (sscanf(spec, "ping:%9s", want) == 1) {
        strcpy(kind, "ping");
    } else if (sscanf(spec, "tcp:%u:%9s", &port, want) == 2) {
        strcpy(kind, "tcp");
    } else if (sscanf(spec, "udp:%u:%9s", &port, want) == 2) {
        strcpy(kind, "udp");
    } else {
        test_error("bad do=%s", spec);
        return;
    }
    bool expect_ok = !strcmp(want, "ok");
    bool ok = false;
    uint64_t end = minios_monotonic_ns() + (expect_ok ? 20 : 3) * SEC;
    static uint16_t seq;
    do {
        if (!strcmp(kind, "ping")) {
            ok = ping_once(expect_ok ? 1000 : 3000, ++seq);
        } else if (!strcmp(kind, "tcp")) {
            int s = tcp_connect(port, expect_ok ? 2000 : 3000);
            if (s >= 0) {
                ok = tcp_echo(s, 65536);
                close(s);
            }
        } else {
            ok = udp_echo(port, expect_ok ? 1000 : 3000);
        }
    } while (expect_ok && !ok && minios_monotonic_ns() < end);
    if (ok == expect_ok)
        printf("check %s: %s as expected\n", spec, ok ? "passed" : "blocked");
    else
        test_fail("check %s: %s", spec, ok ? "got through" : "failed");
}

int main(int argc, char **argv)
{
    int rc = minios_netfront_start(argc, argv);
    if (rc) {
        test_error("minios_netfront_start: %d", rc);
        return test_finish();
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "listen=", 7) || !strncmp(a, "ulisten=", 8)) {
            bool udp = a[0] == 'u';
            for (const char *p = strchr(a, '=') + 1; *p;) {
                unsigned long port = strtoul(p, (char **)&p, 10);
                minios_thread_create(udp ? "udp" : "tcp", udp ? udp_server : tcp_server,
                                     (void *)(uintptr_t)port, 32 << 10);
                if (*p == ':')
                    p++;
                else
                    break;
            }
        } else if (!strncmp(a, "peer=", 5)) {
            inet_aton(a + 5, &peer);
        } else if (!strncmp(a, "dhcpd=", 6)) {
            inet_aton(a + 6, &dhcp_offer);
            minios_thread_create("dhcpd", dhcpd, NULL, 32 << 10);
        }
    }
    if (minios_netfront_wait_up(minios_monotonic_ns() + 60 * SEC)) {
        test_fail("xn0 did not come up within 60 s");
        return test_finish();
    }
    struct in_addr me = { .s_addr = minios_netfront_ipv4() };
    printf("xn0 up: %s\n", inet_ntoa(me));
    int wait = 0;
    unsigned quit_port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "do=", 3))
            check(argv[i] + 3);
        else if (!strncmp(argv[i], "wait=", 5))
            wait = atoi(argv[i] + 5);
        else if (!strncmp(argv[i], "quit=", 5))
            quit_port = (unsigned)atoi(argv[i] + 5);
    }
    if (quit_port) {
        bool sent = false;
        for (int tries = 0; tries < 20 && !sent; tries++) {
            int s = tcp_connect(quit_port, 2000);
            char ok[2];
            /* "ok", or the end of the connection: it got it. */
            sent = s >= 0 && send(s, "quit", 4, 0) == 4 && recv(s, ok, 2, 0) >= 0;
            if (s >= 0)
                close(s);
        }
        if (!sent)
            test_fail("could not tell the peer to quit (port %u)", quit_port);
    }
    uint64_t end = minios_monotonic_ns() + 120 * SEC;
    unsigned long f = minios_events_save();
    while (quits < wait && minios_monotonic_ns() < end)
        minios_waitq_wait(&quit_wq, end);
    minios_events_restore(f);
    if (quits < wait)
        test_fail("only %d of %d quits came", quits, wait);
    minios_sleep_ns(SEC);             /* our "ok" and FIN reach the peer */
    struct minios_netfront_stats st;
    minios_netfront_stats(&st);
    printf("xn0: %lu frames sent, %lu received, %lu + %lu dropped, %u connections\n",
           (unsigned long)st.tx_frames, (unsigned long)st.rx_frames,
           (unsigned long)st.tx_dropped, (unsigned long)st.rx_dropped, st.connects);
    return test_finish();
}
