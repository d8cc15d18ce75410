/* time.c: newlib's time calls (clock_gettime, gettimeofday, nanosleep, sleep) on minios's PV clock. */
#include <errno.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <minios/events.h>
#include <minios/time.h>

#define NS_PER_SEC 1000000000ull

/* newlib's <time.h> names the monotonic clock only where the target
 * defines _POSIX_MONOTONIC_CLOCK; its value there is 4. */
#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC ((clockid_t)4)
#endif

/* Without shared_info there is no clock: ENOSYS, and time() is -1. */
int clock_gettime(clockid_t clock, struct timespec *ts)
{
    uint64_t sec, ns;
    uint32_t nsec;

    if (!minios_shared_info) {
        errno = ENOSYS;
        return -1;
    }
    switch (clock) {
    case CLOCK_MONOTONIC:
        ns = minios_monotonic_ns();
        ts->tv_sec = (time_t)(ns / NS_PER_SEC);
        ts->tv_nsec = (long)(ns % NS_PER_SEC);
        return 0;
    case CLOCK_REALTIME:
        minios_wallclock(&sec, &nsec);
        ts->tv_sec = (time_t)sec;
        ts->tv_nsec = (long)nsec;
        return 0;
    default:
        errno = EINVAL;
        return -1;
    }
}

int clock_getres(clockid_t clock, struct timespec *res)
{
    if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME) {
        errno = EINVAL;
        return -1;
    }
    if (res)
        *res = (struct timespec){ .tv_sec = 0, .tv_nsec = 1 };
    return 0;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    struct timespec ts;

    (void)tz;
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return -1;
    if (tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return 0;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!req || req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= (long)NS_PER_SEC) {
        errno = EINVAL;
        return -1;
    }
    if (!minios_shared_info) {
        errno = ENOSYS;
        return -1;
    }
    minios_sleep_ns((uint64_t)req->tv_sec * NS_PER_SEC + (uint64_t)req->tv_nsec);
    if (rem)
        *rem = (struct timespec){ 0 };
    return 0;
}

int usleep(useconds_t us)
{
    struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

    return nanosleep(&ts, NULL);
}

unsigned sleep(unsigned sec)
{
    struct timespec ts = { .tv_sec = sec, .tv_nsec = 0 };

    return nanosleep(&ts, NULL) == 0 ? 0 : sec;
}
