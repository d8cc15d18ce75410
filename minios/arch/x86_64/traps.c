/* traps.c: minios's trap table, the C side of exception and callback entry, and per-vector handlers. */
#include <stddef.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include <minios/traps.h>
#include "kernel.h"
#include "traps-internal.h"
#ifdef MINIOS_PVH
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#endif

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
static int traps_ok;

#ifdef MINIOS_PVH
/*
 * The PVH build runs in ring 0 with an IDT: interrupt gates (events
 * masked on entry, as the PV trap table's TI_MASK_EVENTS) in the 64-bit
 * code segment of entry-pvh.S's GDT, for the exceptions and the event
 * callback's vector; any other vector is not present (#NP, then #DF:
 * reported as unhandled).
 */
#define PVH_KERNEL_CS 0x08
#define GATE_INTR     0x8e00u                      /* present, DPL 0, 64-bit interrupt gate */
static uint64_t idt[2 * 256] __attribute__((aligned(16)));

static void idt_set(unsigned vec, unsigned long entry)
{
    idt[2 * vec] = (entry & 0xffff) | ((uint64_t)PVH_KERNEL_CS << 16) |
                   ((uint64_t)GATE_INTR << 32) | ((uint64_t)(entry >> 16 & 0xffff) << 48);
    idt[2 * vec + 1] = entry >> 32;
}
#else
static struct trap_info trap_table[MINIOS_NR_TRAPS + 1];
#endif

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
#ifndef MINIOS_PVH
    if (f->vector != VEC_DB && f->vector != VEC_BP && f->vector != VEC_OF &&
        HYPERVISOR_set_trap_table(NULL) == 0)
        return;
#endif
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
#ifdef MINIOS_PVH
        __asm__ __volatile__("mov %%cr2, %0" : "=r"(f->cr2));
#else
        vcpu_info_t *v = minios_vcpu_info();
        f->cr2 = v ? v->arch.cr2 : 0;
#endif
    }
    if (f->vector < MINIOS_NR_TRAPS && handlers[f->vector]) {
        handlers[f->vector](f);
        return;
    }
    unhandled(f);
}

#ifdef MINIOS_PVH
void minios_traps_init(void)
{
    unsigned n = (unsigned)(minios_trap_stubs_end - minios_trap_stubs);
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

    for (unsigned v = 0; v < n && v < MINIOS_NR_TRAPS; v++)
        idt_set(v, minios_trap_stubs[v]);
    __asm__ __volatile__("lidt %0" : : "m"(idtr) : "memory");
    traps_ok = 1;
}

/*
 * The event callback: the vector's gate, then HVM_PARAM_CALLBACK_IRQ of
 * the "vector" type (Xen's domain-wide callback; no local APIC, no EOI).
 */
int minios_callbacks_init(void)
{
    struct xen_hvm_param p = {
        .domid = DOMID_SELF,
        .index = HVM_PARAM_CALLBACK_IRQ,
        .value = ((uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | MINIOS_PVH_EVENT_VECTOR,
    };

    idt_set(MINIOS_PVH_EVENT_VECTOR, (unsigned long)minios_event_entry);
    return (int)_hypercall2(__HYPERVISOR_hvm_op, HVMOP_set_param, &p);
}
#else
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
#endif
