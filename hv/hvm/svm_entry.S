/* The VMRUN path (svm.c): guest GPRs in and out of a struct
 * cpu_user_regs, the state VMRUN does not switch by VMSAVE/VMLOAD, GIF. */

/* Offsets in struct cpu_user_regs (<xen/arch-x86/xen-x86_64.h>). */
#define R15 0
#define R14 8
#define R13 16
#define R12 24
#define RBP 32
#define RBX 40
#define R11 48
#define R10 56
#define R9  64
#define R8  72
#define RCX 88
#define RDX 96
#define RSI 104
#define RDI 112

    .text
/* void svm_vmrun(struct cpu_user_regs *g, uint64_t vmcb_pa, uint64_t host_pa)
 * Called with interrupts off.  GIF is cleared first, so nothing (not an
 * NMI) runs while the guest's FS/GS/TR/LDTR and syscall MSRs are loaded;
 * IF is set for the VMRUN, so that a host interrupt is a #VMEXIT
 * (INTR intercept, V_INTR_MASKING); it is taken once GIF is set again
 * (svm_loop lets it in). */
    .globl svm_vmrun
svm_vmrun:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi                  /* 16(%rsp) below: g */
    pushq %rdx                  /* 8(%rsp) after the next push: host area */
    pushq %rsi                  /* 0(%rsp): the VMCB */
    clgi
    movq %rdx, %rax
    vmsave %rax                 /* the host's FS, GS, TR, LDTR, KernelGSBase, STAR... */
    movq %rsi, %rax
    vmload %rax                 /* the guest's */
    movq R15(%rdi), %r15
    movq R14(%rdi), %r14
    movq R13(%rdi), %r13
    movq R12(%rdi), %r12
    movq RBP(%rdi), %rbp
    movq RBX(%rdi), %rbx
    movq R11(%rdi), %r11
    movq R10(%rdi), %r10
    movq R9(%rdi), %r9
    movq R8(%rdi), %r8
    movq RCX(%rdi), %rcx
    movq RDX(%rdi), %rdx
    movq RSI(%rdi), %rsi
    movq RDI(%rdi), %rdi
    movq 0(%rsp), %rax
    sti
    vmrun %rax
    /* #VMEXIT: GIF clear; rax, rsp, rflags are the host's again. */
    pushq %rdi
    movq 24(%rsp), %rdi
    movq %r15, R15(%rdi)
    movq %r14, R14(%rdi)
    movq %r13, R13(%rdi)
    movq %r12, R12(%rdi)
    movq %rbp, RBP(%rdi)
    movq %rbx, RBX(%rdi)
    movq %r11, R11(%rdi)
    movq %r10, R10(%rdi)
    movq %r9, R9(%rdi)
    movq %r8, R8(%rdi)
    movq %rcx, RCX(%rdi)
    movq %rdx, RDX(%rdi)
    movq %rsi, RSI(%rdi)
    popq %rax
    movq %rax, RDI(%rdi)
    movq 0(%rsp), %rax
    vmsave %rax                 /* the guest's */
    movq 8(%rsp), %rax
    vmload %rax                 /* the host's: GS base is this pCPU again */
    cli
    stgi
    addq $24, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

/* A new HVM vCPU's first run: the switch "returns" here holding the
 * scheduler lock, as vcpu_first_entry (entry.S). */
    .globl hvm_first_entry
hvm_first_entry:
    andq $-16, %rsp
    call sched_first_entry
    call svm_loop
    ud2
