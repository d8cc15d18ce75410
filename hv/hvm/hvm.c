/*
 * What an HVM/PVH vCPU's exits mean (docs/hvm.md): CPUID through the
 * policy PV guests get, MSRs through a per-domain policy (unknown: #GP),
 * port I/O as Xen handles it with no device model, HLT, and hypercalls
 * through the HVM hypercall page (vmmcall).  Anything else crashes the
 * guest with a line naming the exit; never the hypervisor.
 *
 * Also the guest-memory access of guest_access.h for such a vCPU: guest
 * virtual addresses through its own page tables, then the p2m.
 */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "event.h"
#include "hypercall.h"
#include "guest_access.h"
#include "hvm.h"
#include "vmcb.h"
#include "hvm_internal.h"
#include "grant.h"
#include "xstate.h"
#include <xen/errno.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/save.h>
#include <xen/memory.h>
#include <xen/hvm/params.h>

#define EFER_SCE          (1ULL << 0)
#define EFER_LME          (1ULL << 8)
#define EFER_LMA          (1ULL << 10)
#define EFER_NXE          (1ULL << 11)
#define EFER_SVME         (1ULL << 12)
#define MSR_PAT           0x277
#define MSR_TSC           0x10
#define MSR_XEN_HYPERCALL 0x40000000   /* CPUID 0x40000002 EBX */

#define CR0_PG (1ULL << 31)
#define CR0_WP (1ULL << 16)

/* ---- guest memory ---------------------------------------------------- */

/* gva -> gpa for the current vCPU: paging off, identity (below 4 GiB);
 * long mode, its 4-level tables (each read through the p2m).  32-bit
 * paging is not walked yet (-EFAULT): hypercalls come from 64-bit mode. */
static int gva_to_gpa(struct vcpu *v, uint64_t gva, bool write, uint64_t *gpa)
{
    const uint8_t *vmcb = v->arch.hvm.vmcb;
    uint64_t cr0 = vmcb_rd(vmcb, VMCB_CR0);
    if (!(cr0 & CR0_PG)) {
        if (gva >> 32)
            return -1;
        *gpa = gva;
        return 0;
    }
    if (!(vmcb_rd(vmcb, VMCB_EFER) & EFER_LMA))
        return -1;
    if ((uint64_t)((int64_t)(gva << 16) >> 16) != gva)
        return -1;                                   /* not canonical */
    uint64_t table = vmcb_rd(vmcb, VMCB_CR3) & 0x000ffffffffff000ULL;
    for (int level = 4; level >= 1; level--) {
        uint64_t mfn = hvm_p2m_lookup(v->domain, table >> PAGE_SHIFT);
        if (mfn == ~0ULL)
            return -1;
        unsigned idx = (gva >> (12 + 9 * (level - 1))) & 511;
        uint64_t e = __atomic_load_n((uint64_t *)pfn_to_virt(mfn) + idx, __ATOMIC_RELAXED);
        if (!(e & 1))
            return -1;
        if (write && !(e & 2) && (cr0 & CR0_WP))
            return -1;
        uint64_t addr = e & 0x000ffffffffff000ULL;
        if (level == 1 || ((level == 2 || level == 3) && (e & 0x80))) {
            uint64_t size = 1ULL << (12 + 9 * (level - 1));
            addr &= ~(size - 1) & 0x000fffffffffffffULL;
            *gpa = addr | (gva & (size - 1));
            return 0;
        }
        table = addr;
    }
    return -1;
}

/* mode 0: from guest, 1: to guest, 2: clear guest. */
static long hvm_copy(void *buf, unsigned long gva, size_t n, int mode)
{
    struct vcpu *v = current_vcpu();
    uint8_t *b = buf;
    while (n) {
        uint64_t gpa;
        if (gva_to_gpa(v, gva, mode != 0, &gpa))
            return -XEN_EFAULT;
        /* A write needs a writable p2m leaf (not a read-only grant). */
        uint64_t mfn = mode ? hvm_p2m_lookup_write(v->domain, gpa >> PAGE_SHIFT)
                            : hvm_p2m_lookup(v->domain, gpa >> PAGE_SHIFT);
        if (mfn == ~0ULL)
            return -XEN_EFAULT;
        size_t off = gpa & (PAGE_SIZE - 1);
        size_t c = MIN(n, PAGE_SIZE - off);
        uint8_t *p = (uint8_t *)pfn_to_virt(mfn) + off;
        if (mode == 0)
            memcpy(b, p, c);
        else if (mode == 1)
            memcpy(p, b, c);
        else
            memset(p, 0, c);
        if (b)
            b += c;
        gva += c;
        n -= c;
    }
    return 0;
}

int hvm_gva_to_gpa(struct vcpu *v, uint64_t gva, bool write, uint64_t *gpa)
{
    return gva_to_gpa(v, gva, write, gpa);
}

long hvm_copy_from_guest(void *dst, unsigned long src, size_t n)
{
    return hvm_copy(dst, src, n, 0);
}

long hvm_copy_to_guest(unsigned long dst, const void *src, size_t n)
{
    return hvm_copy((void *)src, dst, n, 1);
}

long hvm_clear_guest(unsigned long dst, size_t n)
{
    return hvm_copy(NULL, dst, n, 2);
}

uint64_t hvm_guest_cr4(struct vcpu *v)
{
    return vmcb_rd(v->arch.hvm.vmcb, VMCB_CR4);
}

/* ---- instruction lengths ---------------------------------------------- */

/*
 * QEMU's TCG gives no next RIP (no NRIP-save): the length of the
 * intercepted instruction at RIP is its legacy and REX prefixes, then the
 * opcode bytes the exit implies (op, n).  0 if the bytes there cannot be
 * read or are not that instruction (code changed under the exit).
 */
