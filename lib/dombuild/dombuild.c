/* The PV domain builder (dombuild.h): layout, image, p2m list, start_info,
 * bootstrap page tables and the first vCPU's context, written through the
 * environment's view of the new domain's frames. */
#include "dombuild.h"

/* x86_64 page-table entry bits (the architecture's, not Xen's ABI). */
#define PTE_P  0x001ULL
#define PTE_W  0x002ULL
#define PTE_U  0x004ULL
#define PTE_A  0x020ULL
#define PTE_D  0x040ULL

/* Interrupts on, as Xen starts a PV kernel. */
#define START_RFLAGS 0x202ULL

static uint64_t span(uint64_t s, uint64_t e, unsigned shift)
{
    return ((e - 1) >> shift) - (s >> shift) + 1;
}

static uint64_t tables_for(uint64_t s, uint64_t e)
{
    return 1 + span(s, e, 39) + span(s, e, 30) + span(s, e, 21);
}

int dombuild_plan(const struct elf_image_info *in, uint64_t nr_pages, uint64_t mod_len,
                  const char *mod_what, struct dombuild_layout *l, char *err, size_t errlen)
{
    const uint64_t vb = in->virt_base;
    memset(l, 0, sizeof(*l));
    l->virt_base = vb;
    l->nr_pages = nr_pages;
    l->mod_len = mod_len;
    l->kernel_end_pfn = DB_ROUNDUP(in->vend - vb, DB_PAGE_SIZE) >> DB_PAGE_SHIFT;
    l->mod_pfn = l->kernel_end_pfn;
    l->mod_pages = DB_ROUNDUP(mod_len, DB_PAGE_SIZE) >> DB_PAGE_SHIFT;
    /* MOD_START_PFN: the module goes after the mapped region, unmapped. */
    l->mod_unmapped = in->mod_start_pfn && mod_len;
    uint64_t next = l->mod_pfn + (l->mod_unmapped ? 0 : l->mod_pages);
    l->p2m_pages = DB_ROUNDUP(nr_pages * 8, DB_PAGE_SIZE) >> DB_PAGE_SHIFT;
    /* INIT_P2M, as libxenguest takes it for a domU: only page aligned and
     * below virt_base (else the list stays in the bootstrap region). */
    l->p2m_apart = in->init_p2m != ELF_UNSET && !(in->init_p2m & (DB_PAGE_SIZE - 1)) &&
                   in->init_p2m < vb;
    if (l->p2m_apart) {
        l->p2m_va = in->init_p2m;
    } else {
        l->p2m_pfn = next;
        next += l->p2m_pages;
    }
    l->si_pfn = next;
    l->store_pfn = l->si_pfn + 1;
    l->console_pfn = l->store_pfn + 1;
    l->pt_pfn = l->console_pfn + 1;
    /* The tables map the region that holds them: iterate to a fixed point. */
    for (int iter = 0; iter < 16; iter++) {
        l->stack_pfn = l->pt_pfn + l->nr_pt;
        uint64_t stack_end = vb + ((l->stack_pfn + 1) << DB_PAGE_SHIFT);
        uint64_t v_end = DB_ROUNDUP(stack_end, 4ULL << 20);
        if (v_end - stack_end < (512ULL << 10))
            v_end += 4ULL << 20;
        l->map_pages = DB_MIN((v_end - vb) >> DB_PAGE_SHIFT, nr_pages);
        uint64_t need = tables_for(vb, vb + (l->map_pages << DB_PAGE_SHIFT));
        if (need == l->nr_pt)
            break;
        l->nr_pt = need;
    }
    uint64_t need = l->stack_pfn + 1, after = l->map_pages;
    if (l->mod_unmapped) {
        l->mod_pfn = l->map_pages;
        after = l->mod_pfn + l->mod_pages;
        need = DB_MAX(need, after);
    }
    if (need > nr_pages && mod_len)
        return snprintf(err, errlen, "mem=%luK is too small: image, %s "
                        "(%lu bytes%s) and start-of-day structures need %luK",
                        (unsigned long)(nr_pages * 4), mod_what ? mod_what : "boot module",
                        (unsigned long)mod_len,
                        l->mod_unmapped ? ", unmapped after them as MOD_START_PFN asks" : "",
                        (unsigned long)(need * 4)), -1;
    if (l->stack_pfn + 1 > nr_pages)
        return snprintf(err, errlen, "mem=%luK is too small: image and start-of-day "
                        "structures need %luK", (unsigned long)(nr_pages * 4),
                        (unsigned long)((l->stack_pfn + 1) * 4)), -1;
    if (l->p2m_apart) {
        uint64_t pe = l->p2m_va + (l->p2m_pages << DB_PAGE_SHIFT);
        if (pe > vb || pe < l->p2m_va)    /* libxenguest: overlapping mappings */
            return snprintf(err, errlen, "INIT_P2M %lx: the p2m list (%lu pages) would "
                            "overlap the initial mapping at %lx", (unsigned long)l->p2m_va,
                            (unsigned long)l->p2m_pages, (unsigned long)vb), -1;
        l->p2m_pfn = after;
        l->p2m_pt_pfn = l->p2m_pfn + l->p2m_pages;
        for (unsigned shift = 39; shift >= 21; shift -= 9) {
            /* Tables of this level for the list's regions, but for the one
             * that holds virt_base (the bootstrap tables have it). */
            uint64_t a = l->p2m_va >> shift, b = (pe - 1) >> shift;
            l->p2m_nr_pt += b - a + 1 - (b == vb >> shift ? 1 : 0);
        }
        if (l->p2m_pt_pfn + l->p2m_nr_pt > nr_pages)
            return snprintf(err, errlen, "mem=%luK is too small: image, start-of-day "
                            "structures and the p2m list mapped at INIT_P2M %lx need %luK",
                            (unsigned long)(nr_pages * 4), (unsigned long)l->p2m_va,
                            (unsigned long)((l->p2m_pt_pfn + l->p2m_nr_pt) * 4)), -1;
    }
    return 0;
}

