/*
 * Guest descriptor tables for 64-bit PV guests, as Xen 4.17: set_gdt,
 * update_descriptor and the descriptor checks they share
 * (check_descriptor), and SEGBASE_GS_USER_SEL, which loads a user %gs
 * selector from them.
 *
 * A vCPU's GDT is up to 14 frames of its domain (entries below Xen's
 * reserved ones, selector 0xe000), each held with the descriptor-page type
 * (PGT_SEG_DESC: never also writable or a page table) and every
 * descriptor in it checked and fixed up.  Xen maps the frames themselves
 * as the front of the vCPU's GDT; Keel's GDT is per pCPU, in the direct
 * map, so the vCPU's entries are copied to its front when the vCPU is
 * switched in (pv_segments_load) and when they change through this vCPU.  The
 * copies are of checked descriptors only, and the guest cannot write its
 * frames but through update_descriptor: a copy can be stale (another vCPU
 * updated a shared frame meanwhile), never unchecked.
 *
 *   pCPU GDT:  [0, ents)             the running vCPU's entries (copies)
 *              [ents, 0x1c00)        zero: selectors there fault
 *              [0x1c00, ...)         Keel's own (SEL_HV_*, SEL_GUEST_*, TSS)
 */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "hypercall.h"
#include "pv.h"
#include <xen/errno.h>

#define SEG_TYPE   (0xfu << 8)
#define SEG_S      (1u << 12)
#define SEG_DPL    (3u << 13)
#define SEG_P      (1u << 15)
#define GATE_CALL  (0xcu << 8)

/* Entries of the pCPU's GDT that hold the running vCPU's (gdt_load), and
 * whether its GDT or LDT holds any vCPU's (the switch-in looks only at
 * this and the vCPU's own_segments). */
static unsigned pv_gdt_loaded_ents[NR_CPUS];
static bool pv_ldt_loaded[NR_CPUS];
static bool pv_sels_loaded[NR_CPUS];      /* data selectors of a vCPU's */
bool pv_segs_loaded[NR_CPUS];

/*
 * Xen's check_descriptor for a 64-bit PV guest, fixing up *desc in place.
 * Not present: fine as it is.  Code and data segments: any base and
 * limit, DPL raised to 3 (the guest kernel's ring).  System descriptors:
 * type 0 is harmless (the upper half of a 64-bit gate); of the rest only
 * call gates, whose target must be a guest selector (below the reserved
 * GDT entries, or in the LDT) or the flat kernel code selector, get DPL 0
 * (using one #GPs, for the guest kernel to emulate) with the guest's DPL
 * kept in the target's RPL, and no reserved bits set.  LDT, TSS,
 * interrupt and trap gates are refused.
 */
bool pv_check_descriptor(uint64_t *desc)
{
    uint32_t a = (uint32_t)*desc, b = (uint32_t)(*desc >> 32);
    if (!(b & SEG_P))
        return true;
    b |= SEG_DPL;                              /* DPL 3 */
    if (!(b & SEG_S)) {
        if ((b & SEG_TYPE) == 0)
            return true;                       /* as Xen: left as it is */
        if ((b & SEG_TYPE) != GATE_CALL)
            return false;
        uint32_t cs = a >> 16;
        if ((cs >> 3) >= GDT_FIRST_RESERVED && cs != FLAT_KERNEL_CS && !(cs & 4))
            return false;                      /* one of the hypervisor's */
        b &= ~SEG_DPL;
        cs = (cs & ~3u) | 3;
        a = (a & 0xffff) | (cs << 16);
        if (b & 0xff)
            return false;
    }
    *desc = a | ((uint64_t)b << 32);
    return true;
}

/* Checks (and fixes up) every descriptor of frame mfn. */
static bool check_desc_page(uint64_t mfn)
{
    uint64_t *t = pfn_to_virt(mfn);
    for (unsigned i = 0; i < 512; i++)
        if (!pv_check_descriptor(&t[i]))
            return false;
    return true;
}

/* A frame of d as a descriptor page: a general and a type reference
 * (which no writable mapping and no page-table use can share), and its
 * descriptors checked.  The type is taken first, so the contents cannot
 * change under the check. */
