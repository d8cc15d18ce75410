/*
 * XEN_DOMCTL_sethvmcontext and _gethvmcontext (docs/hvm.md, "PVH built at
 * run time"): a
 * toolstack sets the start state of a PVH domain's vCPUs as libxenguest
 * does for PVH (xc_dom_x86.c's vcpu_hvm), with Xen's HVM save format of
 * <xen/hvm/save.h>: a HEADER record, a CPU record per vCPU it starts (and
 * an MTRR record, as libxenguest sends one), END.
 *
 * What a start record holds is loaded: the general registers, RIP and
 * RFLAGS, CR0/CR2/CR3/CR4, EFER, DR6/DR7, the segments, GDTR and IDTR.
 * The rest of a CPU record (FPU, SYSENTER and SYSCALL MSRs, shadow GS,
 * TSC, a pending event) is state a saved guest has, which Keel cannot
 * restore yet: a record with any of it nonzero is refused (-EOPNOTSUPP),
 * as are other record types (LAPIC, PIC, ...), rather than half loaded.
 * The whole buffer is checked before anything is set: a refused buffer
 * changes nothing.  Checks as Xen's hvm_load_cpu_ctxt and the VMRUN
 * consistency checks of AMD's APM vol. 2, 15.5.1, so that no accepted
 * state makes VMRUN fail.
 */
#define __XEN_TOOLS__ 1
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "hvm.h"
#include "vmcb.h"
#include "hvm_internal.h"
#include "hypercall.h"
#include "xsm.h"
#include "sched.h"
#include "x86.h"
#include "time.h"
#include <xen/errno.h>
#include <xen/hvm/save.h>
#include <xen/hvm/params.h>

#define CTXT_MAX   (4 * PAGE_SIZE)

#define CR0_PE  (1ULL << 0)
#define CR0_ET  (1ULL << 4)
#define CR0_NW  (1ULL << 29)
#define CR0_CD  (1ULL << 30)
#define CR0_PG  (1ULL << 31)
/* PE MP EM TS ET NE WP AM NW CD PG */
#define CR0_OK  (0x3fULL | (1ULL << 16) | (1ULL << 18) | CR0_NW | CR0_CD | CR0_PG)
/* VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT: what a start
 * state may have; the guest turns on the rest itself (its CPUID says). */
#define CR4_OK  0x7ffULL
#define CR4_PAE (1ULL << 5)
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define EFER_SVME (1ULL << 12)
/* RFLAGS bits that must be 0: 3, 5, 15, 22-63. */
#define RFLAGS_MBZ ((1ULL << 3) | (1ULL << 5) | (1ULL << 15) | ~((1ULL << 22) - 1))
#define ATTR_L  (1u << 9)
#define ATTR_DB (1u << 10)

