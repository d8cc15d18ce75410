/* Guest test: a hostile netif frontend (raw rings, no lwIP) that connects to netback and then breaks the protocol one way (op=); netback must cut it off alone and say why (docs/network.md). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/mm.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>

#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __asm__ volatile("" ::: "memory")
#define xen_wmb() __asm__ volatile("" ::: "memory")
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

#include "report.h"

/*
 *   op=badidx    tx req_prod 1000 ahead of what the backend consumed
 *   op=badgref   a tx request whose grant reference was never granted
 *   op=bigpkt    a tx request of 9000 bytes (no GSO was offered)
 *   op=badring   tx-ring-ref names a reference that was never granted
 *   op=badrxgref rx requests whose grant reference was never granted
 *   op=badrxidx  rx req_prod 1000 ahead of what the backend consumed
 *                (both then send broadcasts until cut off: two of them
 *                in one test hit each other's rx ring)
 *   op=badfw     nothing: its fw= rules do not parse (netback refuses
 *                the vif before InitWait)
 * Each expects the backend to go Closed and write its cut-off reason;
 * with tell=PATH it then writes PATH/<op> = 1 (a node an appliance shared
 * with do=share:, so that it can check the switch after the cut-offs).
 *   op=novif     its vif=/mac=/fw= were refused by the xenstore stub:
 *                expects no device/vif/0 at all
 *   op=setfw     (role=control) a firewall change at run time:
 *                after=PATH=VAL waits for that node, then writes bad=TEXT
 *                to vif=DIR/firewall and waits for DIR/firewall-refused,
 *                then writes rules=TEXT and waits for DIR/firewall-applied,
 *                then writes then=PATH=VAL
 */
#define SEC 1000000000ull

static char fe[64], be[96];
static unsigned long be_id;

static int read_ul(const char *path, unsigned long *out)
{
    char *v;
    int rc = minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL);
    if (rc)
        return rc;
    *out = strtoul(v, NULL, 10);
    free(v);
    return 0;
}

static int be_state(void)
{
    char p[128];
    unsigned long s;
    snprintf(p, sizeof(p), "%s/state", be);
    return read_ul(p, &s) ? -1 : (int)s;
}

static bool wait_be(int want, unsigned secs)
{
    uint64_t end = minios_monotonic_ns() + secs * SEC;
    while (minios_monotonic_ns() < end) {
        if (be_state() == want)
            return true;
        minios_sleep_ns(50000000);
    }
    return false;
}

static void put(const char *rel, unsigned long v)
{
    char p[128], val[24];
    snprintf(p, sizeof(p), "%s/%s", fe, rel);
    snprintf(val, sizeof(val), "%lu", v);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, p, val), 0);
}

static const char *arg(int argc, char **argv, const char *key)
{
    size_t k = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, k))
            return argv[i] + k;
    return "";
}

static bool wait_node(const char *path, const char *val)
{
    uint64_t end = minios_monotonic_ns() + 60 * SEC;
    while (minios_monotonic_ns() < end) {
        char *v = NULL;
        bool ok = minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL) == 0 && !strcmp(v, val);
        free(v);
        if (ok)
            return true;
        minios_sleep_ns(50000000);
    }
    test_fail("%s never said '%s'", path, val);
    return false;
}

/* PATH=VAL split in place. */
static char *split(char *pv)
{
    char *eq = strchr(pv, '=');
    if (!eq)
        return NULL;
    *eq = 0;
    return eq + 1;
}

