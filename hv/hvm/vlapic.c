/*
 * The local APIC of an HVM/PVH vCPU (docs/hvm.md, "Local APIC").  A PVH
 * vCPU's starts with IA32_APIC_BASE enabled and EXTD set, as firmware may
 * hand over a CPU already in x2APIC mode, and CPUID offers x2APIC (and
 * Xen's leaf 0x40000004 X2APIC_VIRT), so a Linux kernel finds it "enabled
 * by BIOS" and never touches the xAPIC page.  A type=hvm vCPU starts as a
 * PC's does after reset, in xAPIC mode: its registers are the page at
 * 0xfee00000 (MMIO, emulated here before any device model's range), until
 * the guest switches it to x2APIC mode through IA32_APIC_BASE.
 *
 * What is emulated, as Xen's vlapic.c for these registers: ID, version,
 * LDR (derived from the ID in x2APIC mode, as x2APIC defines it; written
 * by the guest with DFR in xAPIC mode), TPR, PPR, EOI, SVR, ISR/TMR/IRR,
 * ESR, the six LVTs, ICR and SELF_IPI for fixed interrupts to itself
 * (IRR -> ISR at injection, EOI clears the highest ISR bit; TMR marks the
 * I/O APIC's level-triggered vectors, whose EOI it is told), the divide
 * configuration; IA32_APIC_BASE's legal transitions (xAPIC to x2APIC,
 * either to disabled, disabled to xAPIC; others and a moved base #GP).
 * The timer, one-shot and periodic (no TSC-deadline mode: CPUID does not
 * offer it and its LVT bit is reserved), counts a 1 GHz bus clock (Xen's
 * APIC_BUS_CYCLE_NS) through the divide configuration: a write of the
 * initial count starts it (0 stops it), the current count is what is left
 * of the period, a new divide configuration keeps the current count (it
 * goes down at the new rate from there); at
 * expiry its vector goes to the IRR unless the LVT is masked, and a
 * periodic timer's missed periods make one interrupt (as Xen's
 * no-missed-ticks-pending mode).  Its expiry is the vCPU's HVM timer,
 * shared with the PIT of a type=hvm vCPU 0 (the earlier of the two wakes
 * it from HLT or makes it exit).
 * Refused: IPIs that are not fixed-mode to itself when they would reach
 * it (NMI, INIT, SIPI, lowest priority to itself: crash), reserved bits
 * and unknown registers (#GP in x2APIC mode, as the CPU; in xAPIC mode an
 * access that is not a 32-bit aligned register reads 0 and is dropped).
 * IPIs to other APIC IDs go nowhere: the domain has one vCPU.
 */
#include "lib.h"
#include "domain.h"
#include "hvm_internal.h"
#include "vmcb.h"
#include "hvm.h"
#include "x86.h"
#include "timer.h"
#include "sched.h"
#include "time.h"
#include <xen/arch-x86/cpuid.h>

#define APIC_BASE_ADDR   0xfee00000ULL
#define APIC_BASE_BSP    (1ULL << 8)
#define APIC_BASE_EXTD   (1ULL << 10)
#define APIC_BASE_EN     (1ULL << 11)
#define VLAPIC_VERSION   0x00050014u     /* as Xen: version 0x14, 6 LVTs */

/* x2APIC MSR index of each register (0x800 + MMIO offset / 16). */
enum {
    X2_ID = 0x802, X2_VER = 0x803, X2_TPR = 0x808, X2_PPR = 0x80a, X2_EOI = 0x80b,
    X2_LDR = 0x80d, X2_SVR = 0x80f, X2_ISR = 0x810, X2_TMR = 0x818, X2_IRR = 0x820,
    X2_ESR = 0x828, X2_ICR = 0x830, X2_LVTT = 0x832, X2_LVTTHMR = 0x833,
    X2_LVTPC = 0x834, X2_LVT0 = 0x835, X2_LVT1 = 0x836, X2_LVTERR = 0x837,
    X2_TMICT = 0x838, X2_TMCCT = 0x839, X2_TDCR = 0x83e, X2_SELF_IPI = 0x83f,
};

