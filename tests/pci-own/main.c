/* Guest test: a PCI device given to a domain (pci=BB:DD.F, role=hardware,
 * hv/arch/x86_64/pci.c).  The owner reads its device's configuration
 * space through ports 0xcf8/0xcfc, as Xen's hardware domain does, and
 * sees the filter Xen's pciback applies to a PV domain with a passed-
 * through device: its BARs size as the device answers but do not move,
 * the MSI-X capability and read-only header fields are not written, the
 * command register's bus-master bit is.  Devices it does not own read as
 * absent.  Arguments: dev=BB:DD.F (its device), other=BB:DD.F (one that
 * exists and is not its own), vendor=, device= (hex, what dev must say).
 * It also maps its device's MSI-X table (a memory BAR), read-only (a
 * writable mapping is refused), and reads the device's answer there; frames of another device's BAR or of the local
 * APIC are refused (-EPERM, as Xen refuses MMIO without iomem
 * permission). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/hypercall.h>
#include <xen/physdev.h>
#include "report.h"
#include "args.h"
#include "ptwalk.h"

static char spot[4096] __attribute__((aligned(4096)));

static unsigned long pte_of(const void *va)
{
    unsigned long ma = l1e_maddr((unsigned long)va);
    return *(volatile unsigned long *)((m2p[ma >> 12] << 12) + (ma & 4095));
}

/* Maps frame mfn uncached (PCD, PWT), writable or not, at spot; the
 * hypercall's result. */
static long map_at_spot(unsigned long mfn, bool writable)
{
    return HYPERVISOR_update_va_mapping((unsigned long)spot,
                                        mfn << 12 | 1 | (writable ? 2 : 0) | 4 | 8 | 16 |
                                        (1UL << 63), UVMF_INVLPG);
}

static void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static unsigned parse_bdf(const char *s)
{
    unsigned b, d, f;
    if (!s || sscanf(s, "%x:%x.%x", &b, &d, &f) != 3)
        return ~0u;
    return b << 8 | d << 3 | f;
}

static uint32_t addr(unsigned bdf, unsigned reg) { return 0x80000000u | bdf << 8 | (reg & 0xfc); }

static uint32_t rd32(unsigned bdf, unsigned reg) { outl(0xcf8, addr(bdf, reg)); return inl(0xcfc); }
static uint16_t rd16(unsigned bdf, unsigned reg) { outl(0xcf8, addr(bdf, reg)); return inw((uint16_t)(0xcfc + (reg & 2))); }
static uint8_t rd8(unsigned bdf, unsigned reg) { outl(0xcf8, addr(bdf, reg)); return inb((uint16_t)(0xcfc + (reg & 3))); }
static void wr32(unsigned bdf, unsigned reg, uint32_t v) { outl(0xcf8, addr(bdf, reg)); outl(0xcfc, v); }
static void wr16(unsigned bdf, unsigned reg, uint16_t v) { outl(0xcf8, addr(bdf, reg)); outw((uint16_t)(0xcfc + (reg & 2)), v); }

