/* arch/sys_arch.h: lwIP's OS types on minios's cooperative threads (semaphores, mutexes, mailboxes, threads). */
#ifndef MINIOS_LWIP_ARCH_SYS_ARCH_H
#define MINIOS_LWIP_ARCH_SYS_ARCH_H

#include <minios/thread.h>

/* A counting semaphore; a mutex is one whose count is at most 1. */
struct minios_lwip_sem {
    unsigned count;
    int valid;
    struct minios_waitq waiters;
};
typedef struct minios_lwip_sem sys_sem_t;
typedef struct minios_lwip_sem sys_mutex_t;

/* A bounded mailbox of pointers: a ring of size slots. */
struct minios_lwip_mbox {
    void **slots;
    unsigned size, head, count;
    int valid;
    struct minios_waitq not_empty, not_full;
};
typedef struct minios_lwip_mbox sys_mbox_t;

typedef struct minios_thread *sys_thread_t;

/* SYS_ARCH_PROTECT: event delivery masked (threads never preempt each other). */
typedef unsigned long sys_prot_t;

#endif /* MINIOS_LWIP_ARCH_SYS_ARCH_H */