static unsigned insn_len(struct vcpu *v, const struct cpu_user_regs *r, const uint8_t *op,
                         unsigned n)
{
    const uint8_t *vmcb = v->arch.hvm.vmcb;
    uint16_t cs_attr;
    memcpy(&cs_attr, vmcb + VMCB_CS + 2, 2);
    bool lm64 = (vmcb_rd(vmcb, VMCB_EFER) & EFER_LMA) && (cs_attr & (1u << 9));
    if ((vmcb_rd(vmcb, VMCB_CR0) & CR0_PG) && !(vmcb_rd(vmcb, VMCB_EFER) & EFER_LMA))
        return n;            /* 32-bit paging is not walked yet: the bare opcode's length */
    uint64_t lin = lm64 ? r->rip : (vmcb_rd(vmcb, VMCB_CS + 8) + r->rip) & 0xffffffffULL;
    uint8_t b[15];
    unsigned have = 0;
    while (have < sizeof(b)) {
        unsigned c = (unsigned)MIN(sizeof(b) - have, PAGE_SIZE - ((lin + have) & (PAGE_SIZE - 1)));
        if (hvm_copy_from_guest(b + have, lin + have, c))
            break;
        have += c;
    }
    unsigned i = 0;
    while (i < have && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 || b[i] == 0xf3 ||
                        b[i] == 0x2e || b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 ||
                        b[i] == 0x64 || b[i] == 0x65 || b[i] == 0xf0))
        i++;
    if (lm64 && i < have && (b[i] & 0xf0) == 0x40)
        i++;
    if (i + n > have || memcmp(b + i, op, n))
        return 0;
    return i + n;
}

/* Moves RIP past the intercepted instruction; false (the guest crashed)
 * if it is not there. */
static bool skip_insn(struct vcpu *v, struct cpu_user_regs *r, const char *name,
                      const uint8_t *op, unsigned n)
{
    unsigned len = insn_len(v, r, op, n);
    if (!len) {
        domain_crash(v->domain, "%s exit, but no %s at rip %lx (unreadable or changed)",
                     name, name, (unsigned long)r->rip);
        return false;
    }
    r->rip += len;
    return true;
}

static const uint8_t OP_CPUID[] = { 0x0f, 0xa2 }, OP_RDMSR[] = { 0x0f, 0x32 },
                     OP_WRMSR[] = { 0x0f, 0x30 }, OP_HLT[] = { 0xf4 },
                     OP_VMMCALL[] = { 0x0f, 0x01, 0xd9 }, OP_XSETBV[] = { 0x0f, 0x01, 0xd1 };

/* ---- events into the guest ------------------------------------------ */

static void inject_gp(uint8_t *vmcb)
{
    vmcb_wr(vmcb, VMCB_EVENTINJ, 13 | EVENTINJ_EXC | EVENTINJ_EV | EVENTINJ_V);
}

/* ---- hypercalls ------------------------------------------------------ */

/*
 * The HVM hypercall page, as Xen fills it for an AMD guest: entry nr at
 * nr * 32 is "mov $nr, %eax; vmmcall; ret"; __HYPERVISOR_iret (a PV
 * call) is ud2.
 */
static void hvm_hypercall_page_fill(uint8_t *p)
{
    memset(p, 0xcc, PAGE_SIZE);
    for (unsigned nr = 0; nr < PAGE_SIZE / 32; nr++) {
        uint8_t *e = p + nr * 32;
        if (nr == __HYPERVISOR_iret) {
            e[0] = 0x0f; e[1] = 0x0b;
            continue;
        }
        e[0] = 0xb8;
        e[1] = (uint8_t)nr; e[2] = 0; e[3] = 0; e[4] = 0;
        e[5] = 0x0f; e[6] = 0x01; e[7] = 0xd9;
        e[8] = 0xc3;
    }
}

/* ---- hvm_op: HVM params --------------------------------------------- */

_Static_assert(HVM_NR_PARAMS == sizeof(((struct hvm_domain *)0)->params) / sizeof(uint64_t),
               "hvm_domain.params is HVM_NR_PARAMS long");

/*
 * HVMOP_set_param / HVMOP_get_param on itself (DOMID_SELF or its own id;
 * another domain is -EPERM: there is no device model to ask for it).  As
 * Xen: an index past HVM_NR_PARAMS is -EINVAL; the guest may set only
 * the callback (HVM_PARAM_CALLBACK_IRQ); the xenstore and console pages
 * and channels the builder sets, and every other param, are -EPERM to
 * set.  The callback is the "vector" type (vectors 0x10..0xff) or, for a
 * type=hvm domain (which has an I/O APIC), a GSI of the I/O APIC's PCI
 * pins (16-47) or a PCI INTx line (segment and bus 0, any devfn, INTA-D:
 * its GSI by the _PRT mapping); 0 turns it off; anything else is
 * -EINVAL.  Delivery: hvm_inject_callback, hvm_callback_level.
 */
