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
#include "dombuild_elf.h"
#include <xen/errno.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/hvm/params.h>

/* In the start-info page. */
#define SI_MODLIST  64
#define SI_MEMMAP   128
#define SI_CMDLINE  256
#define SI_CMDLINE_MAX (PAGE_SIZE - SI_CMDLINE)

/* Copies len bytes to guest-physical gpa of the domain being built. */
static void put_phys(const uint64_t *mfns, uint64_t gpa, const void *src, uint64_t len)
{
    const uint8_t *s = src;
    while (len) {
        uint64_t off = gpa & (PAGE_SIZE - 1);
        uint64_t c = MIN(len, PAGE_SIZE - off);
        memcpy((uint8_t *)pfn_to_virt(mfns[gpa >> PAGE_SHIFT]) + off, s, c);
        s += c;
        gpa += c;
        len -= c;
    }
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
    if (in->phys32_entry == ELF_UNSET)
        return snprintf(err, errlen, "type=pvh: the image has no XEN_ELFNOTE_PHYS32_ENTRY"), -1;
    uint64_t nr = d->max_pages;
    if ((nr << PAGE_SHIFT) < PVH_MIN_MEM || (nr << PAGE_SHIFT) > PVH_MAX_MEM)
        return snprintf(err, errlen, "type=pvh: mem=%luK: between 64K and %luM",
                        (unsigned long)(nr * 4), (unsigned long)(PVH_MAX_MEM >> 20)), -1;
    /* The special pages at the top of its RAM, reserved in its memory
     * map (as Xen's special pages are): the xenstore ring, the console
     * ring, the start info.  The kernel and ramdisk go below them. */
    uint64_t si_gpa = (nr - 1) << PAGE_SHIFT;
    uint64_t store_gfn = nr - 3, console_gfn = nr - 2;
    uint64_t sp_gpa = store_gfn << PAGE_SHIFT;
    /* Below them, the page of its ACPI tables (acpi.c), ACPI in its map. */
    uint64_t acpi_gpa = sp_gpa - PAGE_SIZE;
    size_t cl = strlen(cmdline);
    if (cl >= SI_CMDLINE_MAX)
        return snprintf(err, errlen, "type=pvh: command line of %lu bytes (at most %lu)",
                        (unsigned long)cl, (unsigned long)SI_CMDLINE_MAX - 1), -1;
    /* The segments at their physical addresses, below the special pages. */
    uint64_t virt_offset = in->virt_base - in->paddr_offset, kend = 0;
    for (unsigned i = 0; i < in->nr_loads; i++) {
        uint64_t pa = in->load[i].vaddr - virt_offset;
        if (pa >= acpi_gpa || in->load[i].memsz > acpi_gpa - pa)
            return snprintf(err, errlen, "type=pvh: segment %u at %lx-%lx does not fit in "
                            "its RAM below %lx", i, (unsigned long)pa,
                            (unsigned long)(pa + in->load[i].memsz), (unsigned long)acpi_gpa), -1;
        kend = MAX(kend, pa + in->load[i].memsz);
    }
    if (in->phys32_entry >= acpi_gpa)
        return snprintf(err, errlen, "type=pvh: PHYS32_ENTRY %lx outside its RAM",
                        (unsigned long)in->phys32_entry), -1;
    uint64_t mod_gpa = (kend + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
    if (mod_len && (mod_gpa >= acpi_gpa || mod_len > acpi_gpa - mod_gpa))
        return snprintf(err, errlen, "type=pvh: ramdisk of %lu bytes does not fit above the "
                        "kernel in mem=%luK", (unsigned long)mod_len,
                        (unsigned long)(nr * 4)), -1;
    unsigned order;
    uint64_t *mfns = hvm_alloc_frames(d, nr, &order, err, errlen);
    if (!mfns)
        return -1;
    int rc = -1;
    d->nr_pages = nr;
    for (uint64_t gfn = 0; gfn < nr; gfn++)
        m2p[mfns[gfn]] = gfn;          /* as Xen keeps the M2P for HVM frames */
    for (unsigned i = 0; i < in->nr_loads; i++) {
        const struct elf_segment *s = &in->load[i];
        put_phys(mfns, s->vaddr - virt_offset, img + s->offset, s->filesz);
    }
    struct hvm_start_info si = {
        .magic = XEN_HVM_START_MAGIC_VALUE,
        .version = 1,
        .cmdline_paddr = si_gpa + SI_CMDLINE,
        .memmap_paddr = si_gpa + SI_MEMMAP,
        .memmap_entries = 3,
    };
    struct hvm_memmap_table_entry mm[3] = {
        { .addr = 0, .size = acpi_gpa, .type = XEN_HVM_MEMMAP_TYPE_RAM },
        { .addr = acpi_gpa, .size = PAGE_SIZE, .type = XEN_HVM_MEMMAP_TYPE_ACPI },
        { .addr = sp_gpa, .size = 3 * PAGE_SIZE, .type = XEN_HVM_MEMMAP_TYPE_RESERVED },
    };
    if (mod_len) {
        struct hvm_modlist_entry me = { .paddr = mod_gpa, .size = mod_len };
        put_phys(mfns, mod_gpa, mod, mod_len);
        put_phys(mfns, si_gpa + SI_MODLIST, &me, sizeof(me));
        si.nr_modules = 1;
        si.modlist_paddr = si_gpa + SI_MODLIST;
    }
    {
        uint8_t *acpi = alloc_hv_pages(0);
        if (!acpi) {
            snprintf(err, errlen, "no memory for the ACPI tables");
            goto out;
        }
        si.rsdp_paddr = pvh_acpi_build(acpi, acpi_gpa, d->nr_vcpus);
        put_phys(mfns, acpi_gpa, acpi, PAGE_SIZE);
        free_hv_pages(acpi, 0);
    }
    put_phys(mfns, si_gpa, &si, sizeof(si));
    put_phys(mfns, si_gpa + SI_MEMMAP, mm, sizeof(mm));
    put_phys(mfns, si_gpa + SI_CMDLINE, cmdline, cl + 1);
    long e = hvm_p2m_build(d, mfns, nr);
    if (e) {
        snprintf(err, errlen, "cannot build the p2m (%ld)", e);
        goto out;
    }
    d->arch.hvm.start_info_gpa = si_gpa;
    /* Read-only to the guest (hvm_op); the ports are xs_wire's. */
    d->arch.hvm.params[HVM_PARAM_STORE_PFN] = store_gfn;
    d->arch.hvm.params[HVM_PARAM_CONSOLE_PFN] = console_gfn;
    start_state(d->vcpu[0], in->phys32_entry, si_gpa);
    printk("d%u (%s): PVH, %luK of RAM, p2m in %u tables, start info at %lx, "
           "entry %lx (32-bit, paging off)\n", d->id, d->name, (unsigned long)(nr * 4),
           d->arch.hvm.p2m_tables, (unsigned long)si_gpa, (unsigned long)in->phys32_entry);
    rc = 0;
out:
    free_hv_pages(mfns, order);
    return rc;
}