static bool get_desc_page(uint64_t mfn, struct domain *d)
{
    if (mfn >= max_pfn || !get_page(mfn, d))
        return false;
    if (get_page_type(mfn, PGT_SEG_DESC, d)) {
        put_page(mfn);
        return false;
    }
    if (!check_desc_page(mfn)) {
        put_page_and_type(mfn, true);
        return false;
    }
    return true;
}

/* Copies v's GDT entries to the front of this pCPU's GDT and clears what
 * the vCPU before left beyond them.  Interrupts off, v running here. */
static void gdt_load(struct vcpu *v)
{
    struct pcpu *pc = this_cpu();
    uint64_t *gdt = pc->gdt;
    unsigned ents = v->arch.pv.gdt_ents, old = pv_gdt_loaded_ents[pc->id];
    for (unsigned f = 0; f * 512 < ents; f++) {
        unsigned n = ents - f * 512 < 512 ? ents - f * 512 : 512;
        memcpy(&gdt[f * 512], pfn_to_virt(v->arch.pv.gdt_frames[f]), n * 8);
    }
    if (old > ents)
        memset(&gdt[ents], 0, (old - ents) * 8);
    pv_gdt_loaded_ents[pc->id] = ents;
    pv_segs_loaded[pc->id] = ents || pv_ldt_loaded[pc->id] || pv_sels_loaded[pc->id];
}

/* Drops v's GDT frames (v is not running, or is the caller). */
static void gdt_drop(struct vcpu *v)
{
    unsigned nr = (v->arch.pv.gdt_ents + 511) / 512;
    v->arch.pv.gdt_ents = 0;
    for (unsigned i = 0; i < nr; i++) {
        put_page_and_type(v->arch.pv.gdt_frames[i], true);
        v->arch.pv.gdt_frames[i] = 0;
    }
}

static void ldt_drop(struct vcpu *v);

void pv_drop_descriptor_tables(struct domain *d)
{
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        if (d->vcpu[i]) {
            gdt_drop(d->vcpu[i]);
            ldt_drop(d->vcpu[i]);
        }
    }
}

/*
 * v's GDT becomes frames[0 .. entries/512], as Xen's pv_set_gdt: at most
 * the entries below the reserved ones, every frame the domain's and
 * usable as a descriptor page with every descriptor passing the checks,
 * else -EINVAL and nothing changed; then the old GDT is dropped and the
 * new one loaded if v runs here.  0 entries: no guest GDT.  v is current
 * or not running (VCPUOP_initialise, setvcpucontext).
 */
long pv_set_gdt(struct vcpu *v, const unsigned long *frames, unsigned long entries)
{
    struct domain *d = v->domain;
    if (entries > GDT_FIRST_RESERVED)
        return -XEN_EINVAL;
    unsigned ents = (unsigned)entries, nr = (ents + 511) / 512;
    for (unsigned i = 0; i < nr; i++) {
        if (!get_desc_page(frames[i], d)) {
            while (i--)
                put_page_and_type(frames[i], true);
            return -XEN_EINVAL;
        }
    }
    gdt_drop(v);
    if (ents)                    /* a GDT of its own (none: nothing to load) */
        v->arch.pv.own_segments = true;
    for (unsigned i = 0; i < nr; i++)
        v->arch.pv.gdt_frames[i] = frames[i];
    v->arch.pv.gdt_ents = ents;
    if (v == current_vcpu()) {
        unsigned long flags = irq_save();
        gdt_load(v);
        irq_restore(flags);
    }
    return 0;
}

/* set_gdt(frame_list, entries), as Xen: too many entries -EINVAL, then the
 * list read (-EFAULT), then pv_set_gdt. */
long do_set_gdt(unsigned long list, unsigned long entries, unsigned long a3,
                unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    unsigned ents = (unsigned)entries;     /* an unsigned int, as Xen's */
    unsigned long frames[GDT_FIRST_RESERVED / 512];
    if (ents > GDT_FIRST_RESERVED)
        return -XEN_EINVAL;
    unsigned nr = (ents + 511) / 512;      /* from the checked count only */
    if (nr && copy_from_guest(frames, list, nr * sizeof(frames[0])))
        return -XEN_EFAULT;
    return pv_set_gdt(current_vcpu(), frames, ents);
}

