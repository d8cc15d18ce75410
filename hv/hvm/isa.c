/*
 * The PC's interrupt controllers and interval timer for a type=hvm domain
 * (docs/hvm.md, "HVM from firmware"), emulated in the hypervisor as Xen's
 * hvm/vpic.c and hvm/i8254.c:
 *
 * - Two 8259A PICs, master at 0x20/0x21 and slave at 0xa0/0xa1 on the
 *   master's IRQ2, with ELCR at 0x4d0/0x4d1 (kept): the ICW1-ICW4
 *   initialisation, the mask (OCW1), non-specific and specific EOI
 *   (OCW2; the rotating forms as their plain ones), reading IRR or ISR
 *   (OCW3), auto-EOI; fixed priority, IRQ0 highest.  Edge-triggered
 *   only.  Their output goes straight to the vCPU as an external
 *   interrupt (the LAPIC's virtual-wire mode, as firmware sets it up):
 *   injected before VMRUN when the guest can take it, else an
 *   interrupt window is asked for.
 * - An 8254 PIT at 0x40-0x43 (1.193182 MHz): the three counters with
 *   their access modes (LSB, MSB, both), counter latch and read-back
 *   (counts), modes 0 (interrupt on terminal count), 2 (rate generator)
 *   and 3 (square wave); the others count as mode 2.  Counter 0's output
 *   raises IRQ0 (periodic in modes 2 and 3, once in mode 0; ticks missed
 *   while the vCPU did not run are not made up: one pending at most, as
 *   Xen's "no missed ticks pending" mode).  Counter 2's gate and output
 *   are port 0x61's bits 0 and 5 (bit 4: the refresh toggle, every 15 us),
 *   as firmware calibrating its TSC needs them.
 *
 * Each domain's state is its own; its vCPU 0 touches it (the exits and the
 * injection before each VMRUN), and a device model's
 * XEN_DMOP_set_isa_irq_level sets request bits (atomically) from another
 * pCPU, so no lock is taken.
 */
#include "lib.h"
#include "domain.h"
#include "sched.h"
#include "time.h"
#include "timer.h"
#include "hvm.h"
#include "vmcb.h"
#include "hvm_internal.h"

#define PIT_HZ 1193182ULL

/* ---- the PICs --------------------------------------------------------- */

static int pic_highest(uint8_t bits)
{
    for (int i = 0; i < 8; i++)
        if (bits & (1u << i))
            return i;
    return -1;
}

/* The IRQ (0-7) a PIC would raise now, or -1: the highest-priority
 * unmasked request above every one in service. */
static int pic_output(struct hvm_pic *pics, unsigned which)
{
    struct hvm_pic *p = &pics[which];
    uint8_t irr = p->irr;
    if (which == 0 && pic_output(pics, 1) >= 0)
        irr |= 1u << 2;                           /* the slave asks on IRQ2 */
    int req = pic_highest(irr & ~p->imr);
    if (req < 0)
        return -1;
    int serv = pic_highest(p->isr);
    if (serv >= 0 && serv <= req)
        return -1;
    return req;
}

/* An edge on IRQ irq: from the PIT (vCPU 0) or a device model's dm_op on
 * another pCPU, so the request bits change atomically. */
static void pic_raise(struct hvm_isa *isa, unsigned irq)
{
    __atomic_fetch_or(&isa->pic[irq >> 3].irr, (uint8_t)(1u << (irq & 7)), __ATOMIC_ACQ_REL);
}

/* The interrupt the PICs would deliver: its vector, or -1. */
static int pic_pending_vector(struct hvm_isa *isa)
{
    int m = pic_output(isa->pic, 0);
    if (m < 0)
        return -1;
    if (m == 2 && !(isa->pic[0].irr & 4)) {
        int s = pic_output(isa->pic, 1);
        return s < 0 ? -1 : isa->pic[1].base + s;
    }
    return isa->pic[0].base + m;
}

