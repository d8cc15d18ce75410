/* Guest test: an interrupt storm from a device does not starve other
 * domains (hv/arch/x86_64/pci.c, the storm limit).
 *   op=storm   (owner of QEMU's edu device, on CPU 1): maps its MSI to a
 *              PIRQ bound to a port and makes the device interrupt as fast
 *              as it can (edu's raise register, every write one MSI) for
 *              secs= seconds; the MSIs go to CPU 0.
 *              Then, as a control, as many device writes that raise
 *              nothing (edu's liveness register) for as long: under TCG
 *              every device write costs the other CPU's thread too (QEMU's
 *              global lock), interrupts or not.
 *   op=victim  (on CPU 0, where the interrupts land): counts the rounds of
 *              a fixed computation it completes in one second of the
 *              storm and one of the control, and fails unless the first
 *              is at least min= percent of the second.
 * Both start together (the hypervisor starts boot domains at once), so
 * system time orders them: the storm runs from 0.2 s to secs+0.2 s of the
 * owner's life, the control for secs more; the victim measures from 0.5 s
 * and from secs+0.5 s, one second each, and once more after both. */
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

static char spot[4096] __attribute__((aligned(4096)));
static volatile uint32_t *edu = (volatile uint32_t *)spot;

static void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static uint32_t addr(unsigned bdf, unsigned reg) { return 0x80000000u | bdf << 8 | (reg & 0xfc); }
static uint32_t rd32(unsigned bdf, unsigned reg) { outl(0xcf8, addr(bdf, reg)); return inl(0xcfc); }
static void wr32(unsigned bdf, unsigned reg, uint32_t v) { outl(0xcf8, addr(bdf, reg)); outl(0xcfc, v); }

static uint64_t ms_since(uint64_t t0) { return (minios_monotonic_ns() - t0) / 1000000; }

static void wait_until_ms(uint64_t t0, uint64_t ms)
{
    while (ms_since(t0) < ms)
        ;
}

static int storm(int argc, char **argv, uint64_t t0)
{
    unsigned b, d, f;
    const char *s = test_arg(argc, argv, "dev");
    const char *secs = test_arg(argc, argv, "secs");
    if (!s || !secs || sscanf(s, "%x:%x.%x", &b, &d, &f) != 3) {
        test_error("needs dev=BB:DD.F secs=N");
        return test_finish();
    }
    unsigned dev = b << 8 | d << 3 | f;
    struct physdev_set_iopl io = { .iopl = 1 };
    CHECK_EQ(_hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, &io), 0);
    wr32(dev, 4, rd32(dev, 4) | 2 | 4);
    uint32_t bar = rd32(dev, 0x10) & ~0xfu;
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot,
                                          (unsigned long)bar | 1 | 2 | 4 | 8 | 16 | (1UL << 63),
                                          UVMF_INVLPG), 0);
    struct physdev_map_pirq m = { .domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_MSI, .index = -1,
                                  .pirq = -1, .bus = (int)(dev >> 8), .devfn = (int)(dev & 0xff) };
    CHECK_EQ(_hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_map_pirq, &m), 0);
    struct evtchn_bind_pirq bp = { .pirq = (uint32_t)m.pirq };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_pirq, &bp), 0);
    minios_events_disable();     /* the port's pending bit is counted by hand */
    evtchn_port_t port = bp.port;
    unsigned long bit = 1UL << (port % 64);
    volatile unsigned long *pend = &minios_shared_info->evtchn_pending[port / 64];

    /* The storm, then the same device writes without interrupts (edu's
     * liveness register): the victim's control. */
    uint64_t span = (uint64_t)atoi(secs) * 1000;
    for (int phase = 0; phase < 2; phase++) {
        wait_until_ms(t0, 200 + phase * span);
        uint64_t raised = 0, events = 0;
        unsigned reg = phase ? 0x04 / 4 : 0x60 / 4;
        while (ms_since(t0) < 200 + (phase + 1) * span) {
            for (int i = 0; i < 64; i++) {
                edu[reg] = 1;                    /* raise: one MSI (or liveness) */
                edu[0x64 / 4] = 1;               /* acknowledge at the device */
            }
            raised += 64;
            if (__atomic_fetch_and(pend, ~bit, __ATOMIC_SEQ_CST) & bit)
                events++;
        }
        printf("%s: %lu device writes in %s s, the port seen pending %lu times\n",
               phase ? "control" : "storm", (unsigned long)raised, secs, (unsigned long)events);
        if (!phase && !events)
            test_fail("no interrupt arrived as an event");
        if (phase && events > 1)
            test_fail("interrupts without raising");
    }
    return test_finish();
}

/* Rounds of a fixed computation done in [from, from + 1000) ms. */
static volatile uint64_t sink;
static uint64_t rounds_in(uint64_t t0, uint64_t from)
{
    wait_until_ms(t0, from);
    uint64_t n = 0;
    while (ms_since(t0) < from + 1000) {
        uint64_t x = n;
        for (int i = 0; i < 1000; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
        sink = x;
        n++;
    }
    return n;
}

static int victim(int argc, char **argv, uint64_t t0)
{
    const char *secs = test_arg(argc, argv, "secs"), *min = test_arg(argc, argv, "min");
    if (!secs || !min) {
        test_error("needs secs= and min=");
        return test_finish();
    }
    uint64_t span = (uint64_t)atoi(secs) * 1000;
    uint64_t during = rounds_in(t0, 500);
    uint64_t control = rounds_in(t0, 500 + span);
    uint64_t after = rounds_in(t0, 500 + 2 * span);
    unsigned pct = control ? (unsigned)(during * 100 / control) : 0;
    printf("victim: %lu rounds in a second of the storm, %lu of the control (device writes, "
           "no interrupts), %lu after both: %u%% of the control\n", (unsigned long)during,
           (unsigned long)control, (unsigned long)after, pct);
    if (pct < (unsigned)atoi(min))
        test_fail("kept %u%% of its rate during the storm, needs %s%%", pct, min);
    return test_finish();
}

int main(int argc, char **argv)
{
    uint64_t t0 = minios_monotonic_ns();
    const char *op = test_arg(argc, argv, "op");
    if (op && !strcmp(op, "storm"))
        return storm(argc, argv, t0);
    if (op && !strcmp(op, "victim"))
        return victim(argc, argv, t0);
    test_error("op=storm or op=victim");
    return test_finish();
}