#define SVR_ENABLED      (1u << 8)
#define LVT_MASKED       (1u << 16)
#define LVT_PERIODIC     (1u << 17)

/* The writable bits of each LVT, as Xen's vlapic_lvt_mask. */
static const uint32_t lvt_mask[6] = {
    0x000310ff,    /* timer: vector, status, mask, mode (one-shot/periodic; no TSC deadline) */
    0x000117ff,    /* thermal: vector, delivery mode, status, mask */
    0x000117ff,    /* performance counters */
    0x0001f7ff,    /* LINT0: + polarity, remote IRR, trigger */
    0x0001f7ff,    /* LINT1 */
    0x000110ff,    /* error: vector, status, mask */
};

static struct hvm_vlapic *lapic(struct vcpu *v)
{
    return &v->arch.hvm.lapic;
}

static bool x2apic_mode(const struct hvm_vlapic *l)
{
    return (l->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD)) == (APIC_BASE_EN | APIC_BASE_EXTD);
}

static bool xapic_mode(const struct hvm_vlapic *l)
{
    return (l->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD)) == APIC_BASE_EN;
}

/* The x2APIC mode's LDR, of its ID. */
static uint32_t x2_ldr(const struct vcpu *v)
{
    return ((v->id & ~0xfu) << 12) | (1u << (v->id & 0xf));
}

void vlapic_reset(struct vcpu *v)
{
    struct hvm_vlapic *l = lapic(v);
    memset(l, 0, sizeof(*l));
    l->apic_base = APIC_BASE_ADDR | APIC_BASE_EN | (v->id == 0 ? APIC_BASE_BSP : 0);
    if (!v->domain->arch.hvm.firmware)
        l->apic_base |= APIC_BASE_EXTD;
    l->dfr = 0xffffffffu;
    for (unsigned i = 0; i < 6; i++)
        l->lvt[i] = LVT_MASKED;
    l->svr = 0xff;
}

static void timer_update(struct vcpu *v, uint64_t now);

static int highest_bit(const uint32_t bits[8])
{
    for (int w = 7; w >= 0; w--)
        if (bits[w])
            return w * 32 + 31 - __builtin_clz(bits[w]);
    return -1;
}

static uint32_t ppr(const struct hvm_vlapic *l)
{
    int isr = highest_bit(l->isr);
    uint32_t isrv = isr < 0 ? 0 : (uint32_t)isr;
    return (l->tpr & 0xf0) >= (isrv & 0xf0) ? l->tpr & 0xff : isrv & 0xf0;
}

/* The vector the vCPU would take now (IRR above PPR's class), or -1. */
int vlapic_pending(struct vcpu *v)
{
    struct hvm_vlapic *l = lapic(v);
    timer_update(v, now_ns());
    if (!(l->svr & SVR_ENABLED))
        return -1;
    int irr = highest_bit(l->irr);
    if (irr < 0 || ((uint32_t)irr & 0xf0) <= (ppr(l) & 0xf0))
        return -1;
    return irr;
}

/* The vector is being injected: from IRR to ISR. */
void vlapic_accept(struct vcpu *v, int vec)
{
    struct hvm_vlapic *l = lapic(v);
    __atomic_fetch_and(&l->irr[vec / 32], ~(1u << (vec % 32)), __ATOMIC_ACQ_REL);
    l->isr[vec / 32] |= 1u << (vec % 32);
}

/* A fixed interrupt to this vCPU: its IRR bit (atomically: the I/O APIC
 * sets it from other pCPUs too); vectors 0-15 are illegal (the
 * "received illegal vector" error, as the CPU). */
