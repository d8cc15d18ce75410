/* fw.c: the per-vif stateful firewall (fw.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fw.h"

#define SEC 1000000000ull

static int fail(char *err, size_t errlen, const char *rule, size_t rl, const char *why)
{
    snprintf(err, errlen, "rule '%.*s': %s", (int)rl, rule, why);
    return -1;
}

/* Next ':'-field of [p, end): its start and length; *p past the ':'. */
static bool field(const char **p, const char *end, const char **f, size_t *fl)
{
    if (*p > end)
        return false;
    *f = *p;
    const char *c = memchr(*p, ':', (size_t)(end - *p));
    *fl = (size_t)((c ? c : end) - *p);
    *p = c ? c + 1 : end + 1;
    return true;
}

static bool is(const char *f, size_t fl, const char *w)
{
    return fl == strlen(w) && !memcmp(f, w, fl);
}

static bool num(const char *f, size_t fl, unsigned long max, unsigned long *out)
{
    if (fl == 0 || fl > 10)
        return false;
    unsigned long x = 0;
    for (size_t i = 0; i < fl; i++) {
        if (f[i] < '0' || f[i] > '9')
            return false;
        x = x * 10 + (unsigned long)(f[i] - '0');
    }
    if (x > max)
        return false;
    *out = x;
    return true;
}

static bool ipv4(const char *f, size_t fl, uint32_t *ip, uint32_t *mask)
{
    unsigned long b[4], bits = 32;
    const char *p = f, *end = f + fl;
    const char *slash = memchr(f, '/', fl);
    const char *aend = slash ? slash : end;
    for (int i = 0; i < 4; i++) {
        const char *d = memchr(p, '.', (size_t)(aend - p));
        if (i < 3 && !d)
            return false;
        const char *e = i < 3 ? d : aend;
        if (!num(p, (size_t)(e - p), 255, &b[i]))
            return false;
        p = e + 1;
    }
    if (slash && (!num(slash + 1, (size_t)(end - slash - 1), 32, &bits) || bits == 0))
        return false;
    *ip = (uint32_t)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    *mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
    *ip &= *mask;
    return true;
}

static int parse_rule(struct fw_rule *r, const char *s, size_t sl, char *err, size_t errlen)
{
    const char *p = s, *end = s + sl, *f;
    size_t fl;
    memset(r, 0, sizeof(*r));
    r->port_hi = 65535;
    if (!field(&p, end, &f, &fl) || !(is(f, fl, "allow") || is(f, fl, "drop")))
        return fail(err, errlen, s, sl, "the action must be allow or drop");
    r->drop = is(f, fl, "drop");
    if (!field(&p, end, &f, &fl) || !(is(f, fl, "in") || is(f, fl, "out")))
        return fail(err, errlen, s, sl, "the direction must be in or out");
    r->dir = is(f, fl, "in") ? FW_IN : FW_OUT;
    if (!field(&p, end, &f, &fl))
        return fail(err, errlen, s, sl, "no protocol (tcp, udp, icmp or any)");
    if (is(f, fl, "tcp"))
        r->proto = 6;
    else if (is(f, fl, "udp"))
        r->proto = 17;
    else if (is(f, fl, "icmp"))
        r->proto = 1;
    else if (!is(f, fl, "any"))
        return fail(err, errlen, s, sl, "the protocol must be tcp, udp, icmp or any");
    if (field(&p, end, &f, &fl) && fl) {
        if (r->proto != 6 && r->proto != 17)
            return fail(err, errlen, s, sl, "ports are for tcp and udp only");
        const char *dash = memchr(f, '-', fl);
        unsigned long lo, hi;
        if (dash) {
            if (!num(f, (size_t)(dash - f), 65535, &lo) ||
                !num(dash + 1, (size_t)(f + fl - dash - 1), 65535, &hi) || hi < lo)
                return fail(err, errlen, s, sl, "ports must be N or N-M (0-65535, N <= M)");
        } else if (!num(f, fl, 65535, &lo)) {
            return fail(err, errlen, s, sl, "ports must be N or N-M (0-65535, N <= M)");
        } else {
            hi = lo;
        }
        r->port_lo = (uint16_t)lo;
        r->port_hi = (uint16_t)hi;
    }
    if (field(&p, end, &f, &fl) && fl) {
        if (!ipv4(f, fl, &r->peer, &r->mask))
            return fail(err, errlen, s, sl, "the peer must be A.B.C.D or A.B.C.D/N");
    }
    if (p <= end)
        return fail(err, errlen, s, sl, "too many fields");
    return 0;
}