/* A CPU record a start state may carry, or why not. */
static long cpu_ok(const struct hvm_hw_cpu *c)
{
    static const uint8_t zero[sizeof(c->fpu_regs)];
    if ((c->flags & XEN_X86_FPU_INITIALISED) || memcmp(c->fpu_regs, zero, sizeof(zero)) ||
        c->sysenter_cs || c->sysenter_esp || c->sysenter_eip || c->shadow_gs ||
        c->msr_lstar || c->msr_star || c->msr_cstar || c->msr_syscall_mask ||
        c->msr_tsc_aux || c->tsc || c->pending_event || c->error_code)
        return -XEN_EOPNOTSUPP;          /* saved state: no restore yet */
    if (c->flags & ~XEN_X86_FPU_INITIALISED)
        return -XEN_EINVAL;
    if ((c->cr0 & ~CR0_OK) || ((c->cr0 & CR0_PG) && !(c->cr0 & CR0_PE)) ||
        ((c->cr0 & CR0_NW) && !(c->cr0 & CR0_CD)))
        return -XEN_EINVAL;
    if ((c->cr4 & ~CR4_OK) || (c->cr3 >> 52))
        return -XEN_EINVAL;
    uint32_t a, b, cx, dx;
    cpuid(0x80000001, 0, &a, &b, &cx, &dx);
    uint64_t efer_ok = EFER_SCE | EFER_LME | EFER_LMA | ((dx >> 20) & 1 ? EFER_NXE : 0);
    if (c->msr_efer & ~efer_ok)
        return -XEN_EINVAL;
    /* As Xen: LMA is LME with paging on; long mode needs PAE, and its
     * code segment may not be both L and D. */
    bool lma = (c->msr_efer & EFER_LME) && (c->cr0 & CR0_PG);
    if (!!(c->msr_efer & EFER_LMA) != lma)
        return -XEN_EINVAL;
    if (lma && (!(c->cr4 & CR4_PAE) ||
                ((c->cs_arbytes & ATTR_L) && (c->cs_arbytes & ATTR_DB))))
        return -XEN_EINVAL;
    if (c->rflags & RFLAGS_MBZ)
        return -XEN_EINVAL;
    if ((c->dr6 >> 32) || (c->dr7 >> 32))
        return -XEN_EINVAL;
    const uint32_t ar[] = { c->cs_arbytes, c->ds_arbytes, c->es_arbytes, c->fs_arbytes,
                            c->gs_arbytes, c->ss_arbytes, c->tr_arbytes, c->ldtr_arbytes };
    for (unsigned i = 0; i < ARRAY_SIZE(ar); i++)
        if (ar[i] > 0xfff)
            return -XEN_EINVAL;
    const uint32_t sel[] = { c->cs_sel, c->ds_sel, c->es_sel, c->fs_sel, c->gs_sel,
                             c->ss_sel, c->tr_sel, c->ldtr_sel };
    for (unsigned i = 0; i < ARRAY_SIZE(sel); i++)
        if (sel[i] > 0xffff)
            return -XEN_EINVAL;
    if (c->idtr_limit > 0xffff || c->gdtr_limit > 0xffff)
        return -XEN_EINVAL;
    return 0;
}

static void cpu_load(struct vcpu *v, const struct hvm_hw_cpu *c)
{
    uint8_t *vmcb = v->arch.hvm.vmcb;
    vmcb_seg(vmcb, VMCB_CS, (uint16_t)c->cs_sel, (uint16_t)c->cs_arbytes, c->cs_limit, c->cs_base);
    vmcb_seg(vmcb, VMCB_DS, (uint16_t)c->ds_sel, (uint16_t)c->ds_arbytes, c->ds_limit, c->ds_base);
    vmcb_seg(vmcb, VMCB_ES, (uint16_t)c->es_sel, (uint16_t)c->es_arbytes, c->es_limit, c->es_base);
    vmcb_seg(vmcb, VMCB_FS, (uint16_t)c->fs_sel, (uint16_t)c->fs_arbytes, c->fs_limit, c->fs_base);
    vmcb_seg(vmcb, VMCB_GS, (uint16_t)c->gs_sel, (uint16_t)c->gs_arbytes, c->gs_limit, c->gs_base);
    vmcb_seg(vmcb, VMCB_SS, (uint16_t)c->ss_sel, (uint16_t)c->ss_arbytes, c->ss_limit, c->ss_base);
    vmcb_seg(vmcb, VMCB_TR, (uint16_t)c->tr_sel, (uint16_t)c->tr_arbytes, c->tr_limit, c->tr_base);
    vmcb_seg(vmcb, VMCB_LDTR, (uint16_t)c->ldtr_sel, (uint16_t)c->ldtr_arbytes, c->ldtr_limit,
             c->ldtr_base);
    vmcb_seg(vmcb, VMCB_GDTR, 0, 0, c->gdtr_limit, c->gdtr_base);
    vmcb_seg(vmcb, VMCB_IDTR, 0, 0, c->idtr_limit, c->idtr_base);
    vmcb[VMCB_CPL] = (uint8_t)((c->ss_arbytes >> 5) & 3);
    vmcb_wr(vmcb, VMCB_CR0, c->cr0);
    vmcb_wr(vmcb, VMCB_CR2, c->cr2);
    vmcb_wr(vmcb, VMCB_CR3, c->cr3);
    vmcb_wr(vmcb, VMCB_CR4, c->cr4);
    vmcb_wr(vmcb, VMCB_EFER, c->msr_efer | EFER_SVME);
    vmcb_wr(vmcb, VMCB_DR6, c->dr6);
    vmcb_wr(vmcb, VMCB_DR7, c->dr7);
    vmcb_wr(vmcb, VMCB_N_CR3, v->domain->arch.hvm.p2m_root);
    struct cpu_user_regs *r = v->arch.regs;
    memset(r, 0, sizeof(*r));
    r->rax = c->rax, r->rbx = c->rbx, r->rcx = c->rcx, r->rdx = c->rdx;
    r->rbp = c->rbp, r->rsi = c->rsi, r->rdi = c->rdi, r->rsp = c->rsp;
    r->r8 = c->r8, r->r9 = c->r9, r->r10 = c->r10, r->r11 = c->r11;
    r->r12 = c->r12, r->r13 = c->r13, r->r14 = c->r14, r->r15 = c->r15;
    r->rip = c->rip;
    r->rflags = c->rflags | 2;
    vlapic_reset(v);
    hvm_vcpu_tlb_flush(v);
}

