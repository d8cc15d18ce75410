/* Local APIC (xAPIC, MMIO) and its timer, calibrated against the PIT. */
#include "lib.h"
#include "x86.h"
#include "apic.h"
#include "time.h"
#include "sched.h"

#define APIC_ID      0x020
#define APIC_EOI     0x0b0
#define APIC_SVR     0x0f0
#define APIC_LVT_TMR 0x320
#define APIC_TMR_ICR 0x380
#define APIC_TMR_CCR 0x390
#define APIC_TMR_DIV 0x3e0

static volatile uint32_t *apic;
static uint32_t ticks_per_slice;

void *map_mmio(uint64_t phys, uint64_t size);

static inline uint32_t apic_read(unsigned reg) { return apic[reg / 4]; }
static inline void apic_write(unsigned reg, uint32_t v) { apic[reg / 4] = v; }

void apic_eoi(void)
{
    apic_write(APIC_EOI, 0);
}

void apic_init(void)
{
    /* Mask the legacy PICs: the local APIC timer is our only interrupt. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    uint64_t base = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, base | (1 << 11));
    apic = map_mmio(base & ~0xfffULL, 4096);
    apic_write(APIC_SVR, 0x100 | VEC_SPURIOUS);

    /* Count APIC timer ticks (divide by 16) over 50 ms of the PIT. */
    apic_write(APIC_TMR_DIV, 0x3);
    apic_write(APIC_LVT_TMR, 1 << 16);     /* masked */
    apic_write(APIC_TMR_ICR, 0xffffffff);
    pit_wait_begin(50000);
    uint32_t c0 = apic_read(APIC_TMR_CCR);
    while (!pit_wait_done())
        ;
    uint32_t c1 = apic_read(APIC_TMR_CCR);
    uint64_t per_50ms = c0 - c1;
    ticks_per_slice = (uint32_t)(per_50ms * (SLICE_NS / 1000) / 50000);
    if (ticks_per_slice == 0)
        ticks_per_slice = 1;
    printk("apic: id %u, timer %lu kHz, %u ticks per %llu ms slice\n",
           apic_read(APIC_ID) >> 24, (unsigned long)(per_50ms / 50), ticks_per_slice,
           SLICE_NS / 1000000);

    apic_write(APIC_LVT_TMR, VEC_APIC_TIMER | (1 << 17));   /* periodic */
    apic_write(APIC_TMR_ICR, ticks_per_slice);
}