static long hvm_op_param(struct vcpu *v, unsigned long op, unsigned long arg)
{
    struct xen_hvm_param p;
    if (hvm_copy_from_guest(&p, arg, sizeof(p)))
        return -XEN_EFAULT;
    struct domain *d = v->domain;
    if (p.domid != DOMID_SELF && p.domid != d->id)
        return -XEN_EPERM;
    if (p.index >= HVM_NR_PARAMS)
        return -XEN_EINVAL;
    if (op == HVMOP_get_param) {
        p.value = __atomic_load_n(&d->arch.hvm.params[p.index], __ATOMIC_ACQUIRE);
        if (hvm_copy_to_guest(arg, &p, sizeof(p)))
            return -XEN_EFAULT;
        return 0;
    }
    if (p.index != HVM_PARAM_CALLBACK_IRQ)
        return -XEN_EPERM;
    if (p.value != 0) {
        uint64_t type = p.value >> 56, via = p.value & ((1ULL << 56) - 1);
        if (type == HVM_PARAM_CALLBACK_TYPE_VECTOR) {
            if (via > 0xff || via < 0x10)
                return -XEN_EINVAL;
        } else if (type == HVM_PARAM_CALLBACK_TYPE_GSI && d->arch.hvm.firmware) {
            if (via < 16 || via >= 48)
                return -XEN_EINVAL;       /* the I/O APIC's PCI pins; not an ISA line */
        } else if (type == HVM_PARAM_CALLBACK_TYPE_PCI_INTX && d->arch.hvm.firmware) {
            if (via & ~0xff03ULL)
                return -XEN_EINVAL;       /* segment 0, bus 0, devfn, INTA-INTD */
        } else {
            return -XEN_EINVAL;
        }
    }
    __atomic_store_n(&d->arch.hvm.params[p.index], p.value, __ATOMIC_RELEASE);
    return 0;
}

/*
 * HVMOP_set_evtchn_upcall_vector: this vCPU's own callback vector, used
 * before the domain's HVM_PARAM_CALLBACK_IRQ, as Xen: below 0x10
 * -EINVAL, a vCPU it does not have -ENOENT.
 */
static long hvm_op_upcall_vector(struct vcpu *v, unsigned long arg)
{
    struct xen_hvm_evtchn_upcall_vector u;
    if (hvm_copy_from_guest(&u, arg, sizeof(u)))
        return -XEN_EFAULT;
    if (u.vector < 0x10)
        return -XEN_EINVAL;
    struct domain *d = v->domain;
    if (u.vcpu >= d->nr_vcpus || !d->vcpu[u.vcpu])
        return -XEN_ENOENT;
    __atomic_store_n(&d->vcpu[u.vcpu]->arch.hvm.upcall_vector, u.vector, __ATOMIC_RELEASE);
    return 0;
}

/*
 * Before each VMRUN: while its event upcall is pending and it has a
 * vector (its own from HVMOP_set_evtchn_upcall_vector, else for vCPU 0
 * the domain's "vector" callback), the callback is asserted, as Xen's
 * is while evtchn_upcall_pending is set.  As Xen's
 * svm_intr_assist: if the guest can take it now (IF set, no interrupt
 * shadow, no other event being injected) it is injected as an external
 * interrupt (EVENTINJ); otherwise a V_IRQ with the VINTR intercept asks
 * for an exit as soon as it can, and the next VMRUN decides again (so a
 * callback whose upcall the guest cleared meanwhile never comes late).
 */
bool hvm_intr_ready(struct vcpu *v)
{
    const uint8_t *vmcb = v->arch.hvm.vmcb;
    return (v->arch.regs->rflags & (1u << 9)) && !(vmcb_rd(vmcb, VMCB_INT_SHADOW) & 1) &&
           !(vmcb_rd(vmcb, VMCB_EVENTINJ) & EVENTINJ_V);
}

void hvm_intr_window(struct vcpu *v)
{
    uint8_t *vmcb = v->arch.hvm.vmcb;
    vmcb_wr(vmcb, VMCB_VINTR,
            vmcb_rd(vmcb, VMCB_VINTR) | VINTR_V_IRQ | VINTR_PRIO_MASK | VINTR_IGN_TPR);
    vmcb_wr32(vmcb, VMCB_MISC1_INTERCEPTS,
              vmcb_rd32(vmcb, VMCB_MISC1_INTERCEPTS) | ICPT_VINTR);
}

/* The line of a callback via a GSI or PCI INTx (a type=hvm domain's, as
 * Xen's HVMIRQ_callback_gsi and _pci_intx): asserted while vCPU 0's
 * evtchn_upcall_pending is set, looked at before each VMRUN of vCPU 0 and
 * at an EOI of a level-triggered vector (so the handled upcall's line has
 * fallen before the I/O APIC looks at it again).  A new callback first
 * lets the old line go.  Only vCPU 0 runs this (one vCPU). */
static void cb_line(struct domain *d, uint64_t cb, bool level)
{
    if ((cb >> 56) == HVM_PARAM_CALLBACK_TYPE_GSI)
        vioapic_gsi_level(d, (unsigned)(cb & 0xff), level);
    else if ((cb >> 56) == HVM_PARAM_CALLBACK_TYPE_PCI_INTX)
        vioapic_pci_intx(d, (unsigned)(cb >> 11) & 31, (unsigned)cb & 3, level);
}

void hvm_callback_level(struct domain *d)
{
    struct hvm_domain *h = &d->arch.hvm;
    if (!h->firmware || !d->vcpu[0])
        return;
    uint64_t cb = __atomic_load_n(&h->params[HVM_PARAM_CALLBACK_IRQ], __ATOMIC_ACQUIRE);
    if (cb != h->cb_via) {
        if (h->cb_asserted)
            cb_line(d, h->cb_via, false);
        h->cb_asserted = false;
        h->cb_via = cb;
    }
    if (!cb || (cb >> 56) == HVM_PARAM_CALLBACK_TYPE_VECTOR)
        return;
    bool want = __atomic_load_n(&d->vcpu[0]->vcpu_info->evtchn_upcall_pending, __ATOMIC_ACQUIRE);
    if (want != h->cb_asserted) {
        h->cb_asserted = want;
        cb_line(d, cb, want);
    }
}

