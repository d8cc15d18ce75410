/* main.c: the netback stub domain: serves every vif under its backend directory (io/netif.h rings, grant copies), switches frames between them, and cuts off misbehaving frontends alone (docs/network.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/mm.h>
#include <minios/sched.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>

#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __asm__ volatile("" ::: "memory")
#define xen_wmb() __asm__ volatile("" ::: "memory")
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

#include "fw.h"
#include "switch.h"
#include "nic.h"

#define PAGE      4096
#define TX_N      __CONST_RING_SIZE(netif_tx, PAGE)
#define RX_N      __CONST_RING_SIZE(netif_rx, PAGE)
#define MAX_SLOTS XEN_NETIF_NR_SLOTS_MIN   /* slots of one packet, as Xen's netback */
#define BATCH     64                       /* tx packets per vif per pass */

/*
 * One thread (main's) does everything; event handlers and store watches
 * only count and wake it.  Each pass: if the store changed, scan the
 * backend directory and run each vif's xenbus state machine; then take
 * every connected vif's tx requests (grant copy into our page), pass them
 * through its firewall to the switch, which hands them to the other vifs'
 * transmit (firewall, then grant copy into a buffer their rx ring offers).
 *
 * Everything in a frontend's ring or store nodes is the frontend's to
 * forge.  Indices more than a ring apart, a grant that does not copy, a
 * packet larger than a frame or with more than MAX_SLOTS slots, or one
 * using extra-info slots we never offered: the vif is cut off (rings
 * unmapped, channel closed, our state Closed, a "cut-off" node says why)
 * and the others keep being served.
 */
struct vif {
    struct vif *next;
    unsigned fe, devid;
    char bdir[96], fdir[96];
    int state;                      /* our XenbusState */
    bool cut, seen, watching;
    uint8_t mac[6];
    struct fw fw;
    char rules[256];                /* the firewall node's text now applied */
    char fw_seen[256];              /* the last text read (applied or refused) */
    netif_tx_back_ring_t tx;
    netif_rx_back_ring_t rx;
    void *tx_map, *rx_map;
    grant_handle_t txh, rxh;
    evtchn_port_t port;
    struct sw_port sp;
    bool rx_notify;
    uint64_t tx_pkts, rx_pkts, rx_no_buffer, fw_dropped;
};

static struct sw sw;
static struct vif *vifs;
static unsigned self;
static struct minios_waitq wq = MINIOS_WAITQ_INIT;
static volatile unsigned kicks, store_changes;
static uint8_t *txbuf, *rxbuf;      /* one page each */
static unsigned long txbuf_mfn;
static bool crash_on_udp, exit_when_idle;
static bool had_vifs;

static void nlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void nlog(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    printf("%s\n", buf);
}

static void kick(evtchn_port_t port, void *data)
{
    (void)port;
    (void)data;
    kicks++;
    minios_waitq_wake_all(&wq);
}

/* From the NIC's receive thread: frames wait in its queue. */
static void nic_wake(void)
{
    kicks++;
    minios_waitq_wake_all(&wq);
}

static void store_changed(const char *path, const char *token, void *data)
{
    (void)path;
    (void)token;
    (void)data;
    store_changes++;
    minios_waitq_wake_all(&wq);
}

static int read_str(const char *dir, const char *rel, char **out)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    return minios_xs_read(MINIOS_XBT_NIL, path, out, NULL);
}

static int read_uint(const char *dir, const char *rel, unsigned long max, unsigned long *out)
{
    char *v;
    int rc = read_str(dir, rel, &v);
    if (rc)
        return rc;
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    rc = (end == v || *end || errno || x > max || v[0] == '-') ? -EINVAL : 0;
    free(v);
    if (!rc)
        *out = x;
    return rc;
}

static void write_be(struct vif *v, const char *rel, const char *val)
{
    char path[160], *dir;
    /* A directory the toolstack removed stays removed (a write would
     * create it again). */
    if (minios_xs_read(MINIOS_XBT_NIL, v->bdir, &dir, NULL))
        return;
    free(dir);
    snprintf(path, sizeof(path), "%s/%s", v->bdir, rel);
    int rc = minios_xs_write(MINIOS_XBT_NIL, path, val);
    if (rc && rc != -ENOENT)
        nlog("vif %u/%u: cannot write %s: %d", v->fe, v->devid, rel, rc);
}