long hvm_set_context(struct domain *d, unsigned long buf, uint32_t size)
{
    if (d == current_domain() || d->arch.type != GUEST_PVH || d->shutdown)
        return -XEN_EINVAL;
    if (d->arch.hvm.firmware)
        return -XEN_EOPNOTSUPP;           /* a PC's state: its builder's only */
    if (!d->arch.hvm.p2m_root)
        return -XEN_EINVAL;               /* no memory yet (populate_physmap) */
    if (size > CTXT_MAX)
        return -XEN_EINVAL;
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i] && d->vcpu[i]->running)
            return -XEN_EBUSY;
    if (!d->pause_count)
        return -XEN_EBUSY;                /* as Xen's, the domain is paused meanwhile */
    unsigned order = 2;
    uint8_t *b = alloc_hv_pages(order);
    if (!b)
        return -XEN_ENOMEM;
    long rc = copy_from_guest(b, buf, size) ? -XEN_EFAULT : 0;
    unsigned loaded = 0;
    /* Pass 1 checks everything, pass 2 loads. */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        uint32_t off = 0;
        bool header = false, end = false;
        while (!rc && !end) {
            struct hvm_save_descriptor desc;
            if (size - off < sizeof(desc)) {
                rc = -XEN_EINVAL;         /* no END */
                break;
            }
            memcpy(&desc, b + off, sizeof(desc));
            off += sizeof(desc);
            if (desc.length > size - off) {
                rc = -XEN_EINVAL;
                break;
            }
            const uint8_t *body = b + off;
            off += desc.length;
            if (!header && desc.typecode != HVM_SAVE_CODE(HEADER)) {
                rc = -XEN_EINVAL;         /* as Xen's hvm_load: the HEADER first */
                break;
            }
            switch (desc.typecode) {
            case HVM_SAVE_CODE(HEADER): {
                struct hvm_save_header h;
                if (header || desc.instance || desc.length != sizeof(h)) {
                    rc = -XEN_EINVAL;
                    break;
                }
                memcpy(&h, body, sizeof(h));
                if (h.magic != HVM_FILE_MAGIC || h.version != HVM_FILE_VERSION)
                    rc = -XEN_EINVAL;
                header = true;
                break;
            }
            case HVM_SAVE_CODE(CPU): {
                struct hvm_hw_cpu c;
                if (desc.instance >= d->nr_vcpus || !d->vcpu[desc.instance] ||
                    desc.length != sizeof(c)) {
                    rc = -XEN_EINVAL;
                    break;
                }
                memcpy(&c, body, sizeof(c));
                if (pass == 0) {
                    rc = cpu_ok(&c);
                } else {
                    /* Under d's lock, as populate_physmap checks
                     * initialised (p2m.c): its p2m is fixed from here. */
                    struct vcpu *v = d->vcpu[desc.instance];
                    domain_lock(d);
                    cpu_load(v, &c);
                    v->initialised = true;
                    domain_unlock(d);
                    /* As Xen's hvm_load_cpu_ctxt: a loaded vCPU is up. */
                    if (v->state == VCPU_OFFLINE)
                        vcpu_bring_up(v);
                    loaded++;
                }
                break;
            }
            case HVM_SAVE_CODE(MTRR): {
                /* libxenguest's vcpu_hvm sends one (a PVH domain's default
                 * type write-back): loaded as the guest's own WRMSRs. */
                struct hvm_hw_mtrr m;
                if (desc.instance >= d->nr_vcpus || !d->vcpu[desc.instance] ||
                    desc.length != sizeof(m)) {
                    rc = -XEN_EINVAL;
                    break;
                }
                memcpy(&m, body, sizeof(m));
                rc = hvm_mtrr_record(d->vcpu[desc.instance], &m, pass == 1);
                break;
            }
            case HVM_SAVE_CODE(END):
                end = true;
                break;
            default:
                rc = -XEN_EOPNOTSUPP;     /* no restore of that state yet */
                break;
            }
        }
    }
    if (!rc)
        printk("d%u: HVM context of %u vCPU(s) set by d%u (%s)\n", d->id, loaded,
               current_domain()->id, current_domain()->name);
    free_hv_pages(b, order);
    return rc;
}