void hvm_inject_callback(struct vcpu *v)
{
    if (v->id == 0)
        hvm_callback_level(v->domain);
    uint8_t *vmcb = v->arch.hvm.vmcb;
    uint64_t cb = __atomic_load_n(&v->domain->arch.hvm.params[HVM_PARAM_CALLBACK_IRQ],
                                  __ATOMIC_ACQUIRE);
    uint64_t vintr = vmcb_rd(vmcb, VMCB_VINTR);
    uint32_t misc1 = vmcb_rd32(vmcb, VMCB_MISC1_INTERCEPTS);
    vintr &= ~(VINTR_V_IRQ | VINTR_PRIO_MASK | VINTR_IGN_TPR | VINTR_VECTOR_MASK);
    misc1 &= ~ICPT_VINTR;
    uint8_t vec = __atomic_load_n(&v->arch.hvm.upcall_vector, __ATOMIC_ACQUIRE);
    if (!vec && v->id == 0 && (cb >> 56) == HVM_PARAM_CALLBACK_TYPE_VECTOR)
        vec = (uint8_t)cb;
    if (vec && __atomic_load_n(&v->vcpu_info->evtchn_upcall_pending, __ATOMIC_ACQUIRE)) {
        if (hvm_intr_ready(v)) {
            vmcb_wr(vmcb, VMCB_EVENTINJ, vec | EVENTINJ_V);  /* type 0: INTR */
        } else {
            vintr |= VINTR_V_IRQ | VINTR_PRIO_MASK | VINTR_IGN_TPR;
            misc1 |= ICPT_VINTR;
        }
    }
    vmcb_wr(vmcb, VMCB_VINTR, vintr);
    vmcb_wr32(vmcb, VMCB_MISC1_INTERCEPTS, misc1);
}

/*
 * XCR0 is not in the VMCB: on hardware a guest's XSETBV exits
 * (ICPT_XSETBV, VMEXIT_XSETBV below), but QEMU's TCG does not check that
 * intercept and runs the instruction, so the hardware's XCR0 becomes the
 * guest's with no exit.  After every exit (svm_loop, host interrupts
 * still off) a value other than the one this pCPU was given is taken as
 * that XSETBV, with the same checks (the CPU has refused what it cannot
 * hold): adopted as the vCPU's, which the switch code saves and loads
 * (arch_switch.h); one the CPUID policy does not offer crashes the
 * domain, the hardware's value put back.  Without it a vCPU moved to the
 * other pCPU ran with that pCPU's XCR0 (AVX instructions #UD).
 */
void hvm_xcr0_sync(struct vcpu *v)
{
    if (!xstate_on)
        return;
    uint64_t x = xgetbv0();
    struct pcpu *pc = this_cpu();
    if (x == pc->xcr0 || guest_xsetbv(v, 0, x))
        return;
    xsetbv0(pc->xcr0);
    domain_crash(v->domain, "XCR0 %lx set without an exit: not in its CPUID policy",
                 (unsigned long)x);
}

/*
 * memory_op for a PVH guest: XENMEM_add_to_physmap of its shared_info
 * (idx 0) or its grant-table frames at a GFN of its RAM or above it
 * (hv/hvm/p2m.c), on itself only (another domain -EPERM); a bad idx or
 * gfn -EINVAL; other spaces -EOPNOTSUPP; other sub-ops -ENOSYS.
 */
static long hvm_memory_op(struct vcpu *v, unsigned long cmd, unsigned long arg)
{
    if (cmd != XENMEM_add_to_physmap)
        return -XEN_ENOSYS;
    struct xen_add_to_physmap x;
    if (hvm_copy_from_guest(&x, arg, sizeof(x)))
        return -XEN_EFAULT;
    struct domain *d = v->domain;
    if (x.domid != DOMID_SELF && x.domid != d->id)
        return -XEN_EPERM;
    if (x.space == XENMAPSPACE_grant_table) {
        /* Shared frames up to the table's max, or (v2) its status
         * frames (docs/hvm.md). */
        uint64_t mfn;
        if (x.gpfn >= d->arch.hvm.gfn_limit)
            return -XEN_EINVAL;      /* before the table grows */
        if (x.idx & XENMAPIDX_grant_table_status) {
            /* A v2 status frame, read-only in the p2m. */
            unsigned sidx = (unsigned)(x.idx & ~(xen_ulong_t)XENMAPIDX_grant_table_status);
            if (x.idx >> 32 || sidx >= HVM_GT_STATUS_FRAMES)
                return -XEN_EINVAL;
            long rc = grant_table_status_frame(d, sidx, &mfn);
            return rc ? rc : hvm_p2m_map_status_frame(d, sidx, x.gpfn, mfn);
        }
        if (x.idx >= HVM_GT_FRAMES)
            return -XEN_EINVAL;
        long rc = grant_table_frame(d, (unsigned)x.idx, &mfn);
        return rc ? rc : hvm_p2m_map_grant_frame(d, (unsigned)x.idx, x.gpfn, mfn);
    }
    if (x.space != XENMAPSPACE_shared_info)
        return -XEN_EOPNOTSUPP;
    if (x.idx != 0)
        return -XEN_EINVAL;
    return hvm_p2m_map_shared_info(d, x.gpfn);
}

/*
 * grant_table_op for a PVH guest (docs/hvm.md): the common code, whose
 * frame numbers are GFNs for a translated domain (setup_table gives where
 * each frame is mapped, copy's gmfn and the grants' frames go through
 * the p2m); map_grant_ref puts the grant into its own p2m at host_addr,
 * a guest physical address (grant_table.c's pvh_map_grant);
 * get_status_frames gives the GFNs its v2 status frames are mapped at.  A continuation (copy batches) keeps the same command.
 */
