/*
 * The I/O APIC of a type=hvm domain (docs/hvm.md, "HVM from firmware"), as
 * Xen's hvm/vioapic.c presents one: 48 pins (VIOAPIC_NUM_PINS for HVM),
 * version 0x11, at 0xfec00000 (the page SeaBIOS's MP table and the device
 * model's MADT name).  IOREGSEL at offset 0 and IOWIN at 0x10, 32-bit
 * accesses only (others read all ones and are dropped, counted); through
 * them the ID (bits 24-27 writable), the version ((47 << 16) | 0x11), the
 * arbitration ID, and the redirection table (0x10 + 2n, 0x11 + 2n:
 * vector, delivery mode, destination mode, polarity, trigger mode, mask
 * and destination writable; delivery status reads 0, remote IRR is the
 * pin's own).  All pins start masked.
 *
 * Inputs: the ISA lines as they reach the PICs (IRQ0, the PIT, on pin 2,
 * as the MP table's and ACPI's interrupt source override say; the others
 * on their own pins), and the PCI INTx lines on pins 16-47 by Xen's
 * hvm_pci_intx_gsi (((device << 2) + (device >> 3) + intx) & 31) + 16,
 * the mapping the DSDT's _PRT gives the guest.  Each pin keeps its input
 * level (an INTx pin is asserted while any INTx mapped to it is).
 *
 * Delivery, fixed or lowest priority to the local APIC the entry names
 * (physical: vCPU 0's APIC ID or broadcast; logical: vCPU 0's LDR), as a
 * fixed interrupt (IRR, its TMR bit for a level-triggered pin; the vCPU
 * woken or kicked):
 * - an edge-triggered pin delivers on each rising input (or a pulse: the
 *   PIT's ticks);
 * - a level-triggered pin delivers while its input is asserted and its
 *   remote IRR is clear, and sets remote IRR; the local APIC's EOI of
 *   that vector (its TMR bit set) clears remote IRR and delivers again if
 *   the input is still asserted, as does unmasking an asserted pin.  An
 *   interrupt no local APIC accepts leaves remote IRR clear.
 * ExtINT pins are the PICs' (virtual wire): nothing here.  Not emulated,
 * counted and dropped: NMI, SMI and INIT delivery.
 *
 * The table is written by vCPU 0 (MMIO exits) and inputs change from
 * other pCPUs (a device model's dm_op): each entry is one 64-bit word,
 * changed by compare-and-exchange; the input levels are atomic bits.
 */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "hvm.h"
#include "hvm_internal.h"

#define HVM_IOAPIC_PINS 48

struct hvm_ioapic {
    uint8_t sel, id;                      /* IOREGSEL; the ID register's bits 24-27 */
    uint64_t rte[HVM_IOAPIC_PINS];        /* the redirection table */
    uint64_t input;                       /* each pin's input asserted (bit n: pin n) */
    uint64_t intx[2];                     /* PCI INTx asserted: bit device * 4 + intx */
    unsigned long bad, dropped;           /* refused accesses; interrupts not delivered */
};

#define IOAPIC_BASE   0xfec00000ULL
#define IOAPIC_LEN    0x100
#define IOAPIC_VER    ((uint32_t)(HVM_IOAPIC_PINS - 1) << 16 | 0x11)
#define RTE_MASKED    (1ULL << 16)
#define RTE_LEVEL     (1ULL << 15)
#define RTE_REMOTE_IRR (1ULL << 14)
#define RTE_LOGICAL   (1ULL << 11)
/* vector, delivery mode, destination mode, polarity, trigger, mask; destination */
#define RTE_WRITABLE  (0x1ULL << 16 | 0x1ULL << 15 | 0x1ULL << 13 | 0xfffULL | 0xffULL << 56)

int vioapic_init(struct domain *d)
{
    _Static_assert(sizeof(struct hvm_ioapic) <= PAGE_SIZE, "one page");
    struct hvm_ioapic *io = alloc_hv_pages(0);
    if (!io)
        return -1;
    memset(io, 0, sizeof(*io));
    for (unsigned i = 0; i < HVM_IOAPIC_PINS; i++)
        io->rte[i] = RTE_MASKED;
    d->arch.hvm.ioapic = io;
    return 0;
}

