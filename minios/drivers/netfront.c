/* netfront.c: Xen network frontend for minios: io/netif.h tx/rx rings over grants, the xenbus state machine, and the lwIP interface xn0 (docs/network.md). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINIOS_NET_NO_IO_NAMES
#include <minios/net.h>
#include <minios/netfront.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/mm.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>

/* x86 is TSO: only stores before a later load need a fence. */
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __asm__ volatile("" ::: "memory")
#define xen_wmb() __asm__ volatile("" ::: "memory")
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcpip.h"
#include "netif/ethernet.h"

#define PAGE 4096
#define TX_N __CONST_RING_SIZE(netif_tx, 4096)   /* 256 */
#define RX_N __CONST_RING_SIZE(netif_rx, 4096)   /* 256 */
#define TX_BUF 2048                    /* two tx buffers per page */
#define FRAME_MAX 1514                 /* Ethernet without FCS, MTU 1500 */

/*
 * One thread ("netfront") owns the xenbus side and the receive path: the
 * event handler and the store watch only count and wake it.  lwIP's
 * linkoutput (any thread, with lwIP's core lock) fills tx slots.  minios
 * threads are cooperative, so ring indices need no lock.
 *
 * Everything the backend writes (its state, ring responses) is checked:
 * a response naming a slot that is not outstanding, or a length outside
 * the page, takes the connection down as if the backend had gone.
 */
struct nf {
    char fe[64];                       /* device/vif/0, absolute */
    char be[96];                       /* the backend's directory */
    domid_t be_id;
    struct netif netif;
    int state;                         /* our XenbusState */
    bool link;                         /* backend Connected while we are */

    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    void *tx_sring, *rx_sring;
    grant_ref_t tx_ring_ref, rx_ring_ref;
    evtchn_port_t port;

    void *tx_pages[TX_N / 2];
    grant_ref_t tx_page_ref[TX_N / 2];
    uint16_t tx_free[TX_N];
    unsigned tx_nfree;
    bool tx_busy[TX_N];
    void *rx_pages[RX_N];
    grant_ref_t rx_ref[RX_N];
    bool rx_posted[RX_N];

    volatile unsigned kicks, watch_fires;
    struct minios_waitq wq, tx_wq, up_wq;
    struct minios_netfront_stats st;
};

static struct nf *nf;

static void kick(evtchn_port_t port, void *data)
{
    (void)port;
    struct nf *n = data;
    n->kicks++;
    minios_waitq_wake_all(&n->wq);
    minios_waitq_wake_all(&n->tx_wq);
}

static void watch_cb(const char *path, const char *token, void *data)
{
    (void)path;
    (void)token;
    struct nf *n = data;
    n->watch_fires++;
    minios_waitq_wake_all(&n->wq);
}

static int read_uint(const char *path, unsigned long max, unsigned long *out)
{
    char *v;
    int rc = minios_xs_read(MINIOS_XBT_NIL, path, &v, NULL);
    if (rc)
        return rc;
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    rc = (end == v || *end || errno || x > max) ? -EINVAL : 0;
    free(v);
    if (!rc)
        *out = x;
    return rc;
}

static int write_fe(const char *rel, const char *fmt, unsigned long v)
{
    char path[96], val[32];
    snprintf(path, sizeof(path), "%s/%s", nf->fe, rel);
    snprintf(val, sizeof(val), fmt, v);
    return minios_xs_write(MINIOS_XBT_NIL, path, val);
}

static void set_state(int s)
{
    nf->state = s;
    if (write_fe("state", "%lu", (unsigned long)s))
        printf("netfront: cannot write our state %d\n", s);
}

/* The backend's state; XenbusStateUnknown if its node is gone or bad. */
static int backend_state(void)
{
    char path[128];
    unsigned long s;
    snprintf(path, sizeof(path), "%s/state", nf->be);
    if (read_uint(path, XenbusStateReconfigured, &s))
        return XenbusStateUnknown;
    return (int)s;
}

/* Ends a grant the backend may still hold (it is being torn down): a few
 * tries, then the page is left to it (and not reused). */
static bool end_grant(grant_ref_t ref)
{
    if (ref == MINIOS_GNTTAB_INVALID_REF)
        return true;
    for (int i = 0; i < 50; i++) {
        if (minios_gnttab_end_access(ref) == 0)
            return true;
        minios_sleep_ns(20000000);
    }
    return false;
}

