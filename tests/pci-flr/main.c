/* Guest test: a device's function-level reset when its owner dies
 * (hv/arch/x86_64/pci.c).  The owner (restart=crash) finds its virtio
 * device's common configuration (the vendor capability of type 1),
 * maps it, prints the device status it finds, sets ACKNOWLEDGE|DRIVER
 * and crashes.  The hypervisor stops the device, resets it (FLR) and
 * gives it to the next life: every life must find status 0, which a
 * device that was only stopped would not show (check.sh).
 * Argument: dev=BB:DD.F. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/hypercall.h>
#include <xen/physdev.h>
#include "report.h"
#include "args.h"

static char spot[4096] __attribute__((aligned(4096)));

static void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static uint32_t addr(unsigned bdf, unsigned reg) { return 0x80000000u | bdf << 8 | (reg & 0xfc); }
static uint32_t rd32(unsigned bdf, unsigned reg)
{
    outl(0xcf8, addr(bdf, reg));
    return inl(0xcfc) >> (8 * (reg & 3));
}
static void wr32(unsigned bdf, unsigned reg, uint32_t v) { outl(0xcf8, addr(bdf, reg)); outl(0xcfc, v); }

int main(int argc, char **argv)
{
    unsigned b, d, f;
    const char *s = test_arg(argc, argv, "dev");
    if (!s || sscanf(s, "%x:%x.%x", &b, &d, &f) != 3) {
        test_error("needs dev=BB:DD.F");
        return test_finish();
    }
    unsigned dev = b << 8 | d << 3 | f;
    struct physdev_set_iopl io = { .iopl = 1 };
    CHECK_EQ(_hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, &io), 0);
    if ((rd32(dev, 0) & 0xffff) != 0x1af4) {
        test_error("%s is not a virtio device", s);
        return test_finish();
    }
    /* The virtio common configuration: capability 0x09, cfg_type 1. */
    unsigned bar = 6, off = 0;
    for (unsigned cap = rd32(dev, 0x34) & 0xfc, n = 0; cap && n < 48; n++) {
        uint32_t h = rd32(dev, cap);
        if ((h & 0xff) == 0x09 && ((h >> 24) & 0xff) == 1) {
            bar = rd32(dev, cap + 4) & 0xff;
            off = rd32(dev, cap + 8);
            break;
        }
        cap = (h >> 8) & 0xfc;
    }
    if (bar > 5) {
        test_error("no virtio common configuration capability");
        return test_finish();
    }
    uint64_t base = rd32(dev, 0x10 + 4 * bar);
    if ((base & 6) == 4)
        base |= (uint64_t)rd32(dev, 0x14 + 4 * bar) << 32;
    base &= ~0xfull;
    wr32(dev, 4, (rd32(dev, 4) & 0xffff) | 2);          /* memory decoding on */
    uint64_t pa = base + off;
    long rc = HYPERVISOR_update_va_mapping((unsigned long)spot,
                                           (pa & ~0xfffull) | 1 | 2 | 4 | 8 | 16 | (1UL << 63),
                                           UVMF_INVLPG);
    if (rc) {
        test_error("cannot map BAR%u at %lx: %ld", bar, (unsigned long)pa, rc);
        return test_finish();
    }
    volatile uint8_t *status = (volatile uint8_t *)(spot + (pa & 0xfff) + 20);
    unsigned before = *status;
    *status = 1 | 2;                                      /* ACKNOWLEDGE | DRIVER */
    printf("device status at start %u, set to %u\n", before, *status);
    abort();                                              /* restart=crash */
}
