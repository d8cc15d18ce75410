/* Unit test of the PVH builder (lib/dombuild/pvh.c, acpi.c) on the host,
 * under ASan/UBSan, against fake guest memory: the layout (special pages,
 * ACPI page, module after the kernel), the segments at their physical
 * addresses, hvm_start_info with its module list, memory map and command
 * line, the ACPI tables' checksums and links; and every refusal of the
 * plan (no PHYS32 entry, too little RAM, a segment or the entry or the
 * module past the ACPI page, a command line too long) and of the build
 * (arguments not those planned). */
#include "dombuild_pvh.h"
#include "unit.h"
#include <string.h>
#include <xen/arch-x86/hvm/start_info.h>

static uint8_t *mem;
static uint64_t nr;
static unsigned maps;

static void *fake_map(void *ctx, uint64_t gfn)
{
    (void)ctx;
    EXPECT(gfn < nr);
    maps++;
    return mem + gfn * 4096;
}

static const struct dombuild_ops ops = { .map = fake_map };

static uint8_t sum(const uint8_t *p, unsigned len)
{
    uint8_t s = 0;
    for (unsigned i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* An image of two segments: code at 1 MiB (file 0x2000, memory 0x3000)
 * and data at 1 MiB + 16 KiB (file 0x1000), linked at virt_base. */
static void image_info(struct elf_image_info *in, uint64_t virt_base)
{
    memset(in, 0, sizeof(*in));
    in->virt_base = virt_base;
    in->paddr_offset = 0;
    in->nr_loads = 2;
    in->load[0] = (struct elf_segment){ virt_base + 0x100000, 0x3000, 0, 0x2000, false };
    in->load[1] = (struct elf_segment){ virt_base + 0x104000, 0x1000, 0x2000, 0x1000, true };
    in->phys32_entry = 0x100040;
}

static void refusals(void)
{
    struct elf_image_info in;
    struct dombuild_pvh_layout l;
    char err[160];
    image_info(&in, 0);
    in.phys32_entry = ELF_UNSET;
    EXPECT(dombuild_pvh_plan(&in, 1024, 0, 4, &l, err, sizeof(err)) == -1 &&
           strstr(err, "no XEN_ELFNOTE_PHYS32_ENTRY"));
    image_info(&in, 0);
    EXPECT(dombuild_pvh_plan(&in, 15, 0, 4, &l, err, sizeof(err)) == -1 &&
           strstr(err, "at least 16"));
    /* RAM of 0x104000 + 4 pages: the ACPI page falls inside the data. */
    EXPECT(dombuild_pvh_plan(&in, 0x104 + 4, 0, 4, &l, err, sizeof(err)) == -1 &&
           strstr(err, "segment 1"));
    in.phys32_entry = 0x200000;
    EXPECT(dombuild_pvh_plan(&in, 0x200, 0, 4, &l, err, sizeof(err)) == -1 &&
           strstr(err, "PHYS32_ENTRY 200000 outside its RAM"));
    image_info(&in, 0);
    EXPECT(dombuild_pvh_plan(&in, 0x110, 0x8000, 4, &l, err, sizeof(err)) == -1 &&
           strstr(err, "ramdisk of 32768 bytes"));
    EXPECT(dombuild_pvh_plan(&in, 1024, 0, DOMBUILD_PVH_CMDLINE_MAX, &l, err,
                             sizeof(err)) == -1 && strstr(err, "command line of"));
    EXPECT(dombuild_pvh_plan(&in, 1024, 0, DOMBUILD_PVH_CMDLINE_MAX - 1, &l, err,
                             sizeof(err)) == 0);
    /* A module planned but not given: refused, nothing mapped. */
    EXPECT(dombuild_pvh_plan(&in, 1024, 100, 4, &l, err, sizeof(err)) == 0);
    static const uint8_t img[0x3000];
    struct dombuild_pvh_args a = { .info = &in, .image = img, .cmdline = "x", .nr_vcpus = 1 };
    maps = 0;
    EXPECT(dombuild_pvh_build(&l, &a, &ops, err, sizeof(err)) == -1 && maps == 0);
}

static void one(uint64_t pages, uint64_t virt_base, size_t mod_len, unsigned vcpus)
{
    struct elf_image_info in;
    image_info(&in, virt_base);
    uint8_t image[0x3000], module[0x2100];
    for (unsigned i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i * 7 + 1);
    for (unsigned i = 0; i < sizeof(module); i++)
        module[i] = (uint8_t)(i * 13 + 5);
    const char *cmdline = "console=hvc0 greeting=hi";
    struct dombuild_pvh_layout l;
    char err[160];
    EXPECT(dombuild_pvh_plan(&in, pages, mod_len, strlen(cmdline), &l, err, sizeof(err)) == 0);
    EXPECT(l.si_gpa == (pages - 1) * 4096 && l.store_gfn == pages - 3 &&
           l.console_gfn == pages - 2 && l.acpi_gpa == (pages - 4) * 4096);
    EXPECT(l.entry == 0x100040 && l.mod_gpa == 0x105000 && l.mod_len == mod_len);
    nr = pages;
    mem = calloc(pages, 4096);
    struct dombuild_pvh_args a = { .info = &in, .image = image, .mod = mod_len ? module : NULL,
                                   .cmdline = cmdline, .nr_vcpus = vcpus };
    EXPECT(dombuild_pvh_build(&l, &a, &ops, err, sizeof(err)) == 0);

    /* Segments at their physical addresses, the bss part untouched. */
    EXPECT(!memcmp(mem + 0x100000, image, 0x2000));
    EXPECT(mem[0x102000] == 0 && mem[0x103fff] == 0);
    EXPECT(!memcmp(mem + 0x104000, image + 0x2000, 0x1000));
    if (mod_len) {
        EXPECT(!memcmp(mem + 0x105000, module, mod_len));
        EXPECT(mem[0x105000 + mod_len] == 0);
    }

    /* The start info page. */
    const struct hvm_start_info *si = (const void *)(mem + l.si_gpa);
    EXPECT(si->magic == XEN_HVM_START_MAGIC_VALUE && si->version == 1);
    EXPECT(si->cmdline_paddr >> 12 == pages - 1);
    EXPECT(!strcmp((const char *)mem + si->cmdline_paddr, cmdline));
    EXPECT(si->nr_modules == (mod_len ? 1u : 0u));
    if (mod_len) {
        const struct hvm_modlist_entry *me = (const void *)(mem + si->modlist_paddr);
        EXPECT(me->paddr == 0x105000 && me->size == mod_len);
    }
    EXPECT(si->memmap_entries == 3);
    const struct hvm_memmap_table_entry *mm = (const void *)(mem + si->memmap_paddr);
    EXPECT(mm[0].addr == 0 && mm[0].size == l.acpi_gpa && mm[0].type == XEN_HVM_MEMMAP_TYPE_RAM);
    EXPECT(mm[1].addr == l.acpi_gpa && mm[1].size == 4096 &&
           mm[1].type == XEN_HVM_MEMMAP_TYPE_ACPI);
    EXPECT(mm[2].addr == l.store_gfn * 4096 && mm[2].size == 3 * 4096 &&
           mm[2].type == XEN_HVM_MEMMAP_TYPE_RESERVED);

    /* ACPI: RSDP -> XSDT -> FADT (-> DSDT) and MADT, checksums all 0. */
    const uint8_t *rsdp = mem + si->rsdp_paddr;
    EXPECT(si->rsdp_paddr >> 12 == pages - 4 && !memcmp(rsdp, "RSD PTR ", 8));
    EXPECT(sum(rsdp, 20) == 0 && sum(rsdp, 36) == 0 && rsdp[15] == 2);
    const uint8_t *xsdt = mem + rd64(rsdp + 24);
    EXPECT(!memcmp(xsdt, "XSDT", 4) && sum(xsdt, rd32(xsdt + 4)) == 0 && rd32(xsdt + 4) == 52);
    const uint8_t *fadt = mem + rd64(xsdt + 36), *madt = mem + rd64(xsdt + 44);
    EXPECT(!memcmp(fadt, "FACP", 4) && sum(fadt, rd32(fadt + 4)) == 0);
    EXPECT(rd32(fadt + 112) & (1u << 20));                    /* HW_REDUCED_ACPI */
    const uint8_t *dsdt = mem + rd64(fadt + 140);
    EXPECT(!memcmp(dsdt, "DSDT", 4) && sum(dsdt, rd32(dsdt + 4)) == 0);
    EXPECT(!memcmp(madt, "APIC", 4) && sum(madt, rd32(madt + 4)) == 0);
    EXPECT(rd32(madt + 4) == 44 + 8 * vcpus && rd32(madt + 36) == 0xfee00000u);
    for (unsigned i = 0; i < vcpus; i++)
        EXPECT(madt[44 + 8 * i] == 0 && madt[44 + 8 * i + 3] == i &&
               rd32(madt + 44 + 8 * i + 4) == 1);
    free(mem);
}

int main(void)
{
    refusals();
    one(1024, 0, 0, 1);                         /* tests/pvh mem=4M */
    one(1024, 0xffffffff80000000ULL, 100, 2);   /* a higher-half link, a module */
    one(0x200, 0, 0x2100, 4);                  /* 2 MiB, a module of 8 KiB and more */
    UNIT_DONE();
}
