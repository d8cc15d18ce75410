/* thread.c: minios's cooperative threads: run queue, wait queues, sleeping and the idle block. */
#include <reent.h>
#include <stdlib.h>
#include <string.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/sched.h>
#include <minios/thread.h>
#include <minios/time.h>
#include "kernel.h"

enum thread_state {
    TS_RUNNABLE,                 /* running, or on the run queue */
    TS_WAITING,                  /* on a wait queue, maybe with a deadline */
    TS_SLEEPING,                 /* until its deadline */
    TS_EXITED,                   /* its stack awaits freeing */
};

struct minios_thread {
    unsigned long sp;            /* saved stack pointer while not running */
    enum thread_state state;
    struct minios_thread *run_next;   /* run queue */
    struct minios_thread *wait_next;  /* wait queue */
    struct minios_thread *all_next;   /* every live thread */
    struct minios_waitq *waitq;
    uint64_t deadline;           /* 0: none */
    int timed_out;
    minios_thread_fn fn;
    void *arg;
    void *stack;                 /* its guard page, then the stack */
    unsigned long stack_pages;
    struct _reent *reent;
    struct _reent own_reent;
    unsigned id;
    char name[32];
};

void minios_switch_stacks(unsigned long *save_sp, unsigned long new_sp);
void minios_thread_trampoline(void);
void minios_thread_main(struct minios_thread *t) __attribute__((noreturn));
/* newlib's stdio set-up (its internal local.h). */
void __sinit(struct _reent *);

static struct minios_thread main_thread = {
    .state = TS_RUNNABLE,
    .name = "main",
};
static struct minios_thread *current = &main_thread;
static struct minios_thread *all_threads = &main_thread;
static struct minios_thread *run_head, *run_tail;
static struct minios_thread *zombie;
static unsigned next_id = 1;

static void run_push(struct minios_thread *t)
{
    t->state = TS_RUNNABLE;
    t->run_next = NULL;
    if (run_tail)
        run_tail->run_next = t;
    else
        run_head = t;
    run_tail = t;
}

static struct minios_thread *run_pop(void)
{
    struct minios_thread *t = run_head;

    if (t) {
        run_head = t->run_next;
        if (!run_head)
            run_tail = NULL;
        t->run_next = NULL;
    }
    return t;
}

static void waitq_remove(struct minios_waitq *q, struct minios_thread *t)
{
    struct minios_thread *prev = NULL;

    for (struct minios_thread *p = q->head; p; prev = p, p = p->wait_next) {
        if (p != t)
            continue;
        if (prev)
            prev->wait_next = p->wait_next;
        else
            q->head = p->wait_next;
        if (q->tail == p)
            q->tail = prev;
        p->wait_next = NULL;
        return;
    }
}

/* Makes a waiting or sleeping thread runnable. Events masked. */
static void make_runnable(struct minios_thread *t, int timed_out)
{
    if (t->state == TS_WAITING && t->waitq) {
        waitq_remove(t->waitq, t);
        t->waitq = NULL;
    }
    if (t->state == TS_WAITING || t->state == TS_SLEEPING) {
        t->timed_out = timed_out;
        t->deadline = 0;
        run_push(t);
    }
}

/* Wakes the threads whose deadline passed; returns the earliest deadline
 * still ahead (0: none). Events masked. */
static uint64_t expire_deadlines(void)
{
    uint64_t now = minios_monotonic_ns(), next = 0;

    for (struct minios_thread *t = all_threads; t; t = t->all_next) {
        if ((t->state != TS_WAITING && t->state != TS_SLEEPING) || !t->deadline)
            continue;
        if (t->deadline <= now)
            make_runnable(t, 1);
        else if (!next || t->deadline < next)
            next = t->deadline;
    }
    return next;
}

/*
 * Stacks come from the page allocator with their lowest page unmapped: a
 * thread that overflows its stack faults there (and minios reports it)
 * instead of writing over someone else's memory.
 */
#define PAGE_SIZE 4096ul

static void *stack_alloc(unsigned long pages)
{
    char *p = minios_alloc_pages(pages + 1);
    if (!p)
        return NULL;
    if (minios_mm_guard(p, 1) < 0) {
        minios_free_pages(p, pages + 1);
        return NULL;
    }
    return p;
}

static void stack_free(void *p, unsigned long pages)
{
    minios_mm_guard(p, 0);
    minios_free_pages(p, pages + 1);
}

static void free_zombie(void)
{
    struct minios_thread *z = zombie;

    if (!z || z == current)
        return;
    zombie = NULL;
    /* Its streams are the global ones: nothing of stdio to clean up
     * (newlib would call a __cleanup hook that __sinit never set). */
    z->own_reent.__sdidinit = 0;
    _reclaim_reent(&z->own_reent);
    stack_free(z->stack, z->stack_pages);
    free(z);
}

/*
 * Runs the next runnable thread; the caller has put current where it
 * belongs (the run queue, a wait queue, asleep, exited). With nothing
 * runnable, blocks the vCPU until an event or the earliest deadline
 * (minios_block, which loses no wake-up). Called with events masked;
 * returns with events masked, in the caller's thread, once it runs again.
 */
