/*
 * AMD SVM (docs/hvm.md): detection and per-pCPU enabling, a VMCB per
 * vCPU, ASIDs, the VMRUN loop that an HVM/PVH vCPU's hypervisor stack
 * runs, and the #VMEXIT dispatch.  What an exit means to the guest
 * (CPUID, MSRs, ports, hypercalls) is hvm.c's.
 *
 * The loop runs with interrupts off, as every hypervisor path does; the
 * VMRUN itself is made with IF set and GIF clear (svm_entry.S), so a host
 * interrupt ends the guest's run (INTR intercept) and is taken after the
 * exit, at the "sti; nop; cli" window below: timers, the scheduler's tick
 * and IPIs work as while a PV guest runs.
 */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "hvm.h"
#include "vmcb.h"
#include "hvm_internal.h"
#include <xen/errno.h>

#define EFER_SVME       (1ULL << 12)
#define MSR_VM_CR       0xc0010114
#define VM_CR_SVMDIS    (1ULL << 4)
#define MSR_VM_HSAVE_PA 0xc0010117

bool svm_usable;
const char *svm_missing = "not probed";
static bool svm_probed;

/* Per pCPU: the area VMRUN saves the host into, the page VMSAVE keeps
 * the rest of the host's state in, and the ASID allocator. */
static uint64_t host_area_pa[NR_CPUS];
static uint32_t asid_next[NR_CPUS];
static uint64_t asid_gen[NR_CPUS];
static uint32_t asid_max;        /* CPUID 0x8000000a EBX: ASIDs are 1..max-1 */

/* The I/O and MSR permission maps, all ones: every port and every MSR
 * access is intercepted except the MSRs the VMCB itself switches
 * (hvm_msrpm_open).  Shared, read only by the CPU. */
static uint64_t iopm_pa, msrpm_pa;

static const char *svm_probe(void)
{
    uint32_t a, b, c, d, max;
    cpuid(0x80000000, 0, &max, &b, &c, &d);
    if (max < 0x80000001)
        return "the CPU has no SVM (no CPUID leaf 0x80000001)";
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (!(c & (1u << 2)))
        return "the CPU has no SVM (CPUID 0x80000001 ECX.SVM clear)";
    if (max < 0x8000000a)
        return "the CPU has SVM but no CPUID leaf 0x8000000a";
    cpuid(0x8000000a, 0, &a, &b, &c, &d);
    if (!(d & 1))
        return "the CPU has SVM but no nested paging (CPUID 0x8000000a EDX.NP clear)";
    if (b < 2)
        return "the CPU offers no ASIDs";
    if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS)
        return "SVM is disabled by the firmware (VM_CR.SVMDIS)";
    if (!asid_max || b < asid_max)
        asid_max = b;
    return NULL;
}

/* A page's worth of ones: the permission maps. */
static uint64_t ones_pages(unsigned order)
{
    uint8_t *p = alloc_hv_pages(order);
    if (!p)
        return 0;
    memset(p, 0xff, PAGE_SIZE << order);
    return PA(p);
}

/* MSR m's two bits (read, write) in the MSR permission map cleared. */
static void msrpm_open(uint32_t m)
{
    uint8_t *map = VA(msrpm_pa);
    unsigned base;
    if (m < 0x2000)
        base = 0;
    else if (m >= 0xc0000000 && m < 0xc0002000)
        base = 0x800, m -= 0xc0000000;
    else
        return;
    unsigned bit = m * 2;
    map[base + bit / 8] &= (uint8_t)~(3u << (bit % 8));
}