static void set_irr(struct vcpu *v, uint32_t vec)
{
    struct hvm_vlapic *l = lapic(v);
    if (vec < 16) {
        __atomic_fetch_or(&l->esr, 1u << 6, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_or(&l->irr[vec / 32], 1u << (vec % 32), __ATOMIC_ACQ_REL);
}

bool vlapic_match_dest(struct vcpu *v, uint8_t dest, bool logical)
{
    struct hvm_vlapic *l = lapic(v);
    if (!(l->apic_base & APIC_BASE_EN))
        return false;
    if (!logical)
        return dest == 0xff || dest == v->id;
    uint8_t ldr = x2apic_mode(l) ? (uint8_t)x2_ldr(v) : (uint8_t)(l->ldr >> 24);
    if (x2apic_mode(l) || (l->dfr >> 28) == 0xf)      /* flat */
        return (dest & ldr) != 0;
    return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);   /* cluster */
}

void vlapic_set_irq(struct vcpu *v, uint8_t vec, bool level)
{
    struct hvm_vlapic *l = lapic(v);
    if (level)
        __atomic_fetch_or(&l->tmr[vec / 32], 1u << (vec % 32), __ATOMIC_ACQ_REL);
    else
        __atomic_fetch_and(&l->tmr[vec / 32], ~(1u << (vec % 32)), __ATOMIC_ACQ_REL);
    set_irr(v, vec);
    if (v->state == VCPU_BLOCKED)
        vcpu_wake(v);
    else
        vcpu_kick(v);
}

/* ---- the timer ---- */

/* Bus clocks per count: the divide configuration (bits 3, 1, 0). */
static uint64_t timer_div(const struct hvm_vlapic *l)
{
    unsigned code = ((l->tdcr >> 1) & 4) | (l->tdcr & 3);
    return 1ULL << ((code + 1) & 7);
}

static uint64_t timer_period(const struct hvm_vlapic *l)
{
    return MAX((uint64_t)l->tmict * timer_div(l), 1ULL);
}

/* The vCPU's HVM timer: the earlier of its LAPIC timer and (vCPU 0 of a
 * type=hvm domain) its PIT's next IRQ0. */
void hvm_timer_arm(struct vcpu *v)
{
    uint64_t t = lapic(v)->timer_next;
    if (v->domain->arch.hvm.firmware && v->id == 0) {
        uint64_t pit = v->domain->arch.hvm.isa.irq0_at, pm = v->domain->arch.hvm.pm.sci_at;
        if (pit && (!t || pit < t))
            t = pit;
        if (pm && (!t || pm < t))
            t = pm;
    }
    vcpu_set_hvm_timer(v, t);
}

/* An expired timer raises its vector (unless masked) and, periodic, goes
 * on from the next period still ahead. */
static void timer_update(struct vcpu *v, uint64_t now)
{
    struct hvm_vlapic *l = lapic(v);
    if (!l->timer_next || now < l->timer_next)
        return;
    if (!(l->lvt[0] & LVT_MASKED))
        set_irr(v, l->lvt[0] & 0xff);
    if (l->lvt[0] & LVT_PERIODIC) {
        uint64_t p = timer_period(l);
        l->timer_next += ((now - l->timer_next) / p + 1) * p;
    } else {
        l->timer_next = 0;
    }
    hvm_timer_arm(v);
}

static uint32_t timer_current(struct vcpu *v)
{
    struct hvm_vlapic *l = lapic(v);
    uint64_t now = now_ns();
    timer_update(v, now);
    if (!l->timer_next)
        return 0;
    return (uint32_t)MIN((l->timer_next - now) / timer_div(l), (uint64_t)l->tmict);
}

/* An IPI its ICR names, to_self when its destination includes this vCPU. */
static void icr_send(struct vcpu *v, uint32_t low, bool to_self)
{
    uint32_t vec = low & 0xff, mode = (low >> 8) & 7;
    if (!to_self)
        return;                              /* no such APIC: nobody takes it */
    if (mode != 0) {
        domain_crash(v->domain, "LAPIC: ICR %#x (delivery mode %u to itself) is not emulated",
                     low, mode);
        return;
    }
    set_irr(v, vec);
}

static bool icr_write(struct vcpu *v, uint64_t val)
{
    /* Reserved: bits 13, 16-17, 20-31 (x2APIC: no delivery status). */
    if (val & 0xfff32000ULL)
        return false;
    struct hvm_vlapic *l = lapic(v);
    l->icr = val;
    uint32_t shorthand = (val >> 18) & 3;
    uint32_t dest = (uint32_t)(val >> 32);
    bool logical = val & (1u << 11);
    bool to_self;
    switch (shorthand) {
    case 1: case 2: to_self = true; break;   /* self; all including self */
    case 3: to_self = false; break;          /* all but self: no other vCPU */
    default:
        if (logical) {
            uint32_t ldr = x2_ldr(v);
            to_self = (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
        } else {
            to_self = dest == v->id || dest == 0xffffffffu;
        }
        break;
    }
    icr_send(v, (uint32_t)val, to_self);
    return true;
}

/* xAPIC mode: a write of the ICR's low half sends, to the 8-bit
 * destination in the high half (flat or cluster logical, or physical). */
static void xapic_icr_write(struct vcpu *v, uint32_t low)
{
    struct hvm_vlapic *l = lapic(v);
    low &= 0x000ccfffu;                      /* delivery status reads 0: done at once */
    l->icr = ((uint64_t)l->icr_hi << 32) | low;
    uint32_t dest = l->icr_hi >> 24, ldr = l->ldr >> 24;
    bool to_self;
    switch ((low >> 18) & 3) {
    case 1: case 2: to_self = true; break;
    case 3: to_self = false; break;
    default:
        if (!(low & (1u << 11)))
            to_self = dest == v->id || dest == 0xff;
        else if ((l->dfr >> 28) == 0xf)       /* flat */
            to_self = (dest & ldr) != 0;
        else                                  /* cluster */
            to_self = (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);
        break;
    }
    icr_send(v, low, to_self);
}

static bool reg_write(struct vcpu *v, uint32_t msr, uint32_t v32, uint64_t val);
static bool reg_read(struct vcpu *v, uint32_t msr, uint64_t *val);

/* IA32_APIC_BASE, as the SDM's state diagram: xAPIC -> x2APIC, either ->
 * disabled, disabled -> xAPIC; x2APIC -> xAPIC, disabled -> x2APIC, EXTD
 * without EN, a moved base and reserved bits #GP; BSP reads as it was. */
static bool apic_base_write(struct vcpu *v, uint64_t val)
{
    struct hvm_vlapic *l = lapic(v);
    uint64_t mode = val & (APIC_BASE_EN | APIC_BASE_EXTD);
    uint64_t was = l->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD);
    if ((val & ~(APIC_BASE_EN | APIC_BASE_EXTD | APIC_BASE_BSP)) != APIC_BASE_ADDR ||
        (val & APIC_BASE_BSP) != (l->apic_base & APIC_BASE_BSP) || mode == APIC_BASE_EXTD)
        return false;
    if (mode == (APIC_BASE_EN | APIC_BASE_EXTD) && was == 0)
        return false;
    if (mode == APIC_BASE_EN && was == (APIC_BASE_EN | APIC_BASE_EXTD))
        return false;
    if (mode == was)
        return true;
    if (!mode) {
        /* Disabled: as after reset, but kept so (LVTs masked, SVR off). */
        uint64_t base = l->apic_base & ~(APIC_BASE_EN | APIC_BASE_EXTD);
        vlapic_reset(v);
        l->apic_base = base;
        return true;
    }
    l->apic_base = (l->apic_base & ~(APIC_BASE_EN | APIC_BASE_EXTD)) | mode;
    return true;
}

bool vlapic_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
    struct hvm_vlapic *l = lapic(v);
    if (msr == MSR_APIC_BASE) {
        *val = l->apic_base;
        return true;
    }
    if (!x2apic_mode(l))
        return false;                        /* the x2APIC MSRs #GP outside x2APIC mode */
    return reg_read(v, msr, val);
}

