/* pci.c: type 0 configuration headers (PCI Local Bus 3.0, chapter 6) of
 * the device model's functions.  The chipset registers past the header
 * (the i440FX's PAM and SMRAM, the PIIX3's IRQ routing) are kept as the
 * guest writes them; they have no effect yet. */
#include "pci.h"
#include <string.h>

static void put16(uint8_t *c, unsigned o, uint16_t v)
{
    c[o] = (uint8_t)v;
    c[o + 1] = (uint8_t)(v >> 8);
}

static struct pci_func *add(struct pci_bus *b, uint32_t sbdf, uint16_t vendor, uint16_t device,
                            uint8_t rev, uint32_t class, uint8_t header, uint16_t cmd,
                            uint16_t status)
{
    struct pci_func *f = &b->f[b->n++];
    memset(f, 0, sizeof(*f));
    f->sbdf = sbdf;
    put16(f->cfg, 0x00, vendor);
    put16(f->cfg, 0x02, device);
    put16(f->cfg, 0x04, cmd);
    put16(f->cfg, 0x06, status);
    f->cfg[0x08] = rev;
    f->cfg[0x09] = (uint8_t)class;            /* programming interface */
    f->cfg[0x0a] = (uint8_t)(class >> 8);     /* subclass */
    f->cfg[0x0b] = (uint8_t)(class >> 16);    /* base class */
    f->cfg[0x0e] = header;
    /* command: I/O, memory, bus master, parity, SERR; cache line, latency,
     * interrupt line; the device-specific registers. */
    f->wmask[0x04] = 0x47;
    f->wmask[0x05] = 0x01;
    f->wmask[0x0c] = 0xff;
    f->wmask[0x0d] = 0xff;
    f->wmask[0x3c] = 0xff;
    memset(f->wmask + 0x40, 0xff, 0xc0);
    return f;
}

void pci_bus_init_i440fx(struct pci_bus *b)
{
    memset(b, 0, sizeof(*b));
    add(b, 0x0000, 0x8086, 0x1237, 0x02, 0x060000, 0x00, 0x0006, 0x0280);
    add(b, 0x0008, 0x8086, 0x7000, 0x00, 0x060100, 0x80, 0x0007, 0x0200);
    /* 00:01.1, the PIIX3's IDE function: legacy ports (programming
     * interface 0x80: bus-master capable, both channels in compatibility
     * mode), I/O decode on, the primary channel's timing register with
     * its decode enable (bit 15 of 0x40). */
    struct pci_func *ide = add(b, 0x0009, 0x8086, 0x7010, 0x00, 0x010180, 0x00, 0x0001, 0x0280);
    put16(ide->cfg, 0x40, 0x8000);
}

static struct pci_func *find(struct pci_bus *b, uint32_t sbdf)
{
    for (unsigned i = 0; i < b->n; i++)
        if (b->f[i].sbdf == sbdf)
            return &b->f[i];
    return NULL;
}

/* 1, 2 or 4 bytes, naturally aligned, inside the 256. */
static int ok(struct pci_bus *b, unsigned reg, unsigned size)
{
    if ((size != 1 && size != 2 && size != 4) || (reg & (size - 1)) || reg + size > 256) {
        b->bad++;
        return 0;
    }
    return 1;
}

uint32_t pci_cfg_read(struct pci_bus *b, uint32_t sbdf, unsigned reg, unsigned size)
{
    struct pci_func *f = find(b, sbdf);
    if (!ok(b, reg, size) || !f)
        return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)f->cfg[reg + i] << (8 * i);
    return v;
}

void pci_cfg_write(struct pci_bus *b, uint32_t sbdf, unsigned reg, unsigned size, uint32_t val)
{
    struct pci_func *f = find(b, sbdf);
    if (!ok(b, reg, size) || !f)
        return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t m = f->wmask[reg + i], v = (uint8_t)(val >> (8 * i));
        f->cfg[reg + i] = (uint8_t)((f->cfg[reg + i] & ~m) | (v & m));
    }
}

void pci_bus_add_xen_platform(struct pci_bus *b)
{
    if (b->n == PCI_MAX_FUNCS)
        return;
    /* 00:02.0: vendor 5853 (XenSource), device 0001, revision 1, class
     * ff80, subsystem 5853:0001, INTA; BAR0 256 bytes of I/O, BAR1
     * 16 MiB of prefetchable 32-bit memory (the sizes are the bits a
     * write of all ones leaves clear). */
    struct pci_func *f = add(b, 0x0010, 0x5853, 0x0001, 0x01, 0xff8000, 0x00, 0x0000, 0x0000);
    f->cfg[0x10] = 0x01;
    memset(f->wmask + 0x11, 0xff, 3);        /* (all 32 bits decoded, as QEMU's) */
    f->cfg[0x14] = 0x08;
    f->wmask[0x17] = 0xff;
    put16(f->cfg, 0x2c, 0x5853);
    put16(f->cfg, 0x2e, 0x0001);
    f->cfg[0x3d] = 1;
}

