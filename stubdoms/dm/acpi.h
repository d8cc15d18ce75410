/* acpi.h: the ACPI tables the device model gives an HVM guest's firmware
 * through fw_cfg, as QEMU does (docs/hvm.md, "ACPI"): the blobs
 * "etc/acpi/rsdp" and "etc/acpi/tables" and the linker/loader script
 * "etc/table-loader" that SeaBIOS runs (QEMU's docs/specs/acpi_... and
 * SeaBIOS's romfile_loader: allocate each blob, patch pointers between
 * them, fix checksums). */
#ifndef KEEL_DM_ACPI_H
#define KEEL_DM_ACPI_H
#include <stdint.h>

#define ACPI_RSDP_FILE   "etc/acpi/rsdp"
#define ACPI_TABLES_FILE "etc/acpi/tables"
#define ACPI_LOADER_FILE "etc/table-loader"
#define ACPI_TABLES_MAX  4096
#define ACPI_LOADER_MAX  (24 * 128)
#define ACPI_MAX_CPUS    128

/* SeaBIOS's loader commands (romfile_loader.h): 128 bytes each. */
#define ACPI_LOADER_ALLOCATE 1
#define ACPI_LOADER_ADD_POINTER 2
#define ACPI_LOADER_ADD_CHECKSUM 3
#define ACPI_LOADER_ZONE_HIGH 1
#define ACPI_LOADER_ZONE_FSEG 2

struct acpi_blobs {
    uint8_t rsdp[36];
    uint8_t tables[ACPI_TABLES_MAX];
    uint32_t tables_len;
    uint8_t loader[ACPI_LOADER_MAX];
    uint32_t loader_len;
    /* where each table sits in tables[] (for the tests) */
    uint32_t facs, dsdt, dsdt_len, fadt, madt, madt_len, rsdt, xsdt;
};

/* The tables of a PC with cpus vCPUs and ram bytes of RAM from 0 (all
 * below the PCI hole): 0, or -1 (cpus 0 or too many, ram past the hole). */
int acpi_build(struct acpi_blobs *a, uint64_t ram, unsigned cpus);

#endif
