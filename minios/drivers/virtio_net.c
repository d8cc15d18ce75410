/* virtio_net.c: the virtio-net driver (virtio 1.x, 5.1): one receive and one transmit queue of 2 KiB buffers, each inside one page, frames copied in and out; a receive thread hands frames to a callback. */
#include <stdlib.h>
#include <string.h>
#include <minios/console.h>
#include <minios/mm.h>
#include <minios/pci.h>
#include <minios/time.h>
#include <minios/virtio_net.h>
#include "virtio.h"

#define VIRTIO_NET_F_MAC 5
#define HDR_LEN 12                /* struct virtio_net_hdr with num_buffers (5.1.6) */
#define BUF_SIZE 2048             /* two per page: never crosses one */
#define RXQ 0
#define TXQ 1
#define NBUF 128

struct minios_vnet {
    struct virtio_dev dev;
    uint8_t mac[6];
    unsigned nrx, ntx;
    uint8_t *rxbuf, *txbuf;
    uint16_t txfree[NBUF];         /* stack of free transmit buffers */
    unsigned ntxfree;
    minios_vnet_rx_fn rx;
    void *rx_arg;
    struct minios_vnet_stats st;
};

/* The devices opened so far (each once). */
static uint16_t opened[MINIOS_PCI_MAX_OWNED];
static unsigned nopened;

int minios_vnet_find(uint16_t *bdf)
{
    uint16_t b[MINIOS_PCI_MAX_OWNED];
    int n = minios_pci_owned(b, MINIOS_PCI_MAX_OWNED);
    for (int i = 0; i < n; i++) {
        uint32_t id = minios_pci_read(b[i], 0, 4);
        uint16_t dev = (uint16_t)(id >> 16);
        if ((uint16_t)id != 0x1af4)
            continue;
        if (dev == 0x1040 + VIRTIO_ID_NET ||
            (dev >= 0x1000 && dev < 0x1040 && minios_pci_read(b[i], 0x2e, 2) == VIRTIO_ID_NET)) {
            *bdf = b[i];
            return 0;
        }
    }
    return -XEN_ENODEV;
}

static int post_rx(struct minios_vnet *n, unsigned i)
{
    struct virtq_buf b = { virtio_dma(n->rxbuf + i * BUF_SIZE), BUF_SIZE, true };
    /* The cookie is the buffer's number + 1 (never NULL). */
    return virtq_add(&n->dev.q[RXQ].vq, &b, 1, (void *)(uintptr_t)(i + 1));
}

static void rx_thread(void *arg)
{
    struct minios_vnet *n = arg;
    struct virtio_queue *q = &n->dev.q[RXQ];
    while (!n->dev.broken) {
        /* As Linux's NAPI: the receive interrupt is on only while this
         * thread sleeps; frames that come while it works are taken in
         * the same pass, without an interrupt each. */
        unsigned long f = minios_events_save();
        if (!virtq_has_used(&q->vq)) {
            virtq_interrupts(&q->vq, true);
            while (!virtq_has_used(&q->vq))
                minios_waitq_wait(&q->wait, 0);
        }
        virtq_interrupts(&q->vq, false);
        minios_events_restore(f);
        void *cookie;
        uint32_t len;
        int r;
        bool reposted = false;
        while ((r = virtq_get(&q->vq, &cookie, &len)) == 1) {
            unsigned i = (unsigned)(uintptr_t)cookie - 1;
            if (len < HDR_LEN + 14 || len > BUF_SIZE) {
                n->st.rx_dropped++;
            } else {
                n->st.rx_frames++;
                n->st.rx_bytes += len - HDR_LEN;
                if (n->rx)
                    n->rx(n->rx_arg, n->rxbuf + i * BUF_SIZE + HDR_LEN, len - HDR_LEN);
                else
                    n->st.rx_dropped++;
            }
            post_rx(n, i);
            reposted = true;
        }
        if (r < 0) {
            virtio_fail(&n->dev, "receive queue: used ring names a buffer not in flight");
            break;
        }
        if (reposted)
            virtio_kick(q);
    }
    minios_thread_exit();
}

