/* traps.h: minios's guest exception handling: the trap frame and per-vector handlers. */
#ifndef MINIOS_TRAPS_H
#define MINIOS_TRAPS_H

#include <stdint.h>

/* Vectors that minios installs in the hypervisor's virtual IDT
 * (HYPERVISOR_set_trap_table): 0 .. MINIOS_NR_TRAPS - 1. */
#define MINIOS_NR_TRAPS 20

/*
 * The registers of the interrupted code, as minios's entry code saves them
 * (arch/x86_64/trapentry.S), lowest address first. rcx and r11 are the
 * interrupted values (the hypervisor saved them in its bounce frame).
 * error_code is the hardware error code for #DF, #TS, #NP, #SS, #GP, #PF
 * and #AC, 0 otherwise. cr2 is the faulting address for #PF (read from
 * vcpu_info->arch.cr2), 0 otherwise. cs carries the saved event mask in
 * bits 32-39, as the hypervisor puts it; rflags.IF is the inverse of that
 * mask. A handler may change any field but cs and ss; the new values are
 * loaded when it returns (through HYPERVISOR_iret).
 */
struct minios_trap_frame {
    uint64_t cr2;
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*minios_trap_handler)(struct minios_trap_frame *f);

/*
 * Installs h for vector vec (< MINIOS_NR_TRAPS); NULL restores the
 * default. Returns 0, or -EINVAL for a vector out of range. Handlers run
 * with event delivery masked (restored when they return). Without a
 * handler, an exception prints the registers and ends the domain: a fault
 * is re-executed with the trap table cleared so that the hypervisor
 * reports and crashes the domain itself; a trap (#DB, #BP, #OF) ends it
 * with SCHEDOP_shutdown(SHUTDOWN_crash).
 */
int minios_set_trap_handler(unsigned vec, minios_trap_handler h);

/* minios's entry point for vector vec (< MINIOS_NR_TRAPS; else 0): what
 * its trap table names, for registering it again elsewhere (e.g. as the
 * NMI callback with CALLBACKOP_register after an unregister). */
unsigned long minios_trap_entry(unsigned vec);

/* Whether the hypervisor accepted minios's trap table at start of day. */
int minios_traps_available(void);

/* Prints a frame's registers to the console. */
void minios_dump_frame(const struct minios_trap_frame *f);

#endif /* MINIOS_TRAPS_H */