void hvm_vioapic_free(struct domain *d)
{
    if (d->arch.hvm.ioapic)
        free_hv_pages(d->arch.hvm.ioapic, 0);
    d->arch.hvm.ioapic = NULL;
}

/* The pin's vector to the local APIC its entry names, if unmasked; a
 * level-triggered pin only while its input is asserted and its remote IRR
 * clear (set here, by compare-and-exchange: one delivery per EOI). */
static void send(struct hvm_ioapic *io, struct vcpu *v, unsigned pin, bool edge)
{
    uint64_t e = __atomic_load_n(&io->rte[pin], __ATOMIC_ACQUIRE);
    for (;;) {
        if (e & RTE_MASKED)
            return;
        unsigned mode = (unsigned)(e >> 8) & 7;
        if (mode == 7)
            return;                       /* ExtINT: the PICs deliver it */
        if (mode > 1) {
            __atomic_fetch_add(&io->dropped, 1, __ATOMIC_RELAXED);
            return;                       /* SMI, NMI, INIT: not emulated */
        }
        bool level = (e & RTE_LEVEL) && !edge;
        if (level) {
            if ((e & RTE_REMOTE_IRR) ||
                !((__atomic_load_n(&io->input, __ATOMIC_ACQUIRE) >> pin) & 1))
                return;
            if (!__atomic_compare_exchange_n(&io->rte[pin], &e, e | RTE_REMOTE_IRR, false,
                                             __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                continue;
        }
        if (!vlapic_match_dest(v, (uint8_t)(e >> 56), e & RTE_LOGICAL)) {
            if (level)
                __atomic_fetch_and(&io->rte[pin], ~RTE_REMOTE_IRR, __ATOMIC_ACQ_REL);
            return;
        }
        vlapic_set_irq(v, (uint8_t)e, level);
        return;
    }
}

static void deliver(struct hvm_ioapic *io, struct vcpu *v, unsigned pin)
{
    send(io, v, pin, false);
}

/* A pulse (the PIT's tick): an edge pin delivers; a level pin as an edge
 * too (nothing holds it asserted to deliver again). */
static void deliver_edge(struct hvm_ioapic *io, struct vcpu *v, unsigned pin)
{
    send(io, v, pin, true);
}

static uint32_t reg_read(struct hvm_ioapic *io, uint32_t sel)
{
    switch (sel) {
    case 0x00: return (uint32_t)io->id << 24;
    case 0x01: return IOAPIC_VER;
    case 0x02: return (uint32_t)io->id << 24;
    default:
        break;
    }
    if (sel >= 0x10 && sel < 0x10 + 2 * HVM_IOAPIC_PINS) {
        uint64_t e = __atomic_load_n(&io->rte[(sel - 0x10) / 2], __ATOMIC_RELAXED);
        return (sel & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
    }
    return 0xffffffffu;                   /* no such register */
}

static void reg_write(struct hvm_ioapic *io, struct vcpu *v, uint32_t sel, uint32_t val)
{
    if (sel == 0x00) {
        io->id = (val >> 24) & 0xf;
        return;
    }
    if (sel < 0x10 || sel >= 0x10 + 2 * HVM_IOAPIC_PINS) {
        io->bad++;                        /* read-only or absent */
        return;
    }
    unsigned pin = (sel - 0x10) / 2;
    uint64_t *slot = &io->rte[pin];
    uint64_t e = __atomic_load_n(slot, __ATOMIC_ACQUIRE), n;
    do {
        n = (sel & 1) ? (e & 0xffffffffULL) | (uint64_t)val << 32 : (e & ~0xffffffffULL) | val;
        /* remote IRR is the pin's: kept while it stays level-triggered */
        n = (n & RTE_WRITABLE) | ((n & RTE_LEVEL) ? (e & RTE_REMOTE_IRR) : 0);
    } while (!__atomic_compare_exchange_n(slot, &e, n, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    if ((n & RTE_LEVEL) && !(n & RTE_MASKED))
        deliver(io, v, pin);                       /* unmasked while asserted */
}

bool vioapic_mmio(struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
    struct hvm_ioapic *io = v->domain->arch.hvm.ioapic;
    if (!io || gpa < IOAPIC_BASE || gpa >= IOAPIC_BASE + IOAPIC_LEN)
        return false;
    unsigned off = (unsigned)(gpa - IOAPIC_BASE);
    if (size != 4 || (off != 0x00 && off != 0x10)) {
        io->bad++;
        if (!write)
            *val = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
        return true;
    }
    if (off == 0x00) {
        if (write)
            io->sel = (uint8_t)*val;
        else
            *val = io->sel;
    } else if (write) {
        reg_write(io, v, io->sel, (uint32_t)*val);
    } else {
        *val = reg_read(io, io->sel);
    }
    return true;
}

static unsigned isa_pin(unsigned irq)
{
    return irq == 0 ? 2 : irq;
}

void vioapic_isa_irq(struct domain *d, unsigned irq)
{
    struct hvm_ioapic *io = d->arch.hvm.ioapic;
    if (!io || irq >= 16)
        return;
    deliver_edge(io, d->vcpu[0], isa_pin(irq));
}

/* A pin's input set to level: an edge pin delivers on the rise, a level
 * pin while asserted (deliver looks at remote IRR). */
static void set_input(struct hvm_ioapic *io, struct vcpu *v, unsigned pin, bool level)
{
    uint64_t bit = 1ULL << pin;
    uint64_t was = level ? __atomic_fetch_or(&io->input, bit, __ATOMIC_ACQ_REL)
                         : __atomic_fetch_and(&io->input, ~bit, __ATOMIC_ACQ_REL);
    if (!level)
        return;
    uint64_t e = __atomic_load_n(&io->rte[pin], __ATOMIC_ACQUIRE);
    if ((e & RTE_LEVEL) || !(was & bit))
        deliver(io, v, pin);
}

void vioapic_isa_level(struct domain *d, unsigned irq, bool level)
{
    struct hvm_ioapic *io = d->arch.hvm.ioapic;
    if (io && irq < 16)
        set_input(io, d->vcpu[0], isa_pin(irq), level);
}

void vioapic_gsi_level(struct domain *d, unsigned gsi, bool level)
{
    struct hvm_ioapic *io = d->arch.hvm.ioapic;
    if (io && gsi >= 16 && gsi < HVM_IOAPIC_PINS)
        set_input(io, d->vcpu[0], gsi, level);
}

unsigned vioapic_pci_intx_gsi(unsigned device, unsigned intx)
{
    return (((device << 2) + (device >> 3) + intx) & 31) + 16;
}

void vioapic_pci_intx(struct domain *d, unsigned device, unsigned intx, bool level)
{
    struct hvm_ioapic *io = d->arch.hvm.ioapic;
    if (!io || device > 31 || intx > 3)
        return;
    unsigned n = device * 4 + intx, gsi = vioapic_pci_intx_gsi(device, intx);
    uint64_t bit = 1ULL << (n % 64);
    if (level)
        __atomic_fetch_or(&io->intx[n / 64], bit, __ATOMIC_ACQ_REL);
    else
        __atomic_fetch_and(&io->intx[n / 64], ~bit, __ATOMIC_ACQ_REL);
    /* the GSI is asserted while any INTx mapped to it is */
    bool any = false;
    for (unsigned dev = 0; dev < 32 && !any; dev++)
        for (unsigned i = 0; i < 4 && !any; i++)
            if (vioapic_pci_intx_gsi(dev, i) == gsi) {
                unsigned m = dev * 4 + i;
                any = (__atomic_load_n(&io->intx[m / 64], __ATOMIC_ACQUIRE) >> (m % 64)) & 1;
            }
    set_input(io, d->vcpu[0], gsi, any);
}

void vioapic_eoi(struct domain *d, uint8_t vec)
{
    struct hvm_ioapic *io = d->arch.hvm.ioapic;
    if (!io)
        return;
    hvm_callback_level(d);                 /* an upcall the guest handled: its line falls */
    for (unsigned pin = 0; pin < HVM_IOAPIC_PINS; pin++) {
        uint64_t e = __atomic_load_n(&io->rte[pin], __ATOMIC_ACQUIRE);
        if ((uint8_t)e != vec || !(e & RTE_LEVEL) || !(e & RTE_REMOTE_IRR))
            continue;
        __atomic_fetch_and(&io->rte[pin], ~RTE_REMOTE_IRR, __ATOMIC_ACQ_REL);
        deliver(io, d->vcpu[0], pin);
    }
}
