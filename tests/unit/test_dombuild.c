/* Unit test of the domain builder (lib/dombuild/dombuild.c) on the host,
 * against fake guest memory: the layout, every bootstrap page-table entry
 * (walked back from the L4), the p2m list, start_info, the image and the
 * pages kept read-only, the first vCPU's context; with virt_bases whose
 * bootstrap region crosses 1 GiB and 512 GiB boundaries. */
#include "dombuild.h"
#include "unit.h"
#include <string.h>

#define MFN_BASE 5000
#define MFN_STEP 3                /* mfn = MFN_BASE + pfn * MFN_STEP: not the identity */

static uint8_t *mem;              /* the guest's frames, by pfn */
static uint64_t *p2m;
static uint64_t nr;
static unsigned maps, hcall_pfn_calls;
static uint64_t hcall_pfn;

static uint64_t mfn_to_pfn(uint64_t mfn)
{
    if (mfn < MFN_BASE || (mfn - MFN_BASE) % MFN_STEP || (mfn - MFN_BASE) / MFN_STEP >= nr)
        return ~0ULL;
    return (mfn - MFN_BASE) / MFN_STEP;
}

static void *fake_map(void *ctx, uint64_t pfn)
{
    (void)ctx;
    EXPECT(pfn < nr);
    maps++;
    return mem + pfn * 4096;
}

static void fake_slots(void *ctx, uint64_t *l4)
{
    (void)ctx;
    l4[300] = 0xabcULL;           /* a marker the builder must keep */
}

static int fake_hcall(void *ctx, uint64_t pfn)
{
    (void)ctx;
    hcall_pfn = pfn;
    hcall_pfn_calls++;
    memset(mem + pfn * 4096, 0xcc, 4096);
    return 0;
}

/* Walks va through the tables; returns the L1 entry, or 0 if unmapped. */
static uint64_t walk(uint64_t l4_mfn, uint64_t va, uint64_t tables[], unsigned *ntables)
{
    uint64_t mfn = l4_mfn;
    for (int level = 4; level >= 1; level--) {
        uint64_t pfn = mfn_to_pfn(mfn);
        if (pfn == ~0ULL)
            return 0;
        unsigned i;
        for (i = 0; i < *ntables && tables[i] != pfn; i++)
            ;
        if (i == *ntables)
            tables[(*ntables)++] = pfn;
        uint64_t e = ((uint64_t *)(mem + pfn * 4096))[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(e & 1))
            return 0;
        if (level == 1)
            return e;
        EXPECT((e & 0x67) == 0x67);   /* P W U A D on every upper entry */
        mfn = (e & 0x000FFFFFFFFFF000ULL) >> 12;
    }
    return 0;
}

/* The next one() builds an image with the MOD_START_PFN note; with the
 * INIT_P2M note at this address (ELF_UNSET: none). */
static bool unmapped_mod;
static uint64_t init_p2m = ELF_UNSET;