/* The CPU takes it (INTA): request to in-service (unless auto-EOI). */
static void pic_ack(struct hvm_isa *isa)
{
    struct hvm_pic *ma = &isa->pic[0], *sl = &isa->pic[1];
    int m = pic_output(isa->pic, 0);
    if (m < 0)
        return;
    if (m == 2 && !(ma->irr & 4)) {
        int s = pic_output(isa->pic, 1);
        __atomic_fetch_and(&sl->irr, (uint8_t)~(1u << s), __ATOMIC_ACQ_REL);
        if (!sl->auto_eoi)
            sl->isr |= (uint8_t)(1u << s);
    } else {
        __atomic_fetch_and(&ma->irr, (uint8_t)~(1u << m), __ATOMIC_ACQ_REL);
    }
    if (!ma->auto_eoi)
        ma->isr |= (uint8_t)(1u << m);
}

static void pic_write(struct hvm_pic *p, bool data, uint8_t v)
{
    if (!data) {
        if (v & 0x10) {                           /* ICW1 */
            p->init_step = 2;
            p->icw4 = v & 1;
            p->single = (v >> 1) & 1;
            p->imr = 0;
            p->isr = 0;
            p->irr = 0;
            p->read_isr = false;
            p->auto_eoi = false;
        } else if (v & 0x08) {                    /* OCW3 */
            if (v & 2)
                p->read_isr = v & 1;
        } else {                                  /* OCW2 */
            unsigned cmd = v >> 5;
            if (cmd == 1 || cmd == 5) {           /* non-specific EOI (rotating too) */
                int i = pic_highest(p->isr);
                if (i >= 0)
                    p->isr &= (uint8_t)~(1u << i);
            } else if (cmd == 3 || cmd == 7) {    /* specific EOI */
                p->isr &= (uint8_t)~(1u << (v & 7));
            }
        }
        return;
    }
    switch (p->init_step) {
    case 2:                                       /* ICW2: the vector base */
        p->base = v & 0xf8;
        p->init_step = p->single ? (p->icw4 ? 4 : 0) : 3;
        return;
    case 3:                                       /* ICW3: the cascade (fixed) */
        p->init_step = p->icw4 ? 4 : 0;
        return;
    case 4:                                       /* ICW4 */
        p->auto_eoi = (v >> 1) & 1;
        p->init_step = 0;
        return;
    default:                                      /* OCW1: the mask */
        p->imr = v;
        return;
    }
}

static uint8_t pic_read(struct hvm_pic *p, bool data)
{
    if (data)
        return p->imr;
    return p->read_isr ? p->isr : p->irr;
}

/* ---- the PIT ---------------------------------------------------------- */

static uint64_t pit_ticks(uint64_t from, uint64_t to)
{
    return to > from ? (to - from) * PIT_HZ / 1000000000ULL : 0;
}

static uint32_t reload_of(const struct hvm_pit_ch *c)
{
    return c->reload ? c->reload : 0x10000;
}

/* The count a counter shows now. */
static uint16_t pit_count(const struct hvm_pit_ch *c, uint64_t now)
{
    if (!c->loaded)
        return 0;
    uint64_t t = pit_ticks(c->start, now);
    uint32_t r = reload_of(c);
    if (c->mode == 0)
        return (uint16_t)(t < r ? r - t : (0x10000 - (t - r) % 0x10000));
    return (uint16_t)(r - t % r);
}

/* Its output now. */
static bool pit_out(const struct hvm_pit_ch *c, uint64_t now)
{
    if (!c->loaded)
        return c->mode != 0;
    uint64_t t = pit_ticks(c->start, now);
    uint32_t r = reload_of(c);
    if (c->mode == 0)
        return t >= r;
    if (c->mode == 3)
        return t % r < (r + 1) / 2;
    return t % r != r - 1;                        /* mode 2: low for one tick */
}

static uint64_t period_ns(const struct hvm_pit_ch *c)
{
    return MAX((uint64_t)reload_of(c) * 1000000000ULL / PIT_HZ, 1ULL);
}

/* Counter 0's next IRQ0, and the vCPU's wake-up for it. */
static void pit_arm(struct vcpu *v, uint64_t next)
{
    v->domain->arch.hvm.isa.irq0_at = next;
    hvm_timer_arm(v);
}

static void pit_load(struct vcpu *v, unsigned i, uint64_t now)
{
    struct hvm_isa *isa = &v->domain->arch.hvm.isa;
    struct hvm_pit_ch *c = &isa->ch[i];
    c->loaded = true;
    c->start = now;
    if (i == 0)
        pit_arm(v, now + period_ns(c));
}