/* One register read by its x2APIC MSR index, of what both modes share. */
static bool reg_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
    struct hvm_vlapic *l = lapic(v);
    switch (msr) {
    case X2_ID:    *val = v->id; return true;
    case X2_VER:   *val = VLAPIC_VERSION; return true;
    case X2_TPR:   *val = l->tpr; return true;
    case X2_PPR:   *val = ppr(l); return true;
    case X2_LDR:   *val = x2_ldr(v); return true;
    case X2_SVR:   *val = l->svr; return true;
    case X2_ESR:   *val = l->esr; return true;
    case X2_ICR:   *val = l->icr; return true;
    case X2_TMICT: *val = l->tmict; return true;
    case X2_TMCCT: *val = timer_current(v); return true;
    case X2_TDCR:  *val = l->tdcr; return true;
    default:
        break;
    }
    if (msr >= X2_ISR && msr < X2_ISR + 8) {
        *val = l->isr[msr - X2_ISR];
        return true;
    }
    if (msr >= X2_TMR && msr < X2_TMR + 8) {
        *val = __atomic_load_n(&l->tmr[msr - X2_TMR], __ATOMIC_ACQUIRE);
        return true;
    }
    if (msr >= X2_IRR && msr < X2_IRR + 8) {
        *val = l->irr[msr - X2_IRR];
        return true;
    }
    if (msr >= X2_LVTT && msr <= X2_LVTERR) {
        *val = l->lvt[msr - X2_LVTT];
        return true;
    }
    return false;                            /* EOI, SELF_IPI (write-only), the rest: #GP */
}