static void one(uint64_t virt_base, uint64_t nr_pages, uint64_t mod_len, bool ro)
{
    static uint8_t image[64 * 1024];
    for (size_t i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i * 7 + 1);
    struct elf_image_info in;
    memset(&in, 0, sizeof(in));
    in.virt_base = virt_base;
    in.mod_start_pfn = unmapped_mod;
    in.init_p2m = init_p2m;
    in.vstart = virt_base;
    in.vend = virt_base + 40960 + 100;   /* 11 pages, last one partly bss */
    in.entry = virt_base + 0x40;
    in.has_hypercall_page = true;
    in.hypercall_page = virt_base + 0x2000;
    in.nr_loads = 2;
    in.load[0] = (struct elf_segment){ .vaddr = virt_base, .memsz = 0x4000, .offset = 0,
                                       .filesz = 0x4000, .writable = false };
    in.load[1] = (struct elf_segment){ .vaddr = virt_base + 0x4000, .memsz = 40960 + 100 - 0x4000,
                                       .offset = 0x4000, .filesz = 0x3000, .writable = true };

    struct dombuild_layout l;
    char err[160];
    EXPECT(dombuild_plan(&in, nr_pages, mod_len, "ramdisk", &l, err, sizeof(err)) == 0);
    EXPECT(l.kernel_end_pfn == 11);
    uint64_t first = 11 + (unmapped_mod ? 0 : (mod_len + 4095) / 4096);
    if (unmapped_mod && mod_len)
        EXPECT(l.mod_unmapped && l.mod_pfn == l.map_pages &&
               l.mod_pfn + (mod_len + 4095) / 4096 <= nr_pages);
    else
        EXPECT(!l.mod_unmapped && l.mod_pfn == 11);
    EXPECT(l.p2m_pages == (nr_pages * 8 + 4095) / 4096);
    if (l.p2m_apart)     /* the list is not in the region: start_info follows */
        EXPECT(l.si_pfn == first);
    else
        EXPECT(l.p2m_pfn == first && l.si_pfn == l.p2m_pfn + l.p2m_pages);
    EXPECT(l.store_pfn == l.si_pfn + 1 && l.console_pfn == l.si_pfn + 2);
    EXPECT(l.pt_pfn == l.si_pfn + 3 && l.stack_pfn == l.pt_pfn + l.nr_pt);
    EXPECT(l.map_pages <= nr_pages && l.map_pages > l.stack_pfn);
    if (virt_base % (1ULL << 30) && init_p2m == ELF_UNSET)   /* those crossing 1 GiB */
        EXPECT((virt_base >> 30) != ((virt_base + l.map_pages * 4096 - 1) >> 30));
    /* The region ends on a 4 MiB boundary with at least 512 KiB after the stack. */
    uint64_t v_end = virt_base + l.map_pages * 4096;
    EXPECT(l.map_pages == nr_pages || (v_end % (4 << 20) == 0 &&
           v_end - (virt_base + (l.stack_pfn + 1) * 4096) >= 512 * 1024));

    nr = nr_pages;
    mem = calloc(nr, 4096);
    p2m = calloc(nr, 8);
    for (uint64_t pfn = 0; pfn < nr; pfn++)
        p2m[pfn] = MFN_BASE + pfn * MFN_STEP;
    /* The kept pages hold something the builder must leave alone. */
    if (ro)
        memset(mem, 0xee, 3 * 4096);
    static uint8_t module[5000];
    memset(module, 0x5a, sizeof(module));
    struct dombuild_args a = {
        .info = &in, .image = image, .p2m = p2m, .mod = module,
        .cmdline = "name=x hello", .shared_info_maddr = 0x1234000, .store_evtchn = 3,
        .console_evtchn = 4, .ro_first = 0, .ro_nr = ro ? 3 : 0,
    };
    struct dombuild_ops ops = { .map = fake_map, .l4_slots = fake_slots,
                                .hypercall_page = fake_hcall };
    struct vcpu_guest_context ctx;
    hcall_pfn_calls = 0;
    maps = 0;
    EXPECT(dombuild_build(&l, &a, &ops, &ctx, err, sizeof(err)) == 0);

    /* Every page of the region mapped to its frame; tables and kept pages read-only. */
    uint64_t tables[64];
    unsigned ntables = 0;
    uint64_t l4_mfn = p2m[l.pt_pfn];
    for (uint64_t pfn = 0; pfn < l.map_pages; pfn++) {
        uint64_t e = walk(l4_mfn, virt_base + pfn * 4096, tables, &ntables);
        bool want_ro = (pfn >= l.pt_pfn && pfn < l.pt_pfn + l.nr_pt) || (ro && pfn < 3);
        EXPECT((e & 0x000FFFFFFFFFF000ULL) >> 12 == p2m[pfn]);
        EXPECT((e & 0x65) == 0x65);
        EXPECT(!!(e & 2) == !want_ro);
    }
    EXPECT(walk(l4_mfn, virt_base + l.map_pages * 4096, tables, &ntables) == 0);
    EXPECT(ntables == l.nr_pt);
    for (unsigned i = 0; i < ntables; i++)
        EXPECT(tables[i] >= l.pt_pfn && tables[i] < l.pt_pfn + l.nr_pt);
    EXPECT(((uint64_t *)(mem + l.pt_pfn * 4096))[300] == 0xabc);
    /* INIT_P2M honoured (page aligned, below virt_base): the list after
     * the region (and an unmapped module), mapped writable at INIT_P2M by
     * the bootstrap L4 and tables of its own after it. */
    EXPECT(l.p2m_apart == (init_p2m != ELF_UNSET && !(init_p2m & 4095) && init_p2m < virt_base));
    if (l.p2m_apart) {
        EXPECT(l.p2m_va == init_p2m);
        EXPECT(l.p2m_pfn == (l.mod_unmapped ? l.mod_pfn + l.mod_pages : l.map_pages));
        EXPECT(l.p2m_pt_pfn == l.p2m_pfn + l.p2m_pages);
        EXPECT(l.p2m_pt_pfn + l.p2m_nr_pt <= nr_pages);
        for (uint64_t i = 0; i < l.p2m_pages; i++) {
            uint64_t e = walk(l4_mfn, init_p2m + i * 4096, tables, &ntables);
            EXPECT((e & 0x000FFFFFFFFFF000ULL) >> 12 == p2m[l.p2m_pfn + i]);
            EXPECT((e & 0x67) == 0x67);
        }
        if (init_p2m + l.p2m_pages * 4096 != virt_base)
            EXPECT(walk(l4_mfn, init_p2m + l.p2m_pages * 4096, tables, &ntables) == 0);
        EXPECT(ntables == l.nr_pt + l.p2m_nr_pt);
        for (unsigned i = l.nr_pt; i < ntables; i++)
            EXPECT(tables[i] >= l.p2m_pt_pfn && tables[i] < l.p2m_pt_pfn + l.p2m_nr_pt);
    } else {
        EXPECT(l.p2m_nr_pt == 0);
    }
    /* Nothing else: each table but the L4 is referenced once, each page once. */
    uint64_t present = 0;
    for (uint64_t t = l.pt_pfn; t < l.pt_pfn + l.nr_pt; t++)
        for (unsigned i = 0; i < 512; i++)
            if (!(t == l.pt_pfn && i == 300))
                present += ((uint64_t *)(mem + t * 4096))[i] & 1;
    for (uint64_t t = l.p2m_pt_pfn; t < l.p2m_pt_pfn + l.p2m_nr_pt; t++)
        for (unsigned i = 0; i < 512; i++)
            present += ((uint64_t *)(mem + t * 4096))[i] & 1;
    EXPECT(present == l.nr_pt + l.p2m_nr_pt - 1 + l.map_pages + (l.p2m_apart ? l.p2m_pages : 0));

    /* Image, bss untouched (zero), hypercall page, module. */
    if (ro) {
        EXPECT(mem[0] == 0xee && mem[3 * 4096 - 1] == 0xee);
        EXPECT(hcall_pfn_calls == 0);          /* it lies in the kept pages */
    } else {
        EXPECT(!memcmp(mem, image, 0x2000));
        EXPECT(hcall_pfn_calls == 1 && hcall_pfn == 2 && mem[0x2000] == 0xcc);
    }
    EXPECT(!memcmp(mem + 0x3000, image + 0x3000, 0x1000));
    EXPECT(!memcmp(mem + 0x4000, image + 0x4000, 0x3000));
    EXPECT(mem[0x7000] == 0 && mem[40960 + 99] == 0);
    if (mod_len) {
        EXPECT(!memcmp(mem + l.mod_pfn * 4096, module, mod_len));
        EXPECT(mem[l.mod_pfn * 4096 + mod_len] == 0);
    }

    /* The p2m list and start_info. */
    const uint64_t *list = (const uint64_t *)(mem + l.p2m_pfn * 4096);
    for (uint64_t pfn = 0; pfn < nr; pfn++)
        EXPECT(list[pfn] == p2m[pfn]);
    const start_info_t *si = (const start_info_t *)(mem + l.si_pfn * 4096);
    EXPECT(!strcmp(si->magic, "xen-3.0-x86_64"));
    EXPECT(si->nr_pages == nr && si->shared_info == 0x1234000);
    EXPECT(si->pt_base == virt_base + l.pt_pfn * 4096 && si->nr_pt_frames == l.nr_pt);
    if (l.p2m_apart)
        EXPECT(si->mfn_list == init_p2m && si->first_p2m_pfn == l.p2m_pfn &&
               si->nr_p2m_frames == l.p2m_pages + l.p2m_nr_pt);
    else
        EXPECT(si->mfn_list == virt_base + l.p2m_pfn * 4096 && si->first_p2m_pfn == 0 &&
               si->nr_p2m_frames == 0);
    EXPECT(si->store_mfn == p2m[l.store_pfn] && si->store_evtchn == 3);
    EXPECT(si->console.domU.mfn == p2m[l.console_pfn] && si->console.domU.evtchn == 4);
    if (l.mod_unmapped)
        EXPECT(si->mod_start == l.mod_pfn && (si->flags & SIF_MOD_START_PFN));
    else
        EXPECT(si->mod_start == (mod_len ? virt_base + l.mod_pfn * 4096 : 0) &&
               !(si->flags & SIF_MOD_START_PFN));
    EXPECT(si->mod_len == mod_len);
    EXPECT(!strcmp((const char *)si->cmd_line, "name=x hello"));

    /* The first vCPU. */
    EXPECT(ctx.user_regs.rip == in.entry);
    EXPECT(ctx.user_regs.rsp == virt_base + (l.stack_pfn + 1) * 4096);
    EXPECT(ctx.user_regs.rsi == virt_base + l.si_pfn * 4096);
    EXPECT(ctx.ctrlreg[3] == p2m[l.pt_pfn] << 12);
    EXPECT(ctx.user_regs.cs == FLAT_KERNEL_CS && ctx.kernel_ss == FLAT_KERNEL_SS);
    EXPECT(ctx.flags == (VGCF_in_kernel | VGCF_online));
    free(mem);
    free(p2m);
}

