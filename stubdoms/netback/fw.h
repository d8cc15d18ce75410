/* fw.h: the per-vif stateful firewall of the netback domain: rules (fw= syntax), connection tracking for TCP, UDP and ICMP echo, default allow (docs/network.md). */
#ifndef NETBACK_FW_H
#define NETBACK_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Rules, separated by '+', first match wins, nothing matched: allow.
 *
 *     ACTION:DIR:PROTO[:PORTS[:PEER]]
 *     ACTION  allow | drop
 *     DIR     in  (frames to the guest)  | out (frames from the guest)
 *     PROTO   tcp | udp | icmp | any
 *     PORTS   the destination port, N or N-M (tcp and udp only); empty: all
 *     PEER    the other end's IPv4 address, A.B.C.D or A.B.C.D/N; empty: all
 *
 * Rules decide only the first packet of a connection.  A packet that
 * belongs to a connection the firewall saw begin (either way) passes
 * without consulting them: replies to what the guest opened pass even
 * under "drop:in:any".  (ICMP: only echo replies to a tracked echo
 * request, in the other direction, pass so; every echo request is judged
 * by the rules.)  Connections are TCP and UDP 5-tuples and ICMP
 * echo ids; a TCP connection ends 10 s after a RST or both FINs, others
 * after 120 s idle (TCP: 600 s).  IPv6 is filtered the same way (PEER
 * rules name IPv4 peers and never match it; "icmp" means ICMPv6 there;
 * neighbour discovery, ICMPv6 133-137, always passes, as ARP does).
 * Other frames (ARP) pass.
 */
#define FW_MAX_RULES 32
#define FW_CONNS     512

enum { FW_IN = 0, FW_OUT = 1 };

struct fw_rule {
    bool drop;
    uint8_t dir;
    uint8_t proto;                  /* 0 any, 1 icmp, 6 tcp, 17 udp */
    uint16_t port_lo, port_hi;      /* 0-65535: all */
    uint32_t peer, mask;            /* host order; mask 0: all */
};

struct fw_conn {
    bool used;
    uint8_t proto;
    uint8_t guest_ip[16], peer_ip[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
    uint16_t guest_port, peer_port; /* ICMP: the echo id in both */
    uint8_t fin;                    /* bit 0: guest sent FIN, bit 1: peer did */
    uint8_t opener;                 /* FW_IN or FW_OUT: who began it */
    bool closing;
    uint64_t last_ns;
};

struct fw {
    struct fw_rule rules[FW_MAX_RULES];
    unsigned nrules;
    struct fw_conn conns[FW_CONNS];
    uint64_t passed, dropped, tracked;
};

/* Parses text (may be empty: no rules) into fw (which it clears).
 * 0, or -1 with the reason in err. */
int fw_parse(struct fw *fw, const char *text, char *err, size_t errlen);
/* Whether the frame may pass in direction dir (FW_IN or FW_OUT). */
bool fw_check(struct fw *fw, int dir, const uint8_t *frame, size_t len, uint64_t now_ns);

#endif
