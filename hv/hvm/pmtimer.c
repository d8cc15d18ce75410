/*
 * The ACPI PM timer and PM1a event block of a type=hvm domain (docs/hvm.md,
 * "ACPI"), emulated in the hypervisor as Xen's hvm/pmtimer.c, at the
 * ports of the public header's V1 layout (QEMU's PIIX4 PM, which the device
 * model's FADT names): PM1a_STS and PM1a_EN at 0xb000 and 0xb002, the timer
 * at 0xb008.  PM1a_CNT (0xb004) is the device model's, as under Xen.
 *
 * - The timer counts at 3.579545 MHz from the domain's build, 24 bits
 *   wide (the FADT leaves TMR_VAL_EXT clear); it is read with 32-bit IN
 *   only.  Any other access is refused as Xen refuses it: a read gets all
 *   ones, a write is dropped, both counted.
 * - PM1a_STS: TMR_STS (bit 0) is set whenever the count's bit 23 changes;
 *   writing a 1 clears a status bit.  PM1a_EN keeps what is written.
 *   Any width, byte by byte, inside the 4-byte block.
 * - The SCI (ISA IRQ 9, the FADT's SCI_INT) is asserted while a status
 *   bit of the SCI set (timer, global lock, power and sleep buttons, RTC)
 *   and its enable bit are both set; with TMR_EN the vCPU's timer wakes it
 *   when bit 23 next changes, so the interrupt comes in HLT too.
 *
 * Only vCPU 0 of the domain touches this (its port exits and the checks
 * before each VMRUN), as the PIT's state (isa.c).
 */
#include "lib.h"
#include "domain.h"
#include "time.h"
#include "hvm.h"
#include "hvm_internal.h"
#include <xen/hvm/ioreq.h>

#define PM_HZ        3579545ULL
#define PM_EVT       ACPI_PM1A_EVT_BLK_ADDRESS_V1
#define PM_TMR       ACPI_PM_TMR_BLK_ADDRESS_V1
#define TMR_STS      (1u << 0)
#define TMR_EN       (1u << 0)
#define SCI_IRQ      9
/* TMR, GBL, PWRBTN, SLPBTN, RTC: the status bits that raise the SCI. */
#define SCI_MASK     ((1u << 0) | (1u << 5) | (1u << 8) | (1u << 9) | (1u << 10))

/* Timer ticks in ns of system time, and back (no 128-bit division). */
static uint64_t ns_to_ticks(uint64_t ns)
{
    return ns / 1000000000ULL * PM_HZ + ns % 1000000000ULL * PM_HZ / 1000000000ULL;
}

static uint64_t ticks_to_ns(uint64_t t)
{
    return t / PM_HZ * 1000000000ULL + (t % PM_HZ * 1000000000ULL + PM_HZ - 1) / PM_HZ;
}

static uint64_t pm_ticks(const struct hvm_pm *pm, uint64_t now)
{
    return now > pm->start ? ns_to_ticks(now - pm->start) : 0;
}

void hvm_pm_init(struct domain *d)
{
    struct hvm_pm *pm = &d->arch.hvm.pm;
    memset(pm, 0, sizeof(*pm));
    pm->start = now_ns();
}

/* TMR_STS from the count, the wake-up for the next change of bit 23
 * while TMR_EN waits for it, and the SCI line from status and enables. */
static void pm_update(struct vcpu *v, uint64_t now)
{
    struct domain *d = v->domain;
    struct hvm_pm *pm = &d->arch.hvm.pm;
    uint64_t msb = pm_ticks(pm, now) >> 23;
    if (msb != pm->msb_seen) {
        pm->msb_seen = msb;
        pm->sts |= TMR_STS;
    }
    uint64_t at = 0;
    if ((pm->en & TMR_EN) && !(pm->sts & TMR_STS))
        at = pm->start + ticks_to_ns((msb + 1) << 23);
    if (at != pm->sci_at) {
        pm->sci_at = at;
        hvm_timer_arm(v);
    }
    bool sci = (pm->sts & pm->en & SCI_MASK) != 0;
    if (sci != pm->sci) {
        pm->sci = sci;
        hvm_isa_irq_level(d, SCI_IRQ, sci);
        if (sci)
            pm->scis++;
    }
}

void hvm_pm_check(struct vcpu *v)
{
    if (v->domain->arch.hvm.firmware && v->id == 0)
        pm_update(v, now_ns());
}

bool hvm_pm_port_owned(struct domain *d, unsigned port, unsigned size)
{
    if (!d->arch.hvm.firmware)
        return false;
    return (port >= PM_EVT && port + size <= PM_EVT + 4) ||
           (port >= PM_TMR && port + size <= PM_TMR + 4);
}

bool hvm_pm_port(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t *val)
{
    struct domain *d = v->domain;
    if (!hvm_pm_port_owned(d, port, size))
        return false;
    struct hvm_pm *pm = &d->arch.hvm.pm;
    uint64_t now = now_ns();
    pm_update(v, now);
    if (port >= PM_TMR) {
        if (port == PM_TMR && size == 4 && in) {
            *val = (uint32_t)(pm_ticks(pm, now) & 0xffffff);
        } else {
            pm->bad++;                            /* as Xen: 32-bit reads only */
            if (in)
                *val = size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
        }
        return true;
    }
    uint32_t r = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned off = port - PM_EVT + i;
        uint8_t b = (uint8_t)(*val >> (8 * i));
        uint16_t *reg = off < 2 ? &pm->sts : &pm->en;
        unsigned shift = (off & 1) * 8;
        if (in)
            r |= (uint32_t)((*reg >> shift) & 0xff) << (8 * i);
        else if (off < 2)
            pm->sts &= (uint16_t)~(b << shift);  /* status: a 1 clears */
        else
            pm->en = (uint16_t)((pm->en & ~(0xff << shift)) | (b << shift));
    }
    if (in)
        *val = r;
    else
        pm_update(v, now);
    return true;
}
