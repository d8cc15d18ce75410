/* The I/O APICs (from the ACPI MADT) and the ISA interrupt source
 * overrides: the routes by which legacy INTx reaches a CPU.  Every
 * redirection entry is masked at boot; pci.c programs one for a GSI its
 * owner maps (PHYSDEVOP_map_pirq, MAP_PIRQ_TYPE_GSI).  docs/pci.md. */
#ifndef KEEL_IOAPIC_H
#define KEEL_IOAPIC_H
#include "lib.h"

/* Finds the I/O APICs and overrides, masks every entry and the 8259s. */
void ioapic_init(void);
/* The GSI a legacy IRQ number (an ISA IRQ, or a PCI interrupt line the
 * firmware programmed) arrives on, and how: the MADT's override if it has
 * one (its polarity and trigger where it names them), else the same
 * number; where nothing is said, PCI's level and active low.  False if
 * no I/O APIC has that GSI. */
bool ioapic_line_to_gsi(unsigned line, unsigned *gsi, bool *level, bool *low);
/* Whether an I/O APIC has input gsi. */
bool ioapic_gsi_exists(unsigned gsi);
/* The I/O APIC id of gsi's unit (interrupt remapping's source-id). */
unsigned ioapic_id_of(unsigned gsi);

/* Redirection entries; pci_lock held.  Programmed masked: gsi to vector
 * at APIC dest (physical, fixed), or, with interrupt remapping, through
 * remapping entry index (the vector repeated for the EOI's match). */
void ioapic_program(unsigned gsi, unsigned vector, uint32_t dest, bool level, bool low);
void ioapic_program_remapped(unsigned gsi, unsigned index, unsigned vector, bool level,
                             bool low);
void ioapic_mask(unsigned gsi, bool mask);
/* The entry back to its boot state: masked, no vector. */
void ioapic_clear(unsigned gsi);
#endif
