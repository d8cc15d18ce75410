/*
 * Building a PVH boot domain (type=pvh, docs/hvm.md), as Xen 4.17 starts
 * a PVH domU (docs/misc/pvh.pandoc): the ELF's loadable segments at their
 * physical addresses in the domain's own RAM (guest frames 0..mem), an
 * hvm_start_info page at the top of it (the memory map, the command line
 * and the ramdisk's module entry beside it, the page itself reserved in
 * the map), the p2m, and vCPU 0 in 32-bit flat protected mode, paging
 * off, at XEN_ELFNOTE_PHYS32_ENTRY with EBX the start-info address.
 */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "hvm.h"
#include "vmcb.h"
#include "hvm_internal.h"
#include "dombuild_pvh.h"
#include <xen/errno.h>
#include <xen/hvm/params.h>

/* The builder's view of a guest frame at boot: the frame itself. */
static void *boot_map(void *ctx, uint64_t gfn)
{
    return pfn_to_virt(((const uint64_t *)ctx)[gfn]);
}

/* The state a vCPU starts in (pvh_build, hvm_build.c): CS, five data
 * segments alike, TR, LDTR, empty GDTR/IDTR of dt_limit; CPL 0, CR0 as
 * given, CR3 and CR4 0, paging off, its nested tables; the registers 0
 * but RIP and RFLAGS 2; a reset x2APIC. */
void hvm_boot_state(struct vcpu *v, const struct hvm_boot_segs *s, uint64_t cr0, uint64_t rip)
{
    uint8_t *vmcb = v->arch.hvm.vmcb;
    vmcb_seg(vmcb, VMCB_CS, s->cs, s->code, s->limit, s->cs_base);
    static const unsigned data_segs[] = { VMCB_DS, VMCB_ES, VMCB_SS, VMCB_FS, VMCB_GS };
    for (unsigned i = 0; i < ARRAY_SIZE(data_segs); i++)
        vmcb_seg(vmcb, data_segs[i], s->ds, s->data, s->limit, 0);
    vmcb_seg(vmcb, VMCB_TR, s->tr, 0x8b, s->tr_limit, 0);
    vmcb_seg(vmcb, VMCB_LDTR, 0, 0x82, 0xffff, 0);
    vmcb_seg(vmcb, VMCB_GDTR, 0, 0, s->dt_limit, 0);
    vmcb_seg(vmcb, VMCB_IDTR, 0, 0, s->dt_limit, 0);
    vmcb[VMCB_CPL] = 0;
    vmcb_wr(vmcb, VMCB_CR0, cr0);
    vmcb_wr(vmcb, VMCB_CR3, 0);
    vmcb_wr(vmcb, VMCB_CR4, 0);
    vmcb_wr(vmcb, VMCB_N_CR3, v->domain->arch.hvm.p2m_root);
    struct cpu_user_regs *r = v->arch.regs;
    memset(r, 0, sizeof(*r));
    r->rip = rip;
    r->rflags = 2;
    vlapic_reset(v);
}

/* n frames for d (memory checked first, with 64 to spare for its tables)
 * and their list (alloc_hv_pages of *order, the caller frees it); NULL
 * with the reason, the frames allocated so far d's (freed with it). */
uint64_t *hvm_alloc_frames(struct domain *d, uint64_t n, unsigned *order, char *err,
                           size_t errlen)
{
    if (n + 64 > free_page_count())
        return snprintf(err, errlen, "mem=%luK exceeds the free host memory",
                        (unsigned long)(d->max_pages * 4)), NULL;
    *order = 0;
    while (((uint64_t)PAGE_SIZE << *order) < n * 8)
        (*order)++;
    uint64_t *mfns = alloc_hv_pages(*order);
    if (!mfns)
        return snprintf(err, errlen, "no memory for the frame list of %lu pages",
                        (unsigned long)n), NULL;
    uint64_t got = domain_alloc_frames(d, mfns, n, 0, 0);
    if (got < n) {
        snprintf(err, errlen, "out of host memory after %lu of %lu pages", (unsigned long)got,
                 (unsigned long)n);
        free_hv_pages(mfns, *order);
        return NULL;
    }
    return mfns;
}

/* Flat 4 GiB segments, 32-bit: code (execute/read, accessed) and data
 * (read/write, accessed); a 32-bit busy TSS as the CPU wants one; CR0
 * PE|ET; EBX the start info. */
static void start_state(struct vcpu *v, uint64_t entry, uint64_t si_gpa)
{
    const struct hvm_boot_segs s = { .cs = 0x08, .code = 0xc9b, .ds = 0x10, .data = 0xc93,
                                     .limit = 0xffffffff, .tr = 0x18, .tr_limit = 0x67 };
    hvm_boot_state(v, &s, 0x11, entry);
    v->arch.regs->rbx = si_gpa;
}

int pvh_build(struct domain *d, const struct elf_image_info *in, const uint8_t *img,
              const char *cmdline, const void *mod, uint64_t mod_len,
              char *err, size_t errlen)
{
    if (!svm_usable)
        return snprintf(err, errlen, "type=pvh needs AMD SVM with nested paging: %s",
                        svm_missing), -1;
    uint64_t nr = d->max_pages;
    if ((nr << PAGE_SHIFT) < PVH_MIN_MEM || (nr << PAGE_SHIFT) > PVH_MAX_MEM)
        return snprintf(err, errlen, "type=pvh: mem=%luK: between 64K and %luM",
                        (unsigned long)(nr * 4), (unsigned long)(PVH_MAX_MEM >> 20)), -1;
    struct dombuild_pvh_layout l;
    if (dombuild_pvh_plan(in, nr, mod_len, strlen(cmdline), &l, err, errlen))
        return -1;
    unsigned order;
    uint64_t *mfns = hvm_alloc_frames(d, nr, &order, err, errlen);
    if (!mfns)
        return -1;
    int rc = -1;
    d->nr_pages = nr;
    for (uint64_t gfn = 0; gfn < nr; gfn++)
        m2p[mfns[gfn]] = gfn;          /* as Xen keeps the M2P for HVM frames */
    const struct dombuild_ops ops = { .ctx = mfns, .map = boot_map };
    const struct dombuild_pvh_args a = { .info = in, .image = img, .mod = mod,
                                         .cmdline = cmdline, .nr_vcpus = d->nr_vcpus };
    if (dombuild_pvh_build(&l, &a, &ops, err, errlen))
        goto out;
    long e = hvm_p2m_build(d, mfns, nr);
    if (e) {
        snprintf(err, errlen, "cannot build the p2m (%ld)", e);
        goto out;
    }
    d->arch.hvm.start_info_gpa = l.si_gpa;
    /* Read-only to the guest (hvm_op); the ports are xs_wire's. */
    d->arch.hvm.params[HVM_PARAM_STORE_PFN] = l.store_gfn;
    d->arch.hvm.params[HVM_PARAM_CONSOLE_PFN] = l.console_gfn;
    start_state(d->vcpu[0], l.entry, l.si_gpa);
    printk("d%u (%s): PVH, %luK of RAM, p2m in %u tables, start info at %lx, "
           "entry %lx (32-bit, paging off)\n", d->id, d->name, (unsigned long)(nr * 4),
           d->arch.hvm.p2m_tables, (unsigned long)l.si_gpa, (unsigned long)l.entry);
    rc = 0;
out:
    free_hv_pages(mfns, order);
    return rc;
}
