/*
 * The ACPI tables of a PVH domain (docs/hvm.md, "ACPI tables"), written
 * by the PVH builder (pvh.c) at boot and at run time, as
 * libxl gives a PVH domU the minimum a kernel needs to find its CPUs and
 * know it has no legacy hardware: an RSDP (revision 2, named by
 * hvm_start_info.rsdp_paddr), an XSDT naming a FADT and a MADT, the FADT
 * with the HW_REDUCED_ACPI flag (no PM timer, SCI, PIC, PIT or RTC; no
 * VGA, no CMOS RTC in its boot flags) pointing at an empty DSDT, and the
 * MADT with the local APIC address and one enabled processor local APIC
 * per vCPU (no PCAT_COMPAT: there is no 8259; no I/O APIC entry).  All
 * in one page of the guest's RAM that its memory map marks as ACPI.
 * Layouts from the ACPI 6.0 specification (tables 5-27, 5-33, 5-34,
 * 5-43, 5-45, 5-46).
 */
#include "dombuild_pvh.h"

#define SDT_HDR 36
#define RSDP_OFF 0
#define XSDT_OFF 64
#define FADT_OFF 128
#define FADT_LEN 268          /* revision 5 */
#define DSDT_OFF 512
#define MADT_OFF 640

static void put8(uint8_t *p, unsigned off, uint8_t v) { p[off] = v; }
static void put16(uint8_t *p, unsigned off, uint16_t v) { memcpy(p + off, &v, 2); }
static void put32(uint8_t *p, unsigned off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, unsigned off, uint64_t v) { memcpy(p + off, &v, 8); }

static uint8_t sum(const uint8_t *p, unsigned len)
{
    uint8_t s = 0;
    for (unsigned i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* A system description table header; the checksum is set last (fix). */
static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t, 4, len);
    put8(t, 8, rev);
    memcpy(t + 10, "KEEL  ", 6);             /* OEM ID */
    memcpy(t + 16, "KEELPVH ", 8);           /* OEM table ID */
    put32(t, 24, 1);                         /* OEM revision */
    memcpy(t + 28, "KEEL", 4);               /* creator ID */
    put32(t, 32, 1);                         /* creator revision */
}

static void fix(uint8_t *t, uint32_t len)
{
    t[9] = 0;
    t[9] = (uint8_t)(0x100 - sum(t, len));
}

uint64_t dombuild_pvh_acpi(uint8_t page[DB_PAGE_SIZE], uint64_t gpa, unsigned nr_vcpus)
{
    memset(page, 0, DB_PAGE_SIZE);
    /* DSDT: a definition block with no objects. */
    uint8_t *dsdt = page + DSDT_OFF;
    header(dsdt, "DSDT", SDT_HDR, 2);
    fix(dsdt, SDT_HDR);

    /* FADT (revision 5): the DSDT, hardware-reduced, no VGA, no CMOS RTC. */
    uint8_t *fadt = page + FADT_OFF;
    header(fadt, "FACP", FADT_LEN, 5);
    put32(fadt, 40, (uint32_t)(gpa + DSDT_OFF));     /* DSDT */
    put16(fadt, 109, (1u << 2) | (1u << 5));         /* IAPC_BOOT_ARCH: VGA, CMOS RTC not present */
    put32(fadt, 112, 1u << 20);                      /* flags: HW_REDUCED_ACPI */
    put8(fadt, 131, 0);                              /* FADT minor version */
    put64(fadt, 140, gpa + DSDT_OFF);                /* X_DSDT */
    fix(fadt, FADT_LEN);

    /* MADT: the LAPIC address, no PC-AT 8259, one processor LAPIC each. */
    uint8_t *madt = page + MADT_OFF;
    uint32_t madt_len = SDT_HDR + 8 + 8 * nr_vcpus;
    header(madt, "APIC", madt_len, 4);
    put32(madt, 36, 0xfee00000u);
    put32(madt, 40, 0);
    for (unsigned i = 0; i < nr_vcpus; i++) {
        uint8_t *e = madt + SDT_HDR + 8 + 8 * i;
        put8(e, 0, 0);                               /* processor local APIC */
        put8(e, 1, 8);
        put8(e, 2, (uint8_t)i);                      /* ACPI processor UID */
        put8(e, 3, (uint8_t)i);                      /* APIC ID: the vCPU id */
        put32(e, 4, 1);                              /* enabled */
    }
    fix(madt, madt_len);

    /* XSDT: the FADT and the MADT. */
    uint8_t *xsdt = page + XSDT_OFF;
    header(xsdt, "XSDT", SDT_HDR + 16, 1);
    put64(xsdt, SDT_HDR, gpa + FADT_OFF);
    put64(xsdt, SDT_HDR + 8, gpa + MADT_OFF);
    fix(xsdt, SDT_HDR + 16);

    /* RSDP, revision 2: the first 20 bytes sum to 0, and all 36. */
    uint8_t *rsdp = page + RSDP_OFF;
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, "KEEL  ", 6);
    put8(rsdp, 15, 2);
    put32(rsdp, 20, 36);
    put64(rsdp, 24, gpa + XSDT_OFF);
    put8(rsdp, 8, (uint8_t)(0x100 - sum(rsdp, 20)));
    put8(rsdp, 32, (uint8_t)(0x100 - sum(rsdp, 36)));
    return gpa + RSDP_OFF;
}
