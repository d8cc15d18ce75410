/* nic.c: the physical uplink of netback's switch: the virtio-net device this domain owns (pci=), as
 * switch port "nic0"; received frames are queued by the device's thread and switched by the main loop. */
#include <stdio.h>
#include <string.h>
#include <minios/virtio_net.h>
#include "nic.h"

/*
 * The device's receive callback runs in the driver's own thread; the
 * switch, the vifs' rings and the firewall belong to netback's main loop.
 * So a received frame is copied into a ring of NIC_QUEUE slots and the main
 * loop is woken; it feeds them to the switch (nic_poll).  A full ring drops
 * the frame (counted), as a NIC with no receive buffers would.  minios's
 * threads are cooperative, one vCPU: the ring's indices need no atomics.
 */
#define NIC_QUEUE 256

static struct minios_vnet *dev;
static struct sw_port port;
static void (*wake)(void);
static struct {
    uint16_t len;
    uint8_t data[MINIOS_VNET_MAX_FRAME];
} queue[NIC_QUEUE];
static unsigned q_prod, q_cons;
static uint64_t q_dropped, tx_failed;

static void nic_rx(void *arg, const void *frame, size_t len)
{
    (void)arg;
    if (len > MINIOS_VNET_MAX_FRAME || q_prod - q_cons >= NIC_QUEUE) {
        q_dropped++;
        return;
    }
    unsigned i = q_prod % NIC_QUEUE;
    memcpy(queue[i].data, frame, len);
    queue[i].len = (uint16_t)len;
    q_prod++;
    wake();
}

static int nic_tx(struct sw_port *p, const uint8_t *frame, size_t len)
{
    (void)p;
    int rc = minios_vnet_send(dev, frame, len);
    if (rc) {
        tx_failed++;
        return -1;
    }
    return 0;
}

int nic_start(struct sw *sw, void (*wake_main)(void))
{
    uint16_t bdf;
    if (minios_vnet_find(&bdf))
        return 0;                       /* no NIC: guests talk among themselves */
    int rc = minios_vnet_open(bdf, &dev);
    if (rc) {
        printf("nic0: the virtio-net device at %02x:%02x.%x did not open (%d): no uplink\n",
               bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7, rc);
        return rc;
    }
    wake = wake_main;
    port.transmit = nic_tx;
    port.opaque = dev;
    snprintf(port.name, sizeof(port.name), "nic0");
    if (sw_port_add(sw, &port)) {
        printf("nic0: the switch has no free port: no uplink\n");
        return -1;
    }
    uint8_t mac[6];
    minios_vnet_mac(dev, mac);
    minios_vnet_set_rx(dev, nic_rx, NULL);
    printf("nic0: uplink on the virtio-net device at %02x:%02x.%x (MAC %02x:%02x:%02x:%02x:%02x:%02x)\n",
           bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return 0;
}

bool nic_pending(void)
{
    return dev && q_prod != q_cons;
}

void nic_poll(struct sw *sw, uint64_t now_ns)
{
    /* At most one ring's worth per call, so the vifs get their turn. */
    for (unsigned n = 0; dev && q_prod != q_cons && n < NIC_QUEUE; n++) {
        unsigned i = q_cons % NIC_QUEUE;
        sw_input(sw, &port, queue[i].data, queue[i].len, now_ns);
        q_cons++;
    }
}

void nic_report(void)
{
    if (!dev)
        return;
    struct minios_vnet_stats s;
    minios_vnet_stats(dev, &s);
    printf("nic0: %llu frames in, %llu out; %llu dropped by the device, %llu on a full queue, "
           "%llu sends failed\n", (unsigned long long)s.rx_frames, (unsigned long long)s.tx_frames,
           (unsigned long long)s.rx_dropped, (unsigned long long)q_dropped,
           (unsigned long long)tx_failed);
}