void svm_cpu_init(struct pcpu *pc)
{
    const char *why = svm_probe();
    if (!svm_probed) {
        svm_probed = true;
        svm_usable = !why;
        svm_missing = why;
        if (!why) {
            iopm_pa = ones_pages(2);          /* 12 KiB used */
            msrpm_pa = ones_pages(1);         /* 8 KiB */
            if (!iopm_pa || !msrpm_pa)
                panic("svm: no memory for the permission maps");
            /* Switched by VMLOAD/VMSAVE or held in the VMCB: the guest's
             * own, as Xen leaves them. */
            static const uint32_t open[] = {
                0x174, 0x175, 0x176,                  /* SYSENTER_CS/ESP/EIP */
                0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,   /* STAR.. SFMASK */
                0xc0000100, 0xc0000101, 0xc0000102,   /* FS, GS, KERNEL_GS base */
            };
            for (unsigned i = 0; i < ARRAY_SIZE(open); i++)
                msrpm_open(open[i]);
        }
    } else if (why && svm_usable) {
        /* A later pCPU without it: no HVM anywhere (a vCPU may run on any). */
        svm_usable = false;
        svm_missing = why;
    }
    if (why || !svm_usable) {
        printk("svm: CPU%u: not used: %s\n", pc->id, why ? why : svm_missing);
        return;
    }
    void *hsave = alloc_hv_pages(0);
    void *host = alloc_hv_pages(0);
    if (!hsave || !host)
        panic("svm: CPU%u: no memory for the host save areas", pc->id);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    wrmsr(MSR_VM_HSAVE_PA, PA(hsave));
    host_area_pa[pc->id] = PA(host);
    asid_next[pc->id] = 1;
    asid_gen[pc->id] = 1;
    if (pc->id == 0)
        printk("svm: SVM with nested paging, %u ASIDs\n", asid_max);
}

int hvm_vcpu_create(struct vcpu *v)
{
    if (!svm_usable)
        return -XEN_EOPNOTSUPP;
    uint8_t *vmcb = alloc_hv_pages(0);
    if (!vmcb)
        return -XEN_ENOMEM;
    struct hvm_vcpu *h = &v->arch.hvm;
    h->vmcb = vmcb;
    h->vmcb_pa = PA(vmcb);
    h->asid = 0;
    h->asid_cpu = -1;
    /* Intercepts (docs/hvm.md says why each). */
    vmcb_wr32(vmcb, VMCB_CR_INTERCEPTS, 0);
    vmcb_wr32(vmcb, VMCB_EXC_INTERCEPTS, 1u << 18);    /* #MC: the host's */
    vmcb_wr32(vmcb, VMCB_MISC1_INTERCEPTS,
              ICPT_INTR | ICPT_NMI | ICPT_SMI | ICPT_INIT | ICPT_RDPMC | ICPT_CPUID |
              ICPT_RSM | ICPT_INVD | ICPT_HLT | ICPT_INVLPGA | ICPT_IOIO | ICPT_MSR |
              ICPT_TASKSWITCH | ICPT_SHUTDOWN);
    vmcb_wr32(vmcb, VMCB_MISC2_INTERCEPTS,
              ICPT_VMRUN | ICPT_VMMCALL | ICPT_VMLOAD | ICPT_VMSAVE | ICPT_STGI |
              ICPT_CLGI | ICPT_SKINIT | ICPT_RDTSCP | ICPT_ICEBP | ICPT_MONITOR |
              ICPT_MWAIT | ICPT_MWAIT_COND | ICPT_XSETBV);
    vmcb_wr(vmcb, VMCB_IOPM_BASE, iopm_pa);
    vmcb_wr(vmcb, VMCB_MSRPM_BASE, msrpm_pa);
    vmcb_wr(vmcb, VMCB_TSC_OFFSET, 0);                 /* the host's TSC */
    vmcb_wr(vmcb, VMCB_VINTR, 1ULL << 24);             /* V_INTR_MASKING */
    vmcb_wr(vmcb, VMCB_NP_ENABLE, 1);
    vmcb_wr(vmcb, VMCB_N_CR3, v->domain->arch.hvm.p2m_root);
    vmcb_wr(vmcb, VMCB_G_PAT, 0x0007040600070406ULL);
    vmcb_wr(vmcb, VMCB_EFER, EFER_SVME);               /* VMRUN requires it */
    vmcb_wr(vmcb, VMCB_DR6, 0xffff0ff0);
    vmcb_wr(vmcb, VMCB_DR7, 0x400);
    vmcb_wr(vmcb, VMCB_RFLAGS, 2);
    /* Until the builder sets its start state (pvh_build.c): a vCPU of a
     * domain that is never built does not run. */
    return 0;
}