static void set_state(struct vif *v, int s)
{
    char val[4];
    v->state = s;
    snprintf(val, sizeof(val), "%d", s);
    write_be(v, "state", val);
}

/* ---- the data path ---------------------------------------------------- */

static int vif_transmit(struct sw_port *p, const uint8_t *frame, size_t len);
static void cut_off(struct vif *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void disconnect(struct vif *v)
{
    sw_port_remove(&sw, &v->sp);
    if (v->port) {
        minios_evtchn_unbind(v->port);
        minios_evtchn_close(v->port);
        v->port = 0;
    }
    if (v->tx_map) {
        minios_gnttab_unmap(v->tx_map, v->txh);
        v->tx_map = NULL;
    }
    if (v->rx_map) {
        minios_gnttab_unmap(v->rx_map, v->rxh);
        v->rx_map = NULL;
    }
}

/* Whether the frontend's end of our event channel is gone (it died: its
 * grants fail then, which is no misbehaviour). */
static bool frontend_dead(struct vif *v)
{
    if (!v->port)
        return false;
    struct evtchn_status st = { .dom = DOMID_SELF, .port = v->port };
    if (HYPERVISOR_event_channel_op(EVTCHNOP_status, &st))
        return true;
    return st.status != EVTCHNSTAT_interdomain || st.u.interdomain.dom != v->fe;
}

static void cut_off(struct vif *v, const char *fmt, ...)
{
    if (frontend_dead(v)) {
        nlog("vif %u/%u: the frontend died: disconnected", v->fe, v->devid);
        disconnect(v);
        v->cut = true;
        return;
    }
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    nlog("vif %u/%u: cut off: %s", v->fe, v->devid, why);
    disconnect(v);
    v->cut = true;
    write_be(v, "cut-off", why);
    set_state(v, XenbusStateClosed);
}

/* A grant copy failed: the frontend's fault, unless the frontend domain is
 * shutting down or gone (GNTST_bad_domain), which is no misbehaviour. */
static void copy_failed(struct vif *v, const char *dir, grant_ref_t ref, int status)
{
    if (status == GNTST_bad_domain) {
        nlog("vif %u/%u: the frontend domain is going: disconnected", v->fe, v->devid);
        disconnect(v);
        v->cut = true;
        return;
    }
    cut_off(v, "%s: grant reference %u does not copy (status %d)", dir, ref, status);
}

static void notify(struct vif *v)
{
    if (v->port)
        minios_evtchn_send(v->port);
}

/* Adds the TCP or UDP checksum a frontend left blank (NETTXF_csum_blank:
 * Linux's xen-netfront offloads it to the backend). */
static void fill_checksum(uint8_t *f, size_t len)
{
    if (len < 34 || f[12] != 0x08 || f[13] != 0x00)
        return;
    uint8_t *ip = f + 14;
    size_t hl = (size_t)(ip[0] & 15) * 4, tot = (size_t)(ip[2] << 8 | ip[3]);
    if ((ip[0] >> 4) != 4 || hl < 20 || tot < hl || 14 + tot > len || (ip[6] & 0x3f) || ip[7])
        return;
    uint8_t proto = ip[9];
    size_t l4l = tot - hl, csum_off = proto == 6 ? 16 : proto == 17 ? 6 : 0;
    if (!csum_off || l4l < csum_off + 2)
        return;
    uint8_t *l4 = ip + hl;
    l4[csum_off] = l4[csum_off + 1] = 0;
    uint32_t sum = 0;
    for (int i = 12; i < 20; i += 2)
        sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    sum += proto + (uint32_t)l4l;
    for (size_t i = 0; i + 1 < l4l; i += 2)
        sum += (uint32_t)(l4[i] << 8 | l4[i + 1]);
    if (l4l & 1)
        sum += (uint32_t)l4[l4l - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = (uint16_t)~sum;
    if (proto == 17 && c == 0)
        c = 0xffff;
    l4[csum_off] = (uint8_t)(c >> 8);
    l4[csum_off + 1] = (uint8_t)c;
}

/* The selftest=crash-on-udp trigger (test net-restart): a UDP datagram to
 * port 57005 whose payload starts with "netback: crash". */
static bool crash_trigger(const uint8_t *f, size_t len)
{
    static const char magic[] = "netback: crash";
    if (len < 14 + 20 + 8 + sizeof(magic) - 1 || f[12] != 0x08 || f[13] != 0 ||
        (f[14] & 0xf0) != 0x40 || f[14 + 9] != 17)
        return false;
    size_t hl = (size_t)(f[14] & 15) * 4;
    if (len < 14 + hl + 8 + sizeof(magic) - 1)
        return false;
    const uint8_t *udp = f + 14 + hl;
    return (udp[2] << 8 | udp[3]) == 57005 && !memcmp(udp + 8, magic, sizeof(magic) - 1);
}

/* Takes up to BATCH packets off v's tx ring.  false if v was cut off.
 * The rx ring's producer is checked too (on every pass, not only when a
 * frame is to be delivered). */
static bool service_tx(struct vif *v, uint64_t now)
{
    RING_IDX rxp = v->rx.sring->req_prod;
    if (rxp - v->rx.req_cons > RX_N) {
        cut_off(v, "rx ring: request producer %u is %u ahead of our consumer %u (ring of %u)",
                rxp, rxp - v->rx.req_cons, v->rx.req_cons, (unsigned)RX_N);
        return false;
    }
    for (unsigned n = 0; n < BATCH; n++) {
        RING_IDX prod = v->tx.sring->req_prod;
        xen_rmb();
        RING_IDX cons = v->tx.req_cons;
        if (prod - cons > TX_N) {
            cut_off(v, "tx ring: request producer %u is %u ahead of our consumer %u (ring of %u)",
                    prod, prod - cons, cons, (unsigned)TX_N);
            return false;
        }
        if (prod == cons) {
            int more;
            RING_FINAL_CHECK_FOR_REQUESTS(&v->tx, more);
            if (!more)
                break;
            continue;
        }
        /* One packet: its slots, copied out of the shared ring first. */
        netif_tx_request_t slot[MAX_SLOTS];
        unsigned ns = 0;
        bool complete = false;
        while (cons + ns != prod) {
            if (ns == MAX_SLOTS) {
                cut_off(v, "tx: a packet of more than %d slots", MAX_SLOTS);
                return false;
            }
            slot[ns] = *RING_GET_REQUEST(&v->tx, cons + ns);
            ns++;
            if (slot[ns - 1].flags & NETTXF_extra_info) {
                cut_off(v, "tx: extra-info slot (feature-gso was not offered)");
                return false;
            }
            if (!(slot[ns - 1].flags & NETTXF_more_data)) {
                complete = true;
                break;
            }
        }
        if (!complete)
            break;                  /* the rest of the packet is not posted yet */
        size_t total = slot[0].size, rest = 0;
        for (unsigned i = 1; i < ns; i++)
            rest += slot[i].size;
        if (total > SW_FRAME_MAX || total < SW_FRAME_MIN || rest > total) {
            cut_off(v, "tx: packet of %zu bytes (frames are %d to %d; no GSO offered)", total,
                    SW_FRAME_MIN, SW_FRAME_MAX);
            return false;
        }
        struct gnttab_copy ops[MAX_SLOTS];
        size_t at = 0;
        for (unsigned i = 0; i < ns; i++) {
            size_t sz = i == 0 ? total - rest : slot[i].size;
            if ((size_t)slot[i].offset + sz > PAGE) {
                cut_off(v, "tx: slot at offset %u of %zu bytes crosses its page", slot[i].offset,
                        sz);
                return false;
            }
            struct gnttab_copy *c = &ops[i];
            memset(c, 0, sizeof(*c));
            c->flags = GNTCOPY_source_gref;
            c->source.u.ref = slot[i].gref;
            c->source.domid = (domid_t)v->fe;
            c->source.offset = slot[i].offset;
            c->dest.u.gmfn = txbuf_mfn;
            c->dest.domid = DOMID_SELF;
            c->dest.offset = (uint16_t)at;
            c->len = (uint16_t)sz;
            at += sz;
        }
        int rc = minios_gnttab_copy(ops, ns);
        for (unsigned i = 0; i < ns; i++)
            if (rc || ops[i].status != GNTST_okay) {
                copy_failed(v, "tx", slot[i].gref, rc ? rc : ops[i].status);
                return false;
            }
        v->tx.req_cons = cons + ns;
        for (unsigned i = 0; i < ns; i++) {
            netif_tx_response_t *r = RING_GET_RESPONSE(&v->tx, v->tx.rsp_prod_pvt);
            v->tx.rsp_prod_pvt++;
            r->id = slot[i].id;
            r->status = NETIF_RSP_OKAY;
        }
        int ntf;
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&v->tx, ntf);
        if (ntf)
            notify(v);
        v->tx_pkts++;
        if (slot[0].flags & NETTXF_csum_blank)
            fill_checksum(txbuf, total);
        if (crash_on_udp && crash_trigger(txbuf, total)) {
            nlog("selftest=crash-on-udp: the trigger came from d%u: crashing", v->fe);
            abort();
        }
        if (!fw_check(&v->fw, FW_OUT, txbuf, total, now)) {
            v->fw_dropped++;
            continue;
        }
        sw_input(&sw, &v->sp, txbuf, total, now);
        if (v->cut)
            return false;
    }
    return true;
}

static int vif_transmit(struct sw_port *p, const uint8_t *frame, size_t len)
{
    struct vif *v = p->opaque;
    if (v->cut || !v->rx_map)
        return -1;
    if (!fw_check(&v->fw, FW_IN, frame, len, minios_monotonic_ns())) {
        v->fw_dropped++;
        return -1;
    }
    RING_IDX prod = v->rx.sring->req_prod;
    xen_rmb();
    if (prod - v->rx.req_cons > RX_N) {
        cut_off(v, "rx ring: request producer %u is %u ahead of our consumer %u (ring of %u)",
                prod, prod - v->rx.req_cons, v->rx.req_cons, (unsigned)RX_N);
        return -1;
    }
    if (prod == v->rx.req_cons) {
        v->rx_no_buffer++;
        return -1;
    }
    netif_rx_request_t req = *RING_GET_REQUEST(&v->rx, v->rx.req_cons);
    v->rx.req_cons++;
    memcpy(rxbuf, frame, len);
    struct gnttab_copy c;
    memset(&c, 0, sizeof(c));
    c.flags = GNTCOPY_dest_gref;
    c.source.u.gmfn = minios_virt_to_mfn(rxbuf);
    c.source.domid = DOMID_SELF;
    c.dest.u.ref = req.gref;
    c.dest.domid = (domid_t)v->fe;
    c.len = (uint16_t)len;
    int rc = minios_gnttab_copy(&c, 1);
    if (rc || c.status != GNTST_okay) {
        copy_failed(v, "rx", req.gref, rc ? rc : c.status);
        return -1;
    }
    netif_rx_response_t *r = RING_GET_RESPONSE(&v->rx, v->rx.rsp_prod_pvt);
    v->rx.rsp_prod_pvt++;
    r->id = req.id;
    r->offset = 0;
    r->flags = 0;
    r->status = (int16_t)len;
    int ntf;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&v->rx, ntf);
    if (ntf)
        v->rx_notify = true;
    v->rx_pkts++;
    return 0;
}

