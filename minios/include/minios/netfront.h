/* netfront.h: minios's Xen network frontend (io/netif.h over grants) as the lwIP interface "xn0" (docs/network.md). */
#ifndef MINIOS_NETFRONT_H
#define MINIOS_NETFRONT_H

#include <stdint.h>

/*
 * Part of the lwIP library ($(LWIP_MINIOS)), not of plain libminios.
 *
 * minios_netfront_start(argc, argv) starts lwIP (minios_net_init), finds
 * the domain's vif 0 in the store (device/vif/0, written by the toolstack
 * from the boot line's vif=), adds the interface "xn0" with the MAC the
 * store names and starts a thread that follows the backend's xenbus state:
 * it connects when the backend is in InitWait, and when the backend goes
 * away (Closing, Closed, its nodes removed) it takes the rings down and
 * waits for the backend to come back, then connects again.
 *
 * Addresses from argv: "ip=A.B.C.D/N" (and optionally "gw=A.B.C.D") for a
 * static address, otherwise DHCP.  Returns 0, -ENODEV (no vif in the
 * store, or no store), -EINVAL (a bad ip= or gw=, or bad store values)
 * or -ENOMEM.
 */
int minios_netfront_start(int argc, char **argv);

/* Waits until xn0 is connected to its backend and has an IPv4 address, or
 * until PV time deadline_ns (0: forever).  0, or -ETIMEDOUT. */
int minios_netfront_wait_up(uint64_t deadline_ns);

/* xn0's IPv4 address in network byte order (0 if none yet). */
uint32_t minios_netfront_ipv4(void);

struct minios_netfront_stats {
    uint64_t rx_frames, tx_frames;
    uint64_t rx_dropped;         /* no pbuf, or a malformed response */
    uint64_t tx_dropped;         /* no ring slot for 1 s, or too long */
    unsigned connects;           /* times it reached Connected */
    int connected;               /* connected now */
};
void minios_netfront_stats(struct minios_netfront_stats *st);

#endif /* MINIOS_NETFRONT_H */
