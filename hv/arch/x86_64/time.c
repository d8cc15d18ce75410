/* TSC calibration against PIT channel 2, and ns timestamps. */
#include "time.h"
#include "x86.h"

uint64_t tsc_khz;

#define PIT_HZ 1193182

/* Starts a one-shot countdown on PIT channel 2 (gate via port 0x61). */
void pit_wait_begin(unsigned us)
{
    uint32_t count = (uint32_t)((uint64_t)PIT_HZ * us / 1000000);
    if (count > 0xffff)
        count = 0xffff;
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);   /* gate on, speaker off */
    outb(0x43, 0xb0);                           /* ch2, lo/hi, mode 0 */
    outb(0x42, count & 0xff);
    outb(0x42, count >> 8);
}

bool pit_wait_done(void)
{
    return inb(0x61) & 0x20;
}

void time_init(void)
{
    /* 50 ms in one PIT period: 59659 ticks < 65536. */
    pit_wait_begin(50000);
    uint64_t t0 = rdtsc();
    while (!pit_wait_done())
        ;
    uint64_t t1 = rdtsc();
    tsc_khz = (t1 - t0) / 50;
    if (tsc_khz == 0)
        tsc_khz = 1;
}

uint64_t now_ns(void)
{
    if (!tsc_khz)
        return 0;
    uint64_t d = rdtsc() - boot_tsc;
    return d / tsc_khz * 1000000 + (d % tsc_khz) * 1000000 / tsc_khz;
}
