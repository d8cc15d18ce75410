/* Guest test: a device's MSI as an event channel (hv/arch/x86_64/pci.c).
 * The owner of QEMU's "edu" device (dev=BB:DD.F) maps its BAR, maps the
 * MSI to a PIRQ (PHYSDEVOP_map_pirq), binds it (EVTCHNOP_bind_pirq) and
 * then makes the device raise its interrupt 100 times (edu's register
 * 0x60), each one arriving as an event on the port; once the port is
 * closed the interrupts are dropped.  Refusals, each with its errno:
 * another domain's or no device, MSI-X on a device without it, a second
 * map of the same vector, a PIRQ for another domain, binding a PIRQ not
 * mapped or twice, EOI and status of a PIRQ not mapped, unmapping twice.
 * It ends with a PIRQ still mapped and bound: the hypervisor frees it
 * when the domain is gone.  Arguments: dev=, other= (a device it does not
 * own). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/time.h>
#include <xen/physdev.h>
#include <xen/event_channel.h>
#include "report.h"
#include "args.h"
#include "ptwalk.h"

#define CHECK(cond) do {                                                 \
        if (!(cond))                                                     \
            test_fail("%s:%d: %s", __FILE__, __LINE__, #cond);          \
    } while (0)

static char spot[4096] __attribute__((aligned(4096)));
static volatile uint32_t *edu = (volatile uint32_t *)spot;

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

static long map_msi(domid_t dom, unsigned bdf, int pirq, uint64_t table_base)
{
    struct physdev_map_pirq m = { .domid = dom, .type = MAP_PIRQ_TYPE_MSI, .index = -1,
                                  .pirq = pirq, .bus = (int)(bdf >> 8), .devfn = (int)(bdf & 0xff),
                                  .entry_nr = 0, .table_base = table_base };
    long rc = physdev(PHYSDEVOP_map_pirq, &m);
    return rc ? rc : m.pirq;
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

int main(int argc, char **argv)
{
    unsigned dev = parse_bdf(test_arg(argc, argv, "dev"));
    unsigned other = parse_bdf(test_arg(argc, argv, "other"));
    if (dev == ~0u || other == ~0u) {
        test_error("needs dev= and other=");
        return test_finish();
    }
    struct physdev_set_iopl io = { .iopl = 1 };
    CHECK_EQ(physdev(PHYSDEVOP_set_iopl, &io), 0);
    CHECK_EQ(rd32(dev, 0), 0x11e81234);                      /* QEMU's edu */
    wr32(dev, 4, rd32(dev, 4) | 2 | 4);                      /* memory decoding, bus master */
    uint32_t bar = rd32(dev, 0x10) & ~0xfu;
    unsigned long orig = *(volatile unsigned long *)((m2p[l1e_maddr((unsigned long)spot) >> 12] << 12) +
                                                     (l1e_maddr((unsigned long)spot) & 4095));
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot,
                                          (unsigned long)bar | 1 | 2 | 4 | 8 | 16 | (1UL << 63),
                                          UVMF_INVLPG), 0);
    CHECK_EQ(edu[0], 0x010000ed);                            /* identification */
    edu[1] = 0x12345678;                                     /* liveness: reads inverted */
    CHECK_EQ(edu[1], (uint32_t)~0x12345678u);

    /* Refused. */
    CHECK_EQ(map_msi(DOMID_SELF, other, -1, 0), -XEN_EPERM);     /* not its device */
    CHECK_EQ(map_msi(DOMID_SELF, 0x0900, -1, 0), -XEN_ENODEV);   /* no device 01:00.0 */
    CHECK_EQ(map_msi(DOMID_SELF, dev, -1, 0xfea00000), -XEN_ENODEV);   /* no MSI-X */
    CHECK_EQ(map_msi(0, dev, -1, 0), -XEN_EPERM);                 /* for another domain */
    CHECK_EQ(map_msi(DOMID_SELF, dev, 64, 0), -XEN_EINVAL);       /* no such PIRQ */
    CHECK_EQ(bind_pirq(20), -XEN_EPERM);                          /* not mapped */
    struct physdev_eoi eoi = { .irq = 20 };
    CHECK_EQ(physdev(PHYSDEVOP_eoi, &eoi), -XEN_EINVAL);

    /* Mapped: the highest free PIRQ, MSI enabled by the hypervisor. */
    long pirq = map_msi(DOMID_SELF, dev, -1, 0);
    CHECK_EQ(pirq, 63);
    CHECK_EQ(map_msi(DOMID_SELF, dev, -1, 0), -XEN_EBUSY);       /* mapped already */
    unsigned cap = rd32(dev, 0x34) & 0xfc;
    while (cap && (rd32(dev, cap) & 0xff) != 0x05)
        cap = (rd32(dev, cap) >> 8) & 0xfc;
    CHECK(cap != 0);
    CHECK_EQ(rd32(dev, cap) >> 16 & 1, 1);                   /* MSI enable */
    wr32(dev, cap, rd32(dev, cap) & ~0x10000u);              /* the guest cannot turn it off */
    CHECK_EQ(rd32(dev, cap) >> 16 & 1, 1);
    struct physdev_irq_status_query q = { .irq = (uint32_t)pirq, .flags = 99 };
    CHECK_EQ(physdev(PHYSDEVOP_irq_status_query, &q), 0);
    CHECK_EQ(q.flags, 0);

    minios_events_disable();     /* events are seen through SCHEDOP_poll */
    long port = bind_pirq((unsigned)pirq);
    CHECK(port > 0);
    CHECK_EQ(bind_pirq((unsigned)pirq), -XEN_EEXIST);
    minios_evtchn_mask((evtchn_port_t)port);
    take_pending((evtchn_port_t)port);
    unsigned got = 0;
    for (int i = 0; i < 100; i++) {
        edu[0x60 / 4] = 1;                                   /* raise */
        if (wait_event((evtchn_port_t)port, 1000))
            got++;
        edu[0x64 / 4] = 1;                                   /* acknowledge at the device */
        eoi.irq = (uint32_t)pirq;
        CHECK_EQ(physdev(PHYSDEVOP_eoi, &eoi), 0);
    }
    CHECK_EQ(got, 100);
    printf("PIRQ %ld on port %ld: %u of 100 interrupts arrived as events\n", pirq, port, got);

    /* Closed: interrupts are dropped. */
    struct evtchn_close c = { .port = (evtchn_port_t)port };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_close, &c), 0);
    edu[0x60 / 4] = 1;
    CHECK(!wait_event((evtchn_port_t)port, 20));
    edu[0x64 / 4] = 1;
    struct physdev_unmap_pirq u = { .domid = DOMID_SELF, .pirq = (int)pirq };
    CHECK_EQ(physdev(PHYSDEVOP_unmap_pirq, &u), 0);
    CHECK_EQ(rd32(dev, cap) >> 16 & 1, 0);                   /* MSI off again */
    CHECK_EQ(physdev(PHYSDEVOP_unmap_pirq, &u), -XEN_EINVAL);

    /* Left mapped and bound at exit: freed with the domain. */
    pirq = map_msi(DOMID_SELF, dev, 40, 0);
    CHECK_EQ(pirq, 40);
    CHECK(bind_pirq(40) > 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
    return test_finish();
}
