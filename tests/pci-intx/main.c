/* Guest test: a device's legacy INTx line as an event channel (the I/O
 * APIC, hv/arch/x86_64/ioapic.c and pci.c).  Three domains:
 *
 * op=owner (dev=, peer=, n=): owns QEMU's edu device, whose MSI stays off
 * so that it raises INTx.  It maps the GSI its interrupt line names
 * (PHYSDEVOP_map_pirq, MAP_PIRQ_TYPE_GSI), binds it, and shows the level
 * semantics: an interrupt arrives once and the line stays masked until
 * the EOI (PHYSDEVOP_eoi), after which a line still asserted arrives
 * again; then n interrupts, each acknowledged at the device and EOIed,
 * arrive as exactly n events.  Refused: another domain's map, a GSI of
 * no device of its own, a GSI that does not exist, a PIRQ out of range,
 * binding or EOI of a PIRQ not mapped (or not bound), a second map, the
 * GSI of a line the owner wrote into the interrupt line register itself.
 * Closed, the line stays masked; unmapped, it is free for the peer.  It
 * ends with the GSI mapped and bound: freed when the domain is gone.
 *
 * op=sharer (dev=, peer=): owns another edu on the same line; its map
 * is refused (-EBUSY) while the owner has the line, and succeeds once
 * the owner has unmapped it.  The two step through a state word in a
 * page the owner grants (peer.h).
 *
 * op=plain (gsi=): no role: any GSI map is refused (-EPERM). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/time.h>
#include <xen/physdev.h>
#include <xen/event_channel.h>
#include "report.h"
#include "args.h"
#include "peer.h"
#include "ptwalk.h"

#define CHECK(cond) do {                                                 \
        if (!(cond))                                                     \
            test_fail("%s:%d: %s", __FILE__, __LINE__, #cond);          \
    } while (0)

#define PG 4096
#define REF_CTL 8                /* the owner's first grant */

struct ctl {
    volatile uint32_t state;     /* 1 mapped, 2 sharer refused, 3 unmapped, 4 sharer done */
    volatile uint32_t gsi;
};

static char ctl_page[PG] __attribute__((aligned(PG)));
static char spot[PG] __attribute__((aligned(PG)));
static volatile uint32_t *edu = (volatile uint32_t *)spot;
static unsigned long spot_orig;

static void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static uint32_t addr(unsigned bdf, unsigned reg) { return 0x80000000u | bdf << 8 | (reg & 0xfc); }
static uint32_t rd32(unsigned bdf, unsigned reg) { outl(0xcf8, addr(bdf, reg)); return inl(0xcfc); }
static void wr32(unsigned bdf, unsigned reg, uint32_t v) { outl(0xcf8, addr(bdf, reg)); outl(0xcfc, v); }

static unsigned parse_bdf(const char *s)
{
    unsigned b, d, f;
    if (!s || sscanf(s, "%x:%x.%x", &b, &d, &f) != 3)
        return ~0u;
    return b << 8 | d << 3 | f;
}

static long physdev(int cmd, void *arg) { return _hypercall2(__HYPERVISOR_physdev_op, cmd, arg); }

static long map_gsi(domid_t dom, int gsi, int pirq)
{
    struct physdev_map_pirq m = { .domid = dom, .type = MAP_PIRQ_TYPE_GSI, .index = gsi,
                                  .pirq = pirq };
    long rc = physdev(PHYSDEVOP_map_pirq, &m);
    return rc ? rc : m.pirq;
}

static long unmap(int pirq)
{
    struct physdev_unmap_pirq u = { .domid = DOMID_SELF, .pirq = pirq };
    return physdev(PHYSDEVOP_unmap_pirq, &u);
}

static long eoi(unsigned pirq)
{
    struct physdev_eoi e = { .irq = pirq };
    return physdev(PHYSDEVOP_eoi, &e);
}

static long bind_pirq(unsigned pirq)
{
    struct evtchn_bind_pirq b = { .pirq = pirq };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_pirq, &b);
    return rc ? rc : (long)b.port;
}

static bool take_pending(evtchn_port_t port)
{
    unsigned long bit = 1UL << (port % 64);
    return __atomic_fetch_and(&minios_shared_info->evtchn_pending[port / 64], ~bit,
                              __ATOMIC_SEQ_CST) & bit;
}

/* Waits up to ms for port's event (SCHEDOP_poll with a timeout). */
static bool wait_event(evtchn_port_t port, unsigned ms)
{
    uint64_t end = minios_monotonic_ns() + ms * 1000000ULL;
    for (;;) {
        if (take_pending(port))
            return true;
        if (minios_monotonic_ns() >= end)
            return false;
        struct sched_poll p = { .nr_ports = 1, .timeout = end };
        set_xen_guest_handle(p.ports, &port);
        HYPERVISOR_sched_op(SCHEDOP_poll, &p);
    }
}

