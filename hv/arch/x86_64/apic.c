/* Local APIC and its timer, calibrated against the PIT.  x2APIC mode
 * (registers as MSRs 0x800 + offset/16, 32-bit APIC ids, one 64-bit ICR)
 * where the CPU has it, unless the command line says x2apic=off; xAPIC
 * (MMIO) otherwise.  Every CPU runs in the mode the boot CPU chose. */
#include "lib.h"
#include "x86.h"
#include "apic.h"
#include "time.h"
#include "sched.h"
#include "boot.h"

#define APIC_ID      0x020
#define APIC_EOI     0x0b0
#define APIC_SVR     0x0f0
#define APIC_LVT_TMR 0x320
#define APIC_TMR_ICR 0x380
#define APIC_TMR_CCR 0x390
#define APIC_TMR_DIV 0x3e0

#define APIC_BASE_EXTD (1ULL << 10)    /* x2APIC mode */
#define APIC_BASE_EN   (1ULL << 11)
#define MSR_X2APIC_FIRST 0x800
#define MSR_X2APIC_ICR   0x830

static volatile uint32_t *apic;
static bool x2apic;
static uint32_t ticks_per_slice;
static uint64_t apic_per_ms;

void *map_mmio(uint64_t phys, uint64_t size);

static inline uint32_t apic_read(unsigned reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(MSR_X2APIC_FIRST + reg / 16);
    return apic[reg / 4];
}

static inline void apic_write(unsigned reg, uint32_t v)
{
    if (x2apic)
        wrmsr(MSR_X2APIC_FIRST + reg / 16, v);
    else
        apic[reg / 4] = v;
}

bool apic_x2apic_mode(void)
{
    return x2apic;
}

/* Enables this CPU's local APIC in the chosen mode.  Leaving x2APIC mode
 * needs a pass through disabled; we never leave it. */
static void apic_enable(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE) | APIC_BASE_EN;
    wrmsr(MSR_APIC_BASE, base);
    if (x2apic)
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
}

void apic_eoi(void)
{
    apic_write(APIC_EOI, 0);
}

#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310

uint32_t apic_id(void)
{
    return x2apic ? apic_read(APIC_ID) : apic_read(APIC_ID) >> 24;
}

static void icr(uint32_t dest, uint32_t lo)
{
    if (x2apic) {
        /* A WRMSR to the x2APIC is not serializing: order the stores the
         * target is to see (a remote call's argument, a flush request)
         * before the IPI itself. */
        __asm__ volatile("mfence; lfence" ::: "memory");
        wrmsr(MSR_X2APIC_ICR, (uint64_t)dest << 32 | lo);
        return;
    }
    while (apic_read(APIC_ICR_LO) & (1 << 12))   /* delivery pending */
        cpu_relax();
    apic_write(APIC_ICR_HI, dest << 24);
    apic_write(APIC_ICR_LO, lo);
}

void apic_send_ipi(uint32_t dest, unsigned vector)
{
    icr(dest, vector | (1 << 14));
}

/* An NMI to one CPU (the NMI state dump's, nmi_dump.c). */
void apic_send_nmi(uint32_t dest)
{
    icr(dest, 0x4400);
}

void apic_send_init(uint32_t dest)
{
    icr(dest, 0x4500);
}

void apic_send_sipi(uint32_t dest, unsigned page)
{
    icr(dest, 0x4600 | page);
}

/* An application processor's local APIC: same timer setup as the BSP. */
void apic_init_ap(void)
{
    apic_enable();
    apic_write(APIC_SVR, 0x100 | VEC_SPURIOUS);
    apic_write(APIC_TMR_DIV, 0x3);
    apic_write(APIC_LVT_TMR, VEC_APIC_TIMER);
    apic_write(APIC_TMR_ICR, 0);
}

static uint32_t apic_sample(void)
{
    return apic_read(APIC_TMR_CCR);
}

void apic_init(void)
{
    /* Mask the legacy PICs: the local APIC timer is our only interrupt. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    const char *v;
    size_t n;
    bool off = hv_option("x2apic", &v, &n) && n == 3 && !memcmp(v, "off", 3);
    x2apic = (c & (1u << 21)) && !off;
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (base & APIC_BASE_EXTD)
        x2apic = true;           /* firmware left it on: it stays on */
    if (!x2apic)
        apic = map_mmio(base & ~0xfffULL, 4096);
    apic_enable();
    apic_write(APIC_SVR, 0x100 | VEC_SPURIOUS);

    /* Count APIC timer ticks (divide by 16) over the TSC's calibration. */
    apic_write(APIC_TMR_DIV, 0x3);
    apic_write(APIC_LVT_TMR, 1 << 16);     /* masked */
    apic_write(APIC_TMR_ICR, 0xffffffff);
    uint64_t per_ms = (uint64_t)time_calibrate(apic_sample) * 1000 / CALIBRATE_US;
    ticks_per_slice = (uint32_t)(per_ms * (SLICE_NS / 1000000));
    if (ticks_per_slice == 0)
        ticks_per_slice = 1;
    printk("apic: %s, id %u, TSC %lu kHz, timer %lu kHz, %u ticks per %llu ms slice\n",
           x2apic ? "x2APIC" : "xAPIC", apic_id(), (unsigned long)tsc_khz, (unsigned long)per_ms, ticks_per_slice,
           SLICE_NS / 1000000);

    apic_per_ms = per_ms ? per_ms : 1;
    apic_write(APIC_LVT_TMR, VEC_APIC_TIMER);               /* one-shot */
    apic_write(APIC_TMR_ICR, 0);
}

/* Arms the one-shot timer ns from now (0 stops it). */
void apic_oneshot_ns(uint64_t ns)
{
    if (!ns) {
        apic_write(APIC_TMR_ICR, 0);
        return;
    }
    uint64_t t = ns * apic_per_ms / 1000000;
    if (t == 0)
        t = 1;
    if (t > 0xffffffffULL)
        t = 0xffffffffULL;
    apic_write(APIC_TMR_ICR, (uint32_t)t);
}
