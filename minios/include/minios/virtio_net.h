/* virtio_net.h: frames in and out of a virtio-net device this domain owns (a NIC for lwIP's en0, or a port of a switch). */
#ifndef MINIOS_VIRTIO_NET_H
#define MINIOS_VIRTIO_NET_H
#include <stddef.h>
#include <stdint.h>
/*
 * Ethernet frames without the FCS, 14 to MINIOS_VNET_MAX_FRAME bytes.
 * No offloads are negotiated: frames carry complete checksums both ways.
 * Errors are negative Xen errnos.
 */
#define MINIOS_VNET_MAX_FRAME 1518       /* 1500 bytes of payload, one VLAN tag */
struct minios_vnet;
/* Called for each received frame, from the device's receive thread (a
 * minios thread: it may block briefly); the frame is valid during the
 * call only. */
typedef void (*minios_vnet_rx_fn)(void *arg, const void *frame, size_t len);
/* The first virtio-net device among those the command line gives this
 * domain (pci=): 0 and *bdf, or -XEN_ENODEV. */
int minios_vnet_find(uint16_t *bdf);
/* Opens the device at bdf: transport, receive and transmit queues,
 * receive buffers posted, the device live; frames received before
 * minios_vnet_set_rx are dropped.  -XEN_ENODEV (not owned, not a modern
 * virtio-net device), -XEN_EOPNOTSUPP, -XEN_ENOMEM, -XEN_EBUSY (this device is open already;
 * several devices may be open at once). */
int minios_vnet_open(uint16_t bdf, struct minios_vnet **out);
/* The MAC address: the device's (VIRTIO_NET_F_MAC), else a fixed local one. */
void minios_vnet_mac(const struct minios_vnet *n, uint8_t mac[6]);
/* Sends a copy of the frame.  Waits up to a second for a free transmit
 * buffer (-XEN_EAGAIN after that); -XEN_EINVAL for a bad length, -XEN_EIO
 * once the device is broken. Call from threads. */
int minios_vnet_send(struct minios_vnet *n, const void *frame, size_t len);
/* The same for a frame given in pieces (a pbuf chain, say), copied
 * together into the transmit buffer; their total is the frame's length. */
struct minios_vnet_part {
    const void *data;
    size_t len;
};
int minios_vnet_sendv(struct minios_vnet *n, const struct minios_vnet_part *parts,
                      unsigned nparts);
/* Sets the receive callback (NULL: drop frames). */
void minios_vnet_set_rx(struct minios_vnet *n, minios_vnet_rx_fn fn, void *arg);
/* Counters: frames and bytes each way, frames dropped on receive. */
struct minios_vnet_stats {
    uint64_t rx_frames, rx_bytes, rx_dropped, tx_frames, tx_bytes, interrupts;
};
void minios_vnet_stats(const struct minios_vnet *n, struct minios_vnet_stats *s);
#endif /* MINIOS_VIRTIO_NET_H */