int main(int argc, char **argv)
{
    unsigned dev = parse_bdf(test_arg(argc, argv, "dev"));
    unsigned other = parse_bdf(test_arg(argc, argv, "other"));
    const char *vs = test_arg(argc, argv, "vendor"), *ds = test_arg(argc, argv, "device");
    if (dev == ~0u || other == ~0u || !vs || !ds) {
        test_error("needs dev=, other=, vendor=, device=");
        return test_finish();
    }
    struct physdev_set_iopl io = { .iopl = 1 };
    CHECK_EQ(_hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, &io), 0);

    /* Its own device: the IDs, the class of a network controller. */
    uint32_t id = rd32(dev, 0);
    CHECK_EQ(id & 0xffff, strtoul(vs, NULL, 16));
    CHECK_EQ(id >> 16, strtoul(ds, NULL, 16));
    CHECK_EQ(rd16(dev, 0), strtoul(vs, NULL, 16));
    CHECK_EQ(rd8(dev, 0x0b), 0x02);
    printf("own device %02x:%02x.%x: %08x, class %06x\n", dev >> 8, (dev >> 3) & 31, dev & 7,
           id, rd32(dev, 8) >> 8);

    /* Anything else reads as absent, and its registers are not written. */
    CHECK_EQ(rd32(other, 0), 0xffffffff);
    CHECK_EQ(rd32(dev + 1, 0), 0xffffffff);                 /* function 1: none */
    outl(0xcf8, addr(dev, 0) & ~0x80000000u);                /* enable bit clear */
    CHECK_EQ(inl(0xcfc), 0xffffffff);
    wr16(other, 4, 0);                                       /* dropped */
    CHECK_EQ(rd32(other, 0), 0xffffffff);

    /* BARs: every implemented one sizes (all ones, read, restore) and
     * stays where it was; a move is dropped. */
    unsigned sized = 0;
    bool upper = false;          /* this BAR is the upper half of a 64-bit one */
    for (unsigned i = 0; i < 6; i++, upper = false) {
        unsigned reg = 0x10 + 4 * i;
        uint32_t orig = rd32(dev, reg);
        wr32(dev, reg, ~0u);
        uint32_t mask = rd32(dev, reg);
        wr32(dev, reg, orig);
        CHECK_EQ(rd32(dev, reg), orig);
        if (!mask)
            continue;
        if (upper) {
            printf("BAR%u (upper half) %08x size mask %08x\n", i, orig, mask);
            continue;
        }
        sized++;
        if (orig & 1) {
            if ((mask & 1) != 1 || (mask & 0xfffc) == 0)
                test_fail("BAR%u (I/O) sized as %08x", i, mask);
        } else if ((mask & 0xf) != (orig & 0xf) || (mask & ~0xfu) == 0) {
            test_fail("BAR%u (memory, %08x) sized as %08x", i, orig, mask);
        }
        printf("BAR%u %08x size mask %08x\n", i, orig, mask);
        bool is64 = !(orig & 1) && ((orig >> 1) & 3) == 2;
        if (!(orig & 1) && ((orig >> 1) & 3) == 0 && orig) {
            wr32(dev, reg, orig ^ 0x10000000u);               /* a move: dropped */
            CHECK_EQ(rd32(dev, reg), orig);
        }
        if (is64) {
            upper = true;
            i++;
            unsigned hreg = reg + 4;
            uint32_t ohi = rd32(dev, hreg);
            wr32(dev, hreg, ~0u);
            uint32_t mhi = rd32(dev, hreg);
            wr32(dev, hreg, ohi);
            CHECK_EQ(rd32(dev, hreg), ohi);
            printf("BAR%u (upper half) %08x size mask %08x\n", i, ohi, mhi);
            upper = false;
        }
    }
    if (sized < 2)
        test_fail("only %u BARs sized", sized);

    /* Read-only header fields stay. */
    uint32_t class = rd32(dev, 8);
    wr32(dev, 8, 0);
    CHECK_EQ(rd32(dev, 8), class);
    wr32(dev, 0, 0x12345678);
    CHECK_EQ(rd32(dev, 0), id);

    /* The command register's bus-master bit is the owner's. */
    uint16_t cmd = rd16(dev, 4);
    wr16(dev, 4, cmd | 4);
    CHECK_EQ(rd16(dev, 4) & 4, 4);
    wr16(dev, 4, cmd & ~4);
    CHECK_EQ(rd16(dev, 4) & 4, 0);
    wr16(dev, 4, cmd | 4);                                   /* left on: death turns it off */

    /* The MSI-X capability's message control is not written. */
    unsigned cap = rd8(dev, 0x34) & 0xfc, msix = 0;
    for (int n = 0; cap >= 0x40 && n < 48; n++) {
        if (rd8(dev, cap) == 0x11)
            msix = cap;
        cap = rd8(dev, cap + 1) & 0xfc;
    }
    if (!msix) {
        test_fail("no MSI-X capability found");
    } else {
        uint16_t mc = rd16(dev, msix + 2);
        wr16(dev, msix + 2, mc | 0x8000);
        CHECK_EQ(rd16(dev, msix + 2), mc);
        printf("MSI-X at %02x, message control %04x: not written\n", msix, mc);
    }

    /* Its memory BAR, mapped with mmu_update's update_va_mapping: the
     * MSI-X table (BIR from the capability) answers as the device does,
     * every vector masked at reset. */
    if (msix) {
        uint32_t table = rd32(dev, msix + 4);
        unsigned bir = table & 7, toff = table & ~7u;
        uint32_t bar = rd32(dev, 0x10 + 4 * bir);
        unsigned long pa = (bar & ~0xful) + toff;
        unsigned long orig = pte_of(spot);
        CHECK_EQ(map_at_spot(pa >> 12, true), -1);            /* MSI-X: read-only */
        CHECK_EQ(map_at_spot(pa >> 12, false), 0);
        volatile uint32_t *t = (volatile uint32_t *)(spot + (pa & 4095));
        CHECK_EQ(t[3] & 1, 1);                               /* vector 0's control: masked */
        printf("MSI-X table in BAR%u at %lx mapped: vector 0 control %08x\n", bir, pa, t[3]);
        CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
    }
    /* Not its own: another device's BAR, the local APIC, the IOAPIC. */
    const char *obar = test_arg(argc, argv, "otherbar");
    if (obar)
        CHECK_EQ(map_at_spot(strtoul(obar, NULL, 16) >> 12, false), -1 /* -EPERM */);
    CHECK_EQ(map_at_spot(0xfee00, false), -1);
    CHECK_EQ(map_at_spot(0xfec00, true), -1);
    return test_finish();
}
