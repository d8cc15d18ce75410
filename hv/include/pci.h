/* PCI devices: configuration space, the devices found at boot and who
 * owns each (the hypervisor, until the boot configuration gives one to a
 * domain with pci=BB:DD.F).  docs/pci.md. */
#ifndef KEEL_PCI_H
#define KEEL_PCI_H
#include "lib.h"

struct domain;

#define PCI_BDF(bus, dev, fn) ((uint16_t)((bus) << 8 | (dev) << 3 | (fn)))
#define PCI_MAX_ASSIGN 8         /* pci= devices per domain */

/* Enumerates PCI (ECAM from the ACPI MCFG, else ports 0xcf8/0xcfc). */
void pci_init(void);

/* Parses "BB:DD.F" (hex, as lspci prints it); false if malformed. */
bool pci_parse_bdf(const char *s, size_t n, uint16_t *bdf);

/* The bus range behind bridge bdf (the IOMMU's DMAR bridge scopes);
 * false if bdf is no bridge. */
bool pci_bridge_buses(uint16_t bdf, unsigned *secondary, unsigned *subordinate);

/* Gives device bdf to d at build time; 0, or -1 with why filled. */
int pci_assign(struct domain *d, uint16_t bdf, char *why, size_t n);

/* PIRQs: a domain's handles for its devices' MSI and MSI-X vectors and
 * INTx lines (GSIs). */
#define NR_PIRQS 64
struct physdev_map_pirq;
/* PHYSDEVOP_map_pirq / unmap_pirq for d itself (the owner). */
long pci_map_pirq(struct domain *d, struct physdev_map_pirq *m);
long pci_unmap_pirq(struct domain *d, int pirq);
/* Whether d has pirq mapped (PHYSDEVOP_eoi, irq_status_query, bind). */
bool pci_pirq_mapped(struct domain *d, unsigned pirq);
/* PHYSDEVOP_eoi: an INTx line masked since it fired is unmasked; 0 for
 * any PIRQ d mapped and bound, -EINVAL otherwise.  Whether pirq needs that EOI
 * (a level-triggered INTx line: XENIRQSTAT_needs_eoi). */
long pci_pirq_eoi(struct domain *d, unsigned pirq);
bool pci_pirq_needs_eoi(struct domain *d, unsigned pirq);
/* The vector's MSI-X entry (or INTx line) unmasked (bound) or masked
 * (unbound). */
void pci_pirq_mask(struct domain *d, unsigned pirq, bool mask);
/* A device interrupt on a dynamic vector (trap_dispatch; it sends the
 * EOI). */
void pci_msi_interrupt(unsigned vector);
#define VEC_DYN_FIRST 0x40
#define VEC_DYN_LAST  0xdf

/* Whether MMIO frame mfn holds an MSI-X table or pending-bit array:
 * guests map it read-only only. */
bool pci_mmio_ro(uint64_t mfn);

/* d is dying: each device it owns stops (no decoding, no bus mastering,
 * MSI and MSI-X off), is reset if it offers FLR, and goes back to the
 * hypervisor.  Before any of
 * d's frames are freed. */
void pci_release_domain(struct domain *d);
/* Function-level resets started by pci_release_domain: whether any is
 * under way, and finishing those whose time has come (the idle loop). */
bool pci_resets_pending(void);
void pci_resets_poll(void);
/* Resets to finish or storm limits to lift (the idle loop, the scheduler
 * tick): whether any, and doing those that are due. */
bool pci_work_pending(void);
void pci_irq_poll(void);

/* A PV domain's access to ports 0xcfc-0xcff with address cf8 latched:
 * its own devices' configuration space, filtered; all ones and dropped
 * writes for anything else. */
uint32_t pci_guest_cfg_read(struct domain *d, uint32_t cf8, unsigned off, unsigned size);
void pci_guest_cfg_write(struct domain *d, uint32_t cf8, unsigned off, unsigned size,
                         uint32_t val);

#endif