/* I/O privilege, the device checked and its BAR mapped at spot. */
static bool open_edu(unsigned dev)
{
    struct physdev_set_iopl io = { .iopl = 1 };
    CHECK_EQ(physdev(PHYSDEVOP_set_iopl, &io), 0);
    if (rd32(dev, 0) != 0x11e81234) {
        test_error("%02x:%02x.%x is no edu device", dev >> 8, (dev >> 3) & 31, dev & 7);
        return false;
    }
    wr32(dev, 4, (rd32(dev, 4) | 2) & ~0x400u);              /* memory decoding, INTx on */
    uint32_t bar = rd32(dev, 0x10) & ~0xfu;
    spot_orig = *(volatile unsigned long *)((m2p[l1e_maddr((unsigned long)spot) >> 12] << 12) +
                                            (l1e_maddr((unsigned long)spot) & 4095));
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot,
                                          (unsigned long)bar | 1 | 2 | 4 | 8 | 16 | (1UL << 63),
                                          UVMF_INVLPG), 0);
    CHECK_EQ(edu[0], 0x010000ed);                            /* identification */
    return true;
}

static void close_edu(void)
{
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, spot_orig, UVMF_INVLPG), 0);
}

static void raise(void) { edu[0x60 / 4] = 1; }
static void ack(void) { edu[0x64 / 4] = ~0u; }

static int owner(unsigned dev, domid_t peer, unsigned n)
{
    if (!open_edu(dev))
        return test_finish();
    uint32_t intr = rd32(dev, 0x3c);
    unsigned line = intr & 0xff, pin = (intr >> 8) & 0xff;
    CHECK_EQ(pin, 1);                                        /* edu: INTA */
    CHECK(line > 0 && line < 0xff);
    int gsi = (int)line;         /* QEMU's overrides keep PCI lines where they are */
    struct ctl *c = (struct ctl *)ctl_page;
    c->gsi = (uint32_t)gsi;
    if (peer)
        CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(ctl_page), 0),
                 REF_CTL);

    /* Refused. */
    CHECK_EQ(map_gsi(0, gsi, -1), -XEN_EPERM);              /* for another domain */
    CHECK_EQ(map_gsi(DOMID_SELF, 4, -1), -XEN_EPERM);        /* COM1's: no device of its own */
    CHECK_EQ(map_gsi(DOMID_SELF, 200, -1), -XEN_EINVAL);     /* no such GSI */
    CHECK_EQ(map_gsi(DOMID_SELF, -1, -1), -XEN_EINVAL);
    CHECK_EQ(map_gsi(DOMID_SELF, gsi, 64), -XEN_EINVAL);     /* no such PIRQ */
    CHECK_EQ(bind_pirq((unsigned)gsi), -XEN_EPERM);         /* not mapped */
    CHECK_EQ(eoi((unsigned)gsi), -XEN_EINVAL);              /* not mapped */
    /* The line register is the owner's to write, but the hypervisor keeps
     * what the firmware wrote there: a line the owner names is not its. */
    wr32(dev, 0x3c, (intr & ~0xffu) | 4);
    CHECK_EQ(rd32(dev, 0x3c) & 0xff, 4);
    CHECK_EQ(map_gsi(DOMID_SELF, 4, -1), -XEN_EPERM);
    wr32(dev, 0x3c, intr);

    /* Mapped: PIRQ = GSI. */
    long pirq = map_gsi(DOMID_SELF, gsi, -1);
    CHECK_EQ(pirq, gsi);
    CHECK_EQ(map_gsi(DOMID_SELF, gsi, -1), -XEN_EEXIST);     /* mapped already */
    struct physdev_irq_status_query q = { .irq = (uint32_t)pirq };
    CHECK_EQ(physdev(PHYSDEVOP_irq_status_query, &q), 0);
    CHECK_EQ(q.flags & XENIRQSTAT_needs_eoi, XENIRQSTAT_needs_eoi);
    CHECK_EQ(eoi((unsigned)pirq), -XEN_EINVAL);              /* not bound */
    c->state = 1;

    minios_events_disable();     /* events are seen through SCHEDOP_poll */
    long port = bind_pirq((unsigned)pirq);
    CHECK(port > 0);
    CHECK_EQ(bind_pirq((unsigned)pirq), -XEN_EEXIST);
    minios_evtchn_mask((evtchn_port_t)port);
    evtchn_port_t pt = (evtchn_port_t)port;
    take_pending(pt);

    /* Level: once, masked until the EOI, again while still asserted. */
    raise();
    CHECK(wait_event(pt, 2000));
    CHECK(!wait_event(pt, 50));                              /* asserted, but masked */
    CHECK_EQ(eoi((unsigned)pirq), 0);
    CHECK(wait_event(pt, 2000));                             /* still asserted: again */
    ack();
    CHECK_EQ(eoi((unsigned)pirq), 0);
    CHECK(!wait_event(pt, 50));                              /* deasserted: quiet */
    CHECK_EQ(eoi((unsigned)pirq), 0);                        /* nothing owed: harmless */

    /* n interrupts, n events. */
    unsigned got = 0;
    for (unsigned i = 0; i < n; i++) {
        raise();
        if (wait_event(pt, 2000))
            got++;
        ack();
        CHECK_EQ(eoi((unsigned)pirq), 0);
    }
    CHECK(!wait_event(pt, 50));
    CHECK_EQ(got, n);
    printf("GSI %d as PIRQ %ld on port %ld: %u of %u interrupts arrived as events\n", gsi,
           pirq, port, got, n);

    if (peer)
        peer_wait_state(&c->state, 2, 20000000UL);

    /* Closed: the line stays masked. */
    struct evtchn_close cl = { .port = pt };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_close, &cl), 0);
    CHECK_EQ(eoi((unsigned)pirq), -XEN_EINVAL);              /* not bound */
    raise();
    CHECK(!wait_event(pt, 50));
    ack();
    CHECK_EQ(unmap((int)pirq), 0);
    CHECK_EQ(unmap((int)pirq), -XEN_EINVAL);
    CHECK_EQ(eoi((unsigned)pirq), -XEN_EINVAL);
    printf("closed and unmapped: no event, the line free\n");
    c->state = 3;
    if (peer)
        peer_wait_state(&c->state, 4, 20000000UL);

    /* Mapped and bound at exit, with the line asserted: freed with the
     * domain (masked, entry cleared, the device stopped). */
    pirq = map_gsi(DOMID_SELF, gsi, 40);
    CHECK_EQ(pirq, 40);
    port = bind_pirq(40);
    CHECK(port > 0);
    raise();
    CHECK(wait_event((evtchn_port_t)port, 2000));
    close_edu();
    return test_finish();
}