static void link_set(bool up)
{
    if (nf->link == up)
        return;
    nf->link = up;
    LOCK_TCPIP_CORE();
    if (up)
        netif_set_link_up(&nf->netif);
    else
        netif_set_link_down(&nf->netif);
    UNLOCK_TCPIP_CORE();
    minios_waitq_wake_all(&nf->up_wq);
}

static void teardown(const char *why)
{
    printf("netfront: %s: disconnecting\n", why);
    link_set(false);
    if (nf->port) {
        minios_evtchn_unbind(nf->port);
        minios_evtchn_close(nf->port);
        nf->port = 0;
    }
    bool leaked = false;
    if (nf->tx_sring) {
        if (end_grant(nf->tx_ring_ref))
            minios_free_pages(nf->tx_sring, 1);
        else
            leaked = true;
        nf->tx_sring = NULL;
        nf->tx_ring_ref = MINIOS_GNTTAB_INVALID_REF;
    }
    if (nf->rx_sring) {
        if (end_grant(nf->rx_ring_ref))
            minios_free_pages(nf->rx_sring, 1);
        else
            leaked = true;
        nf->rx_sring = NULL;
        nf->rx_ring_ref = MINIOS_GNTTAB_INVALID_REF;
    }
    for (unsigned i = 0; i < TX_N / 2; i++)
        if (nf->tx_pages[i]) {
            if (!end_grant(nf->tx_page_ref[i]))
                leaked = true;
            else
                minios_free_pages(nf->tx_pages[i], 1);
            nf->tx_pages[i] = NULL;
            nf->tx_page_ref[i] = MINIOS_GNTTAB_INVALID_REF;
        }
    for (unsigned i = 0; i < RX_N; i++)
        if (nf->rx_pages[i]) {
            if (!end_grant(nf->rx_ref[i]))
                leaked = true;
            else
                minios_free_pages(nf->rx_pages[i], 1);
            nf->rx_pages[i] = NULL;
            nf->rx_ref[i] = MINIOS_GNTTAB_INVALID_REF;
            nf->rx_posted[i] = false;
        }
    if (leaked)
        printf("netfront: the backend still holds some of our pages: left to it\n");
    nf->tx_nfree = 0;
    minios_waitq_wake_all(&nf->tx_wq);
}

static void post_rx(unsigned id)
{
    RING_IDX i = nf->rx.req_prod_pvt++;
    netif_rx_request_t *r = RING_GET_REQUEST(&nf->rx, i);
    r->id = (uint16_t)id;
    r->gref = nf->rx_ref[id];
    nf->rx_posted[id] = true;
}

static void push_rx(void)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->rx, notify);
    if (notify)
        minios_evtchn_send(nf->port);
}

/* Rings, buffers and grants; then the nodes and Connected (as Linux's
 * netfront: straight from Initialising to Connected). */
