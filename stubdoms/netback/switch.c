/* switch.c: the learning switch of the netback domain (switch.h). */
#include <string.h>
#include "switch.h"

void sw_init(struct sw *sw, uint64_t ageing_ns)
{
    memset(sw, 0, sizeof(*sw));
    sw->ageing_ns = ageing_ns;
    for (unsigned i = 0; i < SW_MAC_SLOTS; i++)
        sw->macs[i].port = -1;
}

int sw_port_add(struct sw *sw, struct sw_port *p)
{
    for (int i = 0; i < SW_MAX_PORTS; i++)
        if (!sw->ports[i]) {
            sw->ports[i] = p;
            p->index = i;
            return 0;
        }
    p->index = -1;
    return -1;
}

void sw_port_remove(struct sw *sw, struct sw_port *p)
{
    if (p->index < 0 || p->index >= SW_MAX_PORTS || sw->ports[p->index] != p)
        return;
    for (unsigned i = 0; i < SW_MAC_SLOTS; i++)
        if (sw->macs[i].port == p->index)
            sw->macs[i].port = -1;
    sw->ports[p->index] = NULL;
    p->index = -1;
}

static unsigned mac_hash(const uint8_t m[6])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 6; i++)
        h = (h ^ m[i]) * 16777619u;
    return h & (SW_MAC_SLOTS - 1);
}

static bool live(const struct sw *sw, const struct sw_mac *e, uint64_t now)
{
    return e->port >= 0 && now - e->seen_ns < sw->ageing_ns;
}

/* Linear probing over at most 16 slots: the entry for mac, or NULL. */
static struct sw_mac *find(struct sw *sw, const uint8_t m[6], uint64_t now)
{
    unsigned h = mac_hash(m);
    for (unsigned k = 0; k < 16; k++) {
        struct sw_mac *e = &sw->macs[(h + k) & (SW_MAC_SLOTS - 1)];
        if (e->port >= 0 && !memcmp(e->mac, m, 6))
            return live(sw, e, now) ? e : NULL;
    }
    return NULL;
}

static void learn(struct sw *sw, const uint8_t m[6], int port, uint64_t now)
{
    unsigned h = mac_hash(m);
    struct sw_mac *victim = NULL;
    for (unsigned k = 0; k < 16; k++) {
        struct sw_mac *e = &sw->macs[(h + k) & (SW_MAC_SLOTS - 1)];
        if (e->port >= 0 && !memcmp(e->mac, m, 6)) {
            e->port = (int16_t)port;  /* a station that moved is learned again */
            e->seen_ns = now;
            return;
        }
        if (!victim && !live(sw, e, now))
            victim = e;
    }
    if (!victim) {                    /* all 16 live: replace the oldest */
        victim = &sw->macs[h];
        for (unsigned k = 1; k < 16; k++) {
            struct sw_mac *e = &sw->macs[(h + k) & (SW_MAC_SLOTS - 1)];
            if (e->seen_ns < victim->seen_ns)
                victim = e;
        }
    }
    memcpy(victim->mac, m, 6);
    victim->port = (int16_t)port;
    victim->seen_ns = now;
}

struct sw_port *sw_lookup(struct sw *sw, const uint8_t mac[6], uint64_t now_ns)
{
    struct sw_mac *e = find(sw, mac, now_ns);
    return e ? sw->ports[e->port] : NULL;
}

static void send(struct sw_port *p, const uint8_t *frame, size_t len)
{
    if (p->transmit(p, frame, len) < 0)
        p->tx_dropped++;
    else
        p->tx_frames++;
}

void sw_input(struct sw *sw, struct sw_port *from, const uint8_t *frame, size_t len,
              uint64_t now_ns)
{
    if (from->index < 0 || sw->ports[from->index] != from)
        return;
    if (len < SW_FRAME_MIN || len > SW_FRAME_MAX) {
        sw->dropped_runt++;
        return;
    }
    from->rx_frames++;
    const uint8_t *dst = frame, *src = frame + 6;
    if (!(src[0] & 1))                /* a multicast source is bogus: not learned */
        learn(sw, src, from->index, now_ns);
    if (!(dst[0] & 1)) {
        struct sw_mac *e = find(sw, dst, now_ns);
        if (e) {
            if (e->port == from->index) {
                sw->dropped_same_port++;
                return;
            }
            sw->forwarded++;
            send(sw->ports[e->port], frame, len);
            return;
        }
    }
    sw->flooded++;
    for (int i = 0; i < SW_MAX_PORTS; i++) {
        struct sw_port *p = sw->ports[i];
        /* A port's transmit may remove ports (a vif cut off): re-check. */
        if (p && p != from)
            send(p, frame, len);
    }
}