bool vlapic_msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
    struct hvm_vlapic *l = lapic(v);
    if (msr == MSR_APIC_BASE)
        return apic_base_write(v, val);
    if (!x2apic_mode(l) || (msr != X2_ICR && (val >> 32)))
        return false;
    return reg_write(v, msr, (uint32_t)val, val);
}

/* One register write, by its x2APIC MSR index (xAPIC mode: the page
 * offset / 16 + 0x800), of the checks both modes share. */
static bool reg_write(struct vcpu *v, uint32_t msr, uint32_t v32, uint64_t val)
{
    struct hvm_vlapic *l = lapic(v);
    switch (msr) {
    case X2_TPR:
        if (v32 & ~0xffu)
            return false;
        l->tpr = v32;
        return true;
    case X2_EOI: {
        if (v32 && x2apic_mode(l))
            return false;                    /* x2APIC: a non-zero EOI is #GP */
        int isr = highest_bit(l->isr);
        if (isr >= 0) {
            l->isr[isr / 32] &= ~(1u << (isr % 32));
            uint32_t bit = 1u << (isr % 32);
            /* a level-triggered vector: the I/O APIC hears the EOI */
            if (__atomic_fetch_and(&l->tmr[isr / 32], ~bit, __ATOMIC_ACQ_REL) & bit)
                vioapic_eoi(v->domain, (uint8_t)isr);
        }
        return true;
    }
    case X2_SVR:
        if (v32 & ~0x11ffu)
            return false;
        l->svr = v32 & 0x1ff;                /* no EOI-broadcast suppression */
        if (!(l->svr & SVR_ENABLED))
            for (unsigned i = 0; i < 6; i++)
                l->lvt[i] |= LVT_MASKED;
        return true;
    case X2_ESR:
        if (v32 && x2apic_mode(l))
            return false;
        l->esr = 0;                          /* as the CPU: a write latches, here clears */
        return true;
    case X2_ICR:
        return icr_write(v, val);
    case X2_TMICT:
        l->tmict = v32;
        l->timer_next = v32 ? now_ns() + timer_period(l) : 0;
        hvm_timer_arm(v);
        return true;
    case X2_TDCR: {
        if (v32 & ~0xbu)
            return false;
        uint32_t left = timer_current(v);
        l->tdcr = v32;
        if (l->timer_next) {
            l->timer_next = now_ns() + MAX((uint64_t)left * timer_div(l), 1ULL);
            hvm_timer_arm(v);
        }
        return true;
    }
    case X2_SELF_IPI:
        if (v32 & ~0xffu)
            return false;
        set_irr(v, v32);
        return true;
    default:
        break;
    }
    if (msr >= X2_LVTT && msr <= X2_LVTERR) {
        unsigned i = msr - X2_LVTT;
        if (v32 & ~lvt_mask[i])
            return false;
        if (!(l->svr & SVR_ENABLED))
            v32 |= LVT_MASKED;
        l->lvt[i] = v32;
        return true;
    }
    return false;
}

/*
 * xAPIC mode: an access to the APIC page at 0xfee00000 (the register at
 * offset X is x2APIC MSR 0x800 + X / 16, with xAPIC's own ID, LDR, DFR
 * and two-part ICR).  False when it is not this vCPU's page (x2APIC mode,
 * disabled, another address): then it is any other MMIO.
 */