static long hvm_grant_table_op(unsigned long cmd, unsigned long arg, unsigned long count)
{
    switch (cmd) {
    case GNTTABOP_setup_table:
    case GNTTABOP_query_size:
    case GNTTABOP_copy:
    case GNTTABOP_set_version:
    case GNTTABOP_get_version:
    case GNTTABOP_map_grant_ref:
    case GNTTABOP_unmap_grant_ref:
    case GNTTABOP_unmap_and_replace:
    case GNTTABOP_get_status_frames:
        return hypercall_call(__HYPERVISOR_grant_table_op, cmd, arg, count, 0, 0);
    default:
        return -XEN_ENOSYS;
    }
}

/* The calls an HVM/PVH guest has so far (docs/hvm.md); the rest
 * -ENOSYS.  Sub-operations that name PV state are refused here too. */
static long hvm_hypercall_call(struct vcpu *v, unsigned long nr, unsigned long a1,
                               unsigned long a2, unsigned long a3, unsigned long a4,
                               unsigned long a5)
{
    switch (nr) {
    case __HYPERVISOR_console_io:
    case __HYPERVISOR_xen_version:
        break;
    case __HYPERVISOR_sched_op:
        if (a1 != SCHEDOP_yield && a1 != SCHEDOP_block && a1 != SCHEDOP_shutdown &&
            a1 != SCHEDOP_poll)
            return -XEN_ENOSYS;
        break;
    case __HYPERVISOR_vcpu_op:
        if (a1 == VCPUOP_register_vcpu_info)
            return hvm_register_vcpu_info(v, a2, a3);
        if (a1 != VCPUOP_register_runstate_memory_area &&
            a1 != VCPUOP_register_vcpu_time_memory_area && a1 != VCPUOP_set_periodic_timer && a1 != VCPUOP_stop_periodic_timer &&
            a1 != VCPUOP_set_singleshot_timer && a1 != VCPUOP_stop_singleshot_timer &&
            a1 != VCPUOP_is_up)
            return -XEN_ENOSYS;
        break;
    case __HYPERVISOR_memory_op:
        return hvm_memory_op(v, a1, a2);
    case __HYPERVISOR_hvm_op:
        if (a1 == HVMOP_set_param || a1 == HVMOP_get_param)
            return hvm_op_param(v, a1, a2);
        if (a1 == HVMOP_set_evtchn_upcall_vector)
            return hvm_op_upcall_vector(v, a2);
        return -XEN_ENOSYS;
    case __HYPERVISOR_grant_table_op:
        return hvm_grant_table_op(a1, a2, a3);
    case __HYPERVISOR_event_channel_op:
        if (a1 != EVTCHNOP_bind_virq && a1 != EVTCHNOP_close && a1 != EVTCHNOP_send &&
            a1 != EVTCHNOP_status && a1 != EVTCHNOP_alloc_unbound &&
            a1 != EVTCHNOP_bind_interdomain && a1 != EVTCHNOP_unmask &&
            a1 != EVTCHNOP_init_control && a1 != EVTCHNOP_expand_array &&
            a1 != EVTCHNOP_set_priority && a1 != EVTCHNOP_bind_ipi &&
            a1 != EVTCHNOP_bind_vcpu)
            return -XEN_ENOSYS;
        break;
    default:
        return -XEN_ENOSYS;
    }
    (void)v;
    return hypercall_call(nr, a1, a2, a3, a4, a5);
}

static void hvm_hypercall(struct vcpu *v, struct cpu_user_regs *r)
{
    uint8_t *vmcb = v->arch.hvm.vmcb;
    if (!skip_insn(v, r, "VMMCALL", OP_VMMCALL, sizeof(OP_VMMCALL)))
        return;
    if (vmcb[VMCB_CPL] != 0) {                      /* as Xen: kernel only */
        r->rax = (unsigned long)-XEN_EPERM;
        return;
    }
    uint16_t cs_attr;
    memcpy(&cs_attr, vmcb + VMCB_CS + 2, 2);
    if (!(vmcb_rd(vmcb, VMCB_EFER) & EFER_LMA) || !(cs_attr & (1u << 9))) {
        /* 32-bit callers (compat structures): a later slice. */
        r->rax = (unsigned long)-XEN_ENOSYS;
        return;
    }
    r->rax = (unsigned long)hvm_hypercall_call(v, r->rax, r->rdi, r->rsi, r->rdx, r->r10,
                                               r->r8);
}

/* ---- MSRs ------------------------------------------------------------ */

