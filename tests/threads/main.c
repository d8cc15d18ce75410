/* Guest test: minios's cooperative threads: creation and exit, yield order,
 * sleeping (ordering and length), wait queues woken by threads and by an
 * event handler, deadlines, per-thread errno, and memory returned by
 * exited threads. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <minios/events.h>
#include <minios/thread.h>
#include <minios/time.h>
#include "report.h"

#define MS 1000000ULL

/* Yield order: three threads append their letter three times each. */
static char order[16];
static int order_len;

static void yielder(void *arg)
{
    for (int i = 0; i < 3; i++) {
        order[order_len++] = *(const char *)arg;
        minios_thread_yield();
    }
}

static void test_yield(void)
{
    order_len = 0;
    if (!minios_thread_create("a", yielder, "a", 0) ||
        !minios_thread_create("b", yielder, "b", 0) ||
        !minios_thread_create("c", yielder, "c", 16 << 10))
        test_fail("thread_create failed");
    /* main waits by yielding: runs after each round. */
    while (order_len < 9)
        minios_thread_yield();
    order[order_len] = 0;
    if (strcmp(order, "abcabcabc"))
        test_fail("yield order '%s', expected abcabcabc", order);
    minios_thread_yield();       /* let them exit */
}

/* Sleepers wake in deadline order, not creation order, and not early. */
static int woke[4], nwoke;
static uint64_t slept_ns[4];

static void sleeper(void *arg)
{
    int i = (int)(long)arg;
    uint64_t t0 = minios_monotonic_ns();
    minios_thread_sleep_ns((uint64_t)(40 - 10 * i) * MS);
    slept_ns[i] = minios_monotonic_ns() - t0;
    woke[nwoke++] = i;
}

static void test_sleep(void)
{
    nwoke = 0;
    for (long i = 0; i < 4; i++)
        minios_thread_create("sleeper", sleeper, (void *)i, 0);
    uint64_t t0 = minios_monotonic_ns();
    minios_sleep_ns(60 * MS);    /* main sleeps too: everyone blocks */
    uint64_t t = minios_monotonic_ns() - t0;
    CHECK_EQ(nwoke, 4);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(woke[i], 3 - i);
        if (slept_ns[i] < (uint64_t)(40 - 10 * i) * MS)
            test_fail("sleeper %d woke after %lu ns", i, (unsigned long)slept_ns[i]);
    }
    if (t < 60 * MS)
        test_fail("main slept %lu ns of 60 ms", (unsigned long)t);
    /* nanosleep() is a thread sleep too. */
    struct timespec ts = { 0, 5 * MS };
    CHECK_EQ(nanosleep(&ts, NULL), 0);
}

/* A producer and a consumer on wait queues. */
static struct minios_waitq q_full = MINIOS_WAITQ_INIT, q_empty = MINIOS_WAITQ_INIT;
static int slot = -1, consumed_sum, consumer_done;

static void producer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= 100; i++) {
        MINIOS_WAIT_EVENT(&q_empty, slot < 0);
        slot = i;
        minios_waitq_wake_one(&q_full);
    }
}

static void consumer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= 100; i++) {
        MINIOS_WAIT_EVENT(&q_full, slot >= 0);
        if (slot != i)
            test_fail("consumer got %d, expected %d", slot, i);
        consumed_sum += slot;
        slot = -1;
        minios_waitq_wake_one(&q_empty);
    }
    consumer_done = 1;
}

static void test_waitq(void)
{
    minios_thread_create("consumer", consumer, NULL, 0);
    minios_thread_create("producer", producer, NULL, 0);
    struct minios_waitq never = MINIOS_WAITQ_INIT;
    /* A deadline: nobody wakes us. */
    unsigned long f = minios_events_save();
    uint64_t t0 = minios_monotonic_ns();
    int rc = minios_waitq_wait(&never, t0 + 20 * MS);
    uint64_t t = minios_monotonic_ns() - t0;
    minios_events_restore(f);
    CHECK_EQ(rc, -XEN_ETIMEDOUT);
    if (t < 20 * MS)
        test_fail("deadline wait returned after %lu ns", (unsigned long)t);
    CHECK_EQ(never.head == NULL, 1);
    CHECK_EQ(consumer_done, 1);
    CHECK_EQ(consumed_sum, 5050);
}