static int connect_backend(void)
{
    domid_t be = nf->be_id;
    nf->tx_sring = minios_alloc_pages(1);
    nf->rx_sring = minios_alloc_pages(1);
    if (!nf->tx_sring || !nf->rx_sring)
        return -ENOMEM;
    memset(nf->tx_sring, 0, PAGE);
    memset(nf->rx_sring, 0, PAGE);
    SHARED_RING_INIT((netif_tx_sring_t *)nf->tx_sring);
    SHARED_RING_INIT((netif_rx_sring_t *)nf->rx_sring);
    FRONT_RING_INIT(&nf->tx, (netif_tx_sring_t *)nf->tx_sring, PAGE);
    FRONT_RING_INIT(&nf->rx, (netif_rx_sring_t *)nf->rx_sring, PAGE);
    nf->tx_ring_ref = minios_gnttab_grant_access(be, minios_virt_to_mfn(nf->tx_sring), 0);
    nf->rx_ring_ref = minios_gnttab_grant_access(be, minios_virt_to_mfn(nf->rx_sring), 0);
    if (nf->tx_ring_ref == MINIOS_GNTTAB_INVALID_REF ||
        nf->rx_ring_ref == MINIOS_GNTTAB_INVALID_REF)
        return -ENOSPC;
    nf->tx_nfree = 0;
    for (unsigned i = 0; i < TX_N / 2; i++) {
        nf->tx_pages[i] = minios_alloc_pages(1);
        if (!nf->tx_pages[i])
            return -ENOMEM;
        nf->tx_page_ref[i] = minios_gnttab_grant_access(be, minios_virt_to_mfn(nf->tx_pages[i]), 1);
        if (nf->tx_page_ref[i] == MINIOS_GNTTAB_INVALID_REF)
            return -ENOSPC;
    }
    for (unsigned i = 0; i < TX_N; i++) {
        nf->tx_free[nf->tx_nfree++] = (uint16_t)i;
        nf->tx_busy[i] = false;
    }
    for (unsigned i = 0; i < RX_N; i++) {
        nf->rx_pages[i] = minios_alloc_pages(1);
        if (!nf->rx_pages[i])
            return -ENOMEM;
        nf->rx_ref[i] = minios_gnttab_grant_access(be, minios_virt_to_mfn(nf->rx_pages[i]), 0);
        if (nf->rx_ref[i] == MINIOS_GNTTAB_INVALID_REF)
            return -ENOSPC;
        post_rx(i);
    }
    RING_PUSH_REQUESTS(&nf->rx);
    int rc = minios_evtchn_alloc_unbound(be, &nf->port);
    if (rc) {
        nf->port = 0;
        return -EIO;
    }
    minios_evtchn_bind(nf->port, kick, nf);
    if (write_fe("tx-ring-ref", "%lu", nf->tx_ring_ref) ||
        write_fe("rx-ring-ref", "%lu", nf->rx_ring_ref) ||
        write_fe("event-channel", "%lu", nf->port) ||
        write_fe("request-rx-copy", "%lu", 1) || write_fe("feature-rx-notify", "%lu", 1) ||
        write_fe("feature-no-csum-offload", "%lu", 1) || write_fe("feature-sg", "%lu", 0))
        return -EIO;
    set_state(XenbusStateConnected);
    nf->st.connects++;
    return 0;
}

/* Reclaims tx slots the backend answered. */
static bool tx_reap(void)
{
    RING_IDX prod = nf->tx.sring->rsp_prod;
    xen_rmb();
    if (prod - nf->tx.rsp_cons > TX_N)
        return false;
    while (nf->tx.rsp_cons != prod) {
        netif_tx_response_t *r = RING_GET_RESPONSE(&nf->tx, nf->tx.rsp_cons);
        nf->tx.rsp_cons++;
        if (r->status == NETIF_RSP_NULL)
            continue;
        if (r->id >= TX_N || !nf->tx_busy[r->id])
            return false;
        nf->tx_busy[r->id] = false;
        nf->tx_free[nf->tx_nfree++] = r->id;
    }
    minios_waitq_wake_all(&nf->tx_wq);
    return true;
}

/* Takes received frames to lwIP and gives their pages back to the ring. */
static bool rx_drain(void)
{
    for (;;) {
        RING_IDX prod = nf->rx.sring->rsp_prod;
        xen_rmb();
        if (prod - nf->rx.rsp_cons > RX_N)
            return false;
        while (nf->rx.rsp_cons != prod) {
            netif_rx_response_t *r = RING_GET_RESPONSE(&nf->rx, nf->rx.rsp_cons);
            nf->rx.rsp_cons++;
            unsigned id = r->id;
            if (id >= RX_N || !nf->rx_posted[id])
                return false;
            nf->rx_posted[id] = false;
            if (r->status > 0 && (r->flags & (NETRXF_more_data | NETRXF_extra_info)) == 0 &&
                (unsigned)r->offset + (unsigned)r->status <= PAGE) {
                struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)r->status, PBUF_POOL);
                if (p) {
                    pbuf_take(p, (char *)nf->rx_pages[id] + r->offset, (u16_t)r->status);
                    nf->st.rx_frames++;
                    if (nf->netif.input(p, &nf->netif) != ERR_OK)
                        pbuf_free(p);
                } else {
                    nf->st.rx_dropped++;
                }
            } else {
                nf->st.rx_dropped++;
            }
            post_rx(id);
        }
        push_rx();
        int more;
        RING_FINAL_CHECK_FOR_RESPONSES(&nf->rx, more);
        if (!more)
            return true;
    }
}

