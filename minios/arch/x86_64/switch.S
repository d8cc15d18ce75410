/* switch.S: minios's thread context switch and the first frame of a new thread. */

/*
 * void minios_switch_stacks(unsigned long *save_sp, unsigned long new_sp)
 *
 * Saves the callee-saved state of the SysV ABI (rbx, rbp, r12-r15, and
 * the SSE and x87 control words, MXCSR and FCW) on the current stack,
 * stores the stack pointer to *save_sp, and resumes the thread whose
 * stack pointer is new_sp from the same frame layout:
 *
 *   new_sp -> [MXCSR | FCW] r15 r14 r13 r12 rbx rbp return-address
 */
        .text
        .globl  minios_switch_stacks
        .type   minios_switch_stacks, @function
minios_switch_stacks:
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size   minios_switch_stacks, . - minios_switch_stacks

/*
 * A new thread's frame "returns" here with r12 = its struct minios_thread
 * and rsp 16-byte aligned: call minios_thread_main(thread), which never
 * returns.
 */
        .globl  minios_thread_trampoline
        .type   minios_thread_trampoline, @function
minios_thread_trampoline:
        xorl    %ebp, %ebp
        movq    %r12, %rdi
        call    minios_thread_main
        ud2
        .size   minios_thread_trampoline, . - minios_thread_trampoline

        .section .note.GNU-stack, "", @progbits