#define XA_DFR     0x80e
#define XA_ICR_HI  0x831

bool vlapic_mmio(struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
    struct hvm_vlapic *l = lapic(v);
    if (!xapic_mode(l) || (gpa & ~0xfffULL) != APIC_BASE_ADDR)
        return false;
    unsigned off = (unsigned)(gpa & 0xfff);
    uint32_t msr = 0x800 + off / 16;
    if (size != 4 || (off & 0xf)) {
        if (!write)
            *val = 0;                        /* not a register: reads 0, writes dropped */
        return true;
    }
    if (!write) {
        uint64_t x = 0;
        switch (msr) {
        case X2_ID:      x = (uint64_t)v->id << 24; break;
        case X2_LDR:     x = l->ldr; break;
        case XA_DFR:     x = l->dfr; break;
        case X2_ICR:     x = (uint32_t)l->icr; break;
        case XA_ICR_HI:  x = l->icr_hi; break;
        case X2_SELF_IPI: break;
        default:
            if (!reg_read(v, msr, &x))
                x = 0;
            break;
        }
        *val = (uint32_t)x;
        return true;
    }
    uint32_t v32 = (uint32_t)*val;
    switch (msr) {
    case X2_ID:
    case X2_SELF_IPI:
        break;                               /* the ID stays; no SELF_IPI in xAPIC mode */
    case X2_LDR:
        l->ldr = v32 & 0xff000000u;
        break;
    case XA_DFR:
        l->dfr = v32 | 0x0fffffffu;
        break;
    case X2_ICR:
        xapic_icr_write(v, v32);
        break;
    case XA_ICR_HI:
        l->icr_hi = v32 & 0xff000000u;
        break;
    default:
        if (!reg_write(v, msr, v32, v32))
            l->esr |= 1u << 7;               /* illegal register address */
        break;
    }
    return true;
}

/*
 * Before each VMRUN, after hvm_inject_callback: the highest deliverable
 * LAPIC vector is injected if the guest can take an interrupt and no
 * other event is being injected; otherwise, a V_IRQ window is asked for
 * and the next VMRUN decides again.
 */
void vlapic_inject(struct vcpu *v)
{
    int vec = vlapic_pending(v);
    if (vec < 0)
        return;
    if (!hvm_intr_ready(v)) {
        hvm_intr_window(v);
        return;
    }
    vlapic_accept(v, vec);
    vmcb_wr(v->arch.hvm.vmcb, VMCB_EVENTINJ, (uint64_t)vec | EVENTINJ_V);
}

/*
 * CPUID of a PVH vCPU over the common policy: leaf 1 offers the APIC and
 * x2APIC with its APIC ID in EBX[31:24], and hides MCE/MCA (no machine
 * check MSRs); 0x80000001 hides RDTSCP (no TSC_AUX); Xen's leaf 0x40000004 (HVM only)
 * says the x2APIC is virtualized and gives the vCPU and domain ids, as
 * Xen 4.17 (no APIC-access page: there is no xAPIC page).
 */
void hvm_cpuid_adjust(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    if (leaf == 1) {
        out[1] = (out[1] & 0x00ffffffu) | (v->id << 24);
        out[2] |= 1u << 21;                          /* x2APIC */
        out[2] &= ~(1u << 24);                       /* no TSC-deadline timer mode */
        out[3] |= 1u << 9;                           /* APIC */
        /* No machine-check architecture (no vMCE MSRs for PVH yet). */
        out[3] &= ~((1u << 7) | (1u << 14));
    } else if (leaf == 0x80000001) {
        /* RDTSCP is intercepted and not emulated, and there is no
         * TSC_AUX for it: not offered (nor MCE/MCA, repeated here). */
        out[3] &= ~((1u << 27) | (1u << 7) | (1u << 14));
    } else if (leaf == 0x40000004 && sub == 0) {
        out[0] = XEN_HVM_CPUID_X2APIC_VIRT | XEN_HVM_CPUID_VCPU_ID_PRESENT |
                 XEN_HVM_CPUID_DOMID_PRESENT;
        out[1] = v->id;
        out[2] = v->domain->id;
        out[3] = 0;
    }
}
