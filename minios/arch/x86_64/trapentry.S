/* trapentry.S: minios's exception, event-callback and failsafe-callback entry points; return through HYPERVISOR_iret. */
#include "asm-offsets.h"

/*
 * The hypervisor enters these in guest kernel mode (ring 3) on the stack
 * that was in use (the frame is 16-byte aligned), with
 *
 *   rsp ->  rcx, r11, [error code], rip, cs|mask<<32, rflags, rsp, ss
 *
 * (the failsafe callback has ds, es, fs, gs between r11 and rip). rcx and
 * r11 hold the hypervisor's values; the interrupted ones are on the stack.
 * Each stub pops them back, makes the frame uniform (error code 0 where
 * the CPU gives none), pushes its vector and joins trap_common, which saves
 * the rest as struct minios_trap_frame (<minios/traps.h>), saves the
 * FPU/SSE state, calls minios_trap_dispatch(frame) and returns by jumping
 * to HYPERVISOR_iret with
 *
 *   rsp ->  flags (0), rip, cs, rflags, rsp, ss
 *
 * The iret stub in the hypercall page pushes rcx, r11 and rax itself; the
 * hypervisor restores the event mask from rflags.IF and delivers events
 * that became pending meanwhile before the guest runs again.
 *
 * The PVH build (MINIOS_PVH) runs in ring 0 with an IDT of interrupt
 * gates (traps.c): the CPU's frame is the one above without rcx and r11,
 * the event callback is an interrupt vector like any other, there is no
 * failsafe callback, and the return is IRETQ.
 */
        .text

#ifdef MINIOS_PVH
#define POP_HYPERVISOR_RCX_R11
#else
#define POP_HYPERVISOR_RCX_R11 popq %rcx; popq %r11
#endif

.macro TRAP_NOERR vec
        .balign 16
trap_stub_\vec:
        POP_HYPERVISOR_RCX_R11
        pushq   $0
        pushq   $\vec
        jmp     trap_common
.endm

.macro TRAP_ERR vec
        .balign 16
trap_stub_\vec:
        POP_HYPERVISOR_RCX_R11
        pushq   $\vec
        jmp     trap_common
.endm

        TRAP_NOERR 0            /* #DE */
        TRAP_NOERR 1            /* #DB */
        TRAP_NOERR 2            /* NMI */
        TRAP_NOERR 3            /* #BP */
        TRAP_NOERR 4            /* #OF */
        TRAP_NOERR 5            /* #BR */
        TRAP_NOERR 6            /* #UD */
        TRAP_NOERR 7            /* #NM */
        TRAP_ERR   8            /* #DF */
        TRAP_NOERR 9            /* coprocessor segment overrun */
        TRAP_ERR   10           /* #TS */
        TRAP_ERR   11           /* #NP */
        TRAP_ERR   12           /* #SS */
        TRAP_ERR   13           /* #GP */
        TRAP_ERR   14           /* #PF */
        TRAP_NOERR 15           /* reserved */
        TRAP_NOERR 16           /* #MF */
        TRAP_ERR   17           /* #AC */
        TRAP_NOERR 18           /* #MC */
        TRAP_NOERR 19           /* #XM */

/* The stubs' addresses, indexed by vector, for the trap table. */
        .section .rodata
        .balign 8
        .globl  minios_trap_stubs
minios_trap_stubs:
        .irp    v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19
        .quad   trap_stub_\v
        .endr
        .globl  minios_trap_stubs_end
minios_trap_stubs_end:
        .text

/* Event callback: the frame has no error code. Events are masked. */
        .balign 16
        .globl  minios_event_entry
minios_event_entry:
        POP_HYPERVISOR_RCX_R11
        pushq   $0
        pushq   $ASM_VEC_EVENT
        jmp     trap_common

#ifndef MINIOS_PVH

/* Failsafe callback: the hypervisor could not load a segment register or
 * return with HYPERVISOR_iret. Drop the saved ds, es, fs, gs (the C side
 * reports and crashes). */
        .balign 16
        .globl  minios_failsafe_entry
minios_failsafe_entry:
        popq    %rcx
        popq    %r11
        addq    $32, %rsp
        pushq   $0
        pushq   $ASM_VEC_FAILSAFE
        jmp     trap_common
#endif

trap_common:
        pushq   %rax
        pushq   %rbx
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rbp
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp                /* cr2, filled in by C */
        movq    $0, (%rsp)
        cld
        movq    %rsp, %rbx              /* the frame; rbx survives the call */
        andq    $-16, %rsp
        /*
         * Save the FPU/SSE registers: C code (and so the handlers) may use
         * SSE. Not for #NM: that is the fault that fxsave itself raises
         * while CR0.TS is set, and its handler must clear TS first.
         */
        subq    $512, %rsp
        cmpq    $ASM_VEC_NM, ASM_FRAME_VECTOR(%rbx)
        je      1f
        fxsave64 (%rsp)
1:      movq    %rbx, %rdi
        call    minios_trap_dispatch
        cmpq    $ASM_VEC_NM, ASM_FRAME_VECTOR(%rbx)
        je      2f
        fxrstor64 (%rsp)
2:      movq    %rbx, %rsp
        addq    $8, %rsp                /* cr2 */
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rbp
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbx
        popq    %rax
        addq    $16, %rsp               /* vector, error code */
#ifdef MINIOS_PVH
        iretq
#else
        pushq   $0                      /* iret flags: not in a syscall */
        jmp     hypercall_page + ASM_IRET_STUB
#endif

        .section .note.GNU-stack, "", @progbits