static int setfw(int argc, char **argv)
{
    char after[128], then[128], dir[128], path[160];
    snprintf(after, sizeof(after), "%s", arg(argc, argv, "after="));
    snprintf(then, sizeof(then), "%s", arg(argc, argv, "then="));
    snprintf(dir, sizeof(dir), "%s", arg(argc, argv, "vif="));
    const char *bad = arg(argc, argv, "bad="), *rules = arg(argc, argv, "rules=");
    char *aval = split(after), *tval = split(then);
    if (!aval || !tval || !dir[0]) {
        test_error("setfw needs after=PATH=VAL then=PATH=VAL vif=DIR");
        return test_finish();
    }
    if (!wait_node(after, aval))
        return test_finish();
    snprintf(path, sizeof(path), "%s/firewall", dir);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, path, bad), 0);
    snprintf(path, sizeof(path), "%s/firewall-refused", dir);
    if (wait_node(path, bad))
        printf("setfw: '%s' refused by netback\n", bad);
    snprintf(path, sizeof(path), "%s/firewall", dir);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, path, rules), 0);
    snprintf(path, sizeof(path), "%s/firewall-applied", dir);
    if (wait_node(path, rules))
        printf("setfw: '%s' applied by netback\n", rules);
    CHECK_EQ(minios_xs_write(MINIOS_XBT_NIL, then, tval), 0);
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = "badidx", *tell = NULL;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
        else if (!strncmp(argv[i], "tell=", 5))
            tell = argv[i] + 5;
    char *v, *id;
    if (!strcmp(op, "setfw"))
        return setfw(argc, argv);
    if (!strcmp(op, "novif")) {
        int rc = minios_xs_read(MINIOS_XBT_NIL, "device/vif/0/backend", &v, NULL);
        if (rc == 0)
            test_fail("novif: the toolstack wrote a vif (backend %s)", v);
        else
            printf("hostile (novif): no vif in the store (%d)\n", rc);
        return test_finish();
    }
    if (minios_gnttab_init() || minios_xs_read(MINIOS_XBT_NIL, "device/vif/0/backend", &v, NULL) ||
        read_ul("device/vif/0/backend-id", &be_id) ||
        minios_xs_read(MINIOS_XBT_NIL, "domid", &id, NULL)) {
        test_error("no vif in the store");
        return test_finish();
    }
    snprintf(be, sizeof(be), "%s", v);
    snprintf(fe, sizeof(fe), "/local/domain/%s/device/vif/0", id);
    free(v);
    free(id);
    if (!strcmp(op, "badfw"))
        goto closed;
    if (!wait_be(XenbusStateInitWait, 30)) {
        test_fail("backend never reached InitWait");
        return test_finish();
    }
    netif_tx_sring_t *txs = minios_alloc_pages(1);
    netif_rx_sring_t *rxs = minios_alloc_pages(1);
    char *data = minios_alloc_pages(1);
    memset(txs, 0, 4096);
    memset(rxs, 0, 4096);
    memset(data, 0xab, 4096);
    SHARED_RING_INIT(txs);
    SHARED_RING_INIT(rxs);
    netif_tx_front_ring_t tx;
    FRONT_RING_INIT(&tx, txs, 4096);
    grant_ref_t txr = minios_gnttab_grant_access((domid_t)be_id, minios_virt_to_mfn(txs), 0);
    grant_ref_t rxr = minios_gnttab_grant_access((domid_t)be_id, minios_virt_to_mfn(rxs), 0);
    grant_ref_t dr = minios_gnttab_grant_access((domid_t)be_id, minios_virt_to_mfn(data), 1);
    evtchn_port_t port;
    CHECK_EQ(minios_evtchn_alloc_unbound((domid_t)be_id, &port), 0);
    put("tx-ring-ref", strcmp(op, "badring") ? txr : 1999);
    put("rx-ring-ref", rxr);
    put("event-channel", port);
    put("request-rx-copy", 1);
    put("state", XenbusStateConnected);
    if (!strncmp(op, "badrx", 5)) {
        if (!wait_be(XenbusStateConnected, 30)) {
            test_fail("backend never connected");
            return test_finish();
        }
        /* Receive buffers that are not: a reference never granted, or a
         * producer index 1000 ahead. */
        netif_rx_front_ring_t rx;
        FRONT_RING_INIT(&rx, rxs, 4096);
        for (int i = 0; i < 16; i++) {
            netif_rx_request_t *q = RING_GET_REQUEST(&rx, rx.req_prod_pvt);
            rx.req_prod_pvt++;
            q->id = (uint16_t)i;
            q->gref = 2001;
        }
        if (!strcmp(op, "badrxidx"))
            rx.req_prod_pvt += 1000;
        RING_PUSH_REQUESTS(&rx);
        /* Then ARP requests (broadcasts) for the appliances' addresses,
         * until cut off: their replies come back to us, and the other
         * hostile rx frontend gets the broadcasts. */
        unsigned char *d = (unsigned char *)data;
        unsigned m[6] = { 2, 0, 0, 0, 0, 0x99 };
        char *macs;
        if (minios_xs_read(MINIOS_XBT_NIL, "device/vif/0/mac", &macs, NULL) == 0) {
            sscanf(macs, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]);
            free(macs);
        }
        memset(d, 0, 60);
        memset(d, 0xff, 6);
        for (int i = 0; i < 6; i++)
            d[6 + i] = d[22 + i] = (unsigned char)m[i];
        static const unsigned char arp[] = { 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1 };
        memcpy(d + 12, arp, sizeof(arp));
        d[28] = 10, d[29] = 0, d[30] = 0, d[31] = (unsigned char)(90 + m[5] % 100);
        d[38] = 10, d[39] = 0, d[40] = 0;
        uint64_t end = minios_monotonic_ns() + 30 * SEC;
        for (uint16_t id = 0; be_state() == XenbusStateConnected && minios_monotonic_ns() < end;
             id++) {
            d[41] = (unsigned char)(1 + id % 2);         /* 10.0.0.1, 10.0.0.2 */
            netif_tx_request_t *r = RING_GET_REQUEST(&tx, tx.req_prod_pvt);
            tx.req_prod_pvt++;
            r->gref = dr;
            r->offset = 0;
            r->flags = 0;
            r->id = id & 255;
            r->size = 60;
            RING_PUSH_REQUESTS(&tx);
            minios_evtchn_send(port);
            minios_sleep_ns(200000000);
        }
    } else if (strcmp(op, "badring")) {
        if (!wait_be(XenbusStateConnected, 30)) {
            test_fail("backend never connected");
            return test_finish();
        }
        netif_tx_request_t *r = RING_GET_REQUEST(&tx, tx.req_prod_pvt);
        tx.req_prod_pvt++;
        r->gref = !strcmp(op, "badgref") ? 2000 : dr;
        r->offset = 0;
        r->flags = 0;
        r->id = 1;
        r->size = !strcmp(op, "bigpkt") ? 9000 : 60;
        if (!strcmp(op, "badidx"))
            tx.req_prod_pvt += 1000;
        RING_PUSH_REQUESTS(&tx);
        minios_evtchn_send(port);
        printf("hostile (%s): request posted, req_prod %u\n", op, txs->req_prod);
    }