/* ---- xenbus: the backend state machine -------------------------------- */

static int connect_vif(struct vif *v)
{
    unsigned long txr, rxr, evt, copy = 0;
    if (read_uint(v->fdir, "tx-ring-ref", 0xffffffffu, &txr) ||
        read_uint(v->fdir, "rx-ring-ref", 0xffffffffu, &rxr) ||
        read_uint(v->fdir, "event-channel", 0xffffffffu, &evt)) {
        cut_off(v, "the frontend's tx-ring-ref, rx-ring-ref or event-channel is missing or "
                   "not a number");
        return -1;
    }
    read_uint(v->fdir, "request-rx-copy", 1, &copy);
    if (!copy) {
        cut_off(v, "the frontend did not ask for request-rx-copy (page flipping is not "
                   "offered)");
        return -1;
    }
    v->tx_map = minios_gnttab_map((domid_t)v->fe, (grant_ref_t)txr, 0, &v->txh);
    if (!v->tx_map) {
        cut_off(v, "tx-ring-ref %lu does not map (status %d)", txr, minios_gnttab_last_status());
        return -1;
    }
    v->rx_map = minios_gnttab_map((domid_t)v->fe, (grant_ref_t)rxr, 0, &v->rxh);
    if (!v->rx_map) {
        cut_off(v, "rx-ring-ref %lu does not map (status %d)", rxr, minios_gnttab_last_status());
        return -1;
    }
    BACK_RING_INIT(&v->tx, (netif_tx_sring_t *)v->tx_map, PAGE);
    BACK_RING_INIT(&v->rx, (netif_rx_sring_t *)v->rx_map, PAGE);
    evtchn_port_t lp;
    int rc = minios_evtchn_bind_interdomain((domid_t)v->fe, (evtchn_port_t)evt, &lp);
    if (rc) {
        cut_off(v, "event-channel %lu does not bind (%d)", evt, rc);
        return -1;
    }
    v->port = lp;
    minios_evtchn_bind(lp, kick, v);
    snprintf(v->sp.name, sizeof(v->sp.name), "vif%u.%u", v->fe, v->devid);
    v->sp.transmit = vif_transmit;
    v->sp.opaque = v;
    if (sw_port_add(&sw, &v->sp)) {
        cut_off(v, "the switch has no free port (%d)", SW_MAX_PORTS);
        return -1;
    }
    set_state(v, XenbusStateConnected);
    had_vifs = true;
    nlog("vif %u/%u: connected (mac %02x:%02x:%02x:%02x:%02x:%02x, %u firewall rule%s)", v->fe,
         v->devid, v->mac[0], v->mac[1], v->mac[2], v->mac[3], v->mac[4], v->mac[5],
         v->fw.nrules, v->fw.nrules == 1 ? "" : "s");
    minios_evtchn_send(lp);         /* it may have queued before we looked */
    kicks++;
    return 0;
}