static bool kept_ro(const struct dombuild_args *a, uint64_t pfn)
{
    return pfn >= a->ro_first && pfn < a->ro_first + a->ro_nr;
}

/* Copies n bytes to guest pfns from offset off in pfn first. */
static void copy_in(const struct dombuild_args *a, const struct dombuild_ops *ops,
                    uint64_t va_off, const uint8_t *src, uint64_t n)
{
    while (n) {
        uint64_t pfn = va_off >> DB_PAGE_SHIFT, in_page = va_off & (DB_PAGE_SIZE - 1);
        uint64_t k = DB_MIN(DB_PAGE_SIZE - in_page, n);
        if (!kept_ro(a, pfn))
            memcpy((uint8_t *)ops->map(ops->ctx, pfn) + in_page, src, k);
        va_off += k;
        src += k;
        n -= k;
    }
}

/*
 * The bootstrap tables map [virt_base, virt_base + map_pages pages).
 * Table i of a level covers the i-th aligned region (512 GiB for an L3,
 * 1 GiB for an L2, 2 MiB for an L1) from the one holding virt_base; each
 * table is written once, entry by entry, in pfn order.
 */
static void write_tables(const struct dombuild_layout *l, const struct dombuild_args *a,
                         const struct dombuild_ops *ops)
{
    const uint64_t vb = l->virt_base, ve = vb + (l->map_pages << DB_PAGE_SHIFT);
    const uint64_t *p2m = a->p2m;
    const uint64_t tflags = PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
    const uint64_t n3 = span(vb, ve, 39), n2 = span(vb, ve, 30), n1 = span(vb, ve, 21);
    const uint64_t l3_pfn = l->pt_pfn + 1, l2_pfn = l3_pfn + n3, l1_pfn = l2_pfn + n2;

    uint64_t *t = ops->map(ops->ctx, l->pt_pfn);
    memset(t, 0, DB_PAGE_SIZE);
    if (ops->l4_slots)
        ops->l4_slots(ops->ctx, t);
    for (uint64_t i = 0; i < n3; i++)
        t[((vb >> 39) + i) & 511] = (p2m[l3_pfn + i] << DB_PAGE_SHIFT) | tflags;
    /* An upper table: child table c (of nchild, the first covering region
     * first_child) goes in the table covering region (first_child + c) >> 9. */
    for (int level = 3; level >= 2; level--) {
        uint64_t nt = level == 3 ? n3 : n2, nc = level == 3 ? n2 : n1;
        uint64_t tpfn = level == 3 ? l3_pfn : l2_pfn, cpfn = level == 3 ? l2_pfn : l1_pfn;
        unsigned cshift = level == 3 ? 30 : 21;
        uint64_t first_child = vb >> cshift, first = first_child >> 9;
        for (uint64_t i = 0; i < nt; i++) {
            t = ops->map(ops->ctx, tpfn + i);
            memset(t, 0, DB_PAGE_SIZE);
            for (uint64_t c = 0; c < nc; c++)
                if (((first_child + c) >> 9) == first + i)
                    t[(first_child + c) & 511] = (p2m[cpfn + c] << DB_PAGE_SHIFT) | tflags;
        }
    }
    /* The L1s: one entry per mapped page; tables and kept pages read-only. */
    uint64_t pfn = 0;
    for (uint64_t i = 0; i < n1; i++) {
        t = ops->map(ops->ctx, l1_pfn + i);
        memset(t, 0, DB_PAGE_SIZE);
        uint64_t region = (vb >> 21) + i;
        for (; pfn < l->map_pages; pfn++) {
            uint64_t va = vb + (pfn << DB_PAGE_SHIFT);
            if ((va >> 21) != region)
                break;
            bool ro = (pfn >= l->pt_pfn && pfn < l->pt_pfn + l->nr_pt) || kept_ro(a, pfn);
            t[(va >> 12) & 511] = (p2m[pfn] << DB_PAGE_SHIFT) | PTE_P | PTE_U | PTE_A |
                                  PTE_D | (ro ? 0 : PTE_W);
        }
    }
}

