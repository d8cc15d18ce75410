/* iperf: TCP throughput between appliances with lwIP's iperf 2 code (lwiperf: server, and a client
 * that sends for 10 s), and the grant-copy bound a netback copy path cannot beat. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/gnttab.h>
#include <minios/mm.h>
#include <minios/net.h>
#include <minios/netfront.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <xen/grant_table.h>

#include "lwip/apps/lwiperf.h"
#include "lwip/ip_addr.h"
#include "lwip/tcpip.h"

/*
 * Options (module line):
 *   mode=server          an iperf 2 TCP server on port 5001 (lwiperf), for
 *                        other appliances or a host `iperf -c`; reports each
 *                        test it served
 *   mode=client server=A sends to A's port 5001 for 10 s (lwiperf's client,
 *                        as `iperf -c A -t 10`), reports and powers off
 *   copybound=1          first measures GNTTABOP_copy of 1514-byte frames,
 *                        32 per hypercall, from one of its pages to another,
 *                        for 1 s: the rate at which a backend that copies
 *                        each frame once could move them
 *   tests=N              (server) power off after N tests (default: serve on)
 */

static const char *arg(int argc, char **argv, const char *key)
{
    size_t n = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
            return argv[i] + n + 1;
    return NULL;
}

static char page_a[4096] __attribute__((aligned(4096)));
static char page_b[4096] __attribute__((aligned(4096)));

/* GNTTABOP_copy, frame-sized, page to page within this domain. */
static void copy_bound(void)
{
    enum { BATCH = 32, FRAME = 1514 };
    static struct gnttab_copy ops[BATCH];
    memset(page_a, 0x5a, sizeof(page_a));
    unsigned long ma = minios_virt_to_mfn(page_a), mb = minios_virt_to_mfn(page_b);
    for (int i = 0; i < BATCH; i++) {
        ops[i] = (struct gnttab_copy){
            .source = { .u.gmfn = ma, .domid = DOMID_SELF, .offset = 0 },
            .dest = { .u.gmfn = mb, .domid = DOMID_SELF, .offset = 0 },
            .len = FRAME, .flags = 0,
        };
    }
    uint64_t t0 = minios_monotonic_ns(), t;
    unsigned long frames = 0;
    do {
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, ops, BATCH);
        if (rc) {
            printf("iperf: GNTTABOP_copy failed: %ld\n", rc);
            return;
        }
        for (int i = 0; i < BATCH; i++)
            if (ops[i].status != GNTST_okay) {
                printf("iperf: GNTTABOP_copy status %d\n", ops[i].status);
                return;
            }
        frames += BATCH;
        t = minios_monotonic_ns();
    } while (t - t0 < 1000000000ULL);
    if (memcmp(page_a, page_b, FRAME)) {
        printf("iperf: GNTTABOP_copy did not copy\n");
        return;
    }
    uint64_t ns = t - t0;
    /* TCP payload per full frame: 1460 bytes. */
    printf("iperf: grant-copy bound: %lu frames of %d bytes in %lu ms, %lu frames/s, "
           "%lu Mbit/s of TCP payload at 1460 bytes a frame\n", frames, FRAME,
           (unsigned long)(ns / 1000000), (unsigned long)(frames * 1000000000ULL / ns),
           (unsigned long)(frames * 1460ULL * 8 * 1000 / ns));
}

static volatile int reports, done_tests, failed;

static void report(void *arg, enum lwiperf_report_type type, const ip_addr_t *local,
                   u16_t lport, const ip_addr_t *remote, u16_t rport, u32_t bytes,
                   u32_t ms, u32_t kbits)
{
    (void)arg, (void)local, (void)lport, (void)rport;
    static const char *const what[] = {
        [LWIPERF_TCP_DONE_SERVER] = "served", [LWIPERF_TCP_DONE_CLIENT] = "sent",
        [LWIPERF_TCP_ABORTED_LOCAL] = "aborted here",
        [LWIPERF_TCP_ABORTED_LOCAL_DATAERROR] = "aborted here (data error)",
        [LWIPERF_TCP_ABORTED_LOCAL_TXERROR] = "aborted here (send error)",
        [LWIPERF_TCP_ABORTED_REMOTE] = "aborted by the peer",
    };
    char peer[48];
    ipaddr_ntoa_r(remote, peer, sizeof(peer));
    printf("iperf: %s %lu bytes %s %s in %lu ms: %lu kbit/s\n",
           type < sizeof(what) / sizeof(what[0]) && what[type] ? what[type] : "?",
           (unsigned long)bytes, type == LWIPERF_TCP_DONE_CLIENT ? "to" : "with", peer,
           (unsigned long)ms, (unsigned long)kbits);
    if (type != LWIPERF_TCP_DONE_SERVER && type != LWIPERF_TCP_DONE_CLIENT)
        failed = 1;
    done_tests++;
    reports++;
}

int main(int argc, char **argv)
{
    const char *mode = arg(argc, argv, "mode"), *server = arg(argc, argv, "server");
    const char *cb = arg(argc, argv, "copybound"), *tests = arg(argc, argv, "tests");
    if (!mode || (strcmp(mode, "server") && strcmp(mode, "client")) ||
        (!strcmp(mode, "client") && !server)) {
        printf("iperf: needs mode=server, or mode=client server=ADDRESS\n");
        return 1;
    }
    if (cb && !strcmp(cb, "1"))
        copy_bound();
    if (minios_net_init()) {
        printf("iperf: lwIP did not start\n");
        return 1;
    }
    /* A vif from the boot line (vif=): lwIP's xn0, ip=/gw= or DHCP. */
    int nf = minios_netfront_start(argc, argv);
    if (nf && nf != -ENODEV) {
        printf("iperf: the vif did not start (%d)\n", nf);
        return 1;
    }
    if (!strcmp(mode, "server")) {
        LOCK_TCPIP_CORE();
        void *s = lwiperf_start_tcp_server_default(report, NULL);
        UNLOCK_TCPIP_CORE();
        if (!s) {
            printf("iperf: cannot listen on port %d\n", LWIPERF_TCP_PORT_DEFAULT);
            return 1;
        }
        printf("iperf: server listening on port %d\n", LWIPERF_TCP_PORT_DEFAULT);
        int want = tests ? atoi(tests) : 0;
        while (!want || done_tests < want)
            minios_thread_sleep_ns(100000000ULL);
        return failed;
    }
    ip_addr_t a;
    if (!ipaddr_aton(server, &a)) {
        printf("iperf: server=%s is not an address\n", server);
        return 1;
    }
    if (nf == 0 && minios_netfront_wait_up(minios_monotonic_ns() + 30000000000ULL)) {
        printf("iperf: the vif did not come up in 30 s\n");
        return 1;
    }
    /* The server may still be starting: try for up to 30 s. */
    for (int tries = 0; tries < 30; tries++) {
        reports = 0;
        LOCK_TCPIP_CORE();
        void *c = lwiperf_start_tcp_client_default(&a, report, NULL);
        UNLOCK_TCPIP_CORE();
        if (c) {
            while (!reports)
                minios_thread_sleep_ns(100000000ULL);
            if (!failed)
                return 0;
            failed = 0;
        }
        minios_thread_sleep_ns(1000000000ULL);
    }
    printf("iperf: no test completed\n");
    return 1;
}