/* A new vif directory: checks what the toolstack wrote, offers features,
 * InitWait.  false: not served (logged). */
static bool setup_vif(struct vif *v)
{
    unsigned long feid;
    char *fpath = NULL, *mac = NULL, *rules = NULL;
    char want[96], err[160];
    snprintf(want, sizeof(want), "/local/domain/%u/device/vif/%u", v->fe, v->devid);
    if (read_uint(v->bdir, "frontend-id", DOMID_FIRST_RESERVED - 1, &feid) || feid != v->fe ||
        read_str(v->bdir, "frontend", &fpath) || strcmp(fpath, want)) {
        free(fpath);
        cut_off(v, "frontend-id or frontend does not name %s", want);
        return false;
    }
    free(fpath);
    snprintf(v->fdir, sizeof(v->fdir), "%s", want);
    unsigned m[6];
    char tail;
    if (read_str(v->bdir, "mac", &mac) ||
        sscanf(mac, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &tail) != 6) {
        free(mac);
        cut_off(v, "no usable mac node");
        return false;
    }
    free(mac);
    for (int i = 0; i < 6; i++)
        v->mac[i] = (uint8_t)m[i];
    if (read_str(v->bdir, "firewall", &rules))
        rules = strdup("");
    if (!rules || strlen(rules) >= sizeof(v->rules) || fw_parse(&v->fw, rules, err, sizeof(err))) {
        cut_off(v, "firewall: %s", !rules ? "out of memory" : strlen(rules) >= sizeof(v->rules)
                                                              ? "longer than 255 bytes" : err);
        free(rules);
        return false;
    }
    snprintf(v->rules, sizeof(v->rules), "%s", rules);
    snprintf(v->fw_seen, sizeof(v->fw_seen), "%s", rules);
    free(rules);
    write_be(v, "firewall-applied", v->rules);
    /* What we do, and only that (Xen's names). */
    write_be(v, "feature-rx-copy", "1");
    write_be(v, "feature-rx-flip", "0");
    write_be(v, "feature-sg", "0");
    write_be(v, "feature-gso-tcpv4", "0");
    write_be(v, "feature-gso-tcpv6", "0");
    write_be(v, "feature-ipv6-csum-offload", "0");
    write_be(v, "feature-multicast-control", "0");
    write_be(v, "feature-split-event-channels", "0");
    write_be(v, "feature-ctrl-ring", "0");
    char path[160];
    snprintf(path, sizeof(path), "%s/state", v->fdir);
    if (minios_xs_watch(path, "fe", store_changed, NULL) == 0)
        v->watching = true;
    set_state(v, XenbusStateInitWait);
    return true;
}