/* An event handler wakes a waiting thread: a loopback channel to ourselves. */
static struct minios_waitq q_event = MINIOS_WAITQ_INIT;
static volatile int events_seen;

static void on_event(evtchn_port_t port, void *data)
{
    (void)port, (void)data;
    events_seen++;
    minios_waitq_wake_all(&q_event);
}

static int event_waiter_got;

static void event_waiter(void *arg)
{
    (void)arg;
    MINIOS_WAIT_EVENT(&q_event, events_seen >= 3);
    event_waiter_got = events_seen;
}

static void test_event_wake(void)
{
    evtchn_port_t a, b;
    CHECK_EQ(minios_evtchn_alloc_unbound(DOMID_SELF, &a), 0);
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, a, &b), 0);
    CHECK_EQ(minios_evtchn_bind(a, on_event, NULL), 0);
    minios_thread_create("evwait", event_waiter, NULL, 0);
    minios_thread_yield();       /* it waits now */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(minios_evtchn_send(b), 0);
        minios_sleep_ns(1 * MS);
    }
    minios_sleep_ns(1 * MS);
    CHECK_EQ(event_waiter_got, 3);
    minios_evtchn_close(a);
    minios_evtchn_close(b);
}

/* errno belongs to the thread that set it. */
static int errno_seen;

static void errno_thread(void *arg)
{
    (void)arg;
    errno = EIO;
    minios_thread_yield();
    errno_seen = errno;
}

static void test_errno(void)
{
    errno = ENOENT;
    minios_thread_create("errno", errno_thread, NULL, 0);
    minios_thread_yield();
    CHECK_EQ(errno, ENOENT);
    minios_thread_yield();
    CHECK_EQ(errno_seen, EIO);
    CHECK_EQ(errno, ENOENT);
}

/* Exited threads give their memory back: 400 threads with 64 KiB stacks
 * would not fit in this 4 MiB domain otherwise. */
static void nothing(void *arg)
{
    (void)arg;
}

static void test_memory(void)
{
    minios_thread_yield();
    struct mallinfo before = mallinfo();
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 8; i++)
            if (!minios_thread_create("tmp", nothing, NULL, 0))
                test_fail("create failed in round %d", round);
        minios_thread_yield();
        minios_thread_yield();
    }
    struct mallinfo after = mallinfo();
    printf("heap in use: %lu before, %lu after 400 threads\n", (unsigned long)before.uordblks,
           (unsigned long)after.uordblks);
    if (after.uordblks > before.uordblks)
        test_fail("threads leaked %lu bytes", (unsigned long)(after.uordblks - before.uordblks));
    CHECK_EQ(strcmp(minios_thread_name(minios_thread_self()), "main"), 0);
    CHECK_EQ(minios_thread_id(minios_thread_self()), 0);
}

/* op=overflow: a thread that recurses without end faults on its guard
 * page (the domain crashes with a #PF report) instead of corrupting
 * memory. */
static volatile int limit = 1 << 30;   /* never reached: 512 MiB of frames */

static int depth(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    if (n >= limit)
        return pad[0];
    return depth(n + 1) + pad[0];
}

static void overflow(void *arg)
{
    (void)arg;
    printf("overflow: recursing\n");
    depth(0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[argc - 1], "op=overflow")) {
        minios_thread_create("deep", overflow, NULL, 16 << 10);
        minios_sleep_ns(1000 * MS);
        test_fail("the overflowing thread did not fault");
        return test_finish();
    }
    test_yield();
    test_sleep();
    test_waitq();
    test_event_wake();
    test_errno();
    test_memory();
    return test_finish();
}
