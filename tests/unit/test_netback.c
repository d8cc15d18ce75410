/* Host unit test of netback's learning switch and stateful firewall (stubdoms/netback/switch.c, fw.c) under ASan/UBSan. */
#include <stdint.h>
#include <string.h>
#include "fw.h"
#include "switch.h"
#include "unit.h"

#define SEC 1000000000ull

struct cap {
    struct sw_port p;
    unsigned got;
    uint8_t last[SW_FRAME_MAX];
    size_t last_len;
};

static int cap_tx(struct sw_port *p, const uint8_t *f, size_t len)
{
    struct cap *c = (struct cap *)p;
    c->got++;
    memcpy(c->last, f, len);
    c->last_len = len;
    return 0;
}

static void frame(uint8_t *f, const uint8_t dst[6], const uint8_t src[6])
{
    memset(f, 0, 60);
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x08;
    f[13] = 0x06;
}

static void test_switch(void)
{
    static struct sw sw;
    static struct cap a, b, c;
    sw_init(&sw, 300 * SEC);
    struct cap *ports[] = { &a, &b, &c };
    for (int i = 0; i < 3; i++) {
        memset(ports[i], 0, sizeof(*ports[i]));
        ports[i]->p.transmit = cap_tx;
        EXPECT(sw_port_add(&sw, &ports[i]->p) == 0);
    }
    const uint8_t ma[6] = { 0, 0x16, 0x3e, 0, 0, 1 }, mb[6] = { 0, 0x16, 0x3e, 0, 0, 2 };
    const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    uint8_t f[60];
    /* Broadcast from a floods to b and c; a is learned. */
    frame(f, bc, ma);
    sw_input(&sw, &a.p, f, 60, 1 * SEC);
    EXPECT(a.got == 0 && b.got == 1 && c.got == 1);
    /* Unknown unicast (to mb) floods too. */
    frame(f, mb, ma);
    sw_input(&sw, &a.p, f, 60, 2 * SEC);
    EXPECT(b.got == 2 && c.got == 2);
    /* b answers a: only a gets it; b is learned. */
    frame(f, ma, mb);
    sw_input(&sw, &b.p, f, 60, 3 * SEC);
    EXPECT(a.got == 1 && c.got == 2);
    EXPECT(sw_lookup(&sw, mb, 3 * SEC) == &b.p);
    /* Now a to b goes to b alone. */
    frame(f, mb, ma);
    sw_input(&sw, &a.p, f, 60, 4 * SEC);
    EXPECT(b.got == 3 && c.got == 2);
    /* Ageing: after 300 s without b speaking, a to b floods again. */
    EXPECT(sw_lookup(&sw, mb, 400 * SEC) == NULL);
    sw_input(&sw, &a.p, f, 60, 400 * SEC);
    EXPECT(b.got == 4 && c.got == 3);
    /* Runts and giants are dropped. */
    sw_input(&sw, &a.p, f, 10, 401 * SEC);
    static uint8_t big[2000];
    memcpy(big, f, 60);
    sw_input(&sw, &a.p, big, sizeof(big), 401 * SEC);
    EXPECT(b.got == 4 && c.got == 3 && sw.dropped_runt == 2);
    /* A frame to a MAC learned on the ingress port is not reflected. */
    frame(f, ma, mb);
    sw_input(&sw, &b.p, f, 60, 402 * SEC);    /* learn b again */
    frame(f, mb, ma);
    sw_input(&sw, &b.p, f, 60, 402 * SEC);    /* from b's port, to b */
    EXPECT(sw.dropped_same_port == 1);
    /* Removing b forgets its MACs. */
    sw_port_remove(&sw, &b.p);
    EXPECT(sw_lookup(&sw, mb, 403 * SEC) == NULL);
    frame(f, mb, ma);
    sw_input(&sw, &a.p, f, 60, 403 * SEC);
    EXPECT(b.got == 4);
    /* A multicast source MAC is not learned. */
    const uint8_t mc[6] = { 1, 0, 0x5e, 0, 0, 1 };
    frame(f, ma, mc);
    sw_input(&sw, &c.p, f, 60, 404 * SEC);
    EXPECT(sw_lookup(&sw, mc, 404 * SEC) == NULL);
    /* A full switch refuses a port; many MACs do not break the table. */
    static struct cap extra[SW_MAX_PORTS];
    int added = 0;
    for (int i = 0; i < SW_MAX_PORTS; i++) {
        extra[i].p.transmit = cap_tx;
        if (sw_port_add(&sw, &extra[i].p) == 0)
            added++;
    }
    EXPECT(added == SW_MAX_PORTS - 2);
    for (unsigned i = 0; i < 5000; i++) {
        uint8_t m[6] = { 2, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 9 };
        frame(f, bc, m);
        sw_input(&sw, &a.p, f, 60, 500 * SEC + i);
    }
    EXPECT(sw_lookup(&sw, ma, 600 * SEC) == &a.p || sw_lookup(&sw, ma, 600 * SEC) == NULL);
}

