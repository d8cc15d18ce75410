/*
 * acpi.c: an HVM guest's ACPI tables (docs/hvm.md, "ACPI"), made by the
 * device model and handed to the firmware through fw_cfg as QEMU hands
 * them: two blobs and the linker/loader script that places them (the
 * RSDP in the F segment, the rest in high memory), writes the pointers
 * between them and sets their checksums.  Layouts from the ACPI 6.0
 * specification (RSDP 5.2.5, RSDT/XSDT 5.2.7-8, FADT 5.2.9 in its
 * ACPI 2.0 form, FACS 5.2.10, MADT 5.2.12, AML chapter 20).
 *
 * What they describe is what the hypervisor and this device model
 * emulate:
 * - FADT: the PM1a event block, PM1a control block and PM timer at Xen's
 *   V1 ports (<xen/hvm/ioreq.h>: 0xb000, 0xb004, 0xb008; the timer 24
 *   bits), the SCI on ISA IRQ 9, no SMI command port (the machine is
 *   always in ACPI mode), no GPE block, C1 only, fixed power and sleep
 *   buttons absent, the reset register (port 0xcf9, value 6), legacy
 *   devices but no 8042 and no VGA;
 * - FACS (no global lock, no waking vector);
 * - MADT: the local APIC at 0xfee00000, one enabled processor per vCPU
 *   (APIC ID = vCPU id), the 8259s (PCAT_COMPAT), the I/O APIC (ID 0,
 *   0xfec00000, GSI 0), IRQ0 on GSI 2 and the SCI level-triggered active
 *   high, LINT1 as NMI;
 * - DSDT: \_SB.PCI0, the PCI root (PNP0A03) with its bus numbers, the
 *   configuration ports and the windows the firmware places BARs in (I/O
 *   outside 0xcf8-0xcff, the VGA hole, the hole from the top of RAM to the
 *   I/O APIC) and its _PRT (each slot's INTA-D on GSI 16-47, Xen's
 *   mapping); \_SB.PCI0.ISA.COM1 (PNP0501 at 0x3f8, IRQ 4); \_S5 for
 *   power off (SLP_TYP 0, which the device model's PM1a_CNT takes).
 */
#include "acpi.h"
#include <stdbool.h>
#include <string.h>
#include <xen/hvm/ioreq.h>

#define SDT_HDR   36
#define FADT_LEN  244                   /* revision 3 (ACPI 2.0) */
#define FACS_LEN  64
#define LAPIC_BASE  0xfee00000u
#define IOAPIC_BASE 0xfec00000u
#define SCI_IRQ   9

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, "KEEL  ", 6);        /* OEM ID */
    memcpy(t + 16, "KEELHVM ", 8);      /* OEM table ID */
    put32(t + 24, 1);
    memcpy(t + 28, "KEEL", 4);          /* creator */
    put32(t + 32, 1);
}

/* ---- the loader script ------------------------------------------------ */

static int cmd(struct acpi_blobs *a, uint32_t op, uint8_t **e)
{
    if (a->loader_len + 128 > ACPI_LOADER_MAX)
        return -1;
    *e = a->loader + a->loader_len;
    a->loader_len += 128;
    memset(*e, 0, 128);
    put32(*e, op);
    return 0;
}

static int ld_alloc(struct acpi_blobs *a, const char *file, uint32_t align, uint8_t zone)
{
    uint8_t *e;
    if (cmd(a, ACPI_LOADER_ALLOCATE, &e))
        return -1;
    strcpy((char *)e + 4, file);
    put32(e + 60, align);
    e[64] = zone;
    return 0;
}

/* The size bytes at offset off of dest hold an offset into src: the
 * loader adds src's address. */
static int ld_pointer(struct acpi_blobs *a, const char *dest, const char *src, uint32_t off,
                      uint8_t size)
{
    uint8_t *e;
    if (cmd(a, ACPI_LOADER_ADD_POINTER, &e))
        return -1;
    strcpy((char *)e + 4, dest);
    strcpy((char *)e + 60, src);
    put32(e + 116, off);
    e[120] = size;
    return 0;
}