static err_t linkoutput(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    if (!nf->link || p->tot_len > FRAME_MAX) {
        nf->st.tx_dropped++;
        return ERR_IF;
    }
    uint64_t deadline = minios_monotonic_ns() + 1000000000ull;
    while (nf->tx_nfree == 0) {
        if (nf->link && !tx_reap()) {
            minios_waitq_wake_all(&nf->wq);   /* the thread notices and disconnects */
        }
        if (nf->tx_nfree)
            break;
        unsigned long f = minios_events_save();
        int rc = minios_waitq_wait(&nf->tx_wq, deadline);
        minios_events_restore(f);
        if (rc || !nf->link) {
            nf->st.tx_dropped++;
            return ERR_MEM;
        }
    }
    uint16_t id = nf->tx_free[--nf->tx_nfree];
    char *buf = (char *)nf->tx_pages[id / 2] + (id % 2) * TX_BUF;
    pbuf_copy_partial(p, buf, p->tot_len, 0);
    nf->tx_busy[id] = true;
    netif_tx_request_t *r = RING_GET_REQUEST(&nf->tx, nf->tx.req_prod_pvt);
    nf->tx.req_prod_pvt++;
    r->gref = nf->tx_page_ref[id / 2];
    r->offset = (uint16_t)((id % 2) * TX_BUF);
    r->flags = 0;
    r->id = id;
    r->size = p->tot_len;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->tx, notify);
    if (notify)
        minios_evtchn_send(nf->port);
    nf->st.tx_frames++;
    return ERR_OK;
}

static err_t xn_init(struct netif *netif)
{
    netif->name[0] = 'x';
    netif->name[1] = 'n';
    netif->mtu = 1500;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    netif->output = etharp_output;
    netif->linkoutput = linkoutput;
    return ERR_OK;
}

static void netfront_thread(void *arg)
{
    (void)arg;
    unsigned seen_watch = ~0u, seen_kick = 0;
    for (;;) {
        unsigned long f = minios_events_save();
        while (nf->watch_fires == seen_watch && nf->kicks == seen_kick)
            minios_waitq_wait(&nf->wq, minios_monotonic_ns() + 1000000000ull);
        minios_events_restore(f);
        seen_kick = nf->kicks;
        if (nf->watch_fires != seen_watch) {
            seen_watch = nf->watch_fires;
            int bs = backend_state();
            if (nf->state == XenbusStateInitialising && bs == XenbusStateInitWait) {
                int rc = connect_backend();
                if (rc) {
                    char why[64];
                    snprintf(why, sizeof(why), "cannot set up the rings (%d)", rc);
                    teardown(why);
                    set_state(XenbusStateInitialising);
                }
            } else if (nf->state == XenbusStateConnected && bs == XenbusStateConnected) {
                if (!nf->link)
                    printf("netfront: connected to backend d%u\n", nf->be_id);
                link_set(true);
            } else if (nf->state == XenbusStateConnected && bs != XenbusStateConnected &&
                       bs != XenbusStateInitWait) {
                /* Closing, Closed, Initialising again, or its nodes gone
                 * (a backend that died): down, then ready for the next. */
                teardown(bs == XenbusStateUnknown        ? "backend gone"
                         : bs == XenbusStateInitialising ? "backend started over"
                                                         : "backend closed");
                set_state(XenbusStateClosed);
                set_state(XenbusStateInitialising);
                seen_watch = ~0u;  /* look again: it may be back already */
            }
        }
        if (nf->state == XenbusStateConnected && nf->port) {
            if (!tx_reap() || !rx_drain()) {
                teardown("backend wrote a bad ring response");
                set_state(XenbusStateClosed);
                set_state(XenbusStateInitialising);
                seen_watch = ~0u;
            }
        }
    }
}

static int parse_ip4(const char *s, ip4_addr_t *a)
{
    return ip4addr_aton(s, a) ? 0 : -EINVAL;
}