static int sharer(unsigned dev, domid_t peer)
{
    if (!open_edu(dev))
        return test_finish();
    int line = (int)(rd32(dev, 0x3c) & 0xff);
    grant_handle_t h;
    struct ctl *c = NULL;
    for (unsigned long i = 0; !c; i++) {
        c = minios_gnttab_map(peer, REF_CTL, 0, &h);
        if (!c)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        if (i == 20000000UL) {
            test_error("cannot map the owner's control page (status %d)",
                       minios_gnttab_last_status());
            return test_finish();
        }
    }
    peer_wait_state(&c->state, 1, 20000000UL);
    CHECK_EQ(line, (int)c->gsi);                             /* the same line */
    CHECK_EQ(map_gsi(DOMID_SELF, line, -1), -XEN_EBUSY);     /* the owner's now */
    printf("GSI %d shared with d%u, which has it mapped: refused\n", line, peer);
    c->state = 2;
    peer_wait_state(&c->state, 3, 20000000UL);
    long pirq = map_gsi(DOMID_SELF, line, -1);               /* free again */
    CHECK_EQ(pirq, line);
    CHECK_EQ(unmap((int)pirq), 0);
    printf("GSI %d mapped once the owner let it go\n", line);
    c->state = 4;
    close_edu();
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op");
    const char *p = test_arg(argc, argv, "peer");
    const char *ns = test_arg(argc, argv, "n");
    const char *g = test_arg(argc, argv, "gsi");
    domid_t peer = p ? (domid_t)atoi(p) : 0;
    unsigned dev = parse_bdf(test_arg(argc, argv, "dev"));
    if (peer && minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    if (op && !strcmp(op, "owner") && dev != ~0u)
        return owner(dev, peer, ns ? (unsigned)atoi(ns) : 100);
    if (op && !strcmp(op, "sharer") && dev != ~0u && peer)
        return sharer(dev, peer);
    if (op && !strcmp(op, "plain") && g) {
        CHECK_EQ(map_gsi(DOMID_SELF, atoi(g), -1), -XEN_EPERM);
        printf("GSI %d refused to a domain without the hardware role\n", atoi(g));
        return test_finish();
    }
    test_error("needs op=owner dev= [peer=] [n=], op=sharer dev= peer=, or op=plain gsi=");
    return test_finish();
}
