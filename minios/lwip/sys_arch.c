/* sys_arch.c: lwIP's OS layer on minios's cooperative threads: semaphores, mutexes, mailboxes, threads, time, protection. */
#include <stdlib.h>
#include <string.h>

#include <minios/events.h>
#include <minios/thread.h>
#include <minios/time.h>

#include "lwip/opt.h"
#include "lwip/sys.h"
#include "lwip/err.h"

/*
 * Threads are cooperative and all run on vCPU 0, so a thread is only ever
 * interrupted by event handlers, which never touch lwIP. Every wait below
 * masks event delivery between checking its condition and waiting
 * (minios_waitq_wait re-enables it while the thread sleeps), and a
 * critical section (SYS_ARCH_PROTECT) only has to mask events.
 */

#define NS_PER_MS 1000000ull

void sys_init(void)
{
}

u32_t sys_now(void)
{
    return (u32_t)(minios_monotonic_ns() / NS_PER_MS);
}

sys_prot_t sys_arch_protect(void)
{
    return minios_events_save();
}

void sys_arch_unprotect(sys_prot_t pval)
{
    minios_events_restore(pval);
}

/* xorshift32, seeded from the clock at first use. */
uint32_t minios_lwip_rand(void)
{
    static uint32_t state;
    uint32_t x = state;

    if (x == 0) {
        uint64_t t = minios_monotonic_ns();
        x = (uint32_t)(t ^ (t >> 32)) | 1;
    }
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    state = x;
    return x;
}

/* The deadline for a wait of timeout_ms (0: none), in PV time. */
static uint64_t deadline_after(u32_t timeout_ms)
{
    return timeout_ms ? minios_monotonic_ns() + timeout_ms * NS_PER_MS : 0;
}

static u32_t ms_since(uint64_t start_ns)
{
    return (u32_t)((minios_monotonic_ns() - start_ns) / NS_PER_MS);
}

/* ---- semaphores ---- */

err_t sys_sem_new(sys_sem_t *sem, u8_t count)
{
    sem->count = count;
    sem->valid = 1;
    minios_waitq_init(&sem->waiters);
    return ERR_OK;
}

void sys_sem_free(sys_sem_t *sem)
{
    sem->valid = 0;
}

int sys_sem_valid(sys_sem_t *sem)
{
    return sem->valid;
}

void sys_sem_set_invalid(sys_sem_t *sem)
{
    sem->valid = 0;
}

void sys_sem_signal(sys_sem_t *sem)
{
    unsigned long f = minios_events_save();

    sem->count++;
    minios_waitq_wake_one(&sem->waiters);
    minios_events_restore(f);
}

/* Takes one count of sem, waiting at most timeout_ms (0: forever). */
static u32_t sem_take(sys_sem_t *sem, u32_t timeout_ms)
{
    uint64_t start = minios_monotonic_ns();
    uint64_t deadline = deadline_after(timeout_ms);
    unsigned long f = minios_events_save();

    while (sem->count == 0) {
        if (minios_waitq_wait(&sem->waiters, deadline) != 0 && sem->count == 0 &&
            deadline && minios_monotonic_ns() >= deadline) {
            minios_events_restore(f);
            return SYS_ARCH_TIMEOUT;
        }
    }
    sem->count--;
    minios_events_restore(f);
    return ms_since(start);
}

u32_t sys_arch_sem_wait(sys_sem_t *sem, u32_t timeout)
{
    return sem_take(sem, timeout);
}

/* ---- mutexes: semaphores that start at 1 ---- */

err_t sys_mutex_new(sys_mutex_t *mutex)
{
    return sys_sem_new(mutex, 1);
}

void sys_mutex_free(sys_mutex_t *mutex)
{
    mutex->valid = 0;
}

int sys_mutex_valid(sys_mutex_t *mutex)
{
    return mutex->valid;
}

void sys_mutex_set_invalid(sys_mutex_t *mutex)
{
    mutex->valid = 0;
}

void sys_mutex_lock(sys_mutex_t *mutex)
{
    sem_take(mutex, 0);
}