/* ---- XEN_DOMCTL_gethvmcontext ---------------------------------------- */

/* The VMCB's save area past what vmcb.h names (AMD APM vol. 2, table B-2):
 * the state VMSAVE keeps there. */
#define VMCB_STAR          0x600
#define VMCB_LSTAR         0x608
#define VMCB_CSTAR         0x610
#define VMCB_SFMASK        0x618
#define VMCB_KERNEL_GS     0x620
#define VMCB_SYSENTER_CS   0x628
#define VMCB_SYSENTER_ESP  0x630
#define VMCB_SYSENTER_EIP  0x638

static void seg_get(const uint8_t *vmcb, unsigned off, uint32_t *sel, uint32_t *ar,
                    uint32_t *limit, uint64_t *base)
{
    uint16_t s, a;
    memcpy(&s, vmcb + off, 2);
    memcpy(&a, vmcb + off + 2, 2);
    memcpy(limit, vmcb + off + 4, 4);
    memcpy(base, vmcb + off + 8, 8);
    if (sel)
        *sel = s;
    if (ar)
        *ar = a;
}

/* Xen's hvm_save_cpu_ctxt, from the VMCB and the saved registers of a
 * vCPU that is not running. */
static void cpu_save(struct vcpu *v, struct hvm_hw_cpu *c)
{
    const uint8_t *vmcb = v->arch.hvm.vmcb;
    const struct cpu_user_regs *r = v->arch.regs;
    memset(c, 0, sizeof(*c));
    c->rax = r->rax, c->rbx = r->rbx, c->rcx = r->rcx, c->rdx = r->rdx;
    c->rbp = r->rbp, c->rsi = r->rsi, c->rdi = r->rdi, c->rsp = r->rsp;
    c->r8 = r->r8, c->r9 = r->r9, c->r10 = r->r10, c->r11 = r->r11;
    c->r12 = r->r12, c->r13 = r->r13, c->r14 = r->r14, c->r15 = r->r15;
    c->rip = r->rip;
    c->rflags = r->rflags;
    c->cr0 = vmcb_rd(vmcb, VMCB_CR0);
    c->cr2 = vmcb_rd(vmcb, VMCB_CR2);
    c->cr3 = vmcb_rd(vmcb, VMCB_CR3);
    c->cr4 = vmcb_rd(vmcb, VMCB_CR4);
    c->dr6 = vmcb_rd(vmcb, VMCB_DR6);
    c->dr7 = vmcb_rd(vmcb, VMCB_DR7);
    c->msr_efer = vmcb_rd(vmcb, VMCB_EFER) & ~EFER_SVME;
    seg_get(vmcb, VMCB_CS, &c->cs_sel, &c->cs_arbytes, &c->cs_limit, &c->cs_base);
    seg_get(vmcb, VMCB_DS, &c->ds_sel, &c->ds_arbytes, &c->ds_limit, &c->ds_base);
    seg_get(vmcb, VMCB_ES, &c->es_sel, &c->es_arbytes, &c->es_limit, &c->es_base);
    seg_get(vmcb, VMCB_FS, &c->fs_sel, &c->fs_arbytes, &c->fs_limit, &c->fs_base);
    seg_get(vmcb, VMCB_GS, &c->gs_sel, &c->gs_arbytes, &c->gs_limit, &c->gs_base);
    seg_get(vmcb, VMCB_SS, &c->ss_sel, &c->ss_arbytes, &c->ss_limit, &c->ss_base);
    seg_get(vmcb, VMCB_TR, &c->tr_sel, &c->tr_arbytes, &c->tr_limit, &c->tr_base);
    seg_get(vmcb, VMCB_LDTR, &c->ldtr_sel, &c->ldtr_arbytes, &c->ldtr_limit, &c->ldtr_base);
    seg_get(vmcb, VMCB_GDTR, NULL, NULL, &c->gdtr_limit, &c->gdtr_base);
    seg_get(vmcb, VMCB_IDTR, NULL, NULL, &c->idtr_limit, &c->idtr_base);
    c->msr_star = vmcb_rd(vmcb, VMCB_STAR);
    c->msr_lstar = vmcb_rd(vmcb, VMCB_LSTAR);
    c->msr_cstar = vmcb_rd(vmcb, VMCB_CSTAR);
    c->msr_syscall_mask = vmcb_rd(vmcb, VMCB_SFMASK);
    c->shadow_gs = vmcb_rd(vmcb, VMCB_KERNEL_GS);
    c->sysenter_cs = vmcb_rd(vmcb, VMCB_SYSENTER_CS);
    c->sysenter_esp = vmcb_rd(vmcb, VMCB_SYSENTER_ESP);
    c->sysenter_eip = vmcb_rd(vmcb, VMCB_SYSENTER_EIP);
    uint64_t ev = vmcb_rd(vmcb, VMCB_EVENTINJ);
    if (ev & EVENTINJ_V) {
        c->pending_event = (uint32_t)ev;
        c->error_code = (uint32_t)(ev >> 32);
    }
    /* A vCPU that has run: its FPU (the FXSAVE image its XSAVE area
     * starts with) and its TSC; a start state has neither. */
    if (v->runtime_ns) {
        memcpy(c->fpu_regs, v->arch.fpu, sizeof(c->fpu_regs));
        c->flags = XEN_X86_FPU_INITIALISED;
        c->tsc = rdtsc() + vmcb_rd(vmcb, VMCB_TSC_OFFSET);
    }
}