static int frontend_state(struct vif *v)
{
    unsigned long s;
    if (read_uint(v->fdir, "state", XenbusStateReconfigured, &s))
        return XenbusStateUnknown;
    return (int)s;
}

/* As Linux's netback (frontend_changed). */
static void step(struct vif *v)
{
    if (v->cut)
        return;
    int fs = frontend_state(v);
    switch (fs) {
    case XenbusStateInitialising:
    case XenbusStateInitWait:
        if (v->state == XenbusStateConnected) {
            nlog("vif %u/%u: the frontend started over: disconnected", v->fe, v->devid);
            disconnect(v);
            set_state(v, XenbusStateInitWait);
        } else if (v->state == XenbusStateClosed || v->state == XenbusStateClosing) {
            set_state(v, XenbusStateInitWait);   /* prepare for reconnect */
        }
        break;
    case XenbusStateInitialised:
    case XenbusStateConnected:
        if (v->state == XenbusStateInitWait)
            connect_vif(v);
        break;
    case XenbusStateClosing:
        if (v->state != XenbusStateClosing && v->state != XenbusStateClosed) {
            disconnect(v);
            nlog("vif %u/%u: the frontend is closing", v->fe, v->devid);
            set_state(v, XenbusStateClosing);
        }
        break;
    case XenbusStateClosed:
    case XenbusStateUnknown:
    default:
        if (v->state != XenbusStateClosed) {
            disconnect(v);
            if (v->state == XenbusStateConnected)
                nlog("vif %u/%u: the frontend %s", v->fe, v->devid,
                     fs == XenbusStateClosed ? "closed" : "is gone");
            set_state(v, XenbusStateClosed);
        }
        break;
    }
}