/*
 * update_descriptor(maddr, desc), as Xen: maddr 8-byte aligned and the
 * descriptor passing the checks (fixed up as they fix it), else -EINVAL;
 * the frame must be the domain's and either a descriptor page or able to
 * take a writable type (not a page table), else -EINVAL.  A frame of this
 * vCPU's GDT is reloaded at once.
 */
long do_update_descriptor(unsigned long maddr, unsigned long desc, unsigned long a3,
                          unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    struct domain *d = v->domain;
    uint64_t mfn = maddr >> PAGE_SHIFT, dsc = desc;
    if ((maddr & 7) || !pv_check_descriptor(&dsc))
        return -XEN_EINVAL;
    if (mfn >= max_pfn || !get_page(mfn, d))
        return -XEN_EINVAL;
    /* Writable if it can be; else it must be in use as a descriptor page
     * (only the get/put API: the type itself is mm.c's business). */
    unsigned type = PGT_WRITABLE;
    if (get_page_type(mfn, type, d)) {
        type = PGT_SEG_DESC;
        if (get_page_type(mfn, type, d)) {
            put_page(mfn);
            return -XEN_EINVAL;
        }
    }
    __atomic_store_n((uint64_t *)pfn_to_virt(mfn) + ((maddr & (PAGE_SIZE - 1)) >> 3), dsc,
                     __ATOMIC_RELEASE);
    put_page_and_type(mfn, true);
    if (type == PGT_SEG_DESC) {
        for (unsigned i = 0; i < 16; i++)
            if (v->arch.pv.ldt_frames[i] == mfn)
                v->arch.pv.ldt_shadow[i * 512 + ((maddr & (PAGE_SIZE - 1)) >> 3)] = dsc;
        for (unsigned i = 0; i * 512 < v->arch.pv.gdt_ents; i++) {
            if (v->arch.pv.gdt_frames[i] == mfn) {
                unsigned long flags = irq_save();
                gdt_load(v);
                irq_restore(flags);
                break;
            }
        }
    }
    return 0;
}

/* The descriptor of selector sel in the tables the CPU reads now: this
 * pCPU's GDT or the running vCPU's LDT copy (false for the null selector
 * or one past its table). */
static bool ldt_take(struct vcpu *v, unsigned page);

static bool gdt_desc(unsigned sel, uint64_t *d)
{
    unsigned idx = sel >> 3;
    if (sel & 4) {
        struct vcpu *v = this_cpu()->curr;
        if (idx >= v->arch.pv.ldt_ents)
            return false;
        ldt_take(v, idx / 512);      /* its first use (zero if it cannot be) */
        *d = v->arch.pv.ldt_shadow[idx];
        return true;
    }
    if (idx == 0 || idx >= GDT_ENTRIES)
        return false;
    *d = ((const uint64_t *)this_cpu()->gdt)[idx];
    return true;
}

/*
 * Whether the return to the guest can load the CS and SS of its frame.
 * Only a frame the CPU saved while the guest ran on selectors of its own
 * GDT or LDT, or one an iret named, holds anything but Keel's flat ones,
 * and a guest's tables may have changed since (another vCPU's
 * update_descriptor on a shared frame, seen at this vCPU's next
 * switch-in): an iretq that faulted would fault in the hypervisor.  So
 * the descriptors are checked in the tables the iretq will read, in the
 * order and with the faults the CPU's iretq to ring 3 has: CS null #GP(0);
 * past its table, not a code segment, DPL not 3, or both L and D #GP(CS);
 * not present #NP(CS); SS null #GP(0); past its table or not a writable
 * data segment of DPL 3 #GP(SS); not present #SS(SS); a 32-bit CS whose
 * limit rip is beyond #GP(0).  Returns the vector (0: loadable) and sets
 * *err.  Xen lets the iretq fault and gives the guest that fault on this
 * frame; the caller does the same (exit_slow, traps.c).
 */