static bool pat_ok(uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        uint8_t t = (uint8_t)(v >> (i * 8));
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

/* The per-domain MSR policy (every PVH domain has this one so far): true
 * if the access is allowed, with *val read or written. */
/*
 * The MTRRs (Intel SDM vol. 3 11.11, as AMD has them), which CPUID 1
 * offers: IA32_MTRRCAP (8 variable ranges, fixed ranges, WC), the default
 * type, the 11 fixed-range registers and 8 base/mask pairs, kept per vCPU
 * with the CPU's #GP checks (a type other than UC, WC, WT, WP, WB, a
 * reserved bit, an address bit past the physical width).  With nested
 * paging the guest's MTRRs decide nothing (its memory is write-back in
 * the p2m, its PAT rules), as Xen keeps them for an AMD HVM guest;
 * firmware (SeaBIOS's mtrr_setup) and kernels read and write them.
 */
#define MSR_MTRRCAP     0xfe
#define MSR_MTRR_BASE0  0x200
#define MSR_MTRR_DEF    0x2ff
#define MTRR_CAP_VALUE  ((1u << 10) | (1u << 8) | 8)   /* WC, FIX, VCNT 8 */
static const uint32_t mtrr_fixed_msr[11] = {
    0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f };

static bool mtrr_type_ok(unsigned t)
{
    return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

static int mtrr_fixed_index(uint32_t msr)
{
    for (int i = 0; i < 11; i++)
        if (mtrr_fixed_msr[i] == msr)
            return i;
    return -1;
}

static uint64_t phys_addr_mask(void)
{
    uint32_t a, b, c, x;
    cpuid(0x80000008, 0, &a, &b, &c, &x);
    unsigned width = a & 0xff;
    if (width < 32 || width > 52)
        width = 36;
    return ((1ULL << width) - 1) & ~0xfffULL;
}

static bool mtrr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
    struct hvm_mtrr *m = &v->arch.hvm.mtrr;
    int f = mtrr_fixed_index(msr);
    if (msr == MSR_MTRRCAP)
        *val = MTRR_CAP_VALUE;
    else if (msr == MSR_MTRR_DEF)
        *val = m->def;
    else if (f >= 0)
        *val = m->fixed[f];
    else if (msr >= MSR_MTRR_BASE0 && msr < MSR_MTRR_BASE0 + 16)
        *val = m->var[msr - MSR_MTRR_BASE0];
    else
        return false;
    return true;
}

static bool mtrr_set(struct hvm_mtrr *m, uint32_t msr, uint64_t val)
{
    int f = mtrr_fixed_index(msr);
    if (msr == MSR_MTRR_DEF) {
        if ((val & ~0xcffULL) || !mtrr_type_ok(val & 0xff))
            return false;                              /* E (11), FE (10), type */
        m->def = val;
    } else if (f >= 0) {
        for (unsigned i = 0; i < 8; i++)
            if (!mtrr_type_ok((val >> (8 * i)) & 0xff))
                return false;
        m->fixed[f] = val;
    } else if (msr >= MSR_MTRR_BASE0 && msr < MSR_MTRR_BASE0 + 16) {
        bool base = !((msr - MSR_MTRR_BASE0) & 1);
        uint64_t keep = phys_addr_mask() | (base ? 0xff : 0x800);
        if ((val & ~keep) || (base && !mtrr_type_ok(val & 0xff)))
            return false;
        m->var[msr - MSR_MTRR_BASE0] = val;
    } else {
        return false;                                  /* MTRRCAP is read-only */
    }
    return true;
}

static bool mtrr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
    return mtrr_set(&v->arch.hvm.mtrr, msr, val);
}


/* An MTRR save record (Xen's hvm_hw_mtrr) for v: checked as the guest's
 * own WRMSRs are (and its MTRRCAP's variable-range count and fixed-range
 * bit as this one's, as Xen's hvm_load_mtrr_msr), then loaded with PAT if
 * load; -EINVAL and nothing changed if any value is refused. */
long hvm_mtrr_record(struct vcpu *v, const struct hvm_hw_mtrr *r, bool load)
{
    if ((r->msr_mtrr_cap ^ MTRR_CAP_VALUE) & 0x1ff)
        return -XEN_EINVAL;
    if (!pat_ok(r->msr_pat_cr))
        return -XEN_EINVAL;
    struct hvm_mtrr m = v->arch.hvm.mtrr;
    bool ok = mtrr_set(&m, MSR_MTRR_DEF, r->msr_mtrr_def_type);
    for (unsigned i = 0; i < 11 && ok; i++)
        ok = mtrr_set(&m, mtrr_fixed_msr[i], r->msr_mtrr_fixed[i]);
    for (unsigned i = 0; i < 16 && ok; i++)
        ok = mtrr_set(&m, MSR_MTRR_BASE0 + i, r->msr_mtrr_var[i]);
    if (!ok)
        return -XEN_EINVAL;
    if (load) {
        v->arch.hvm.mtrr = m;
        vmcb_wr(v->arch.hvm.vmcb, VMCB_G_PAT, r->msr_pat_cr);
    }
    return 0;
}

void hvm_mtrr_save(struct vcpu *v, struct hvm_hw_mtrr *r)
{
    const struct hvm_mtrr *m = &v->arch.hvm.mtrr;
    memset(r, 0, sizeof(*r));
    r->msr_pat_cr = vmcb_rd(v->arch.hvm.vmcb, VMCB_G_PAT);
    memcpy(r->msr_mtrr_var, m->var, sizeof(r->msr_mtrr_var));
    memcpy(r->msr_mtrr_fixed, m->fixed, sizeof(r->msr_mtrr_fixed));
    r->msr_mtrr_cap = MTRR_CAP_VALUE;
    r->msr_mtrr_def_type = m->def;
}

static bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
    uint8_t *vmcb = v->arch.hvm.vmcb;
    switch (msr) {
    case MSR_EFER:
        *val = vmcb_rd(vmcb, VMCB_EFER) & ~EFER_SVME;
        return true;
    case MSR_PAT:
        *val = vmcb_rd(vmcb, VMCB_G_PAT);
        return true;
    case MSR_TSC:
        *val = rdtsc() + vmcb_rd(vmcb, VMCB_TSC_OFFSET);
        return true;
    default:
        if (mtrr_read(v, msr, val))
            return true;
        return (msr == MSR_APIC_BASE || (msr >= 0x800 && msr <= 0x8ff)) &&
               vlapic_msr_read(v, msr, val);
    }
}

static bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
    uint8_t *vmcb = v->arch.hvm.vmcb;
    struct domain *d = v->domain;
    switch (msr) {
    case MSR_EFER: {
        uint64_t old = vmcb_rd(vmcb, VMCB_EFER);
        uint32_t a, b, c, dx;
        cpuid(0x80000001, 0, &a, &b, &c, &dx);
        uint64_t allowed = EFER_SCE | EFER_LME | EFER_LMA | ((dx >> 20) & 1 ? EFER_NXE : 0);
        if (val & ~allowed)
            return false;
        /* LME may not change while paging is on (as the CPU's #GP). */
        if (((val ^ old) & EFER_LME) && (vmcb_rd(vmcb, VMCB_CR0) & CR0_PG))
            return false;
        vmcb_wr(vmcb, VMCB_EFER, (val & ~EFER_LMA) | (old & EFER_LMA) | EFER_SVME);
        return true;
    }
    case MSR_PAT:
        if (!pat_ok(val))
            return false;
        vmcb_wr(vmcb, VMCB_G_PAT, val);
        return true;
    case MSR_XEN_HYPERCALL: {
        /* As Xen: the low 12 bits are the page index (one page: 0), the
         * rest the guest frame, which must be its RAM (not shared_info,
         * a grant frame or a grant mapped there, which may be read-only). */
        if (val & 0xfff)
            return false;
        uint64_t mfn = hvm_p2m_ram(d, val >> PAGE_SHIFT);
        if (mfn == ~0ULL)
            return false;
        hvm_hypercall_page_fill(pfn_to_virt(mfn));
        return true;
    }
    default:
        if (msr == MSR_MTRRCAP || msr == MSR_MTRR_DEF || mtrr_fixed_index(msr) >= 0 ||
            (msr >= MSR_MTRR_BASE0 && msr < MSR_MTRR_BASE0 + 16))
            return mtrr_write(v, msr, val);
        return (msr == MSR_APIC_BASE || (msr >= 0x800 && msr <= 0x8ff)) &&
               vlapic_msr_write(v, msr, val);
    }
}

/* ---- port I/O -------------------------------------------------------- */

/* Port 0xe9, Xen's hvm_print_line: printable bytes up to a newline (or a
 * full buffer), then one log line "(dN) ..."; other bytes are skipped, as
 * Xen skips what is not console-printable.  A wider OUT is its bytes in
 * order. */
static void print_byte(struct domain *d, char c)
{
    struct hvm_domain *h = &d->arch.hvm;
    if (c != '\n') {
        if ((c >= ' ' && c < 0x7f) || c == '\t')
            h->dbg_line[h->dbg_len++] = c;
        if (h->dbg_len < sizeof(h->dbg_line) - 1)
            return;                                  /* full: the line ends here */
    }
    h->dbg_line[h->dbg_len] = 0;
    /* Rate-limited with its console_io (a port storm fills no log). */
    if (console_guest_line_allowed(d, h->dbg_len + 1))
        printk("(d%u) %s\n", d->id, h->dbg_line);
    else if (!__atomic_exchange_n(&d->con_drop_noted, true, __ATOMIC_RELAXED))
        printk("d%u (%s): console output rate-limited, dropping\n", d->id, d->name);
    h->dbg_len = 0;
}