void hvm_vcpu_destroy(struct vcpu *v)
{
    if (v->arch.hvm.vmcb)
        free_hv_pages(v->arch.hvm.vmcb, 0);
    v->arch.hvm.vmcb = NULL;
}

void hvm_vcpu_tlb_flush(struct vcpu *v)
{
    __atomic_store_n(&v->arch.hvm.asid_cpu, -1, __ATOMIC_RELEASE);
}

/* v's ASID on this pCPU: a new one when it comes from another pCPU or an
 * older generation; when they run out, a new generation, and the whole
 * TLB of this pCPU (every ASID's) flushed at the next VMRUN. */
static void asid_assign(struct vcpu *v, unsigned cpu)
{
    struct hvm_vcpu *h = &v->arch.hvm;
    uint8_t flush = 0;
    if (h->asid_cpu == (int)cpu && h->asid_gen == asid_gen[cpu] && h->asid) {
        h->vmcb[VMCB_TLB_CONTROL] = 0;
        return;
    }
    if (asid_next[cpu] >= asid_max) {
        asid_gen[cpu]++;
        asid_next[cpu] = 1;
        flush = 1;                            /* TLB_CONTROL: flush all ASIDs */
        if (asid_gen[cpu] == 2)
            printk("svm: CPU%u: ASIDs used up: generation 2, TLB flushed\n", cpu);
    }
    h->asid = asid_next[cpu]++;
    h->asid_gen = asid_gen[cpu];
    h->asid_cpu = (int)cpu;
    vmcb_wr32(h->vmcb, VMCB_ASID, h->asid);
    /* A fresh ASID on this pCPU may still hold entries of a vCPU that had
     * it in an earlier generation only if no flush came between: there
     * always was one (above), so only the wrap flushes. */
    h->vmcb[VMCB_TLB_CONTROL] = flush;
}

void svm_vmrun(struct cpu_user_regs *g, uint64_t vmcb_pa, uint64_t host_pa);

noreturn void svm_loop(void)
{
    for (;;) {
        struct pcpu *pc = this_cpu();
        if (pc->need_resched || pc->curr->state != VCPU_RUNNABLE) {
            schedule();
            if (reap_pending())
                reap_dead_domains();
            continue;
        }
        struct vcpu *v = pc->curr;
        struct cpu_user_regs *r = v->arch.regs;
        uint8_t *vmcb = v->arch.hvm.vmcb;
        /* An I/O its device model has not answered: it waits (ioreq.c). */
        if (__builtin_expect(v->arch.hvm.io.wait, 0)) {
            unsigned long rip0 = r->rip;
            if (!hvm_ioreq_complete(v, r))
                continue;
            if (r->rip != rip0)
                vmcb_wr(vmcb, VMCB_INT_SHADOW, 0);    /* the instruction completed */
            if (v->arch.hvm.io.wait)
                continue;                          /* run again: its next access went out */
        }
        asid_assign(v, pc->id);
        hvm_inject_callback(v);
        vlapic_inject(v);
        hvm_isa_inject(v);
        hvm_guest_areas(v);
        vmcb_wr(vmcb, VMCB_RAX, r->rax);
        vmcb_wr(vmcb, VMCB_RIP, r->rip);
        vmcb_wr(vmcb, VMCB_RSP, r->rsp);
        vmcb_wr(vmcb, VMCB_RFLAGS, r->rflags);
        svm_vmrun(r, v->arch.hvm.vmcb_pa, host_area_pa[pc->id]);
        r->rax = vmcb_rd(vmcb, VMCB_RAX);
        r->rip = vmcb_rd(vmcb, VMCB_RIP);
        r->rsp = vmcb_rd(vmcb, VMCB_RSP);
        r->rflags = vmcb_rd(vmcb, VMCB_RFLAGS);
        hvm_xcr0_sync(v);
        unsigned long rip = r->rip;
        hvm_exit(v, r);
        if (r->rip != rip)       /* an instruction completed: its STI/MOV SS shadow is over */
            vmcb_wr(vmcb, VMCB_INT_SHADOW, 0);
        /* Host interrupts held while the guest ran (or since): taken here. */
        __asm__ volatile("sti; nop; cli" ::: "memory");
    }
}