unsigned pv_frame_fault(const struct cpu_user_regs *r, uint32_t *err)
{
    unsigned cs = r->cs & 0xffff, ss = r->ss & 0xffff;
    uint64_t d;
    *err = 0;
    if (!(cs & ~3u))
        return 13;
    *err = cs & ~3u;
    if ((cs & 3) != 3 || !gdt_desc(cs, &d))
        return 13;
    uint32_t b = (uint32_t)(d >> 32);
    bool conforming = b & (1u << 10);
    if (!(b & SEG_S) || !(b & (1u << 11)) || (!conforming && ((b >> 13) & 3) != 3))
        return 13;
    if (!(b & SEG_P))
        return 11;
    if ((b & (1u << 21)) && (b & (1u << 22)))
        return 13;
    uint64_t limit = (d & 0xffff) | (((d >> 48) & 0xf) << 16);
    if (b & (1u << 23))
        limit = (limit << 12) | 0xfff;
    bool compat = !(b & (1u << 21));
    *err = 0;
    if (!(ss & ~3u))
        return 13;
    *err = ss & ~3u;
    if ((ss & 3) != 3 || !gdt_desc(ss, &d))
        return 13;
    b = (uint32_t)(d >> 32);
    if (!(b & SEG_S) || (b & (1u << 11)) || !(b & (1u << 9)) || ((b >> 13) & 3) != 3)
        return 13;
    if (!(b & SEG_P))
        return 12;
    *err = 0;
    if (compat && r->rip > limit)
        return 13;
    return 0;
}

/* Loads selector sel into %gs (the hypervisor's own %gs base is saved
 * and put back by the caller); 0, or -1 if the CPU refused it. */
static int load_gs(unsigned sel)
{
    int rc;
    __asm__ volatile("1: movw %w1, %%gs\n\t"
                     "xorl %0, %0\n"
                     "2:\n\t"
                     ".section .text.fixup, \"ax\"\n"
                     "3: movl $-1, %0\n\t"
                     "jmp 2b\n\t"
                     ".previous\n\t"
                     ".section .extable, \"a\"\n\t"
                     ".quad 1b, 3b\n\t"
                     ".previous"
                     : "=&r"(rc) : "r"(sel) : "memory");
    return rc;
}

/*
 * SEGBASE_GS_USER_SEL, as Xen: the selector (RPL forced to 3 unless
 * null) is loaded into %gs, and the user GS base becomes the base the
 * CPU took from its descriptor (0 for a null selector).  A selector the
 * CPU refuses loads the null selector instead; the call still returns 0
 * (as Xen: a guest that cares reads %gs back).  The selector stays in
 * %gs for the guest, as on Xen.
 */
long pv_set_gs_user_sel(struct vcpu *v, unsigned long arg)
{
    unsigned sel = (uint16_t)arg;
    if (sel > 3)
        sel |= 3;
    if ((sel & 4) && (sel >> 3) < v->arch.pv.ldt_ents)
        ldt_take(v, (sel >> 3) / 512);   /* its first use */
    unsigned long flags = irq_save();
    unsigned long own = rdmsr(MSR_GS_BASE);    /* the per-CPU area */
    unsigned long base = 0;
    if (sel > 3 && load_gs(sel) == 0)
        base = rdmsr(MSR_GS_BASE);
    else
        load_gs(0);
    wrmsr(MSR_GS_BASE, own);
    irq_restore(flags);
    v->arch.pv.gs_base_user = base;
    return 0;
}

/*
 * MMUEXT_SET_LDT, as Xen: the LDT at linear address base (page aligned,
 * outside the hypervisor's range, -EINVAL) of at most 8192 entries
 * (-EINVAL); 0 entries: none.  As Xen, each page of it is taken at its
 * first use (ldt_take): found through the kernel's page tables and held
 * as a descriptor page, its checked descriptors copied into the vCPU's
 * LDT copy, which the CPU reads; until then its entries there are zero.
 * A first use is a selector load in the guest (the #GP the zero entry
 * gives, pv_ldt_fault: a page that cannot be taken, not mapped or
 * writable or holding a bad descriptor, gets the guest the #PF Xen gives,
 * at the entry's linear address), an iret or switch-in that loads one,
 * or SEGBASE_GS_USER_SEL.
 */