static void schedule(void)
{
    struct minios_thread *prev = current, *next;

    for (;;) {
        uint64_t deadline = expire_deadlines();

        next = run_pop();
        if (next)
            break;
        if (!minios_events_available()) {
            /* No events: only deadlines can wake anyone. */
            if (!deadline) {
                minios_printk("minios: every thread waits and events are unavailable\n");
                minios_shutdown(SHUTDOWN_crash);
            }
            minios_yield();
            continue;
        }
        minios_block(deadline);
    }
    if (next != prev) {
        current = next;
        _impure_ptr = next->reent;
        minios_switch_stacks(&prev->sp, next->sp);
        /* Back in prev, now current again. */
    }
    free_zombie();
}

void minios_thread_main(struct minios_thread *t)
{
    free_zombie();
    minios_events_enable();
    t->fn(t->arg);
    minios_thread_exit();
}

struct minios_thread *minios_thread_create(const char *name, minios_thread_fn fn,
                                           void *arg, unsigned long stack_size)
{
    struct minios_thread *t = calloc(1, sizeof(*t));

    if (!stack_size)
        stack_size = MINIOS_THREAD_STACK;
    stack_size = (stack_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    if (!t)
        return NULL;
    t->stack_pages = stack_size / PAGE_SIZE;
    t->stack = stack_alloc(t->stack_pages);
    if (!t->stack) {
        free(t);
        return NULL;
    }
    t->fn = fn;
    t->arg = arg;
    strncpy(t->name, name ? name : "thread", sizeof(t->name) - 1);

    /*
     * Its own reentrancy structure (errno, strtok's state ...) but the
     * process's stdin, stdout and stderr: newlib's exit() flushes only
     * the global ones.
     */
    struct _reent *g = _GLOBAL_REENT;
    if (!g->__sdidinit)
        __sinit(g);
    _REENT_INIT_PTR(&t->own_reent);
    t->own_reent._stdin = g->_stdin;
    t->own_reent._stdout = g->_stdout;
    t->own_reent._stderr = g->_stderr;
    t->own_reent.__sdidinit = 1;
    t->reent = &t->own_reent;

    /* The frame minios_switch_stacks pops: control words, r15..r12, rbx,
     * rbp, then the return address; r12 carries the thread. */
    unsigned long *sp = (unsigned long *)((unsigned long)t->stack + PAGE_SIZE + stack_size);
    *--sp = 0;                   /* after the "return": rsp 16-aligned */
    *--sp = 0;
    *--sp = (unsigned long)minios_thread_trampoline;
    *--sp = 0;                                    /* rbp */
    *--sp = 0;                                    /* rbx */
    *--sp = (unsigned long)t;                     /* r12 */
    *--sp = 0;                                    /* r13 */
    *--sp = 0;                                    /* r14 */
    *--sp = 0;                                    /* r15 */
    *--sp = 0x037f00001f80ul;                     /* FCW 0x37f, MXCSR 0x1f80 */
    t->sp = (unsigned long)sp;

    unsigned long f = minios_events_save();
    t->id = next_id++;
    t->all_next = all_threads;
    all_threads = t;
    run_push(t);
    minios_events_restore(f);
    return t;
}

void minios_thread_exit(void)
{
    if (current == &main_thread)
        exit(0);
    minios_events_disable();
    struct minios_thread **pp = &all_threads;
    while (*pp != current)
        pp = &(*pp)->all_next;
    *pp = current->all_next;
    free_zombie();                /* at most one waits: we are not it */
    current->state = TS_EXITED;
    zombie = current;
    schedule();
    __builtin_unreachable();
}

struct minios_thread *minios_thread_self(void)
{
    return current;
}

const char *minios_thread_name(const struct minios_thread *t)
{
    return t->name;
}

unsigned minios_thread_id(const struct minios_thread *t)
{
    return t->id;
}

void minios_thread_yield(void)
{
    unsigned long f = minios_events_save();

    if (run_head) {
        run_push(current);
        schedule();
    }
    minios_events_restore(f);
}

void minios_thread_sleep_ns(uint64_t ns)
{
    unsigned long f = minios_events_save();
    uint64_t deadline = minios_monotonic_ns() + ns;

    if (ns) {
        current->state = TS_SLEEPING;
        current->deadline = deadline ? deadline : 1;
        schedule();
    }
    minios_events_restore(f);
}

void minios_thread_wake(struct minios_thread *t)
{
    unsigned long f = minios_events_save();

    make_runnable(t, 0);
    minios_events_restore(f);
}

void minios_waitq_init(struct minios_waitq *q)
{
    q->head = q->tail = NULL;
}

int minios_waitq_wait(struct minios_waitq *q, uint64_t deadline_ns)
{
    struct minios_thread *t = current;

    t->state = TS_WAITING;
    t->waitq = q;
    t->deadline = deadline_ns;
    t->timed_out = 0;
    t->wait_next = NULL;
    if (q->tail)
        q->tail->wait_next = t;
    else
        q->head = t;
    q->tail = t;
    schedule();
    return t->timed_out ? -XEN_ETIMEDOUT : 0;
}

int minios_waitq_wake_one(struct minios_waitq *q)
{
    unsigned long f = minios_events_save();
    int n = 0;

    if (q->head) {
        make_runnable(q->head, 0);
        n = 1;
    }
    minios_events_restore(f);
    return n;
}

int minios_waitq_wake_all(struct minios_waitq *q)
{
    unsigned long f = minios_events_save();
    int n = 0;

    while (q->head) {
        make_runnable(q->head, 0);
        n++;
    }
    minios_events_restore(f);
    return n;
}

/* Called once at start of day: main's reentrancy structure is newlib's
 * global one. */
void minios_threads_init(void)
{
    main_thread.reent = _impure_ptr;
}