/* The firewall node may be rewritten at run time (by a privileged domain:
 * the frontend can only read it): new rules apply to connections that
 * begin from now on; tracked connections stay.  Rules that do not parse
 * are refused and the old ones kept.  "firewall-applied" says which text
 * is in force. */
static void refresh_firewall(struct vif *v)
{
    char *rules, err[160];
    if (v->cut || read_str(v->bdir, "firewall", &rules))
        return;
    if (!strncmp(rules, v->fw_seen, sizeof(v->fw_seen) - 1) && strlen(rules) < sizeof(v->fw_seen)) {
        free(rules);
        return;
    }
    snprintf(v->fw_seen, sizeof(v->fw_seen), "%.255s", rules);
    static struct fw nf;            /* one at a time; the vif keeps its table */
    if (strlen(rules) >= sizeof(v->rules) || fw_parse(&nf, rules, err, sizeof(err))) {
        nlog("vif %u/%u: new firewall rules refused (%s); keeping '%s'", v->fe, v->devid,
             strlen(rules) >= sizeof(v->rules) ? "longer than 255 bytes" : err, v->rules);
        write_be(v, "firewall-refused", rules);
        free(rules);
        return;
    }
    memcpy(v->fw.rules, nf.rules, sizeof(nf.rules));
    v->fw.nrules = nf.nrules;
    snprintf(v->rules, sizeof(v->rules), "%s", rules);
    free(rules);
    nlog("vif %u/%u: firewall now '%s' (%u rule%s)", v->fe, v->devid, v->rules, v->fw.nrules,
         v->fw.nrules == 1 ? "" : "s");
    write_be(v, "firewall-applied", v->rules);
}

static void drop_vif(struct vif **pp)
{
    struct vif *v = *pp;
    disconnect(v);
    if (v->watching) {
        char path[160];
        snprintf(path, sizeof(path), "%s/state", v->fdir);
        minios_xs_unwatch(path, "fe");
    }
    nlog("vif %u/%u: removed (%lu packets from it, %lu to it, %lu without an rx buffer, "
         "%lu dropped by its firewall)", v->fe, v->devid, (unsigned long)v->tx_pkts,
         (unsigned long)v->rx_pkts, (unsigned long)v->rx_no_buffer, (unsigned long)v->fw_dropped);
    *pp = v->next;
    free(v);
}

static bool number(const char *s, unsigned max, unsigned *out)
{
    char *end;
    unsigned long x = strtoul(s, &end, 10);
    if (!*s || *end || x > max || (s[0] == '0' && s[1]))
        return false;
    *out = (unsigned)x;
    return true;
}