static int ld_checksum(struct acpi_blobs *a, const char *file, uint32_t start, uint32_t len,
                       uint32_t at)
{
    uint8_t *e;
    if (cmd(a, ACPI_LOADER_ADD_CHECKSUM, &e))
        return -1;
    strcpy((char *)e + 4, file);
    put32(e + 60, at);
    put32(e + 64, start);
    put32(e + 68, len);
    return 0;
}

/* ---- AML (ACPI 6.0 chapter 20) --------------------------------------- */

struct aml {
    uint8_t *b;
    uint32_t len, cap;
    uint32_t open[8];                   /* where each open PkgLength's body starts */
    unsigned depth;
    bool bad;
};

static void emit(struct aml *m, const void *p, uint32_t n)
{
    if (m->bad || m->len + n > m->cap) {
        m->bad = true;
        return;
    }
    memcpy(m->b + m->len, p, n);
    m->len += n;
}

static void byte(struct aml *m, uint8_t v)
{
    emit(m, &v, 1);
}

static void pkg_begin(struct aml *m)
{
    if (m->depth == sizeof(m->open) / sizeof(m->open[0])) {
        m->bad = true;
        return;
    }
    m->open[m->depth++] = m->len;
}

/* The PkgLength of the body since pkg_begin, put before it: it counts its
 * own bytes; one byte up to 63, else the low nibble then whole bytes. */