int minios_vnet_open(uint16_t bdf, struct minios_vnet **out)
{
    for (unsigned i = 0; i < nopened; i++)
        if (opened[i] == bdf)
            return -XEN_EBUSY;
    struct minios_vnet *n = calloc(1, sizeof(*n));
    if (!n)
        return -XEN_ENOMEM;
    int rc = virtio_open(&n->dev, bdf, VIRTIO_ID_NET, 1ull << VIRTIO_NET_F_MAC);
    if (rc)
        goto fail;
    if ((rc = virtio_queue_setup(&n->dev, RXQ, NBUF)) || (rc = virtio_queue_setup(&n->dev, TXQ, NBUF)))
        goto fail_reset;
    n->nrx = n->dev.q[RXQ].vq.size;
    n->ntx = n->dev.q[TXQ].vq.size;
    n->rxbuf = minios_alloc_pages((n->nrx * BUF_SIZE + 4095) / 4096);
    n->txbuf = minios_alloc_pages((n->ntx * BUF_SIZE + 4095) / 4096);
    if (!n->rxbuf || !n->txbuf) {
        rc = -XEN_ENOMEM;
        goto fail_reset;
    }
    for (unsigned i = 0; i < n->ntx; i++)
        n->txfree[n->ntxfree++] = (uint16_t)i;
    if (n->dev.features & (1ull << VIRTIO_NET_F_MAC)) {
        virtio_cfg_read(&n->dev, 0, n->mac, 6);
    } else {
        const uint8_t local[6] = { 0x02, 0x4b, 0x65, 0x65, 0x6c, (uint8_t)bdf };
        memcpy(n->mac, local, 6);
    }
    /* Sent frames are taken back by the next send, or by a send that
     * finds the ring full (which turns the interrupt on while it waits):
     * an interrupt per frame sent would wake this vCPU for nothing. */
    virtq_interrupts(&n->dev.q[TXQ].vq, false);
    for (unsigned i = 0; i < n->nrx; i++)
        post_rx(n, i);
    virtio_ready(&n->dev);
    virtio_kick(&n->dev.q[RXQ]);
    if (!minios_thread_create("vnet-rx", rx_thread, n, 0)) {
        rc = -XEN_ENOMEM;
        goto fail_reset;
    }
    minios_printk("%s: MAC %02x:%02x:%02x:%02x:%02x:%02x, %u receive and %u transmit buffers, "
                  "MSI-X\n", n->dev.name, n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
                  n->mac[5], n->nrx, n->ntx);
    if (nopened < MINIOS_PCI_MAX_OWNED)
        opened[nopened++] = bdf;
    *out = n;
    return 0;
fail_reset:
    virtio_fail(&n->dev, "set-up failed");
fail:
    /* The queues' pages and buffers stay allocated: the device may still
     * hold their addresses until the reset, and a failed open is rare. */
    free(n);
    return rc;
}

void minios_vnet_mac(const struct minios_vnet *n, uint8_t mac[6])
{
    memcpy(mac, n->mac, 6);
}

void minios_vnet_set_rx(struct minios_vnet *n, minios_vnet_rx_fn fn, void *arg)
{
    unsigned long f = minios_events_save();
    n->rx = fn;
    n->rx_arg = arg;
    minios_events_restore(f);
}

/* Takes back what the device sent; -1 if the ring is broken. */
static int reclaim_tx(struct minios_vnet *n)
{
    void *cookie;
    uint32_t len;
    int r;
    while ((r = virtq_get(&n->dev.q[TXQ].vq, &cookie, &len)) == 1)
        n->txfree[n->ntxfree++] = (uint16_t)((uintptr_t)cookie - 1);
    return r;
}

int minios_vnet_send(struct minios_vnet *n, const void *frame, size_t len)
{
    struct minios_vnet_part part = { frame, len };
    return minios_vnet_sendv(n, &part, 1);
}

int minios_vnet_sendv(struct minios_vnet *n, const struct minios_vnet_part *parts,
                      unsigned nparts)
{
    size_t len = 0;
    for (unsigned p = 0; p < nparts; p++) {
        if (parts[p].len > MINIOS_VNET_MAX_FRAME || (parts[p].len && !parts[p].data))
            return -XEN_EINVAL;
        len += parts[p].len;
        if (len > MINIOS_VNET_MAX_FRAME)
            return -XEN_EINVAL;
    }
    if (len < 14)
        return -XEN_EINVAL;
    struct virtio_queue *q = &n->dev.q[TXQ];
    uint64_t deadline = minios_monotonic_ns() + 1000000000ull;
    unsigned long f = minios_events_save();
    for (;;) {
        if (n->dev.broken) {
            minios_events_restore(f);
            return -XEN_EIO;
        }
        if (reclaim_tx(n) < 0) {
            minios_events_restore(f);
            virtio_fail(&n->dev, "transmit queue: used ring names a buffer not in flight");
            return -XEN_EIO;
        }
        if (n->ntxfree)
            break;
        if (minios_monotonic_ns() >= deadline) {
            virtq_interrupts(&q->vq, false);
            minios_events_restore(f);
            return -XEN_EAGAIN;
        }
        /* Full: the device's interrupt for a sent frame is wanted now.
         * Turned on before the check, so one used in between is seen. */
        virtq_interrupts(&q->vq, true);
        if (virtq_has_used(&q->vq))
            continue;
        minios_waitq_wait(&q->wait, deadline);
    }
    virtq_interrupts(&q->vq, false);
    unsigned i = n->txfree[--n->ntxfree];
    uint8_t *b = n->txbuf + i * BUF_SIZE;
    memset(b, 0, HDR_LEN);                 /* no offloads, one buffer */
    for (unsigned p = 0, off = HDR_LEN; p < nparts; off += (unsigned)parts[p].len, p++)
        memcpy(b + off, parts[p].data, parts[p].len);
    struct virtq_buf vb = { virtio_dma(b), (uint32_t)(HDR_LEN + len), false };
    virtq_add(&q->vq, &vb, 1, (void *)(uintptr_t)(i + 1));
    virtio_kick(q);
    n->st.tx_frames++;
    n->st.tx_bytes += len;
    minios_events_restore(f);
    return 0;
}

void minios_vnet_stats(const struct minios_vnet *n, struct minios_vnet_stats *s)
{
    *s = n->st;
    s->interrupts = n->dev.q[RXQ].interrupts + n->dev.q[TXQ].interrupts;
}