static bool addr_ok(unsigned long a)
{
    return a < (1UL << 47) || a >= HV_VIRT_END;
}

/* The frame mapped at va in v's kernel page tables (all validated, so
 * every entry names a frame of the right type), or 0. */
static uint64_t kernel_frame(struct vcpu *v, unsigned long va)
{
    uint64_t cr3 = v->arch.pv.cr3 ? v->arch.pv.cr3 : v->domain->arch.pv.cr3;
    uint64_t mfn = cr3 >> PAGE_SHIFT;
    for (int level = 4; level >= 1; level--) {
        uint64_t e = ((const uint64_t *)pfn_to_virt(mfn))[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(e & PTE_P) || (level > 1 && (e & PTE_PS)))
            return 0;
        mfn = (e & PTE_ADDR) >> PAGE_SHIFT;
        if (mfn >= max_pfn)
            return 0;
    }
    return mfn;
}

static void ldt_drop(struct vcpu *v)
{
    for (unsigned i = 0; i < 16; i++) {
        if (v->arch.pv.ldt_frames[i]) {
            put_page_and_type(v->arch.pv.ldt_frames[i], true);
            v->arch.pv.ldt_frames[i] = 0;
        }
    }
    v->arch.pv.ldt_ents = 0;
    v->arch.pv.ldt_base = 0;
}

void pv_ldt_free(struct vcpu *v)
{
    if (v->arch.pv.ldt_shadow)
        free_hv_pages(v->arch.pv.ldt_shadow, 4);
    v->arch.pv.ldt_shadow = NULL;
}