static uint8_t pit_read(struct hvm_isa *isa, unsigned i, uint64_t now)
{
    struct hvm_pit_ch *c = &isa->ch[i];
    uint16_t v;
    if (c->latched) {
        v = c->latch;
    } else {
        v = pit_count(c, now);
    }
    uint8_t r;
    switch (c->rw) {
    case 1:
        r = (uint8_t)v;
        c->latched = false;
        break;
    case 2:
        r = (uint8_t)(v >> 8);
        c->latched = false;
        break;
    default:
        r = c->read_msb ? (uint8_t)(v >> 8) : (uint8_t)v;
        if (c->read_msb)
            c->latched = false;
        c->read_msb = !c->read_msb;
        break;
    }
    return r;
}

static void pit_write(struct vcpu *v, unsigned port, uint8_t val, uint64_t now)
{
    struct hvm_isa *isa = &v->domain->arch.hvm.isa;
    if (port == 0x43) {
        unsigned sc = val >> 6, rw = (val >> 4) & 3;
        if (sc == 3) {                            /* read-back: latch the counts asked */
            for (unsigned i = 0; i < 3; i++)
                if (!(val & 0x20) && (val & (2u << i)) && !isa->ch[i].latched) {
                    isa->ch[i].latch = pit_count(&isa->ch[i], now);
                    isa->ch[i].latched = true;
                    isa->ch[i].read_msb = false;
                }
            return;
        }
        struct hvm_pit_ch *c = &isa->ch[sc];
        if (rw == 0) {                            /* counter latch */
            if (!c->latched) {
                c->latch = pit_count(c, now);
                c->latched = true;
                c->read_msb = false;
            }
            return;
        }
        c->rw = (uint8_t)rw;
        c->mode = (val >> 1) & 7;
        if (c->mode > 5)
            c->mode -= 4;                         /* 6 and 7 are 2 and 3 */
        c->loaded = false;
        c->write_msb = false;
        c->read_msb = false;
        c->latched = false;
        if (sc == 0)
            pit_arm(v, 0);
        return;
    }
    unsigned i = port - 0x40;
    struct hvm_pit_ch *c = &isa->ch[i];
    switch (c->rw) {
    case 1:
        c->reload = val;
        pit_load(v, i, now);
        break;
    case 2:
        c->reload = (uint16_t)(val << 8);
        pit_load(v, i, now);
        break;
    default:
        if (!c->write_msb) {
            c->reload = (uint16_t)((c->reload & 0xff00) | val);
            c->write_msb = true;
        } else {
            c->reload = (uint16_t)((c->reload & 0xff) | (val << 8));
            c->write_msb = false;
            pit_load(v, i, now);
        }
        break;
    }
}

/* Counter 0's output since the last look: IRQ0 (edge) if a tick is due. */
static void pit_update(struct vcpu *v, uint64_t now)
{
    struct hvm_isa *isa = &v->domain->arch.hvm.isa;
    if (!isa->irq0_at || now < isa->irq0_at)
        return;
    pic_raise(isa, 0);
    vioapic_isa_irq(v->domain, 0);
    struct hvm_pit_ch *c = &isa->ch[0];
    if (c->mode == 2 || c->mode == 3) {
        uint64_t p = period_ns(c), next = isa->irq0_at + p;
        if (next <= now)
            next = now + p;                       /* missed ticks are not made up */
        pit_arm(v, next);
    } else {
        pit_arm(v, 0);                            /* mode 0: once */
    }
}

/* ---- ports, injection ------------------------------------------------- */