/* One record at b + *off: its descriptor, then len bytes of body. */
static void put_record(uint8_t *b, uint32_t *off, uint16_t code, unsigned instance,
                       const void *body, uint32_t len)
{
    struct hvm_save_descriptor desc = { code, (uint16_t)instance, len };
    memcpy(b + *off, &desc, sizeof(desc));
    *off += sizeof(desc);
    if (len)
        memcpy(b + *off, body, len);
    *off += len;
}

static uint32_t save_size(const struct domain *d)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        n += d->vcpu[i] != NULL;
    return (uint32_t)(sizeof(struct hvm_save_descriptor) * (2 + 2 * n) +
                      sizeof(struct hvm_save_header) +
                      n * (sizeof(struct hvm_hw_cpu) + sizeof(struct hvm_hw_mtrr)));
}

/*
 * XEN_DOMCTL_gethvmcontext (Xen's hvm_save): with no buffer the size it
 * needs; else the HEADER (Xen's magic and version, changeset 0, CPUID
 * leaf 1's EAX, the TSC's kHz), a CPU record per vCPU, END, and the size
 * written.  As Xen: oneself or a PV domain -EINVAL, a buffer too small
 * -ENOSPC; unlike Xen, which pauses the domain meanwhile, Keel wants it
 * paused and no vCPU of it running (-EBUSY).  A shut-down domain -EINVAL.
 * A vCPU's CPU and MTRR records (no LAPIC, PIC, I/O APIC, ... records
 * yet): what libxenguest's vcpu_hvm takes from here (the HEADER and the
 * MTRR record it sends back), and what sethvmcontext loads of a start
 * state.
 */
