/* TSC calibration against PIT channel 2, and ns timestamps. */
#include "lib.h"
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

/* One round: TSC ticks and the caller's down-counter over us of the PIT. */
static void round_of(unsigned us, uint32_t (*sample)(void), uint64_t *tsc, uint32_t *other)
{
    pit_wait_begin(us);
    uint64_t t0 = rdtsc();
    uint32_t s0 = sample ? sample() : 0;
    while (!pit_wait_done())
        ;
    uint64_t t1 = rdtsc();
    uint32_t s1 = sample ? sample() : 0;
    *tsc = t1 - t0;
    *other = s0 - s1;
}

/*
 * Calibrates the TSC, and a down-counter the caller samples, against
 * CALIBRATE_US of PIT channel 2.  Under emulation the host may stop the
 * emulated CPU for a while in the middle of a round (a loaded machine):
 * that round's counts come out far off (one round once made the TSC look
 * 65 times faster than it is, and every guest timeout took 65 times
 * longer).  So a short second round checks the first; if they disagree
 * by more than 2%, the median of CALIBRATE_ROUNDS full rounds is taken,
 * which ignores up to two bad ones.
 */
uint32_t time_calibrate(uint32_t (*sample)(void))
{
    uint64_t tsc[CALIBRATE_ROUNDS], check;
    uint32_t other[CALIBRATE_ROUNDS], check_other;
    round_of(CALIBRATE_US, sample, &tsc[0], &other[0]);
    round_of(CALIBRATE_US / 5, sample, &check, &check_other);
    unsigned best = 0;
    uint64_t scaled = check * 5;
    if (scaled < tsc[0] * 98 / 100 || scaled > tsc[0] * 102 / 100) {
        printk("time: calibration rounds disagree (%lu and %lu TSC ticks per %u us): "
               "taking the median of %u\n", (unsigned long)tsc[0], (unsigned long)scaled,
               CALIBRATE_US, CALIBRATE_ROUNDS);
        for (unsigned r = 1; r < CALIBRATE_ROUNDS; r++)
            round_of(CALIBRATE_US, sample, &tsc[r], &other[r]);
        /* The median by TSC count: the round with as many below as above. */
        for (unsigned r = 0; r < CALIBRATE_ROUNDS; r++) {
            unsigned below = 0, same = 0;
            for (unsigned k = 0; k < CALIBRATE_ROUNDS; k++) {
                if (tsc[k] < tsc[r])
                    below++;
                else if (tsc[k] == tsc[r])
                    same++;
            }
            if (below <= CALIBRATE_ROUNDS / 2 && below + same > CALIBRATE_ROUNDS / 2) {
                best = r;
                break;
            }
        }
    }
    tsc_khz = tsc[best] * 1000 / CALIBRATE_US;
    if (tsc_khz == 0)
        tsc_khz = 1;
    return other[best];
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