/* A port read with no device model: all ones, as Xen's null handler. */
uint32_t hvm_port_in(struct vcpu *v, unsigned port, unsigned size)
{
    (void)v;
    (void)port;
    return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

/* A port write: 0xe9 is the debug console, others are dropped as Xen's
 * null handler does. */
void hvm_port_out(struct vcpu *v, unsigned port, unsigned size, uint32_t val)
{
    if (port == 0xe9)
        for (unsigned i = 0; i < size; i++)
            print_byte(v->domain, (char)(val >> (8 * i)));
}

static void ioio(struct vcpu *v, struct cpu_user_regs *r)
{
    uint8_t *vmcb = v->arch.hvm.vmcb;
    uint64_t info = vmcb_rd(vmcb, VMCB_EXITINFO1);
    uint64_t next = vmcb_rd(vmcb, VMCB_EXITINFO2);
    unsigned port = (unsigned)(info >> 16) & 0xffff;
    unsigned size = (info & (1u << 4)) ? 1 : (info & (1u << 5)) ? 2 : 4;
    bool in = info & 1;
    if (next <= r->rip || next - r->rip > 15) {
        domain_crash(v->domain, "I/O exit with a next RIP %lx not after RIP %lx",
                     (unsigned long)next, (unsigned long)r->rip);
        return;
    }
    if (info & (1u << 2)) {
        /* INS/OUTS: the instruction emulator (mmio.c). */
        hvm_emulate_insn(v, r, in ? "ins" : "outs");
        return;
    }
    /* The hypervisor's own devices first (the RTC of a type=hvm domain),
     * then a port an ioreq server claims: its device model answers
     * (ioreq.c); the vCPU goes on at `next` once it has. */
    uint32_t hv_val = (uint32_t)r->rax;
    if (hvm_hv_port(v, port, size, in, &hv_val)) {
        if (in && size == 4)
            r->rax = hv_val;                          /* 32-bit writes zero-extend */
        else if (in)
            r->rax = (r->rax & ~((1ULL << (size * 8)) - 1)) | (hv_val & ((1u << (size * 8)) - 1));
        r->rip = next;
        return;
    }
    if (port != 0xe9 && hvm_ioreq_pio(v, port, size, in, (uint32_t)r->rax, next))
        return;
    if (in) {
        uint64_t mask = size == 4 ? 0xffffffffULL : (1ULL << (size * 8)) - 1;
        uint32_t val = hvm_port_in(v, port, size);
        if (size == 4)
            r->rax = val;                             /* 32-bit writes zero-extend */
        else
            r->rax = (r->rax & ~mask) | val;
    } else {
        hvm_port_out(v, port, size, (uint32_t)r->rax);
    }
    r->rip = next;
}

/* ---- HLT ------------------------------------------------------------- */

static void hlt_exit(struct vcpu *v, struct cpu_user_regs *r)
{
    if (!skip_insn(v, r, "HLT", OP_HLT, sizeof(OP_HLT)))
        return;
    if (!(r->rflags & (1u << 9))) {
        /* As Xen's hvm_hlt: with interrupts off, the vCPU is down; when
         * every vCPU is, the domain powers off. */
        struct domain *d = v->domain;
        vcpu_take_down(v);
        for (unsigned i = 0; i < d->nr_vcpus; i++)
            if (d->vcpu[i] && !vcpu_down(d->vcpu[i]))
                return;
        printk("d%u (%s): every vCPU halted with interrupts off: powering off, as Xen\n",
               d->id, d->name);
        domain_shutdown(d, SHUTDOWN_poweroff);
        return;
    }
    /* No LAPIC or callback vector yet: it sleeps until an event upcall is
     * pending (as SCHEDOP_block: blocked first, then the flag looked at). */
    if (vlapic_pending(v) >= 0 || hvm_isa_pending(v))
        return;                                      /* a LAPIC or PIC interrupt: at once */
    sched_block(v);
    if (__atomic_load_n(&v->vcpu_info->evtchn_upcall_pending, __ATOMIC_SEQ_CST) ||
        vlapic_pending(v) >= 0 || hvm_isa_pending(v))
        vcpu_wake(v);
}

/* ---- the dispatch ---------------------------------------------------- */

void hvm_exit(struct vcpu *v, struct cpu_user_regs *r)
{
    uint8_t *vmcb = v->arch.hvm.vmcb;
    struct domain *d = v->domain;
    uint64_t code = vmcb_rd(vmcb, VMCB_EXITCODE);
    uint64_t i1 = vmcb_rd(vmcb, VMCB_EXITINFO1), i2 = vmcb_rd(vmcb, VMCB_EXITINFO2);
    /* An event the exit interrupted is delivered again at the next VMRUN. */
    uint64_t ii = vmcb_rd(vmcb, VMCB_EXITINTINFO);
    vmcb_wr(vmcb, VMCB_EVENTINJ, (ii & EVENTINJ_V) ? ii : 0);
    switch (code) {
    case VMEXIT_INTR:
    case VMEXIT_NMI:
    case VMEXIT_SMI:
    case VMEXIT_INIT:
        return;                                      /* the host's: taken after the exit */
    case VMEXIT_VINTR:
        return;                                      /* a window: hvm_inject_callback */
    case VMEXIT_CPUID: {
        uint32_t out[4];
        guest_cpuid(v, (uint32_t)r->rax, (uint32_t)r->rcx, out);
        if (!skip_insn(v, r, "CPUID", OP_CPUID, sizeof(OP_CPUID)))
            return;
        r->rax = out[0];
        r->rbx = out[1];
        r->rcx = out[2];
        r->rdx = out[3];
        return;
    }
    case VMEXIT_HLT:
        hlt_exit(v, r);
        return;
    case VMEXIT_VMMCALL:
        hvm_hypercall(v, r);
        return;
    case VMEXIT_MSR: {
        uint32_t msr = (uint32_t)r->rcx;
        if (!insn_len(v, r, i1 ? OP_WRMSR : OP_RDMSR, 2)) {
            domain_crash(d, "MSR exit, but no %s at rip %lx (unreadable or changed)",
                         i1 ? "WRMSR" : "RDMSR", (unsigned long)r->rip);
            return;
        }
        if (i1 == 0) {
            uint64_t val;
            if (!msr_read(v, msr, &val)) {
                inject_gp(vmcb);
                return;
            }
            r->rax = (uint32_t)val;
            r->rdx = val >> 32;
        } else if (!msr_write(v, msr, (r->rdx << 32) | (uint32_t)r->rax)) {
            inject_gp(vmcb);
            return;
        }
        r->rip += insn_len(v, r, i1 ? OP_WRMSR : OP_RDMSR, 2);
        return;
    }
    case VMEXIT_IOIO:
        ioio(v, r);
        return;
    case VMEXIT_XSETBV:
        /* The hardware XCR0 is switched per vCPU (arch_switch.h): the
         * policy's checks, from its kernel only. */
        if (vmcb[VMCB_CPL] != 0 ||
            !guest_xsetbv(v, (uint32_t)r->rcx, (r->rdx << 32) | (uint32_t)r->rax)) {
            inject_gp(vmcb);
            return;
        }
        skip_insn(v, r, "XSETBV", OP_XSETBV, sizeof(OP_XSETBV));
        return;
    case VMEXIT_NPF:
        hvm_npf(v, r, i1, i2);                       /* mmio.c */
        return;
    case VMEXIT_SHUTDOWN:
        if (d->arch.hvm.firmware) {
            /* A PC resets on a triple fault (firmware's last way to
             * reboot): as Xen's hvm_triple_fault, a reboot. */
            printk("d%u (%s): triple fault, rip %lx: a reset\n", d->id, d->name,
                   (unsigned long)r->rip);
            domain_shutdown(d, SHUTDOWN_reboot);
            return;
        }
        domain_crash(d, "triple fault (shutdown intercept), rip %lx", (unsigned long)r->rip);
        return;
    case VMEXIT_INVALID:
        domain_crash(d, "VMRUN refused its state (VMEXIT_INVALID), rip %lx",
                     (unsigned long)r->rip);
        return;
    default:
        domain_crash(d, "unhandled #VMEXIT %#lx (info %lx %lx), rip %lx",
                     (unsigned long)code, (unsigned long)i1, (unsigned long)i2,
                     (unsigned long)r->rip);
        return;
    }
}