int main(void)
{
    one(0, 512, 0, false);                       /* hello mem=2M */
    one(0, 512, 0, true);                        /* with shared image pages */
    one(0, 1024, 5000, false);                   /* a boot module */
    one(0, 64, 0, false);                        /* region capped at nr_pages */
    one(0x40000000ULL - 0x40000, 2048, 0, false);           /* crosses 1 GiB */
    one((1ULL << 39) - 0x40000, 2048, 100, false);          /* crosses 512 GiB */
    one(0xffff880000000000ULL, 1024, 0, false);  /* just above the hypervisor's range */
    unmapped_mod = true;                         /* MOD_START_PFN: after the region */
    one(0, 2048, 5000, false);
    one(0xffffffff80000000ULL, 4096, 4097, false);
    one(0, 512, 0, false);                       /* the note, no module */
    unmapped_mod = false;
    /* INIT_P2M below virt_base: its own L4 slot, L3, L2 and L1s (as Linux) */
    init_p2m = 0x8000000000ULL;
    one(0xffffffff80000000ULL, 4096, 0, false);
    unmapped_mod = true;
    one(0xffffffff80000000ULL, 300000, 4097, false);     /* after the module; 586 p2m pages */
    unmapped_mod = false;
    init_p2m = 0x20000000ULL;                     /* sharing the bootstrap L3 */
    one(0x40000000ULL, 2048, 0, false);
    init_p2m = 0x200000ULL;                       /* sharing the L3 and L2 */
    one(0x400000ULL, 2048, 5000, false);
    init_p2m = 0x3fc000ULL;                       /* ending at virt_base, in its L1 */
    one(0x400000ULL, 2048, 0, false);
    init_p2m = 0x100000000ULL;                    /* above virt_base: ignored */
    one(0, 512, 0, false);
    init_p2m = 0x200800ULL;                       /* not page aligned: ignored */
    one(0x400000ULL, 512, 0, false);
    init_p2m = ELF_UNSET;

    /* Too small: says what it needs. */
    struct elf_image_info in;
    memset(&in, 0, sizeof(in));
    in.vend = 40960;
    struct dombuild_layout l;
    char err[160];
    EXPECT(dombuild_plan(&in, 12, 0, NULL, &l, err, sizeof(err)) == -1);
    EXPECT(strstr(err, "mem=48K is too small") != NULL);
    EXPECT(dombuild_plan(&in, 12, 100, "boot-domain list", &l, err, sizeof(err)) == -1);
    EXPECT(strstr(err, "boot-domain list (100 bytes)") != NULL);
    /* With MOD_START_PFN the module must fit after the whole mapped region. */
    in.mod_start_pfn = true;
    EXPECT(dombuild_plan(&in, 1024, 4096, "ramdisk", &l, err, sizeof(err)) == -1);
    EXPECT(strstr(err, "mem=4096K is too small: image, ramdisk (4096 bytes, unmapped after "
                  "them as MOD_START_PFN asks) and start-of-day structures need 4100K") != NULL);
    EXPECT(dombuild_plan(&in, 1025, 4096, "ramdisk", &l, err, sizeof(err)) == 0 && l.mod_pfn == 1024);
    /* INIT_P2M: the list must end by virt_base, and fit after the rest. */
    in.mod_start_pfn = false;
    in.virt_base = 0x400000;
    in.vend = 0x400000 + 40960;
    in.init_p2m = 0x3ff000;
    EXPECT(dombuild_plan(&in, 2048, 0, NULL, &l, err, sizeof(err)) == -1);
    EXPECT(strstr(err, "INIT_P2M 3ff000: the p2m list (4 pages) would overlap the initial "
                  "mapping at 400000") != NULL);
    in.init_p2m = 0x200000;
    EXPECT(dombuild_plan(&in, 1024, 0, NULL, &l, err, sizeof(err)) == -1);
    EXPECT(strstr(err, "mem=4096K is too small: image, start-of-day structures and the p2m "
                  "list mapped at INIT_P2M 200000 need 4108K") != NULL);
    UNIT_DONE();
}
