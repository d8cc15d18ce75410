/* traps.c: minios's trap table, the C side of exception and callback entry, and per-vector handlers. */
#include <stddef.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include <minios/traps.h>
#include "kernel.h"
#include "traps-internal.h"

/* The entry stubs of trapentry.S, one per vector, and the callback entries. */
extern const unsigned long minios_trap_stubs[], minios_trap_stubs_end[];
void minios_event_entry(void);
void minios_failsafe_entry(void);
void minios_trap_dispatch(struct minios_trap_frame *f);

/* trapentry.S pushes the registers in exactly this order. */
_Static_assert(offsetof(struct minios_trap_frame, r15) == 8, "frame layout");
_Static_assert(offsetof(struct minios_trap_frame, rax) == 15 * 8, "frame layout");
_Static_assert(offsetof(struct minios_trap_frame, vector) == 16 * 8, "frame layout");
_Static_assert(offsetof(struct minios_trap_frame, rip) == 18 * 8, "frame layout");
_Static_assert(sizeof(struct minios_trap_frame) == 23 * 8, "frame layout");

#define VEC_DB 1
#define VEC_BP 3
#define VEC_OF 4
#define VEC_PF 14

/* trap_info.flags: bits 0-1 the privilege level that may raise the
 * vector with a software interrupt; bit 2 masks events on entry. */
#define TI_DPL3        3
#define TI_MASK_EVENTS 4

static const char *const vec_names[MINIOS_NR_TRAPS] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO",
    "#TS", "#NP", "#SS", "#GP", "#PF", "#SPV", "#MF", "#AC", "#MC", "#XM",
};

static minios_trap_handler handlers[MINIOS_NR_TRAPS];
static struct trap_info trap_table[MINIOS_NR_TRAPS + 1];
static int traps_ok;

int minios_set_trap_handler(unsigned vec, minios_trap_handler h)
{
    if (vec >= MINIOS_NR_TRAPS)
        return -XEN_EINVAL;
    handlers[vec] = h;
    return 0;
}

unsigned long minios_trap_entry(unsigned vec)
{
    unsigned n = (unsigned)(minios_trap_stubs_end - minios_trap_stubs);
    return vec < n && vec < MINIOS_NR_TRAPS ? minios_trap_stubs[vec] : 0;
}

int minios_traps_available(void)
{
    return traps_ok;
}

void minios_dump_frame(const struct minios_trap_frame *f)
{
    minios_printk("  rip %016lx  cs %04lx  rflags %016lx  rsp %016lx  ss %04lx\n",
                  f->rip, f->cs & 0xffff, f->rflags, f->rsp, f->ss & 0xffff);
    minios_printk("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n",
                  f->rax, f->rbx, f->rcx, f->rdx);
    minios_printk("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n",
                  f->rsi, f->rdi, f->rbp, f->r8);
    minios_printk("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n",
                  f->r9, f->r10, f->r11, f->r12);
    minios_printk("  r13 %016lx  r14 %016lx  r15 %016lx  cr2 %016lx\n",
                  f->r13, f->r14, f->r15, f->cr2);
}

/*
 * An exception nobody handles: print it, then end the domain. A fault
 * (rip at the faulting instruction) is re-executed with the trap table
 * cleared, so that the hypervisor itself reports and crashes the domain,
 * as it does for a guest without a trap table; a trap would just carry on
 * after the instruction, so it ends with SHUTDOWN_crash.
 */
static void unhandled(struct minios_trap_frame *f)
{
    static int reported;
    const char *name = f->vector < MINIOS_NR_TRAPS ? vec_names[f->vector] : "?";

    if (!reported) {
        reported = 1;
        minios_printk("minios: unhandled exception %s (vector %lu) error code %lx\n",
                      name, f->vector, f->error_code);
        minios_dump_frame(f);
    }
    if (f->vector != VEC_DB && f->vector != VEC_BP && f->vector != VEC_OF &&
        HYPERVISOR_set_trap_table(NULL) == 0)
        return;
    minios_shutdown(SHUTDOWN_crash);
}

void minios_trap_dispatch(struct minios_trap_frame *f)
{
    if (f->vector == MINIOS_VEC_EVENT) {
        minios_evtchn_upcall();
        return;
    }
    if (f->vector == MINIOS_VEC_FAILSAFE) {
        minios_printk("minios: failsafe callback: the hypervisor could not return to us\n");
        minios_dump_frame(f);
        minios_shutdown(SHUTDOWN_crash);
    }
    if (f->vector == VEC_PF) {
        vcpu_info_t *v = minios_vcpu_info();
        f->cr2 = v ? v->arch.cr2 : 0;
    }
    if (f->vector < MINIOS_NR_TRAPS && handlers[f->vector]) {
        handlers[f->vector](f);
        return;
    }
    unhandled(f);
}

void minios_traps_init(void)
{
    unsigned n = (unsigned)(minios_trap_stubs_end - minios_trap_stubs);

    for (unsigned v = 0; v < n && v < MINIOS_NR_TRAPS; v++) {
        trap_table[v] = (struct trap_info){
            .vector = (uint8_t)v,
            .flags = TI_MASK_EVENTS |
                     (v == VEC_BP || v == VEC_OF ? TI_DPL3 : 0),
            .cs = FLAT_KERNEL_CS,
            .address = minios_trap_stubs[v],
        };
    }
    /* trap_table[n] stays zero: the terminating entry. */
    traps_ok = HYPERVISOR_set_trap_table(trap_table) == 0;
}

/*
 * The event and failsafe callbacks. Xen's x86_64 set_callbacks takes
 * (event, failsafe, syscall); fall back to CALLBACKOP_register.
 */
int minios_callbacks_init(void)
{
    struct callback_register ev = {
        .type = CALLBACKTYPE_event,
        .address = (unsigned long)minios_event_entry,
    };
    struct callback_register fs = {
        .type = CALLBACKTYPE_failsafe,
        .address = (unsigned long)minios_failsafe_entry,
    };
    long rc = HYPERVISOR_set_callbacks((unsigned long)minios_event_entry,
                                       (unsigned long)minios_failsafe_entry, 0);

    if (rc == 0)
        return 0;
    rc = HYPERVISOR_callback_op(CALLBACKOP_register, &ev);
    if (rc == 0)
        HYPERVISOR_callback_op(CALLBACKOP_register, &fs);
    return (int)rc;
}