closed:
    if (!wait_be(XenbusStateClosed, 30)) {
        test_fail("%s: the backend did not cut us off (state %d)", op, be_state());
        return test_finish();
    }
    char p[128], *why = NULL;
    snprintf(p, sizeof(p), "%s/cut-off", be);
    if (minios_xs_read(MINIOS_XBT_NIL, p, &why, NULL))
        test_fail("%s: Closed, but no cut-off reason", op);
    else
        printf("hostile (%s): cut off: %s\n", op, why);
    free(why);
    if (tell) {
        /* Tell the appliance that waits for the cut-offs (its do=share:
         * node); it may not have made the node yet. */
        snprintf(p, sizeof(p), "%s/%s", tell, op);
        uint64_t end = minios_monotonic_ns() + 60 * SEC;
        int rc;
        while ((rc = minios_xs_write(MINIOS_XBT_NIL, p, "1")) && minios_monotonic_ns() < end)
            minios_sleep_ns(50000000);
        if (rc)
            test_fail("%s: cannot write %s (%d)", op, p, rc);
    }
    if (!strcmp(op, "badfw"))
        return test_finish();
    /* Our grants must be ours again: the backend unmapped the rings. */
    CHECK_EQ(minios_gnttab_end_access(txr), 0);
    CHECK_EQ(minios_gnttab_end_access(rxr), 0);
    return test_finish();
}