int fw_parse(struct fw *fw, const char *text, char *err, size_t errlen)
{
    memset(fw, 0, sizeof(*fw));
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '+');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (fw->nrules == FW_MAX_RULES) {
            snprintf(err, errlen, "more than %d rules", FW_MAX_RULES);
            return -1;
        }
        if (l == 0) {
            snprintf(err, errlen, "an empty rule");
            return -1;
        }
        if (parse_rule(&fw->rules[fw->nrules], p, l, err, errlen))
            return -1;
        fw->nrules++;
        p += l;
        if (*p == '+') {
            p++;
            if (!*p) {
                snprintf(err, errlen, "an empty rule at the end");
                return -1;
            }
        }
    }
    return 0;
}

/* The parts of an IPv4 packet the firewall looks at. */
struct pkt {
    uint8_t proto;                  /* ICMPv6 is 1 here too */
    bool v6;
    uint8_t src[16], dst[16];       /* IPv4 as ::ffff:a.b.c.d */
    uint16_t sport, dport;          /* ICMP echo: the id in both */
    uint8_t tcp_flags;
    bool icmp_echo, icmp_reply, icmp_error;
};

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void v4mapped(uint8_t out[16], const uint8_t *a)
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, a, 4);
}

/* The ports, flags or echo id of a TCP, UDP or ICMP(v6) header of l4l
 * bytes; false if too short. */
static bool parse_l4(struct pkt *k, const uint8_t *l4, size_t l4l, bool icmp6)
{
    if (k->proto == 6 || k->proto == 17) {
        if (l4l < (k->proto == 6 ? 20u : 8u))
            return false;
        k->sport = be16(l4);
        k->dport = be16(l4 + 2);
        if (k->proto == 6)
            k->tcp_flags = l4[13];
    } else if (k->proto == 1) {
        if (l4l < 8)
            return false;
        uint8_t echo = icmp6 ? 128 : 8, reply = icmp6 ? 129 : 0;
        k->icmp_echo = l4[0] == echo;
        k->icmp_reply = l4[0] == reply;
        if (k->icmp_echo || k->icmp_reply)
            k->sport = k->dport = be16(l4 + 4);
    }
    return true;
}

/* 1: an IPv4 or IPv6 packet parsed; 0: neither, or IPv6 neighbour
 * discovery (not filtered); -1: malformed (dropped). */
static int parse(const uint8_t *f, size_t len, struct pkt *k)
{
    if (len < 14)
        return -1;
    size_t off = 14;
    uint16_t type = be16(f + 12);
    if (type == 0x8100) {             /* one VLAN tag */
        if (len < 18)
            return -1;
        type = be16(f + 16);
        off = 18;
    }
    if (type == 0x86dd) {
        const uint8_t *ip = f + off;
        size_t il = len - off;
        if (il < 40 || (ip[0] >> 4) != 6 || (size_t)be16(ip + 4) + 40 > il)
            return -1;
        memset(k, 0, sizeof(*k));
        k->v6 = true;
        k->proto = ip[6] == 58 ? 1 : ip[6];
        memcpy(k->src, ip + 8, 16);
        memcpy(k->dst, ip + 24, 16);
        const uint8_t *l4 = ip + 40;
        size_t l4l = be16(ip + 4);
        if (ip[6] == 58 && l4l >= 1 && l4[0] >= 133 && l4[0] <= 137)
            return 0;                 /* neighbour discovery: as ARP */
        return parse_l4(k, l4, l4l, true) ? 1 : -1;
    }
    if (type != 0x0800)
        return 0;
    const uint8_t *ip = f + off;
    size_t il = len - off;
    if (il < 20 || (ip[0] >> 4) != 4)
        return -1;
    size_t hl = (size_t)(ip[0] & 15) * 4;
    size_t tot = be16(ip + 2);
    if (hl < 20 || tot < hl || tot > il)
        return -1;
    memset(k, 0, sizeof(*k));
    k->proto = ip[9];
    v4mapped(k->src, ip + 12);
    v4mapped(k->dst, ip + 16);
    if (be16(ip + 6) & 0x1fff)        /* a later fragment: no ports to see */
        return 1;
    return parse_l4(k, ip + hl, tot - hl, false) ? 1 : -1;
}