/* The table of level lvl (3: an L3, covering 512 GiB; 2: an L2; 1: an
 * L1) for region r (va >> (12 + 9 * lvl)) of the p2m mapping: the
 * bootstrap one for the region holding virt_base, else one of the list's
 * own, laid out as libxenguest does, L3s, then L2s, then L1s. */
static uint64_t p2m_table(const struct dombuild_layout *l, unsigned lvl, uint64_t r)
{
    const uint64_t vb = l->virt_base, ve = vb + (l->map_pages << DB_PAGE_SHIFT);
    const uint64_t pe = l->p2m_va + (l->p2m_pages << DB_PAGE_SHIFT);
    unsigned shift = 12 + 9 * lvl;
    if (r == vb >> shift) {
        uint64_t pfn = l->pt_pfn + 1;          /* the first of the bootstrap level */
        if (lvl <= 2)
            pfn += span(vb, ve, 39);
        if (lvl == 1)
            pfn += span(vb, ve, 30);
        return pfn;
    }
    uint64_t pfn = l->p2m_pt_pfn;
    for (unsigned s = 39; s > shift; s -= 9) {
        uint64_t a = l->p2m_va >> s, b = (pe - 1) >> s;
        pfn += b - a + 1 - (b == vb >> s ? 1 : 0);
    }
    return pfn + r - (l->p2m_va >> shift);
}

/* INIT_P2M: maps the p2m list at p2m_va, writable, through the bootstrap
 * L4 (and its first tables where the regions are shared) and the list's
 * own tables, which are not mapped anywhere. */
static void write_p2m_tables(const struct dombuild_layout *l, const struct dombuild_args *a,
                             const struct dombuild_ops *ops)
{
    const uint64_t *p2m = a->p2m;
    const uint64_t tflags = PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
    const uint64_t ps = l->p2m_va, pe = ps + (l->p2m_pages << DB_PAGE_SHIFT);
    for (uint64_t t = 0; t < l->p2m_nr_pt; t++)
        memset(ops->map(ops->ctx, l->p2m_pt_pfn + t), 0, DB_PAGE_SIZE);
    /* Each upper level: the entry for every child region of the list. */
    for (unsigned lvl = 4; lvl >= 2; lvl--) {
        unsigned cshift = 12 + 9 * (lvl - 1);
        for (uint64_t r = ps >> cshift; r <= (pe - 1) >> cshift; r++) {
            uint64_t parent = lvl == 4 ? l->pt_pfn : p2m_table(l, lvl, r >> 9);
            uint64_t *t = ops->map(ops->ctx, parent);
            t[r & 511] = (p2m[p2m_table(l, lvl - 1, r)] << DB_PAGE_SHIFT) | tflags;
        }
    }
    for (uint64_t i = 0; i < l->p2m_pages; i++) {
        uint64_t va = ps + (i << DB_PAGE_SHIFT);
        uint64_t *t = ops->map(ops->ctx, p2m_table(l, 1, va >> 21));
        t[(va >> 12) & 511] = (p2m[l->p2m_pfn + i] << DB_PAGE_SHIFT) | tflags;
    }
}