int minios_netfront_start(int argc, char **argv)
{
    if (nf)
        return 0;
    const char *ip = NULL, *gw = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "ip=", 3))
            ip = argv[i] + 3;
        else if (!strncmp(argv[i], "gw=", 3))
            gw = argv[i] + 3;
    }
    ip4_addr_t addr, mask, gwa;
    ip4_addr_set_zero(&addr);
    ip4_addr_set_zero(&mask);
    ip4_addr_set_zero(&gwa);
    if (ip) {
        char a[20];
        const char *slash = strchr(ip, '/');
        unsigned long bits = 24;
        size_t al = slash ? (size_t)(slash - ip) : strlen(ip);
        if (al >= sizeof(a))
            return -EINVAL;
        memcpy(a, ip, al);
        a[al] = 0;
        if (slash) {
            char *end;
            bits = strtoul(slash + 1, &end, 10);
            if (end == slash + 1 || *end || bits < 1 || bits > 32)
                return -EINVAL;
        }
        if (parse_ip4(a, &addr))
            return -EINVAL;
        ip4_addr_set_u32(&mask, lwip_htonl(bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits)));
        if (gw && parse_ip4(gw, &gwa))
            return -EINVAL;
    }
    if (!minios_xenbus_available() || minios_gnttab_init())
        return -ENODEV;
    struct nf *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    char *v = NULL;
    int rc = minios_xs_read(MINIOS_XBT_NIL, "device/vif/0/backend", &v, NULL);
    if (rc) {
        free(n);
        return -ENODEV;
    }
    if (strlen(v) >= sizeof(n->be) || v[0] != '/') {
        free(v);
        free(n);
        return -EINVAL;
    }
    strcpy(n->be, v);
    free(v);
    unsigned long beid, mac[6];
    char *m = NULL;
    if (read_uint("device/vif/0/backend-id", DOMID_FIRST_RESERVED - 1, &beid) ||
        minios_xs_read(MINIOS_XBT_NIL, "device/vif/0/mac", &m, NULL)) {
        free(n);
        return -EINVAL;
    }
    char tail;
    if (sscanf(m, "%lx:%lx:%lx:%lx:%lx:%lx%c", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
               &mac[5], &tail) != 6) {
        free(m);
        free(n);
        return -EINVAL;
    }
    free(m);
    char *idstr;                       /* our id: the toolstack's "domid" node */
    if (minios_xs_read(MINIOS_XBT_NIL, "domid", &idstr, NULL)) {
        free(n);
        return -EIO;
    }
    snprintf(n->fe, sizeof(n->fe), "/local/domain/%s/device/vif/0", idstr);
    free(idstr);
    n->be_id = (domid_t)beid;
    minios_waitq_init(&n->wq);
    minios_waitq_init(&n->tx_wq);
    minios_waitq_init(&n->up_wq);
    nf = n;

    rc = minios_net_init();
    if (rc)
        return -ENOMEM;
    for (int i = 0; i < 6; i++)
        n->netif.hwaddr[i] = (u8_t)(mac[i] & 0xff);
    LOCK_TCPIP_CORE();
    netif_add(&n->netif, &addr, &mask, &gwa, NULL, xn_init, tcpip_input);
    n->netif.hwaddr_len = ETH_HWADDR_LEN;
    for (int i = 0; i < 6; i++)
        n->netif.hwaddr[i] = (u8_t)(mac[i] & 0xff);
    netif_set_default(&n->netif);
    netif_set_up(&n->netif);
    if (!ip)
        dhcp_start(&n->netif);
    UNLOCK_TCPIP_CORE();

    set_state(XenbusStateInitialising);
    char path[128];
    snprintf(path, sizeof(path), "%s/state", n->be);
    if (minios_xs_watch(path, "netfront", watch_cb, n))
        return -EIO;
    if (!minios_thread_create("netfront", netfront_thread, n, 0))
        return -ENOMEM;
    return 0;
}

uint32_t minios_netfront_ipv4(void)
{
    return nf ? ip4_addr_get_u32(netif_ip4_addr(&nf->netif)) : 0;
}

int minios_netfront_wait_up(uint64_t deadline_ns)
{
    if (!nf)
        return -ENODEV;
    while (!(nf->link && minios_netfront_ipv4())) {
        uint64_t now = minios_monotonic_ns();
        if (deadline_ns && now >= deadline_ns)
            return -ETIMEDOUT;
        uint64_t until = now + 100000000ull;
        if (deadline_ns && until > deadline_ns)
            until = deadline_ns;
        unsigned long f = minios_events_save();
        minios_waitq_wait(&nf->up_wq, until);
        minios_events_restore(f);
    }
    return 0;
}

void minios_netfront_stats(struct minios_netfront_stats *st)
{
    if (!nf) {
        memset(st, 0, sizeof(*st));
        return;
    }
    *st = nf->st;
    st->connected = nf->link;
}
