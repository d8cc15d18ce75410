/* The IOMMU (Intel VT-d): DMA remapping for the devices domains own,
 * each device reaching exactly its owner's writable RAM (and the frames
 * it grant-maps) by machine address, interrupt remapping for their MSIs,
 * and the fault report.  docs/iommu.md. */
#ifndef KEEL_IOMMU_H
#define KEEL_IOMMU_H
#include "lib.h"

struct domain;

/* The DMA-remapping units' fault event interrupt (boot CPU). */
#define VEC_IOMMU_FAULT 0xe0

/* Finds the DMA-remapping units in the ACPI DMAR and turns translation
 * on with no device reaching anything (unless iommu=off); after
 * pci_init. */
void iommu_init(void);
/* Whether DMA remapping is on. */
bool iommu_enabled(void);
/* Lets device bdf reach d's frames (its context entry names d's
 * second-level table); pci_lock held, before d has any memory.  0, or
 * -1 with why filled. */
int iommu_assign(struct domain *d, uint16_t bdf, char *why, size_t n);
/* d is dying: each of its devices is detached (context entry cleared,
 * context cache and IOTLB invalidated) and its tables freed, before any
 * of its frames can be reused.  No lock held. */
void iommu_release(struct domain *d);
/* Frame mfn's type changed or it is being freed: a device of its owner
 * may reach it exactly while it is the owner's writable RAM (type
 * PGT_WRITABLE, not a hypervisor frame).  The caller made the change
 * visible first; an unmapping is complete (IOTLB invalidated) on return. */
void iommu_frame_sync(uint64_t mfn);
/* ld grant-maps (or unmaps) another domain's frame mfn: while mapped,
 * ld's devices may read it, and write it if any of ld's mappings of it is
 * writable (as Xen maps grants in a PV domain's IOMMU).  Both domains'
 * locks held; a map: 0, or -1 if ld's table cannot take it.  An unmap
 * is complete (IOTLB invalidated) before the caller drops its frame
 * reference. */
int iommu_grant_map(struct domain *ld, uint64_t mfn, bool writable);
void iommu_grant_unmap(struct domain *ld, uint64_t mfn, bool writable);
/* Interrupt remapping: whether on; entry index (< 256) made to deliver
 * vector to APIC dest, edge or level, for source-id bdf only (a device,
 * or an I/O APIC), with the remappable-format MSI address and data a
 * device is to be given (-1 if off or index too large); the entry
 * cleared.  pci_lock held.  The source-id of I/O APIC id (its DRHD's
 * device scope), false if no unit names it. */
bool iommu_intremap(void);
int iommu_irte_set(unsigned index, uint16_t bdf, unsigned vector, uint32_t dest, bool level,
                   uint32_t *addr, uint32_t *data);
bool iommu_ioapic_sid(unsigned id, uint16_t *sid);
void iommu_irte_clear(unsigned index);
/* The fault event interrupt (trap_dispatch, EOI done). */
void iommu_fault_interrupt(void);

#endif
