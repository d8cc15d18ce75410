/* vnetif.c: lwIP's Ethernet interface "en" on the domain's virtio-net device (minios/drivers/virtio_net.c): frames copied between pbufs and the device, addresses by DHCP or from ip= and gw= on the command line. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <minios/virtio_net.h>

#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcpip.h"
#include "netif/ethernet.h"
#include "vnetif.h"

#define DHCP_WAIT_NS (10ull * 1000000000ull)

static struct netif en;
static struct minios_vnet *nic;
/* A frame of more pieces than this is copied together first (linkoutput
 * runs under lwIP's core lock: one frame at a time). */
#define MAX_PARTS 16
static uint8_t out_frame[MINIOS_VNET_MAX_FRAME];

static err_t en_linkoutput(struct netif *nif, struct pbuf *p)
{
    (void)nif;
    if (p->tot_len > sizeof(out_frame))
        return ERR_IF;
    struct minios_vnet_part parts[MAX_PARTS];
    unsigned n = 0;
    bool fits = true;
    for (struct pbuf *q = p; q && fits; q = q->next) {
        if (!q->len)
            continue;
        if (n == MAX_PARTS)
            fits = false;
        else
            parts[n++] = (struct minios_vnet_part){ q->payload, q->len };
    }
    if (!fits) {
        pbuf_copy_partial(p, out_frame, p->tot_len, 0);
        parts[0] = (struct minios_vnet_part){ out_frame, p->tot_len };
        n = 1;
    }
    return minios_vnet_sendv(nic, parts, n) ? ERR_IF : ERR_OK;
}

/* From the driver's receive thread: into a pbuf, to the tcpip thread. */
static void en_rx(void *arg, const void *frame, size_t len)
{
    (void)arg;
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
    if (!p)
        return;
    pbuf_take(p, frame, (u16_t)len);
    if (en.input(p, &en) != ERR_OK)
        pbuf_free(p);
}

static err_t en_init(struct netif *nif)
{
    nif->name[0] = 'e';
    nif->name[1] = 'n';
    nif->output = etharp_output;
    nif->output_ip6 = ethip6_output;
    nif->linkoutput = en_linkoutput;
    nif->mtu = 1500;
    nif->hwaddr_len = 6;
    minios_vnet_mac(nic, nif->hwaddr);
    nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

/* The value of key=... among the command line's words, copied into buf. */
static int cmdline_value(const char *key, char *buf, size_t size)
{
    const char *p = (const char *)minios_start_info->cmd_line;
    const char *end = p + MAX_GUEST_CMDLINE;
    size_t klen = strlen(key);
    while (p < end && *p) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < end && *p && *p != ' ' && *p != '\t')
            p++;
        size_t len = (size_t)(p - w);
        if (len > klen && !memcmp(w, key, klen) && w[klen] == '=') {
            if (len - klen - 1 >= size)
                return -1;
            memcpy(buf, w + klen + 1, len - klen - 1);
            buf[len - klen - 1] = 0;
            return 0;
        }
    }
    return 1;
}

/* ip=A.B.C.D/N and gw=A.B.C.D: 0 (static), 1 (none given: DHCP), -1 (malformed). */
static int static_config(ip4_addr_t *ip, ip4_addr_t *mask, ip4_addr_t *gw)
{
    char v[32];
    int r = cmdline_value("ip", v, sizeof(v));
    if (r)
        return r;
    char *slash = strchr(v, '/');
    unsigned prefix = 24;
    if (slash) {
        char *e;
        *slash = 0;
        unsigned long n = strtoul(slash + 1, &e, 10);
        if (*e || e == slash + 1 || n < 1 || n > 32)
            return -1;
        prefix = (unsigned)n;
    }
    if (!ip4addr_aton(v, ip))
        return -1;
    ip4_addr_set_u32(mask, lwip_htonl(prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix)));
    ip4_addr_set_zero(gw);
    r = cmdline_value("gw", v, sizeof(v));
    if (r < 0 || (r == 0 && !ip4addr_aton(v, gw)))
        return -1;
    return 0;
}

int minios_vnetif_start(void)
{
    uint16_t bdf;
    if (minios_vnet_find(&bdf))
        return 0;                              /* no NIC: loopback only */
    ip4_addr_t ip, mask, gw;
    int st = static_config(&ip, &mask, &gw);
    if (st < 0) {
        minios_printk("net: malformed ip= or gw= (ip=A.B.C.D/N gw=A.B.C.D)\n");
        return -XEN_EINVAL;
    }
    int rc = minios_vnet_open(bdf, &nic);
    if (rc == -XEN_EBUSY) {
        /* The application drives it itself (a switch port, say). */
        minios_printk("net: virtio-net %02x:%02x.%x is open already: not used by lwIP\n",
                      bdf >> 8, (bdf >> 3) & 31, bdf & 7);
        return 0;
    }
    if (rc) {
        minios_printk("net: the virtio-net device could not be opened (%d)\n", rc);
        return rc;
    }
    if (st == 1) {
        ip4_addr_set_zero(&ip);
        ip4_addr_set_zero(&mask);
        ip4_addr_set_zero(&gw);
    }
    LOCK_TCPIP_CORE();
    if (!netif_add(&en, &ip, &mask, &gw, NULL, en_init, tcpip_input)) {
        UNLOCK_TCPIP_CORE();
        return -XEN_ENOMEM;
    }
    netif_create_ip6_linklocal_address(&en, 1);
    netif_set_default(&en);
    netif_set_up(&en);
    netif_set_link_up(&en);
    err_t e = st == 1 ? dhcp_start(&en) : ERR_OK;
    UNLOCK_TCPIP_CORE();
    minios_vnet_set_rx(nic, en_rx, NULL);
    if (e != ERR_OK) {
        minios_printk("net: DHCP could not start (%d)\n", e);
        return -XEN_ENOMEM;
    }
    if (st == 1) {
        uint64_t end = minios_monotonic_ns() + DHCP_WAIT_NS;
        int bound = 0;
        while (!bound && minios_monotonic_ns() < end) {
            LOCK_TCPIP_CORE();
            bound = dhcp_supplied_address(&en);
            UNLOCK_TCPIP_CORE();
            if (!bound)
                minios_sleep_ns(20000000);
        }
        if (!bound) {
            minios_printk("net: %c%c%u: no DHCP lease within 10 s; still asking\n",
                          en.name[0], en.name[1], en.num);
            return 0;
        }
    }
    char a[16], m[16], g[16];
    LOCK_TCPIP_CORE();
    ip4addr_ntoa_r(netif_ip4_addr(&en), a, sizeof(a));
    ip4addr_ntoa_r(netif_ip4_netmask(&en), m, sizeof(m));
    ip4addr_ntoa_r(netif_ip4_gw(&en), g, sizeof(g));
    UNLOCK_TCPIP_CORE();
    minios_printk("net: %c%c%u up: %s netmask %s gateway %s (%s)\n", en.name[0], en.name[1],
                  en.num, a, m, g, st == 1 ? "DHCP" : "ip= on the command line");
    return 0;
}
