/* ACPI tables, as far as the hypervisor reads them (the MADT for the
 * CPUs, the MCFG for PCIe configuration space). */
#ifndef KEEL_ACPI_H
#define KEEL_ACPI_H
#include <stdint.h>

struct acpi_header {
    char sig[4];
    uint32_t length;
    uint8_t rev, checksum;
    char oem[6], oem_table[8];
    uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

/* The table with signature sig (mapped whole), or NULL. */
const struct acpi_header *acpi_find_table(const char *sig);
#endif
