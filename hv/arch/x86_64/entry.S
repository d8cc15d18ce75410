/* Entry and exit paths: exception/interrupt stubs, the syscall
 * (hypercall) entry, the return to a guest, the context switch and the
 * guest-memory copy routines with their exception-table fixups. */
#include "memlayout.h"

/* Frame layout = struct cpu_user_regs (<xen/arch-x86/xen-x86_64.h>):
 * r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi
 * error_code:entry_vector rip cs rflags rsp ss */
.macro SAVE_GPRS
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %rax
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
.endm

.macro RESTORE_GPRS
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rax
    popq %rcx
    popq %rdx
    popq %rsi
    popq %rdi
.endm

    .text
/* 256 stubs of 16 bytes each; vectors with a CPU error code skip the push. */
    .align 16
    .globl trap_stubs
trap_stubs:
    vec = 0
    .rept 256
    .align 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    movl $vec, 4(%rsp)
    jmp trap_common
    vec = vec + 1
    .endr

trap_common:
    testb $3, 16(%rsp)          /* cs: came from a guest? */
    jz 1f
    swapgs
1:  cld
    SAVE_GPRS
    movq %rsp, %rdi
    call trap_dispatch
    .globl ret_from_trap
ret_from_trap:
    RESTORE_GPRS
    addq $8, %rsp               /* error_code, entry_vector */
    testb $3, 8(%rsp)
    jz 2f
    swapgs
2:  iretq

/* syscall from a guest: rcx = rip, r11 = rflags, IF/DF/TF/AC cleared by
 * SFMASK.  Build the same frame as an interrupt and dispatch. */
    .align 16
    .globl syscall_entry
syscall_entry:
    swapgs
    movq %rsp, %gs:PCPU_SCRATCH
    movq %gs:PCPU_STACK_TOP, %rsp
    pushq $SEL_GUEST_DS
    pushq %gs:PCPU_SCRATCH
    pushq %r11
    pushq $SEL_GUEST_CS64
    pushq %rcx
    pushq $0
    movl $VEC_SYSCALL, 4(%rsp)
    SAVE_GPRS
    movq %rsp, %rdi
    call hypercall_dispatch
    jmp ret_from_trap

/* syscall from a guest in compatibility mode (MSR_CSTAR): never a
 * hypercall; the guest kernel's syscall32 callback (hv/pv/user.c). */
    .align 16
    .globl cstar_entry
cstar_entry:
    swapgs
    movq %rsp, %gs:PCPU_SCRATCH
    movq %gs:PCPU_STACK_TOP, %rsp
    pushq $SEL_GUEST_DS
    pushq %gs:PCPU_SCRATCH
    pushq %r11
    pushq $SEL_GUEST_CS32
    pushq %rcx
    pushq $0
    movl $VEC_SYSCALL, 4(%rsp)
    SAVE_GPRS
    movq %rsp, %rdi
    call pv_syscall32_dispatch
    jmp ret_from_trap

/* void context_switch(unsigned long *save_rsp, unsigned long new_rsp) */
    .globl context_switch
context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

/* long raw_copy(void *dst, const void *src, size_t n): 0 or -EFAULT.
 * Used for every access to guest memory; a fault jumps to the fixup. */
    .globl raw_copy
raw_copy:
    movq %rdx, %rcx             /* 8 bytes at a time, then the rest */
    shrq $3, %rcx
7:  rep movsq
    movq %rdx, %rcx
    andq $7, %rcx
3:  rep movsb
    xorl %eax, %eax
    ret
4:  movq $-14, %rax             /* -XEN_EFAULT (checked in C) */
    ret
    .section .extable, "a"
    .quad 7b, 4b
    .quad 3b, 4b
    .previous

/* long raw_clear(void *dst, size_t n): 0 or -EFAULT. */
    .globl raw_clear
raw_clear:
    movq %rsi, %rcx
    shrq $3, %rcx
    xorl %eax, %eax
8:  rep stosq
    movq %rsi, %rcx
    andq $7, %rcx
5:  rep stosb
    ret
6:  movq $-14, %rax
    ret
    .section .extable, "a"
    .quad 8b, 6b
    .quad 5b, 6b
    .previous

/* A new vCPU's first run: the switch "returns" here, holding the
 * scheduler lock that schedule() took.  Then the way out every return to
 * a guest takes (its context's segments checked, a failsafe callback or
 * an event upcall owed). */
    .text
    .globl vcpu_first_entry
vcpu_first_entry:
    call sched_first_entry
    call pv_exit_to_guest
    jmp ret_from_trap