int dombuild_build(const struct dombuild_layout *l, const struct dombuild_args *a,
                   const struct dombuild_ops *ops, struct vcpu_guest_context *ctx,
                   char *err, size_t errlen)
{
    const struct elf_image_info *in = a->info;
    const uint64_t vb = l->virt_base;
    const uint8_t *img = a->image;

    /* The image (pages kept read-only are filled already). */
    for (unsigned i = 0; i < in->nr_loads; i++) {
        const struct elf_segment *s = &in->load[i];
        copy_in(a, ops, s->vaddr - vb, img + s->offset, s->filesz);
    }
    if (in->has_hypercall_page) {
        uint64_t hp = (in->hypercall_page - vb) >> DB_PAGE_SHIFT;
        if (!kept_ro(a, hp) && ops->hypercall_page(ops->ctx, hp)) {
            snprintf(err, errlen, "cannot write the hypercall page (pfn %lu)",
                     (unsigned long)hp);
            goto fail;
        }
    }

    /* The boot module, after the image (or after the mapped region). */
    if (l->mod_len)
        copy_in(a, ops, l->mod_pfn << DB_PAGE_SHIFT, a->mod, l->mod_len);

    /* The p2m list, in the guest's own pages. */
    for (uint64_t p = 0; p < l->p2m_pages; p++) {
        uint64_t first = p * 512, n = DB_MIN(512, l->nr_pages - first);
        uint64_t *page = ops->map(ops->ctx, l->p2m_pfn + p);
        memcpy(page, a->p2m + first, n * 8);
        if (n < 512)
            memset(page + n, 0, (512 - n) * 8);
    }

    /* The rings start all zero. */
    memset(ops->map(ops->ctx, l->store_pfn), 0, DB_PAGE_SIZE);
    memset(ops->map(ops->ctx, l->console_pfn), 0, DB_PAGE_SIZE);

    /* start_info. */
    start_info_t *si = ops->map(ops->ctx, l->si_pfn);
    memset(si, 0, DB_PAGE_SIZE);
    snprintf(si->magic, sizeof(si->magic), "xen-3.0-x86_64");
    si->nr_pages = l->nr_pages;
    si->shared_info = a->shared_info_maddr;
    si->flags = a->si_flags;
    /* As Xen gives dom0 its initrd: a virtual address, or with the
     * MOD_START_PFN note a pfn and SIF_MOD_START_PFN. */
    si->mod_start = !l->mod_len ? 0 : l->mod_unmapped ? l->mod_pfn
                                    : vb + (l->mod_pfn << DB_PAGE_SHIFT);
    if (l->mod_unmapped)
        si->flags |= SIF_MOD_START_PFN;
    si->mod_len = l->mod_len;
    si->store_mfn = a->p2m[l->store_pfn];
    si->store_evtchn = a->store_evtchn;
    si->console.domU.mfn = a->p2m[l->console_pfn];
    si->console.domU.evtchn = a->console_evtchn;
    si->pt_base = vb + (l->pt_pfn << DB_PAGE_SHIFT);
    si->nr_pt_frames = l->nr_pt;
    if (l->p2m_apart) {
        si->mfn_list = l->p2m_va;
        si->first_p2m_pfn = l->p2m_pfn;
        si->nr_p2m_frames = l->p2m_pages + l->p2m_nr_pt;
    } else {
        si->mfn_list = vb + (l->p2m_pfn << DB_PAGE_SHIFT);
    }
    if (a->cmdline) {
        size_t n = strnlen(a->cmdline, sizeof(si->cmd_line) - 1);
        memcpy(si->cmd_line, a->cmdline, n);
        si->cmd_line[n] = 0;
    }

    /* Bootstrap page tables. */
    write_tables(l, a, ops);
    if (l->p2m_apart)
        write_p2m_tables(l, a, ops);
    if (ops->unmap)
        ops->unmap(ops->ctx);

    /* The first vCPU: in kernel mode at the entry, on the boot stack,
     * start_info in rsi, as <xen/xen.h> describes. */
    memset(ctx, 0, sizeof(*ctx));
    ctx->flags = VGCF_in_kernel | VGCF_online;
    ctx->user_regs.rip = in->entry;
    ctx->user_regs.rsp = vb + ((l->stack_pfn + 1) << DB_PAGE_SHIFT);
    ctx->user_regs.rsi = vb + (l->si_pfn << DB_PAGE_SHIFT);
    ctx->user_regs.rflags = START_RFLAGS;
    ctx->user_regs.cs = FLAT_KERNEL_CS;
    ctx->user_regs.ss = FLAT_KERNEL_SS;
    /* ds, es, fs and gs null: Xen's builders name FLAT_KERNEL_DS, which
     * 64-bit code never needs; a context naming data selectors makes the
     * vCPU load and save them at every switch (docs/abi.md). */
    ctx->kernel_ss = FLAT_KERNEL_SS;
    ctx->kernel_sp = ctx->user_regs.rsp;
    ctx->ctrlreg[3] = a->p2m[l->pt_pfn] << DB_PAGE_SHIFT;   /* xen_pfn_to_cr3 on x86_64 */
    return 0;
fail:
    if (ops->unmap)
        ops->unmap(ops->ctx);
    return -1;
}
