/* switch.h: the netback domain's learning Ethernet switch: ports with a name and a transmit function, a MAC table with ageing, flooding of broadcast and unknown destinations (docs/network.md). */
#ifndef NETBACK_SWITCH_H
#define NETBACK_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Portable C, no OS calls (the host unit test builds it too).  A port is
 * anything that sends and receives Ethernet frames: a guest's vif, later a
 * physical NIC.  To add one:
 *
 *     static int nic_tx(struct sw_port *p, const uint8_t *frame, size_t len)
 *     { ...queue frame on the device...; return 0; }
 *     struct sw_port nic = { .transmit = nic_tx, .opaque = dev };
 *     snprintf(nic.name, sizeof(nic.name), "nic0");
 *     sw_port_add(&sw, &nic);
 *     ...on every received frame:  sw_input(&sw, &nic, frame, len, now_ns);
 *
 * transmit gets frames the switch sends out of the port (the frame is only
 * valid during the call) and returns 0, or a negative value when it
 * dropped the frame (counted in tx_dropped).
 */
#define SW_MAX_PORTS  64
#define SW_MAC_SLOTS  1024          /* MAC table size (a power of two) */
#define SW_FRAME_MIN  14            /* an Ethernet header */
#define SW_FRAME_MAX  1518          /* 1500 + header + one VLAN tag */

struct sw_port {
    char name[32];
    int (*transmit)(struct sw_port *p, const uint8_t *frame, size_t len);
    void *opaque;
    /* The switch's own: */
    int index;                      /* -1 while not added */
    uint64_t rx_frames, tx_frames, tx_dropped;
};

struct sw_mac {
    uint8_t mac[6];
    int16_t port;                   /* -1: free */
    uint64_t seen_ns;
};

struct sw {
    struct sw_port *ports[SW_MAX_PORTS];
    struct sw_mac macs[SW_MAC_SLOTS];
    uint64_t ageing_ns;             /* a learned MAC is forgotten after this */
    uint64_t flooded, forwarded, dropped_runt, dropped_same_port;
};

void sw_init(struct sw *sw, uint64_t ageing_ns);
/* 0, or -1 when all SW_MAX_PORTS are taken. */
int sw_port_add(struct sw *sw, struct sw_port *p);
/* Removes the port and forgets the MACs learned on it. */
void sw_port_remove(struct sw *sw, struct sw_port *p);
/* A frame received on port from: learns its source MAC, then sends it to
 * the port its destination was learned on, or floods it to every other
 * port (broadcast, multicast, unknown or aged destinations).  Frames
 * shorter than SW_FRAME_MIN or longer than SW_FRAME_MAX are dropped. */
void sw_input(struct sw *sw, struct sw_port *from, const uint8_t *frame, size_t len,
              uint64_t now_ns);
/* The port a MAC was learned on (and not aged out), or NULL. */
struct sw_port *sw_lookup(struct sw *sw, const uint8_t mac[6], uint64_t now_ns);

#endif