/* Points this pCPU's LDT at v's copy (or at none). */
static void ldt_load(struct vcpu *v)
{
    struct pcpu *pc = this_cpu();
    if (!v->arch.pv.ldt_ents) {
        __asm__ volatile("lldt %w0" :: "r"(0));
        pv_ldt_loaded[pc->id] = false;
        pv_segs_loaded[pc->id] = pv_gdt_loaded_ents[pc->id] || pv_sels_loaded[pc->id];
        return;
    }
    uint64_t *gdt = pc->gdt;
    unsigned long base = (unsigned long)v->arch.pv.ldt_shadow;
    unsigned long limit = v->arch.pv.ldt_ents * 8UL - 1;
    gdt[SEL_LDT >> 3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x82UL << 40) |
                        (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[(SEL_LDT >> 3) + 1] = base >> 32;
    __asm__ volatile("lldt %w0" :: "r"(SEL_LDT));
    pv_ldt_loaded[pc->id] = true;
    pv_segs_loaded[pc->id] = true;
}

/* Loads a data selector, or the null one if the CPU refuses it; returns
 * the one loaded.  Our own %gs base is the caller's to restore. */
#define LOAD_SEL(seg)                                                       \
    static unsigned sel_load_##seg(unsigned sel)                            \
    {                                                                       \
        __asm__ volatile("1: movw %w0, %%" #seg "\n"                        \
                         "2:\n\t"                                           \
                         ".section .text.fixup, \"ax\"\n"                   \
                         "3: xorl %k0, %k0\n\t"                             \
                         "movw %w0, %%" #seg "\n\t"                         \
                         "jmp 2b\n\t"                                       \
                         ".previous\n\t"                                    \
                         ".section .extable, \"a\"\n\t"                     \
                         ".quad 1b, 3b\n\t"                                 \
                         ".previous"                                        \
                         : "+r"(sel) : : "memory");                         \
        return sel;                                                         \
    }
LOAD_SEL(ds)
LOAD_SEL(es)
LOAD_SEL(fs)
LOAD_SEL(gs)

/* At switch-out of a vCPU with own_segments (arch_switch.h, interrupts
 * off): its data selectors, and the FS and active GS bases, which the
 * guest may have changed by loading a selector, as Xen's save_segments. */
void pv_segments_save(struct vcpu *v)
{
    struct pv_vcpu *pv = &v->arch.pv;
    uint16_t s;
    /* With the failsafe callback still owed, sel[] keeps the selectors
     * that failed (its frame shows them); they fail again at switch-in. */
    if (!pv->failsafe_pending) {
        __asm__ volatile("movw %%ds, %0" : "=r"(s));
        pv->sel[0] = s;
        __asm__ volatile("movw %%es, %0" : "=r"(s));
        pv->sel[1] = s;
        __asm__ volatile("movw %%fs, %0" : "=r"(s));
        pv->sel[2] = s;
        __asm__ volatile("movw %%gs, %0" : "=r"(s));
        pv->sel[3] = s;
    }
    pv->fs_base = rdmsr(MSR_FS_BASE);
    unsigned long gs = rdmsr(MSR_KERNEL_GS_BASE);     /* the guest's, in here */
    if (pv->user_mode)
        pv->gs_base_user = gs;
    else
        pv->gs_base_kernel = gs;
}

/* At switch-in (arch_switch.h, interrupts off): v's GDT entries and LDT,
 * then its data selectors (from those tables), or null ones after a vCPU
 * that had its own.  A selector that no longer loads is loaded null and,
 * as Xen's load_segments, the failsafe callback is owed (delivered on the
 * way out, traps.c, where the guest's stack can be written).  The bases
 * are written after this. */
void pv_segments_load(struct vcpu *v)
{
    unsigned cpu = this_cpu()->id;
    if (v->arch.pv.gdt_ents || pv_gdt_loaded_ents[cpu])
        gdt_load(v);
    if (v->arch.pv.ldt_ents || pv_ldt_loaded[cpu])
        ldt_load(v);
    if (v->arch.pv.own_segments || pv_sels_loaded[cpu]) {
        const uint16_t *s = v->arch.pv.sel;
        bool own = v->arch.pv.own_segments;
        unsigned long hv_gs = rdmsr(MSR_GS_BASE);
        if (own) {
            bool ok = sel_load_ds(s[0]) == s[0];
            ok &= sel_load_es(s[1]) == s[1];
            ok &= sel_load_fs(s[2]) == s[2];
            ok &= sel_load_gs(s[3]) == s[3];
            if (!ok)
                v->arch.pv.failsafe_pending = true;
        } else {
            sel_load_ds(0);
            sel_load_es(0);
            sel_load_fs(0);
            sel_load_gs(0);
        }
        wrmsr(MSR_GS_BASE, hv_gs);
        pv_sels_loaded[cpu] = own;
    }
    pv_segs_loaded[cpu] = pv_gdt_loaded_ents[cpu] || pv_ldt_loaded[cpu] || pv_sels_loaded[cpu];
}

long pv_set_ldt(struct vcpu *v, unsigned long base, unsigned long nr)
{
    unsigned ents = (unsigned)nr;
    if (!ents)
        base = 0;
    if ((base & (PAGE_SIZE - 1)) || !addr_ok(base) || ents > 8192)
        return -XEN_EINVAL;
    if (ents == v->arch.pv.ldt_ents && base == v->arch.pv.ldt_base)
        return 0;
    if (ents && !v->arch.pv.ldt_shadow) {
        v->arch.pv.ldt_shadow = alloc_hv_pages(4);
        if (!v->arch.pv.ldt_shadow)
            return -XEN_ENOMEM;
    }
    ldt_drop(v);
    if (ents)
        v->arch.pv.own_segments = true;
    v->arch.pv.ldt_base = base;
    v->arch.pv.ldt_ents = ents;
    for (unsigned i = 0; i * 512 < ents; i++)
        memset(&v->arch.pv.ldt_shadow[i * 512], 0, PAGE_SIZE);
    if (v == current_vcpu()) {
        unsigned long flags = irq_save();
        ldt_load(v);
        irq_restore(flags);
    }
    return 0;
}

/* Takes page `page` of v's LDT at its first use, as Xen maps it: the
 * frame mapped there in v's kernel page tables (walked under d's lock, as
 * SET_LDT walked them before), as a descriptor page; its checked
 * descriptors copied into v's LDT copy.  True if the page is (or already
 * was) taken.  Run by v itself, on the way out or in a hypercall or
 * exception, with no lock held. */
static bool ldt_take(struct vcpu *v, unsigned page)
{
    if (page >= 16 || page * 512 >= v->arch.pv.ldt_ents)
        return false;
    if (v->arch.pv.ldt_frames[page])
        return true;
    struct domain *d = v->domain;
    domain_lock(d);
    uint64_t mfn = kernel_frame(v, v->arch.pv.ldt_base + page * PAGE_SIZE);
    bool ok = mfn && get_desc_page(mfn, d);
    domain_unlock(d);
    if (!ok)
        return false;
    v->arch.pv.ldt_frames[page] = mfn;
    memcpy(&v->arch.pv.ldt_shadow[page * 512], pfn_to_virt(mfn), PAGE_SIZE);
    return true;
}

/*
 * A #GP the guest took with error code err: if it names an LDT entry
 * (TI set, neither EXT nor IDT) within the LDT whose page is not taken
 * yet, this is that page's first use, as the fault in Xen's LDT area is:
 * the page is taken and the instruction runs again, or, if it cannot be,
 * the guest gets the #PF Xen gives (cr2 the entry's linear address, error
 * code 0, U for user mode).  False if the #GP is the guest's own.
 */
bool pv_ldt_fault(struct vcpu *v, uint32_t err)
{
    unsigned idx = (err & 0xffff) >> 3;
    if ((err & 7) != 4 || idx >= v->arch.pv.ldt_ents || v->arch.pv.ldt_frames[idx / 512])
        return false;
    unsigned long la = v->arch.pv.ldt_base + idx * 8UL;
    if (la >= (1UL << 47) && la < HV_VIRT_END)
        return false;                   /* past the canonical half: the #GP, as Xen */
    if (!ldt_take(v, idx / 512))
        pv_inject_exception(v, 14, 0, la);
    return true;
}

/* NEW_BASEPTR, as Xen's: the LDT pages taken through the old tables are
 * let go, to be taken again through the new ones at their next use. */
void pv_ldt_invalidate(struct vcpu *v)
{
    for (unsigned i = 0; i < 16; i++) {
        if (v->arch.pv.ldt_frames[i]) {
            put_page_and_type(v->arch.pv.ldt_frames[i], true);
            v->arch.pv.ldt_frames[i] = 0;
            memset(&v->arch.pv.ldt_shadow[i * 512], 0, PAGE_SIZE);
        }
    }
}

/*
 * Before the failsafe callback a data selector's failed load owes (on the
 * way out, no lock held): one from an LDT page not taken yet is its first
 * use, as the fault in Xen's LDT area inside load_segments is.  Takes
 * those pages and loads the selectors again; true if all load now (no
 * failsafe callback).  v is running here.
 */
bool pv_segments_retry(struct vcpu *v)
{
    const uint16_t *s = v->arch.pv.sel;
    bool any = false;
    for (unsigned i = 0; i < 4; i++) {
        unsigned idx = s[i] >> 3;
        if ((s[i] & 4) && idx < v->arch.pv.ldt_ents && !v->arch.pv.ldt_frames[idx / 512])
            any |= ldt_take(v, idx / 512);
    }
    if (!any)
        return false;
    unsigned long flags = irq_save();
    unsigned long hv_gs = rdmsr(MSR_GS_BASE), guest_gs = rdmsr(MSR_KERNEL_GS_BASE);
    unsigned long fs_base = v->arch.pv.fs_base;
    bool ok = sel_load_ds(s[0]) == s[0];
    ok &= sel_load_es(s[1]) == s[1];
    ok &= sel_load_fs(s[2]) == s[2];
    ok &= sel_load_gs(s[3]) == s[3];
    /* The bases, as the switch-in writes them after the loads. */
    wrmsr(MSR_GS_BASE, hv_gs);
    wrmsr(MSR_FS_BASE, fs_base);
    wrmsr(MSR_KERNEL_GS_BASE, guest_gs);
    irq_restore(flags);
    return ok;
}