static void scan(void)
{
    char base[64], dir[96];
    snprintf(base, sizeof(base), "/local/domain/%u/backend/vif", self);
    for (struct vif *v = vifs; v; v = v->next)
        v->seen = false;
    char **fes = NULL;
    unsigned nfe = 0;
    if (minios_xs_directory(MINIOS_XBT_NIL, base, &fes, &nfe))
        nfe = 0;
    for (unsigned i = 0; i < nfe; i++) {
        unsigned fe, devid;
        if (!number(fes[i], DOMID_FIRST_RESERVED - 1, &fe))
            continue;
        snprintf(dir, sizeof(dir), "%s/%u", base, fe);
        char **devs = NULL;
        unsigned nd = 0;
        if (minios_xs_directory(MINIOS_XBT_NIL, dir, &devs, &nd))
            nd = 0;
        for (unsigned j = 0; j < nd; j++) {
            if (!number(devs[j], 65535, &devid))
                continue;
            struct vif *v = vifs;
            while (v && !(v->fe == fe && v->devid == devid))
                v = v->next;
            if (!v) {
                v = calloc(1, sizeof(*v));
                if (!v)
                    continue;
                v->fe = fe;
                v->devid = devid;
                v->sp.index = -1;
                v->state = XenbusStateInitialising;
                snprintf(v->bdir, sizeof(v->bdir), "%s/%u", dir, devid);
                v->next = vifs;
                vifs = v;
                v->seen = true;
                if (!setup_vif(v))
                    continue;
            }
            v->seen = true;
        }
        free(devs);
    }
    free(fes);
    for (struct vif **pp = &vifs; *pp;) {
        if (!(*pp)->seen)
            drop_vif(pp);
        else
            pp = &(*pp)->next;
    }
    for (struct vif *v = vifs; v; v = v->next) {
        step(v);
        refresh_firewall(v);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "selftest=crash-on-udp"))
            crash_on_udp = true;
        else if (!strcmp(argv[i], "exit=idle"))
            exit_when_idle = true;
    }
    if (minios_gnttab_init() || !minios_xenbus_available()) {
        nlog("no grant table or no store: cannot serve");
        return 1;
    }
    char *id;
    if (minios_xs_read(MINIOS_XBT_NIL, "domid", &id, NULL) || !number(id, 65535, &self)) {
        nlog("cannot read our domid from the store");
        return 1;
    }
    free(id);
    txbuf = minios_alloc_pages(1);
    rxbuf = minios_alloc_pages(1);
    if (!txbuf || !rxbuf)
        return 1;
    txbuf_mfn = minios_virt_to_mfn(txbuf);
    sw_init(&sw, 300ull * 1000000000ull);
    if (nic_start(&sw, nic_wake))
        return 1;
    char base[64];
    snprintf(base, sizeof(base), "/local/domain/%u/backend/vif", self);
    if (minios_xs_watch(base, "be", store_changed, NULL)) {
        nlog("cannot watch %s", base);
        return 1;
    }
    nlog("serving %s%s", base, crash_on_udp ? " (selftest=crash-on-udp)" : "");
    unsigned seen_store = ~0u, seen_kicks = 0;
    uint64_t idle_since = 0;
    for (;;) {
        unsigned long f = minios_events_save();
        while (store_changes == seen_store && kicks == seen_kicks)
            if (minios_waitq_wait(&wq, minios_monotonic_ns() + 1000000000ull))
                break;
        minios_events_restore(f);
        seen_kicks = kicks;
        if (store_changes != seen_store) {
            seen_store = store_changes;
            scan();
        }
        uint64_t now = minios_monotonic_ns();
        bool again = true;
        for (unsigned round = 0; again && round < 16; round++) {
            again = false;
            for (struct vif *v = vifs; v; v = v->next)
                if (!v->cut && v->tx_map) {
                    RING_IDX before = v->tx.req_cons;
                    if (service_tx(v, now) && v->tx.req_cons - before >= BATCH)
                        again = true;
                }
        }
        if (nic_pending()) {
            nic_poll(&sw, now);
            if (nic_pending())
                again = true;
        }
        for (struct vif *v = vifs; v; v = v->next)
            if (v->rx_notify) {
                v->rx_notify = false;
                notify(v);
            }
        if (again)
            kicks++;                /* more queued: another pass at once */
        if (exit_when_idle && had_vifs) {
            bool any = false;
            for (struct vif *v = vifs; v; v = v->next)
                any |= !v->cut;
            if (any) {
                idle_since = 0;
            } else if (!idle_since) {
                idle_since = now;
            } else if (now - idle_since > 2000000000ull) {
                nic_report();
                nlog("exit=idle: no vif left to serve: powering off");
                return 0;
            }
        }
    }
}