bool hvm_isa_port(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t *val)
{
    struct domain *d = v->domain;
    if (!d->arch.hvm.firmware || size != 1)
        return false;
    struct hvm_isa *isa = &d->arch.hvm.isa;
    uint64_t now = now_ns();
    uint8_t b = (uint8_t)*val;
    switch (port) {
    case 0x20: case 0x21: case 0xa0: case 0xa1: {
        struct hvm_pic *p = &isa->pic[port >= 0xa0];
        if (in)
            *val = pic_read(p, port & 1);
        else
            pic_write(p, port & 1, b);
        return true;
    }
    case 0x4d0: case 0x4d1:
        if (in)
            *val = isa->elcr[port & 1];
        else
            isa->elcr[port & 1] = b;
        return true;
    case 0x40: case 0x41: case 0x42: case 0x43:
        if (in)
            *val = port == 0x43 ? 0xff : pit_read(isa, port - 0x40, now);
        else
            pit_write(v, port, b, now);
        return true;
    case 0x61:
        if (in) {
            struct hvm_pit_ch *c2 = &isa->ch[2];
            bool out = isa->port61 & 1 ? pit_out(c2, now) : false;
            *val = (isa->port61 & 3) | (out ? 0x20 : 0) | ((now / 15085) & 1 ? 0x10 : 0);
        } else {
            if ((b & 1) && !(isa->port61 & 1) && isa->ch[2].loaded)
                isa->ch[2].start = now;           /* the gate rises: counter 2 starts */
            isa->port61 = b & 0x0f;
        }
        return true;
    default:
        return false;
    }
}

/* Whether a port access is one of the hypervisor's own devices of a
 * type=hvm domain (hvm_hv_port takes it), without making it. */
bool hvm_hv_port_owned(struct domain *d, unsigned port, unsigned size)
{
    if (hvm_pm_port_owned(d, port, size))
        return true;
    if (!d->arch.hvm.firmware || size != 1)
        return false;
    return port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1 || port == 0x4d0 ||
           port == 0x4d1 || (port >= 0x40 && port <= 0x43) || port == 0x61 || port == 0x70 ||
           port == 0x71;
}

/* A port access to the hypervisor's own devices (RTC, PICs, PIT, port
 * 0x61, ELCR, the ACPI PM timer and event block): true once made; they
 * come before any ioreq server's. */
bool hvm_hv_port(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t *val)
{
    return hvm_rtc_port(v, port, size, in, val) || hvm_isa_port(v, port, size, in, val) ||
           hvm_pm_port(v, port, size, in, val);
}

/* Whether an interrupt from the PICs waits (HLT does not sleep then). */
bool hvm_isa_pending(struct vcpu *v)
{
    if (!v->domain->arch.hvm.firmware || v->id != 0)
        return false;
    struct hvm_isa *isa = &v->domain->arch.hvm.isa;
    pit_update(v, now_ns());
    hvm_pm_check(v);
    return pic_pending_vector(isa) >= 0;
}

/* Before each VMRUN of vCPU 0: IRQ0 if due, then the PICs' interrupt
 * injected if the guest can take it, else a window asked for. */
void hvm_isa_inject(struct vcpu *v)
{
    if (!v->domain->arch.hvm.firmware || v->id != 0)
        return;
    struct hvm_isa *isa = &v->domain->arch.hvm.isa;
    pit_update(v, now_ns());
    hvm_pm_check(v);
    int vec = pic_pending_vector(isa);
    if (vec < 0)
        return;
    if (!hvm_intr_ready(v)) {
        hvm_intr_window(v);
        return;
    }
    pic_ack(isa);
    vmcb_wr(v->arch.hvm.vmcb, VMCB_EVENTINJ, (uint64_t)vec | EVENTINJ_V);
}

/*
 * XEN_DMOP_set_isa_irq_level from d's device model (or the SCI of
 * pmtimer.c): ISA IRQ irq (0-15) asserted or not.  The PICs are
 * edge-triggered here: a rising line makes a request (a line held high
 * makes no second one until it falls), and the vCPU is woken from HLT or
 * made to look at once; the I/O APIC's pin follows the line (a
 * level-triggered pin delivers again after EOI while it stays high).
 */
void hvm_isa_irq_level(struct domain *d, unsigned irq, bool level)
{
    struct hvm_isa *isa = &d->arch.hvm.isa;
    uint16_t bit = (uint16_t)(1u << irq);
    uint16_t was = level ? __atomic_fetch_or(&isa->lines, bit, __ATOMIC_ACQ_REL)
                         : __atomic_fetch_and(&isa->lines, (uint16_t)~bit, __ATOMIC_ACQ_REL);
    if (!!(was & bit) != level)
        vioapic_isa_level(d, irq, level);        /* its pin: an edge, or a level held */
    if (!level || (was & bit))
        return;
    pic_raise(isa, irq);
    struct vcpu *v = d->vcpu[0];
    if (v->state == VCPU_BLOCKED)
        vcpu_wake(v);
    else
        vcpu_kick(v);
}
