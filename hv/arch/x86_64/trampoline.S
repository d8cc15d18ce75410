/* Application processor start: the SIPI lands here (copied to TRAMP_BASE
 * below 1 MiB) in real mode; we go through protected mode into long mode
 * on the hypervisor's page tables and jump to ap_entry(pcpu). */
#define TRAMP_BASE 0x8000
#define T(x) ((x) - trampoline_start + TRAMP_BASE)

    .section .rodata
    .globl trampoline_start, trampoline_end
    .globl tramp_cr3, tramp_efer, tramp_rsp, tramp_entry, tramp_pcpu
    .align 16
    .code16
trampoline_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl T(tramp_gdt_ptr)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $T(tramp32)

    .code32
tramp32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $0x20, %eax             /* PAE */
    movl %eax, %cr4
    movl T(tramp_cr3), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    movl T(tramp_efer), %eax
    xorl %edx, %edx
    wrmsr
    movl %cr0, %eax
    orl $0x80010023, %eax       /* PG, WP, NE, MP, PE */
    movl %eax, %cr0
    ljmpl $0x18, $T(tramp64)

    .code64
tramp64:
    movq T(tramp_rsp), %rsp
    movq T(tramp_pcpu), %rdi
    movq T(tramp_entry), %rax
    xorl %ebp, %ebp
    jmp *%rax

    .align 16
tramp_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00af9a000000ffff    /* 0x18: 64-bit code */
tramp_gdt_ptr:
    .word tramp_gdt_ptr - tramp_gdt - 1
    .long T(tramp_gdt)
    .align 8
tramp_cr3:   .long 0
tramp_efer:  .long 0
tramp_rsp:   .quad 0
tramp_entry: .quad 0
tramp_pcpu:  .quad 0
trampoline_end:
