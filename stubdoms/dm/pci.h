/* pci.h: the device model's PCI configuration space (stubdoms/dm,
 * docs/hvm.md): a bus of functions, each 256 bytes with a mask of the bits
 * the guest may write; reads and writes of 1, 2 or 4 bytes within it.  The
 * hypervisor decodes 0xcf8/0xcfc and sends a config cycle for a claimed
 * SBDF as IOREQ_TYPE_PCI_CONFIG (ioreq.c). */
#ifndef KEEL_DM_PCI_H
#define KEEL_DM_PCI_H
#include <stdint.h>

#define PCI_MAX_FUNCS 8

struct pci_func {
    uint32_t sbdf;                 /* XEN_DMOP_PCI_SBDF: segment, bus, device, function */
    uint8_t cfg[256], wmask[256];
};

struct pci_bus {
    unsigned n;
    struct pci_func f[PCI_MAX_FUNCS];
    unsigned long bad;             /* accesses refused (width, alignment, offset) */
};

/* The PC's fixed functions, as on QEMU's "pc" machine: 00:00.0 the
 * i440FX host bridge (8086:1237), 00:01.0 the PIIX3 ISA bridge
 * (8086:7000, multi-function) and 00:01.1 its IDE function (8086:7010,
 * legacy ports). */
void pci_bus_init_i440fx(struct pci_bus *b);
/* 00:02.0, the Xen platform device (5853:0001) as QEMU's xen-platform:
 * a PV-on-HVM guest's drivers find it and map grant frames into its
 * memory BAR (BAR1, 16 MiB), which nothing else decodes. */
void pci_bus_add_xen_platform(struct pci_bus *b);
/* All ones for a function that is not there or a bad access. */
uint32_t pci_cfg_read(struct pci_bus *b, uint32_t sbdf, unsigned reg, unsigned size);
void pci_cfg_write(struct pci_bus *b, uint32_t sbdf, unsigned reg, unsigned size, uint32_t val);

#endif