static void pkg_end(struct aml *m)
{
    if (m->bad || !m->depth) {
        m->bad = true;
        return;
    }
    uint32_t start = m->open[--m->depth], body = m->len - start;
    unsigned n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : 3;
    uint32_t total = body + n;
    if (m->len + n > m->cap) {
        m->bad = true;
        return;
    }
    memmove(m->b + start + n, m->b + start, body);
    if (n == 1) {
        m->b[start] = (uint8_t)total;
    } else {
        m->b[start] = (uint8_t)((n - 1) << 6 | (total & 0xf));
        for (unsigned i = 1; i < n; i++)
            m->b[start + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
    }
    m->len += n;
}

static void integer(struct aml *m, uint32_t v)
{
    if (v <= 1) {
        byte(m, (uint8_t)v);            /* ZeroOp, OneOp */
    } else if (v <= 0xff) {
        byte(m, 0x0a);
        byte(m, (uint8_t)v);
    } else if (v <= 0xffff) {
        uint8_t w[3] = { 0x0b, (uint8_t)v, (uint8_t)(v >> 8) };
        emit(m, w, 3);
    } else {
        uint8_t d[5] = { 0x0c };
        put32(d + 1, v);
        emit(m, d, 5);
    }
}

/* A compressed EISA ID ("PNP0A03") as a DWord. */
static uint32_t eisaid(const char id[7])
{
    uint16_t vendor = (uint16_t)((id[0] & 0x1f) << 10 | (id[1] & 0x1f) << 5 | (id[2] & 0x1f));
    uint32_t product = 0;
    for (int i = 3; i < 7; i++)
        product = product << 4 | (uint32_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10);
    return (uint32_t)(vendor >> 8) | (uint32_t)(vendor & 0xff) << 8 |
           (product >> 8 & 0xff) << 16 | (product & 0xff) << 24;
}

/* NameOp NAME: the value follows. */
static void name(struct aml *m, const char seg[4])
{
    byte(m, 0x08);
    emit(m, seg, 4);
}

static void device_begin(struct aml *m, const char seg[4])
{
    byte(m, 0x5b);                      /* ExtOpPrefix DeviceOp */
    byte(m, 0x82);
    pkg_begin(m);
    emit(m, seg, 4);
}

/* A Buffer of resource descriptors, ended by the end tag. */
static void resources(struct aml *m, const uint8_t *r, uint32_t n)
{
    byte(m, 0x11);                      /* BufferOp */
    pkg_begin(m);
    integer(m, n + 2);
    emit(m, r, n);
    static const uint8_t end[2] = { 0x79, 0x00 };
    emit(m, end, 2);
    pkg_end(m);
}

/* Word (bus number or I/O) and DWord (memory) address space descriptors
 * of a producer with fixed minimum and maximum. */
static uint32_t word_space(uint8_t *r, uint8_t type, uint16_t min, uint16_t max)
{
    r[0] = 0x88;
    put16(r + 1, 13);
    r[3] = type;                        /* 1: I/O, 2: bus numbers */
    r[4] = 0x0c;                        /* MIF, MAF, positive decode, producer */
    r[5] = type == 1 ? 0x03 : 0;        /* I/O: the entire range */
    put16(r + 6, 0);                    /* granularity */
    put16(r + 8, min);
    put16(r + 10, max);
    put16(r + 12, 0);                   /* translation */
    put16(r + 14, (uint16_t)(max - min + 1));
    return 16;
}

static uint32_t dword_memory(uint8_t *r, uint32_t min, uint32_t max)
{
    r[0] = 0x87;
    put16(r + 1, 23);
    r[3] = 0;                           /* memory */
    r[4] = 0x0c;
    r[5] = 0x03;                        /* read-write, cacheable */
    put32(r + 6, 0);
    put32(r + 10, min);
    put32(r + 14, max);
    put32(r + 18, 0);
    put32(r + 22, max - min + 1);
    return 26;
}

static uint32_t io_fixed(uint8_t *r, uint16_t base, uint8_t len, uint8_t align)
{
    r[0] = 0x47;                        /* I/O port descriptor */
    r[1] = 1;                           /* 16-bit decode */
    put16(r + 2, base);
    put16(r + 4, base);
    r[6] = align;
    r[7] = len;
    return 8;
}

static int dsdt(struct aml *m, uint64_t ram)
{
    uint8_t r[128];
    uint32_t n;
    /* Scope (\_SB) */
    byte(m, 0x10);
    pkg_begin(m);
    emit(m, "\\_SB_", 5);
    device_begin(m, "PCI0");
    name(m, "_HID");
    byte(m, 0x0c);
    uint8_t id[4];
    put32(id, eisaid("PNP0A03"));
    emit(m, id, 4);
    name(m, "_ADR");
    integer(m, 0);
    name(m, "_UID");
    integer(m, 0);
    name(m, "_CRS");
    n = word_space(r, 2, 0x00, 0xff);
    n += io_fixed(r + n, 0xcf8, 8, 1);
    n += word_space(r + n, 1, 0x0000, 0x0cf7);
    n += word_space(r + n, 1, 0x0d00, 0xffff);
    n += dword_memory(r + n, 0x000a0000, 0x000bffff);
    n += dword_memory(r + n, (uint32_t)ram, IOAPIC_BASE - 1);
    resources(m, r, n);
    /* _PRT: every slot's INTA-INTD on the I/O APIC's GSI 16-47 by Xen's
     * hvm_pci_intx_gsi, as hvmloader's DSDT says and the hypervisor wires
     * them (APIC mode; no link devices for PIC mode). */
    name(m, "_PRT");
    byte(m, 0x12);
    pkg_begin(m);
    byte(m, 128);
    for (uint32_t slot = 0; slot < 32; slot++)
        for (uint32_t pin = 0; pin < 4; pin++) {
            byte(m, 0x12);
            pkg_begin(m);
            byte(m, 4);
            integer(m, slot << 16 | 0xffff);
            integer(m, pin);
            integer(m, 0);
            integer(m, (((slot << 2) + (slot >> 3) + pin) & 31) + 16);
            pkg_end(m);
        }
    pkg_end(m);
    device_begin(m, "ISA_");            /* the PIIX3 at 00:01.0 */
    name(m, "_ADR");
    integer(m, 0x00010000);
    device_begin(m, "COM1");
    name(m, "_HID");
    byte(m, 0x0c);
    put32(id, eisaid("PNP0501"));
    emit(m, id, 4);
    name(m, "_UID");
    integer(m, 1);
    name(m, "_CRS");
    n = io_fixed(r, 0x3f8, 8, 0);
    r[n++] = 0x22;                      /* IRQ descriptor, no flags: edge, high */
    put16(r + n, 1u << 4);
    n += 2;
    resources(m, r, n);
    pkg_end(m);                         /* COM1 */
    pkg_end(m);                         /* ISA */
    pkg_end(m);                         /* PCI0 */
    pkg_end(m);                         /* \_SB */
    /* Name (\_S5, Package (4) { 0, 0, 0, 0 }): SLP_TYPa/b for soft off */
    byte(m, 0x08);
    emit(m, "\\_S5_", 5);
    byte(m, 0x12);
    pkg_begin(m);
    byte(m, 4);
    for (int i = 0; i < 4; i++)
        integer(m, 0);
    pkg_end(m);
    return m->bad || m->depth ? -1 : 0;
}

/* ---- the tables ------------------------------------------------------- */

static uint32_t align_up(uint32_t v, uint32_t a)
{
    return (v + a - 1) & ~(a - 1);
}

int acpi_build(struct acpi_blobs *a, uint64_t ram, unsigned cpus)
{
    memset(a, 0, sizeof(*a));
    if (!cpus || cpus > ACPI_MAX_CPUS || ram < (1u << 20) || ram > IOAPIC_BASE - 0x1000000ULL ||
        (ram & 0xfff))
        return -1;
    uint8_t *t = a->tables;
    uint32_t off = 0;

    /* FACS first: 64-byte aligned, as the blob is. */
    a->facs = off;
    memcpy(t + off, "FACS", 4);
    put32(t + off + 4, FACS_LEN);
    t[off + 32] = 1;                    /* version */
    off += FACS_LEN;

    a->dsdt = off;
    /* room for the DSDT: what the other tables need (and their padding) is kept */
    uint32_t madt_len = SDT_HDR + 8 + 8 * cpus + 12 + 2 * 10 + 6;
    uint32_t rest = 8 + FADT_LEN + 8 + madt_len + 8 + SDT_HDR + 8 + 8 + SDT_HDR + 16;
    struct aml m = { .b = t + off + SDT_HDR, .cap = ACPI_TABLES_MAX - off - SDT_HDR - rest };
    if (dsdt(&m, ram))
        return -1;
    a->dsdt_len = SDT_HDR + m.len;
    header(t + off, "DSDT", a->dsdt_len, 1);
    off = align_up(off + a->dsdt_len, 8);

    a->fadt = off;
    uint8_t *f = t + off;
    header(f, "FACP", FADT_LEN, 3);
    put32(f + 36, a->facs);             /* FIRMWARE_CTRL: patched */
    put32(f + 40, a->dsdt);             /* DSDT: patched */
    put16(f + 46, SCI_IRQ);
    put32(f + 56, ACPI_PM1A_EVT_BLK_ADDRESS_V1);
    put32(f + 64, ACPI_PM1A_CNT_BLK_ADDRESS_V1);
    put32(f + 76, ACPI_PM_TMR_BLK_ADDRESS_V1);
    f[88] = 4;                          /* PM1_EVT_LEN */
    f[89] = 2;                          /* PM1_CNT_LEN */
    f[91] = 4;                          /* PM_TMR_LEN */
    put16(f + 96, 0x0fff);              /* P_LVL2_LAT: no C2 */
    put16(f + 98, 0x0fff);              /* P_LVL3_LAT: no C3 */
    f[108] = 0x32;                      /* CENTURY: the CMOS byte rtc.c keeps */
    put16(f + 109, (1u << 0) | (1u << 2));  /* IAPC_BOOT_ARCH: legacy devices; no 8042, no VGA */
    put32(f + 112, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 10));
    /* WBINVD, C1, no fixed power or sleep button, RESET_REG_SUP */
    f[116] = 1;                         /* RESET_REG: system I/O, 8 bits, byte access */
    f[117] = 8;
    f[119] = 1;
    put64(f + 120, 0xcf9);
    f[128] = 0x06;                      /* RESET_VALUE */
    off = align_up(off + FADT_LEN, 8);

    a->madt = off;
    uint8_t *p = t + off;
    uint32_t ml = SDT_HDR + 8;
    put32(p + 36, LAPIC_BASE);
    put32(p + 40, 1);                   /* PCAT_COMPAT */
    for (unsigned i = 0; i < cpus; i++, ml += 8) {
        p[ml] = 0;                      /* processor local APIC */
        p[ml + 1] = 8;
        p[ml + 2] = (uint8_t)i;         /* processor UID */
        p[ml + 3] = (uint8_t)i;         /* APIC ID */
        put32(p + ml + 4, 1);           /* enabled */
    }
    p[ml] = 1;                          /* I/O APIC */
    p[ml + 1] = 12;
    p[ml + 2] = 0;
    put32(p + ml + 4, IOAPIC_BASE);
    put32(p + ml + 8, 0);
    ml += 12;
    static const struct { uint8_t irq; uint32_t gsi; uint16_t flags; } iso[] = {
        { 0, 2, 0 },                    /* the PIT on pin 2, bus-conforming */
        { SCI_IRQ, SCI_IRQ, 0x000d },   /* the SCI: level, active high */
    };
    for (unsigned i = 0; i < 2; i++, ml += 10) {
        p[ml] = 2;                      /* interrupt source override */
        p[ml + 1] = 10;
        p[ml + 2] = 0;                  /* ISA */
        p[ml + 3] = iso[i].irq;
        put32(p + ml + 4, iso[i].gsi);
        put16(p + ml + 8, iso[i].flags);
    }
    p[ml] = 4;                          /* local APIC NMI: all processors' LINT1 */
    p[ml + 1] = 6;
    p[ml + 2] = 0xff;
    put16(p + ml + 3, 0);
    p[ml + 5] = 1;
    ml += 6;
    header(p, "APIC", ml, 1);
    a->madt_len = ml;
    off = align_up(off + ml, 8);

    a->rsdt = off;
    header(t + off, "RSDT", SDT_HDR + 8, 1);
    put32(t + off + SDT_HDR, a->fadt);
    put32(t + off + SDT_HDR + 4, a->madt);
    off = align_up(off + SDT_HDR + 8, 8);

    a->xsdt = off;
    header(t + off, "XSDT", SDT_HDR + 16, 1);
    put64(t + off + SDT_HDR, a->fadt);
    put64(t + off + SDT_HDR + 8, a->madt);
    off += SDT_HDR + 16;
    if (off > ACPI_TABLES_MAX)
        return -1;
    a->tables_len = off;

    /* RSDP revision 2: both tables' offsets, patched. */
    memcpy(a->rsdp, "RSD PTR ", 8);
    memcpy(a->rsdp + 9, "KEEL  ", 6);
    a->rsdp[15] = 2;
    put32(a->rsdp + 16, a->rsdt);
    put32(a->rsdp + 20, 36);
    put64(a->rsdp + 24, a->xsdt);

    const char *R = ACPI_RSDP_FILE, *T = ACPI_TABLES_FILE;
    int e = 0;
    e |= ld_alloc(a, R, 16, ACPI_LOADER_ZONE_FSEG);
    e |= ld_alloc(a, T, 64, ACPI_LOADER_ZONE_HIGH);
    e |= ld_pointer(a, T, T, a->fadt + 36, 4);
    e |= ld_pointer(a, T, T, a->fadt + 40, 4);
    e |= ld_pointer(a, T, T, a->rsdt + SDT_HDR, 4);
    e |= ld_pointer(a, T, T, a->rsdt + SDT_HDR + 4, 4);
    e |= ld_pointer(a, T, T, a->xsdt + SDT_HDR, 8);
    e |= ld_pointer(a, T, T, a->xsdt + SDT_HDR + 8, 8);
    e |= ld_pointer(a, R, T, 16, 4);
    e |= ld_pointer(a, R, T, 24, 8);
    e |= ld_checksum(a, T, a->dsdt, a->dsdt_len, a->dsdt + 9);
    e |= ld_checksum(a, T, a->fadt, FADT_LEN, a->fadt + 9);
    e |= ld_checksum(a, T, a->madt, a->madt_len, a->madt + 9);
    e |= ld_checksum(a, T, a->rsdt, SDT_HDR + 8, a->rsdt + 9);
    e |= ld_checksum(a, T, a->xsdt, SDT_HDR + 16, a->xsdt + 9);
    e |= ld_checksum(a, R, 0, 20, 8);   /* the ACPI 1.0 checksum, then the whole */
    e |= ld_checksum(a, R, 0, 36, 32);
    return e ? -1 : 0;
}