long hvm_get_context(struct domain *d, unsigned long buf, uint32_t *size)
{
    if (d == current_domain() || d->arch.type != GUEST_PVH || d->shutdown)
        return -XEN_EINVAL;
    uint32_t need = save_size(d);
    if (!buf) {
        *size = need;
        return 0;
    }
    if (*size < need)
        return -XEN_ENOSPC;
    if (!d->pause_count)
        return -XEN_EBUSY;
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i] && d->vcpu[i]->running)
            return -XEN_EBUSY;
    unsigned order = 2;
    _Static_assert(sizeof(struct hvm_save_descriptor) * 4 + sizeof(struct hvm_save_header) +
                   sizeof(struct hvm_hw_cpu) + sizeof(struct hvm_hw_mtrr) <= CTXT_MAX,
                   "one vCPU's context");
    if (need > CTXT_MAX)
        return -XEN_EOPNOTSUPP;           /* one vCPU per HVM domain today */
    uint8_t *b = alloc_hv_pages(order);
    if (!b)
        return -XEN_ENOMEM;
    uint32_t off = 0;
    struct hvm_save_header h = { .magic = HVM_FILE_MAGIC, .version = HVM_FILE_VERSION };
    uint32_t bx, cx, dx;
    cpuid(1, 0, &h.cpuid, &bx, &cx, &dx);
    h.gtsc_khz = (uint32_t)tsc_khz;
    put_record(b, &off, HVM_SAVE_CODE(HEADER), 0, &h, sizeof(h));
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i]) {
            struct hvm_hw_cpu c;
            cpu_save(d->vcpu[i], &c);
            put_record(b, &off, HVM_SAVE_CODE(CPU), i, &c, sizeof(c));
        }
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i]) {
            struct hvm_hw_mtrr m;
            hvm_mtrr_save(d->vcpu[i], &m);
            put_record(b, &off, HVM_SAVE_CODE(MTRR), i, &m, sizeof(m));
        }
    put_record(b, &off, HVM_SAVE_CODE(END), 0, NULL, 0);
    long rc = copy_to_guest(buf, b, off) ? -XEN_EFAULT : 0;
    free_hv_pages(b, order);
    *size = off;
    return rc;
}

/* HVMOP_set_param on a PVH domain from outside (refused.c): its builder,
 * a control domain, sets the frames and ports of its xenstore and
 * console rings before its vCPUs have a state, as libxl does; anything
 * else is -EPERM, as before. */
long hvm_builder_param(struct domain *d, uint32_t index, uint64_t value)
{
    if (xsm_default_action(XSM_PRIV, current_domain(), d) || d->arch.hvm.firmware)
        return -XEN_EPERM;
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i] && d->vcpu[i]->initialised)
            return -XEN_EPERM;
    switch (index) {
    case HVM_PARAM_STORE_PFN:
    case HVM_PARAM_CONSOLE_PFN:
        if (value >= d->arch.hvm.nr_gfns)
            return -XEN_EINVAL;          /* not its RAM */
        break;
    case HVM_PARAM_STORE_EVTCHN:
    case HVM_PARAM_CONSOLE_EVTCHN:
        if (value >= d->max_evtchns)
            return -XEN_EINVAL;
        break;
    default:
        return -XEN_EPERM;
    }
    __atomic_store_n(&d->arch.hvm.params[index], value, __ATOMIC_RELEASE);
    return 0;
}