void sys_mutex_unlock(sys_mutex_t *mutex)
{
    sys_sem_signal(mutex);
}

/* ---- mailboxes ---- */

err_t sys_mbox_new(sys_mbox_t *mbox, int size)
{
    if (size <= 0)
        size = 16;
    mbox->slots = calloc((size_t)size, sizeof(void *));
    if (!mbox->slots) {
        mbox->valid = 0;
        return ERR_MEM;
    }
    mbox->size = (unsigned)size;
    mbox->head = 0;
    mbox->count = 0;
    mbox->valid = 1;
    minios_waitq_init(&mbox->not_empty);
    minios_waitq_init(&mbox->not_full);
    return ERR_OK;
}

void sys_mbox_free(sys_mbox_t *mbox)
{
    free(mbox->slots);
    mbox->slots = NULL;
    mbox->valid = 0;
}

int sys_mbox_valid(sys_mbox_t *mbox)
{
    return mbox->valid;
}

void sys_mbox_set_invalid(sys_mbox_t *mbox)
{
    mbox->valid = 0;
}

/* Appends msg; the caller has events masked and checked there is room. */
static void mbox_put(sys_mbox_t *mbox, void *msg)
{
    mbox->slots[(mbox->head + mbox->count) % mbox->size] = msg;
    mbox->count++;
    minios_waitq_wake_all(&mbox->not_empty);
}

static void *mbox_get(sys_mbox_t *mbox)
{
    void *msg = mbox->slots[mbox->head];

    mbox->head = (mbox->head + 1) % mbox->size;
    mbox->count--;
    minios_waitq_wake_all(&mbox->not_full);
    return msg;
}

void sys_mbox_post(sys_mbox_t *mbox, void *msg)
{
    unsigned long f = minios_events_save();

    while (mbox->count == mbox->size)
        minios_waitq_wait(&mbox->not_full, 0);
    mbox_put(mbox, msg);
    minios_events_restore(f);
}

err_t sys_mbox_trypost(sys_mbox_t *mbox, void *msg)
{
    unsigned long f = minios_events_save();
    err_t err = ERR_MEM;

    if (mbox->count < mbox->size) {
        mbox_put(mbox, msg);
        err = ERR_OK;
    }
    minios_events_restore(f);
    return err;
}

err_t sys_mbox_trypost_fromisr(sys_mbox_t *mbox, void *msg)
{
    return sys_mbox_trypost(mbox, msg);
}

u32_t sys_arch_mbox_fetch(sys_mbox_t *mbox, void **msg, u32_t timeout)
{
    uint64_t start = minios_monotonic_ns();
    uint64_t deadline = deadline_after(timeout);
    unsigned long f = minios_events_save();
    void *m;

    while (mbox->count == 0) {
        if (minios_waitq_wait(&mbox->not_empty, deadline) != 0 && mbox->count == 0 &&
            deadline && minios_monotonic_ns() >= deadline) {
            minios_events_restore(f);
            return SYS_ARCH_TIMEOUT;
        }
    }
    m = mbox_get(mbox);
    minios_events_restore(f);
    if (msg)
        *msg = m;
    return ms_since(start);
}

u32_t sys_arch_mbox_tryfetch(sys_mbox_t *mbox, void **msg)
{
    unsigned long f = minios_events_save();
    void *m;

    if (mbox->count == 0) {
        minios_events_restore(f);
        return SYS_MBOX_EMPTY;
    }
    m = mbox_get(mbox);
    minios_events_restore(f);
    if (msg)
        *msg = m;
    return 0;
}

/* ---- threads ---- */

sys_thread_t sys_thread_new(const char *name, lwip_thread_fn thread, void *arg,
                            int stacksize, int prio)
{
    struct minios_thread *t;

    (void)prio;
    t = minios_thread_create(name, thread, arg,
                             stacksize > 0 ? (unsigned long)stacksize : 0);
    LWIP_ASSERT("sys_thread_new: out of memory", t != NULL);
    return t;
}
