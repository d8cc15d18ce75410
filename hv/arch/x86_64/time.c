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

/* Calibrates the TSC, and whatever else the caller samples, against
 * CALIBRATE_US of PIT channel 2. */
void time_calibrate(void (*sample)(bool end))
{
    pit_wait_begin(CALIBRATE_US);
    uint64_t t0 = rdtsc();
    if (sample)
        sample(false);
    while (!pit_wait_done())
        ;
    uint64_t t1 = rdtsc();
    if (sample)
        sample(true);
    tsc_khz = (t1 - t0) * 1000 / CALIBRATE_US;
    if (tsc_khz == 0)
        tsc_khz = 1;
}

uint64_t now_ns(void)
{
    if (!tsc_khz)
        return 0;
    uint64_t d = rdtsc() - boot_tsc;
    if (tsc_mul)
        return tsc_to_ns(d);
    return d / tsc_khz * 1000000 + (d % tsc_khz) * 1000000 / tsc_khz;   /* early boot */
}
