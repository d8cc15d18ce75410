/* Host unit test of the device model's ACPI tables (stubdoms/dm/acpi.c),
 * under ASan/UBSan: the loader script run as SeaBIOS's romfile_loader runs
 * it (each blob allocated at an address, pointers added, checksums set);
 * then, reached from the RSDP alone, every table's checksum, the RSDT and
 * XSDT naming the FADT and the MADT, the FADT's FACS, DSDT, PM blocks at
 * Xen's V1 ports and reset register, the MADT's entries, and the DSDT's
 * AML walked: its packages nest exactly, \_SB.PCI0 (PNP0A03) with a
 * resource template whose windows start at the top of RAM, its _PRT
 * (every slot's INTA-D on Xen's GSI 16-47), COM1 (PNP0501),
 * \_S5.  And the refusals: no vCPU, too many, RAM not page-aligned or into
 * the PCI hole. */
#include <string.h>
#include <stdint.h>
#include <stdbool.h>
#include <xen/hvm/ioreq.h>
#include "acpi.h"
#include "unit.h"

#define RSDP_AT   0x000f5a40u
#define TABLES_AT 0x0ffe0000u

static uint8_t rsdp_mem[64], tables_mem[ACPI_TABLES_MAX];

/* The blob an address is in, as a host pointer (NULL: none). */
static uint8_t *at(uint64_t a, uint32_t len)
{
    if (a >= RSDP_AT && a + len <= RSDP_AT + sizeof(rsdp_mem))
        return rsdp_mem + (a - RSDP_AT);
    if (a >= TABLES_AT && a + len <= TABLES_AT + sizeof(tables_mem))
        return tables_mem + (a - TABLES_AT);
    return NULL;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static uint8_t sum(const uint8_t *p, uint32_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* SeaBIOS's romfile_loader_execute, on our two blobs. */
static int run_loader(const struct acpi_blobs *a)
{
    if (a->loader_len % 128)
        return -1;
    bool have_r = false, have_t = false;
    for (uint32_t o = 0; o < a->loader_len; o += 128) {
        const uint8_t *e = a->loader + o;
        uint32_t op = rd32(e);
        const char *f1 = (const char *)e + 4;
        uint8_t *blob1 = !strcmp(f1, ACPI_RSDP_FILE) ? rsdp_mem
                         : !strcmp(f1, ACPI_TABLES_FILE) ? tables_mem : NULL;
        uint32_t len1 = blob1 == rsdp_mem ? sizeof(a->rsdp) : a->tables_len;
        if (!blob1)
            return -2;
        if (op == ACPI_LOADER_ALLOCATE) {
            uint32_t align = rd32(e + 60);
            uint32_t where = blob1 == rsdp_mem ? RSDP_AT : TABLES_AT;
            if (!align || (align & (align - 1)) || where % align)
                return -3;
            if (blob1 == rsdp_mem) {
                if (e[64] != ACPI_LOADER_ZONE_FSEG)
                    return -4;
                memcpy(rsdp_mem, a->rsdp, sizeof(a->rsdp));
                have_r = true;
            } else {
                if (e[64] != ACPI_LOADER_ZONE_HIGH)
                    return -4;
                memcpy(tables_mem, a->tables, a->tables_len);
                have_t = true;
            }
        } else if (op == ACPI_LOADER_ADD_POINTER) {
            const char *f2 = (const char *)e + 60;
            if (strcmp(f2, ACPI_TABLES_FILE) || !have_t || (blob1 == rsdp_mem ? !have_r : 0))
                return -5;
            uint32_t off = rd32(e + 116);
            uint8_t size = e[120];
            if ((size != 4 && size != 8) || off + size > len1)
                return -6;
            uint64_t v = 0;
            memcpy(&v, blob1 + off, size);
            v += TABLES_AT;
            memcpy(blob1 + off, &v, size);
        } else if (op == ACPI_LOADER_ADD_CHECKSUM) {
            uint32_t off = rd32(e + 60), start = rd32(e + 64), len = rd32(e + 68);
            if (off >= len1 || start + len > len1 || len == 0)
                return -7;
            blob1[off] = (uint8_t)(blob1[off] - sum(blob1 + start, len));
        } else {
            return -8;
        }
    }
    return have_r && have_t ? 0 : -9;
}

/* An AML PkgLength at p: the length (its own bytes included); *n its bytes. */
static uint32_t pkglen(const uint8_t *p, unsigned *n)
{
    unsigned extra = p[0] >> 6;
    *n = extra + 1;
    if (!extra)
        return p[0] & 0x3f;
    uint32_t v = p[0] & 0x0f;
    for (unsigned i = 0; i < extra; i++)
        v |= (uint32_t)p[1 + i] << (4 + 8 * i);
    return v;
}

static const uint8_t *find(const uint8_t *b, const uint8_t *e, const void *pat, size_t n)
{
    for (const uint8_t *p = b; p + n <= e; p++)
        if (!memcmp(p, pat, n))
            return p;
    return NULL;
}

/* An AML integer at *p (Zero, One, Byte/Word/DWord constants), advancing it. */
static uint32_t aml_int(const uint8_t **p)
{
    const uint8_t *q = *p;
    switch (q[0]) {
    case 0x00: case 0x01: *p = q + 1; return q[0];
    case 0x0a: *p = q + 2; return q[1];
    case 0x0b: *p = q + 3; return rd16(q + 1);
    case 0x0c: *p = q + 5; return rd32(q + 1);
    default: *p = q + 1; return 0xdeadbeefu;
    }
}

/* Device(NAME) inside [b, e): its body's end, or NULL. */
static const uint8_t *device(const uint8_t *b, const uint8_t *e, const char *nm,
                             const uint8_t **body)
{
    for (const uint8_t *p = b; p + 7 <= e; p++) {
        if (p[0] != 0x5b || p[1] != 0x82)
            continue;
        unsigned n;
        uint32_t len = pkglen(p + 2, &n);
        if (!memcmp(p + 2 + n, nm, 4)) {
            *body = p + 2 + n + 4;
            return p + 2 + len <= e ? p + 2 + len : NULL;
        }
    }
    return NULL;
}

static void check(uint64_t ram, unsigned cpus)
{
    static struct acpi_blobs a;
    EXPECT(acpi_build(&a, ram, cpus) == 0);
    EXPECT(a.loader_len <= 4096 && a.tables_len <= 4096);   /* one fw_cfg item each */
    memset(rsdp_mem, 0, sizeof(rsdp_mem));
    memset(tables_mem, 0, sizeof(tables_mem));
    int rc = run_loader(&a);
    EXPECT(rc == 0);
    if (rc)
        return;
    const uint8_t *r = rsdp_mem;
    EXPECT(!memcmp(r, "RSD PTR ", 8) && r[15] == 2 && rd32(r + 20) == 36);
    EXPECT(sum(r, 20) == 0 && sum(r, 36) == 0);
    const uint8_t *rsdt = at(rd32(r + 16), 36), *xsdt = at(rd64(r + 24), 36);
    EXPECT(rsdt && xsdt);
    if (!rsdt || !xsdt)
        return;
    EXPECT(!memcmp(rsdt, "RSDT", 4) && rd32(rsdt + 4) == 44 && sum(rsdt, 44) == 0);
    EXPECT(!memcmp(xsdt, "XSDT", 4) && rd32(xsdt + 4) == 52 && sum(xsdt, 52) == 0);
    EXPECT(rd32(rsdt + 36) == rd64(xsdt + 36) && rd32(rsdt + 40) == rd64(xsdt + 44));
    const uint8_t *fadt = at(rd64(xsdt + 36), 244), *madt = at(rd64(xsdt + 44), 44);
    EXPECT(fadt && madt);
    if (!fadt || !madt)
        return;
    /* FADT */
    EXPECT(!memcmp(fadt, "FACP", 4) && rd32(fadt + 4) == 244 && fadt[8] == 3);
    EXPECT(sum(fadt, 244) == 0);
    const uint8_t *facs = at(rd32(fadt + 36), 64), *dsdt = at(rd32(fadt + 40), 36);
    EXPECT(facs && !memcmp(facs, "FACS", 4) && rd32(facs + 4) == 64 && rd32(fadt + 36) % 64 == 0);
    EXPECT(rd16(fadt + 46) == 9 && rd32(fadt + 48) == 0);          /* SCI 9, no SMI_CMD */
    EXPECT(rd32(fadt + 56) == ACPI_PM1A_EVT_BLK_ADDRESS_V1 && fadt[88] == 4);
    EXPECT(rd32(fadt + 64) == ACPI_PM1A_CNT_BLK_ADDRESS_V1 && fadt[89] == 2);
    EXPECT(rd32(fadt + 76) == ACPI_PM_TMR_BLK_ADDRESS_V1 && fadt[91] == 4);
    EXPECT(rd32(fadt + 80) == 0 && fadt[92] == 0);                 /* no GPE0 block */
    uint32_t flags = rd32(fadt + 112);
    EXPECT(!(flags & (1u << 8)) && (flags & (1u << 10)) && !(flags & (1u << 20)));
    EXPECT(!(rd16(fadt + 109) & 2));                               /* no 8042 */
    EXPECT(fadt[116] == 1 && rd64(fadt + 120) == 0xcf9 && fadt[128] == 6);
    EXPECT(rd64(fadt + 132) == 0 && rd64(fadt + 140) == 0);        /* the 32-bit pointers only */
    /* MADT: entries fill it exactly */
    uint32_t ml = rd32(madt + 4);
    EXPECT(!memcmp(madt, "APIC", 4) && at(rd64(xsdt + 44), ml) && sum(madt, ml) == 0);
    EXPECT(rd32(madt + 36) == 0xfee00000u && rd32(madt + 40) == 1);
    unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
    uint32_t o = 44;
    while (o + 2 <= ml && madt[o + 1] >= 2 && o + madt[o + 1] <= ml) {
        const uint8_t *e = madt + o;
        if (e[0] == 0 && e[1] == 8) {
            EXPECT(e[2] == lapics && e[3] == lapics && rd32(e + 4) == 1);
            lapics++;
        } else if (e[0] == 1 && e[1] == 12) {
            EXPECT(e[2] == 0 && rd32(e + 4) == 0xfec00000u && rd32(e + 8) == 0);
            ioapics++;
        } else if (e[0] == 2 && e[1] == 10) {
            EXPECT((e[3] == 0 && rd32(e + 4) == 2 && rd16(e + 8) == 0) ||
                   (e[3] == 9 && rd32(e + 4) == 9 && rd16(e + 8) == 0x0d));
            isos++;
        } else if (e[0] == 4 && e[1] == 6) {
            EXPECT(e[2] == 0xff && e[5] == 1);
            nmis++;
        } else {
            EXPECT(!"an unknown MADT entry");
        }
        o += e[1];
    }
    EXPECT(o == ml && lapics == cpus && ioapics == 1 && isos == 2 && nmis == 1);
    /* DSDT: a definition block whose AML nests exactly */
    EXPECT(dsdt && !memcmp(dsdt, "DSDT", 4));
    if (!dsdt)
        return;
    uint32_t dl = rd32(dsdt + 4);
    EXPECT(at(rd32(fadt + 40), dl) && sum(dsdt, dl) == 0);
    const uint8_t *p = dsdt + 36, *end = dsdt + dl;
    EXPECT(p[0] == 0x10);                                          /* Scope (\_SB) */
    unsigned n;
    const uint8_t *scope_end = p + 1 + pkglen(p + 1, &n);
    EXPECT(!memcmp(p + 1 + n, "\\_SB_", 5) && scope_end < end);
    const uint8_t *body, *pci_end = device(p + 1 + n + 5, scope_end, "PCI0", &body);
    EXPECT(pci_end == scope_end);                                  /* PCI0 fills \_SB */
    if (pci_end) {
        static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
        EXPECT(find(body, pci_end, hid, sizeof(hid)));
        static const uint8_t crs[] = { 0x08, '_', 'C', 'R', 'S', 0x11 };
        const uint8_t *c = find(body, pci_end, crs, sizeof(crs));
        EXPECT(c);
        if (c) {
            c += sizeof(crs);
            uint32_t blen = pkglen(c, &n);
            const uint8_t *b = c + n;
            uint32_t size = b[0] == 0x0a ? b[1] : b[0] == 0x0b ? rd16(b + 1) : 0;
            const uint8_t *res = b + (b[0] == 0x0a ? 2 : 3);
            EXPECT(res + size == c + blen);                        /* the buffer's size */
            bool hole = false, bus = false, ended = false;
            for (const uint8_t *d = res; d < res + size;) {
                if (d[0] & 0x80) {
                    uint16_t l = rd16(d + 1);
                    if (d[0] == 0x87 && rd32(d + 10) == ram)
                        hole = rd32(d + 14) == 0xfebfffffu && rd32(d + 22) == 0xfec00000u - ram;
                    if (d[0] == 0x88 && d[3] == 2)
                        bus = rd16(d + 8) == 0 && rd16(d + 10) == 0xff;
                    d += 3 + l;
                } else {
                    if (d[0] == 0x79) {
                        ended = d + 2 == res + size;
                        break;
                    }
                    d += 1 + (d[0] & 7);
                }
            }
            EXPECT(hole && bus && ended);
        }
        /* _PRT: 128 entries, slot 0-31 x INTA-D, each on Xen's GSI */
        static const uint8_t prt[] = { 0x08, '_', 'P', 'R', 'T', 0x12 };
        const uint8_t *q = find(body, pci_end, prt, sizeof(prt));
        EXPECT(q);
        if (q) {
            q += sizeof(prt);
            const uint8_t *pend = q + pkglen(q, &n);
            q += n;
            EXPECT(*q++ == 128);
            unsigned good = 0;
            for (uint32_t slot = 0; slot < 32; slot++)
                for (uint32_t pin = 0; pin < 4 && q < pend; pin++) {
                    if (*q++ != 0x12)
                        break;
                    const uint8_t *eend = q + pkglen(q, &n);
                    q += n;
                    bool ok = *q++ == 4;
                    ok = ok && aml_int(&q) == (slot << 16 | 0xffff);
                    ok = ok && aml_int(&q) == pin;
                    ok = ok && aml_int(&q) == 0;
                    ok = ok && aml_int(&q) == (((slot << 2) + (slot >> 3) + pin) & 31) + 16;
                    good += ok && q == eend;
                    q = eend;
                }
            EXPECT(good == 128 && q == pend);
        }
        const uint8_t *isa_body, *isa_end = device(body, pci_end, "ISA_", &isa_body);
        EXPECT(isa_end && isa_end == pci_end);
        const uint8_t *com_body, *com_end = isa_end ? device(isa_body, isa_end, "COM1", &com_body)
                                                    : NULL;
        EXPECT(com_end == isa_end);
        static const uint8_t hid2[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01 };
        EXPECT(com_end && find(com_body, com_end, hid2, sizeof(hid2)));
    }
    static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0 };
    EXPECT(scope_end + sizeof(s5) == end && !memcmp(scope_end, s5, sizeof(s5)));
}

int main(void)
{
    check(256u << 20, 1);
    check(32u << 20, 4);
    check(0xc0000000u, ACPI_MAX_CPUS);
    static struct acpi_blobs a;
    EXPECT(acpi_build(&a, 256u << 20, 0) == -1);
    EXPECT(acpi_build(&a, 256u << 20, ACPI_MAX_CPUS + 1) == -1);
    EXPECT(acpi_build(&a, (256u << 20) + 512, 1) == -1);
    EXPECT(acpi_build(&a, 0, 1) == -1);
    EXPECT(acpi_build(&a, 0xfec00000u, 1) == -1);
    EXPECT(acpi_build(&a, 1ULL << 32, 1) == -1);
    UNIT_DONE();
}
