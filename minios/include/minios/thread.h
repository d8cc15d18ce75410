/* thread.h: minios's cooperative threads, wait queues and sleeping. */
#ifndef MINIOS_THREAD_H
#define MINIOS_THREAD_H

#include <stdint.h>

/*
 * Threads are cooperative: a thread runs until it blocks (a wait queue,
 * a sleep), yields or exits. They all run on vCPU 0. Event handlers run
 * in upcall context between two instructions of any thread: they must not
 * block, but they may wake threads (minios_waitq_wake_*). When no thread
 * can run, minios blocks the vCPU (SCHEDOP_block) until an event or the
 * earliest sleeper's deadline.
 *
 * main() runs in the first thread. Each thread has its own newlib
 * reentrancy structure, so errno is per thread. When main() returns (or
 * any thread calls exit()), the domain shuts down with every thread.
 */

struct minios_thread;
typedef void (*minios_thread_fn)(void *arg);

/* Default stack of a thread created with stack_size 0. */
#define MINIOS_THREAD_STACK (64u << 10)

/* Creates a runnable thread that calls fn(arg) and exits when fn returns.
 * name is copied (up to 31 characters). The stack (stack_size rounded up
 * to whole pages) comes from the page allocator with an unmapped guard
 * page below it: an overflow faults. NULL if memory ran out. */
struct minios_thread *minios_thread_create(const char *name, minios_thread_fn fn,
                                           void *arg, unsigned long stack_size);

/* Ends the calling thread; its stack is freed once another thread runs.
 * In the first thread (main's) this is exit(0). */
void minios_thread_exit(void) __attribute__((noreturn));

/* The calling thread, its name and its number (main's is 0). */
struct minios_thread *minios_thread_self(void);
const char *minios_thread_name(const struct minios_thread *t);
unsigned minios_thread_id(const struct minios_thread *t);

/* Lets the other runnable threads run first; returns at once if there
 * are none. */
void minios_thread_yield(void);

/* Sleeps the calling thread for at least ns nanoseconds of PV time while
 * the others run. (minios_sleep_ns in <minios/time.h> is the same.) */
void minios_thread_sleep_ns(uint64_t ns);

/* Makes a thread that is blocked (in minios_waitq_wait) or sleeping
 * runnable; it returns from its wait early. Nothing if it already is. */
void minios_thread_wake(struct minios_thread *t);

/*
 * Wait queues. A waiter checks its condition and, if it does not hold,
 * waits, with event delivery masked between the check and the wait, so
 * that a handler's wake-up cannot slip in between:
 *
 *     unsigned long f = minios_events_save();
 *     while (!cond)
 *         minios_waitq_wait(&q, 0);
 *     minios_events_restore(f);
 *
 * MINIOS_WAIT_EVENT(q, cond) does exactly that.
 */
struct minios_waitq {
    struct minios_thread *head, *tail;
};
#define MINIOS_WAITQ_INIT { 0, 0 }

void minios_waitq_init(struct minios_waitq *q);

/*
 * Waits on q until woken or, if deadline_ns is not 0, until PV time
 * (minios_monotonic_ns) reaches deadline_ns. Returns 0 when woken, or
 * -XEN_ETIMEDOUT at the deadline. Call it with event delivery masked;
 * it returns with delivery masked (it is enabled while the thread waits).
 */
int minios_waitq_wait(struct minios_waitq *q, uint64_t deadline_ns);

/* Wakes the first waiter / every waiter of q. Callable from handlers.
 * Returns how many threads were woken. */
int minios_waitq_wake_one(struct minios_waitq *q);
int minios_waitq_wake_all(struct minios_waitq *q);

#define MINIOS_WAIT_EVENT(q, cond)                      \
    do {                                                \
        unsigned long minios_f_ = minios_events_save(); \
        while (!(cond))                                 \
            minios_waitq_wait((q), 0);                  \
        minios_events_restore(minios_f_);               \
    } while (0)

#endif /* MINIOS_THREAD_H */