/* An IPv4 frame: proto, src/dst (host order), ports (or echo id), TCP flags, ICMP type. */
static size_t ip4(uint8_t *f, uint8_t proto, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
                  uint8_t flags, uint8_t icmp_type)
{
    memset(f, 0, 80);
    f[12] = 0x08;
    f[13] = 0x00;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    size_t l4 = proto == 6 ? 20 : 8;
    ip[2] = 0;
    ip[3] = (uint8_t)(20 + l4);
    ip[8] = 64;
    ip[9] = proto;
    for (int i = 0; i < 4; i++) {
        ip[12 + i] = (uint8_t)(src >> (24 - 8 * i));
        ip[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    uint8_t *t = ip + 20;
    if (proto == 1) {
        t[0] = icmp_type;
        t[4] = (uint8_t)(sp >> 8);
        t[5] = (uint8_t)sp;
    } else {
        t[0] = (uint8_t)(sp >> 8);
        t[1] = (uint8_t)sp;
        t[2] = (uint8_t)(dp >> 8);
        t[3] = (uint8_t)dp;
        if (proto == 6)
            t[13] = flags;
    }
    return 14 + 20 + l4;
}

#define G 0x0a000002u   /* the guest, 10.0.0.2 */
#define P 0x0a000001u   /* a peer, 10.0.0.1 */
#define Q 0xc0a80105u   /* another, 192.168.1.5 */

static void test_fw_parse(void)
{
    static struct fw fw;
    char err[200];
    EXPECT(fw_parse(&fw, "", err, sizeof(err)) == 0 && fw.nrules == 0);
    EXPECT(fw_parse(&fw, "drop:in:tcp:80+allow:out:udp:1000-2000:10.0.0.0/8+drop:in:any",
                    err, sizeof(err)) == 0);
    EXPECT(fw.nrules == 3 && fw.rules[0].drop && fw.rules[0].proto == 6 &&
           fw.rules[0].port_lo == 80 && fw.rules[0].port_hi == 80);
    EXPECT(!fw.rules[1].drop && fw.rules[1].dir == FW_OUT && fw.rules[1].port_lo == 1000 &&
           fw.rules[1].port_hi == 2000 && fw.rules[1].peer == 0x0a000000u &&
           fw.rules[1].mask == 0xff000000u);
    EXPECT(fw_parse(&fw, "drop:in:any::192.168.1.5", err, sizeof(err)) == 0 &&
           fw.rules[0].mask == 0xffffffffu);
    const char *bad[] = {
        "deny:in:tcp", "drop:sideways:tcp", "drop:in:sctp", "drop:in:icmp:80",
        "drop:in:tcp:70000", "drop:in:tcp:90-80", "drop:in:tcp:8x", "drop:in:tcp:80:1.2.3",
        "drop:in:tcp:80:1.2.3.4/33", "drop:in:tcp:80:1.2.3.256", "drop:in:tcp:80:1.2.3.4:x",
        "drop:in", "drop", "drop:in:tcp+", "+drop:in:tcp", "drop:in:tcp++drop:in:udp",
        "drop:in:tcp:80:1.2.3.4/0",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        int rc = fw_parse(&fw, bad[i], err, sizeof(err));
        EXPECT(rc == -1 && err[0]);
        if (rc == 0)
            fprintf(stderr, "accepted: %s\n", bad[i]);
    }
    char many[2000] = "";
    for (int i = 0; i < FW_MAX_RULES + 1; i++)
        strcat(many, i ? "+drop:in:tcp" : "drop:in:tcp");
    EXPECT(fw_parse(&fw, many, err, sizeof(err)) == -1);
}

static void test_fw_state(void)
{
    static struct fw fw;
    char err[200];
    uint8_t f[80];
    size_t n;
    EXPECT(fw_parse(&fw, "allow:in:tcp:80+drop:in:any+drop:out:udp:53:192.168.0.0/16", err,
                    sizeof(err)) == 0);
    /* In to port 80: allowed (SYN), and its replies out. */
    n = ip4(f, 6, P, G, 40000, 80, 0x02, 0);
    EXPECT(fw_check(&fw, FW_IN, f, n, 1 * SEC));
    n = ip4(f, 6, G, P, 80, 40000, 0x12, 0);
    EXPECT(fw_check(&fw, FW_OUT, f, n, 1 * SEC));
    /* In to port 81: dropped. */
    n = ip4(f, 6, P, G, 40001, 81, 0x02, 0);
    EXPECT(!fw_check(&fw, FW_IN, f, n, 1 * SEC));
    /* Ping in: dropped; the guest's ping out, and its reply in: pass. */
    n = ip4(f, 1, P, G, 7, 7, 0, 8);
    EXPECT(!fw_check(&fw, FW_IN, f, n, 1 * SEC));
    n = ip4(f, 1, G, P, 9, 9, 0, 8);
    EXPECT(fw_check(&fw, FW_OUT, f, n, 1 * SEC));
    n = ip4(f, 1, P, G, 9, 9, 0, 0);
    EXPECT(fw_check(&fw, FW_IN, f, n, 1 * SEC));
    /* The peer's echo request with the same id: still judged by the rules. */
    n = ip4(f, 1, P, G, 9, 9, 0, 8);
    EXPECT(!fw_check(&fw, FW_IN, f, n, 1 * SEC));
    /* A reply out to the guest's own request: not a reply to anything. */
    n = ip4(f, 1, G, P, 9, 9, 0, 0);
    EXPECT(fw_check(&fw, FW_OUT, f, n, 1 * SEC));   /* allowed: no out rule */
    /* An echo reply nobody asked for: judged by the rules (dropped). */
    n = ip4(f, 1, P, G, 10, 10, 0, 0);
    EXPECT(!fw_check(&fw, FW_IN, f, n, 1 * SEC));
    /* The guest's TCP connection out: replies pass under drop:in:any. */
    n = ip4(f, 6, G, P, 50000, 7, 0x02, 0);
    EXPECT(fw_check(&fw, FW_OUT, f, n, 2 * SEC));
    n = ip4(f, 6, P, G, 7, 50000, 0x12, 0);
    EXPECT(fw_check(&fw, FW_IN, f, n, 2 * SEC));
    /* But not from another port of the peer. */
    n = ip4(f, 6, P, G, 8, 50000, 0x12, 0);
    EXPECT(!fw_check(&fw, FW_IN, f, n, 2 * SEC));
    /* After RST the connection lasts 10 s more. */
    n = ip4(f, 6, G, P, 50000, 7, 0x04, 0);
    EXPECT(fw_check(&fw, FW_OUT, f, n, 3 * SEC));
    n = ip4(f, 6, P, G, 7, 50000, 0x10, 0);
    EXPECT(fw_check(&fw, FW_IN, f, n, 12 * SEC));
    EXPECT(!fw_check(&fw, FW_IN, f, n, 30 * SEC));
    /* UDP out to 192.168.x:53 dropped; to 10.0.0.1:53 allowed and answered. */
    n = ip4(f, 17, G, Q, 3333, 53, 0, 0);
    EXPECT(!fw_check(&fw, FW_OUT, f, n, 40 * SEC));
    n = ip4(f, 17, G, P, 3333, 53, 0, 0);
    EXPECT(fw_check(&fw, FW_OUT, f, n, 40 * SEC));
    n = ip4(f, 17, P, G, 53, 3333, 0, 0);
    EXPECT(fw_check(&fw, FW_IN, f, n, 41 * SEC));
    /* UDP state ends after 120 s idle. */
    EXPECT(!fw_check(&fw, FW_IN, f, n, 200 * SEC));
    /* ARP passes; truncated IPv4 is dropped. */
    uint8_t arp[60] = { 0 };
    arp[12] = 0x08;
    arp[13] = 0x06;
    EXPECT(fw_check(&fw, FW_IN, arp, 60, 1 * SEC));
    n = ip4(f, 6, P, G, 1, 80, 0x02, 0);
    EXPECT(!fw_check(&fw, FW_IN, f, 30, 1 * SEC));
    f[14] = 0x4f;                     /* header longer than the packet */
    EXPECT(!fw_check(&fw, FW_IN, f, n, 1 * SEC));
    /* A full table forgets the oldest, never overflows. */
    for (unsigned i = 0; i < FW_CONNS * 3; i++) {
        n = ip4(f, 17, G, P, (uint16_t)(1000 + i), 9, 0, 0);
        EXPECT(fw_check(&fw, FW_OUT, f, n, 300 * SEC + i));
    }
    /* Seeded garbage never crashes it. */
    uint32_t x = 12345;
    for (unsigned i = 0; i < 20000; i++) {
        uint8_t g[100];
        size_t len = (x = x * 1103515245 + 12345) % sizeof(g);
        for (size_t k = 0; k < len; k++)
            g[k] = (uint8_t)((x = x * 1103515245 + 12345) >> 16);
        if (len > 14 && (i & 1)) {
            g[12] = 0x08;
            g[13] = 0;
        }
        (void)fw_check(&fw, (int)(i & 1), g, len, 400 * SEC);
    }
}

/* An IPv6 frame: next header, last byte of src/dst (fe80::x), ports or echo id, flags, ICMPv6 type. */
static size_t ip6(uint8_t *f, uint8_t nh, uint8_t src, uint8_t dst, uint16_t sp, uint16_t dp,
                  uint8_t flags, uint8_t icmp_type)
{
    memset(f, 0, 100);
    f[12] = 0x86;
    f[13] = 0xdd;
    uint8_t *ip = f + 14;
    ip[0] = 0x60;
    size_t l4 = nh == 6 ? 20 : 8;
    ip[5] = (uint8_t)l4;
    ip[6] = nh;
    ip[7] = 64;
    ip[8] = ip[24] = 0xfe;
    ip[9] = ip[25] = 0x80;
    ip[23] = src;
    ip[39] = dst;
    uint8_t *t = ip + 40;
    if (nh == 58) {
        t[0] = icmp_type;
        t[4] = (uint8_t)(sp >> 8);
        t[5] = (uint8_t)sp;
    } else {
        t[0] = (uint8_t)(sp >> 8);
        t[1] = (uint8_t)sp;
        t[2] = (uint8_t)(dp >> 8);
        t[3] = (uint8_t)dp;
        if (nh == 6)
            t[13] = flags;
    }
    return 14 + 40 + l4;
}

static void test_fw_ipv6(void)
{
    static struct fw fw;
    char err[200];
    uint8_t f[100];
    size_t n;
    EXPECT(fw_parse(&fw, "drop:in:tcp:80:10.0.0.0/8+allow:in:tcp:22+drop:in:any", err,
                    sizeof(err)) == 0);
    /* A PEER rule names IPv4 peers: it does not match IPv6; the next rules do. */
    n = ip6(f, 6, 1, 2, 40000, 22, 0x02, 0);
    EXPECT(fw_check(&fw, FW_IN, f, n, 1 * SEC));
    n = ip6(f, 6, 1, 2, 40000, 80, 0x02, 0);
    EXPECT(!fw_check(&fw, FW_IN, f, n, 1 * SEC));
    /* The guest's own connection out: replies pass; another peer's do not. */
    n = ip6(f, 6, 2, 1, 50000, 80, 0x02, 0);
    EXPECT(fw_check(&fw, FW_OUT, f, n, 2 * SEC));
    n = ip6(f, 6, 1, 2, 80, 50000, 0x12, 0);
    EXPECT(fw_check(&fw, FW_IN, f, n, 2 * SEC));
    n = ip6(f, 6, 3, 2, 80, 50000, 0x12, 0);
    EXPECT(!fw_check(&fw, FW_IN, f, n, 2 * SEC));
    /* ICMPv6 echo in: dropped; the guest's echo out and its reply: pass. */
    n = ip6(f, 58, 1, 2, 5, 5, 0, 128);
    EXPECT(!fw_check(&fw, FW_IN, f, n, 3 * SEC));
    n = ip6(f, 58, 2, 1, 6, 6, 0, 128);
    EXPECT(fw_check(&fw, FW_OUT, f, n, 3 * SEC));
    n = ip6(f, 58, 1, 2, 6, 6, 0, 129);
    EXPECT(fw_check(&fw, FW_IN, f, n, 3 * SEC));
    /* Neighbour discovery always passes (as ARP). */
    for (uint8_t t = 133; t <= 137; t++) {
        n = ip6(f, 58, 1, 2, 0, 0, 0, t);
        EXPECT(fw_check(&fw, FW_IN, f, n, 4 * SEC));
    }
    /* An IPv4 connection does not open the same ports over IPv6. */
    n = ip4(f, 6, G, P, 50001, 80, 0x02, 0);
    EXPECT(fw_check(&fw, FW_OUT, f, n, 5 * SEC));
    n = ip6(f, 6, 1, 2, 80, 50001, 0x12, 0);
    EXPECT(!fw_check(&fw, FW_IN, f, n, 5 * SEC));
    /* Malformed: payload longer than the frame, version not 6, short TCP. */
    n = ip6(f, 6, 1, 2, 40000, 22, 0x02, 0);
    EXPECT(!fw_check(&fw, FW_IN, f, n - 1, 6 * SEC));
    f[14] = 0x40;
    EXPECT(!fw_check(&fw, FW_IN, f, n, 6 * SEC));
    n = ip6(f, 6, 1, 2, 40000, 22, 0x02, 0);
    f[14 + 5] = 8;
    EXPECT(!fw_check(&fw, FW_IN, f, n, 6 * SEC));
}

int main(void)
{
    test_switch();
    test_fw_parse();
    test_fw_state();
    test_fw_ipv6();
    UNIT_DONE();
}
