/* main.c: kv on minios. Listens on INADDR_ANY (every netif lwIP has), a
 * minios thread per connection, at most maxconn at once (the others wait in
 * the listen backlog). Threads are cooperative and kv_run never blocks, so
 * the store needs no lock.
 *   port=N         TCP port (default 6379)
 *   maxconn=N      connections served at once (default 128, at most 248)
 *   maxmemory=N    bytes of keys and values, K or M suffix (default: half
 *                  the domain's memory)
 *   timeout=N      seconds a client may send nothing before it is dropped
 *                  (default 0: never, as Redis)
 *   selftest=1     also run the client self test over loopback, print its
 *                  "Test result:" line and power off (tests/kv) */
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/net.h>
#include <minios/netfront.h>
#include <minios/startinfo.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "lwip/opt.h"
#include "kv.h"
#include "selftest.h"
#include "report.h"

/* lwIP has MEMP_NUM_NETCONN sockets (253): keep some for the listener and
 * the self test. */
#define MAXCONN_LIMIT (MEMP_NUM_NETCONN - 5)

static unsigned maxconn = 128;
static unsigned active, peak;
static struct minios_waitq slots = MINIOS_WAITQ_INIT;
static struct kv_store *store;

static uint64_t now_ms(void)
{
    return minios_monotonic_ns() / 1000000;
}

static void conn_thread(void *arg)
{
    kv_serve_fd((int)(intptr_t)arg, store);
    active--;
    minios_waitq_wake_one(&slots);
}

static void accept_loop(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        MINIOS_WAIT_EVENT(&slots, active < maxconn);
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            minios_sleep_ns(10 * 1000 * 1000);   /* out of sockets: let some close */
            continue;
        }
        active++;
        if (active > peak)
            peak = active;
        if (!minios_thread_create("kv", conn_thread, (void *)(intptr_t)fd, 0)) {
            printf("kv: no memory for a connection thread\n");
            close(fd);
            active--;
        }
    }
}

/* key=N[K|M]: 1 and *v if a is that option; exits on a bad value. */
static int arg_num(const char *a, const char *key, unsigned long long max,
                   unsigned long long *v)
{
    size_t k = strlen(key);
    if (strncmp(a, key, k) != 0 || a[k] != '=')
        return 0;
    char *end;
    unsigned long long x = strtoull(a + k + 1, &end, 10);
    if (*end == 'K' || *end == 'k')
        x <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        x <<= 20, end++;
    if (a[k + 1] < '0' || a[k + 1] > '9' || *end || x > max) {
        printf("kv: bad %s (0..%llu)\n", a, max);
        exit(2);
    }
    *v = x;
    return 1;
}

unsigned kv_active_peak(void)
{
    return peak;
}

unsigned kv_maxconn(void)
{
    return maxconn;
}

int main(int argc, char **argv)
{
    unsigned long long port = 6379, mc = maxconn, selftest = 0;
    unsigned long long mem = (unsigned long long)minios_start_info->nr_pages << 12;
    unsigned long long maxmem = mem / 2, timeout = 0;
    for (int i = 1; i < argc; i++) {
        if (arg_num(argv[i], "port", 65535, &port) ||
            arg_num(argv[i], "maxconn", MAXCONN_LIMIT, &mc) ||
            arg_num(argv[i], "maxmemory", mem, &maxmem) ||
            arg_num(argv[i], "timeout", 1u << 30, &timeout) ||
            arg_num(argv[i], "selftest", 1, &selftest))
            continue;
        /* other words (name=, mem=, ...) are the boot configuration's */
    }
    if (mc == 0 || port == 0) {
        printf("kv: port and maxconn must not be 0\n");
        return 2;
    }
    maxconn = (unsigned)mc;
    uint64_t sec = 0;
    uint32_t nsec = 0;
    minios_wallclock(&sec, &nsec);
    store = kv_store_new(now_ms, (minios_monotonic_ns() ^ sec ^ ((uint64_t)nsec << 32)) *
                                     0x9e3779b97f4a7c15ull, (size_t)maxmem);
    if (!store) {
        printf("kv: no memory for the store\n");
        return 1;
    }
    kv_store_set_clients(store, maxconn, (unsigned)timeout);
    if (minios_net_init()) {
        printf("kv: lwIP did not start\n");
        return 1;
    }
    /* A vif from the boot line (vif=): lwIP's xn0, ip=/gw= or DHCP. */
    int nf = minios_netfront_start(argc, argv);
    if (nf && nf != -ENODEV) {
        printf("kv: the vif did not start (%d)\n", nf);
        return 1;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 64)) {
        printf("kv: cannot listen on port %llu\n", port);
        return 1;
    }
    printf("kv: RESP2 on port %llu, at most %u connections, maxmemory %llu bytes, timeout %llu s\n",
           port, maxconn, maxmem, timeout);
    if (!selftest) {
        accept_loop((void *)(intptr_t)ls);
        return 0;
    }
    if (!minios_thread_create("accept", accept_loop, (void *)(intptr_t)ls, 0)) {
        printf("kv: no memory for the accept thread\n");
        return 1;
    }
    kv_selftest((uint16_t)port, store);
    return test_finish();
}