static uint64_t timeout_of(const struct fw_conn *c)
{
    if (c->closing)
        return 10 * SEC;
    return c->proto == 6 ? 600 * SEC : 120 * SEC;
}

static struct fw_conn *lookup(struct fw *fw, uint8_t proto, const uint8_t *gip, uint16_t gport,
                              const uint8_t *pip, uint16_t pport, uint64_t now)
{
    for (unsigned i = 0; i < FW_CONNS; i++) {
        struct fw_conn *c = &fw->conns[i];
        if (!c->used)
            continue;
        if (now - c->last_ns > timeout_of(c)) {
            c->used = false;
            continue;
        }
        if (c->proto == proto && !memcmp(c->guest_ip, gip, 16) && !memcmp(c->peer_ip, pip, 16) &&
            c->guest_port == gport && c->peer_port == pport)
            return c;
    }
    return NULL;
}

static void track(struct fw *fw, int dir, uint8_t proto, const uint8_t *gip, uint16_t gport,
                  const uint8_t *pip, uint16_t pport, uint64_t now)
{
    struct fw_conn *slot = NULL;
    for (unsigned i = 0; i < FW_CONNS && !slot; i++)
        if (!fw->conns[i].used)
            slot = &fw->conns[i];
    if (!slot) {                      /* full: the least recently used goes */
        slot = &fw->conns[0];
        for (unsigned i = 1; i < FW_CONNS; i++)
            if (fw->conns[i].last_ns < slot->last_ns)
                slot = &fw->conns[i];
    }
    memset(slot, 0, sizeof(*slot));
    slot->used = true;
    slot->proto = proto;
    memcpy(slot->guest_ip, gip, 16);
    slot->guest_port = gport;
    memcpy(slot->peer_ip, pip, 16);
    slot->peer_port = pport;
    slot->last_ns = now;
    slot->opener = (uint8_t)dir;
    fw->tracked++;
}

static bool rule_says_pass(const struct fw *fw, int dir, const struct pkt *k)
{
    const uint8_t *p = dir == FW_IN ? k->src : k->dst;
    uint32_t peer = k->v6 ? 0 : be32(p + 12);
    for (unsigned i = 0; i < fw->nrules; i++) {
        const struct fw_rule *r = &fw->rules[i];
        if (r->dir != dir || (r->proto && r->proto != k->proto))
            continue;
        if ((k->proto == 6 || k->proto == 17) &&
            (k->dport < r->port_lo || k->dport > r->port_hi))
            continue;
        if (r->mask && (k->v6 || (peer & r->mask) != r->peer))
            continue;                 /* PEER names an IPv4 address */
        return !r->drop;
    }
    return true;
}

bool fw_check(struct fw *fw, int dir, const uint8_t *frame, size_t len, uint64_t now_ns)
{
    struct pkt k;
    int rc = parse(frame, len, &k);
    if (rc == 0) {
        fw->passed++;
        return true;
    }
    if (rc < 0) {
        fw->dropped++;
        return false;
    }
    const uint8_t *gip = dir == FW_IN ? k.dst : k.src, *pip = dir == FW_IN ? k.src : k.dst;
    uint16_t gport = dir == FW_IN ? k.dport : k.sport, pport = dir == FW_IN ? k.sport : k.dport;
    bool trackable = k.proto == 6 || k.proto == 17 || k.icmp_reply;
    struct fw_conn *c = trackable ? lookup(fw, k.proto, gip, gport, pip, pport, now_ns) : NULL;
    if (c && k.proto == 1 && c->opener == dir)
        c = NULL;                     /* an echo reply must answer the other side */
    if (c) {
        c->last_ns = now_ns;
        if (k.proto == 6) {
            if (k.tcp_flags & 0x04)                           /* RST */
                c->closing = true;
            if (k.tcp_flags & 0x01)                           /* FIN */
                c->fin |= dir == FW_OUT ? 1 : 2;
            if (c->fin == 3)
                c->closing = true;
        }
        fw->passed++;
        return true;
    }
    /* An echo reply or an ICMP error that no tracked connection explains
     * is judged by the rules like a new packet. */
    if (!rule_says_pass(fw, dir, &k)) {
        fw->dropped++;
        return false;
    }
    bool opens = (k.proto == 6 && (k.tcp_flags & 0x16) == 0x02) || k.proto == 17 || k.icmp_echo;
    if (opens)
        track(fw, dir, k.proto, gip, gport, pip, pport, now_ns);
    fw->passed++;
    return true;
}
