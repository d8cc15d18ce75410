/* A tiny PVH guest's start (docs/hvm.md): its Xen notes, the 32-bit
 * entry Xen's PVH ABI starts it at (flat protected mode, paging off, EBX
 * the hvm_start_info address), its own page tables (the first GiB
 * identity-mapped in 2 MiB pages), long mode, then C (main.c). */

/* One Xen ELF note: name "Xen", type, the descriptor between 1: and 2:. */
.macro XEN_NOTE type
    .p2align 2
    .long 4
    .long 2f - 1f
    .long \type
    .asciz "Xen"
1:
.endm

    .section .note.Xen, "a", @note
    XEN_NOTE 6                  /* XEN_ELFNOTE_GUEST_OS */
    .asciz "keel-pvh-test"
2:  XEN_NOTE 5                  /* XEN_ELFNOTE_XEN_VERSION */
    .asciz "xen-3.0"
2:  XEN_NOTE 8                  /* XEN_ELFNOTE_LOADER */
    .asciz "generic"
2:  XEN_NOTE 18                 /* XEN_ELFNOTE_PHYS32_ENTRY */
    .long _start32
2:  .p2align 2

    .section .text.head, "ax"
    .code32
    .globl _start32
_start32:
    movl %ebx, start_info_pa
    movl $stack_top, %esp
    /* A hypercall from 32-bit mode: refused (-ENOSYS) for now. */
    movl $17, %eax              /* __HYPERVISOR_xen_version */
    xorl %ecx, %ecx
    vmmcall
    movl %eax, vmmcall32_result
    /* MMIO above its RAM in 32-bit protected mode, paging off: moffs32,
     * an absolute disp32 and MOVZX through the emulator's 32-bit path
     * (mmio.c checks the answers: all ones). */
    movl 0x3ff00000, %eax
    movl %eax, mmio32_read
    xorl %eax, %eax
    cmpl $-1, 0x3ff00004
    sete %al
    movl %eax, mmio32_cmp
    movzwl 0x3ff00008, %eax
    movl %eax, mmio32_movzw
    /* pml4[0] -> pdpt, pdpt[0] -> pd, pd[i] = i * 2 MiB, present+write+large */
    movl $pdpt, %eax
    orl $3, %eax
    movl %eax, pml4
    movl $pd, %eax
    orl $3, %eax
    movl %eax, pdpt
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, pd(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jb 1b
    movl %cr4, %eax
    orl $0x20, %eax             /* PAE */
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx      /* EFER.LME (an intercepted MSR write) */
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000000, %eax       /* paging on: long mode active */
    movl %eax, %cr0
    lgdt gdt_desc
    ljmp $0x08, $long64

    .code64
long64:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movq $stack_top, %rsp
    movl start_info_pa(%rip), %edi
    call main
2:  cli
    hlt
    jmp 2b

/* #GP: counted, and the faulting instruction (gp_skip bytes: 2 for
 * rdmsr/wrmsr, 3 for xsetbv) skipped. */
    .globl gp_entry
gp_entry:
    incl gp_count(%rip)
    addq $8, %rsp               /* the error code */
    pushq %rax
    movl gp_skip(%rip), %eax
    addq %rax, 8(%rsp)
    popq %rax
    iretq

/* A LAPIC interrupt (vectors 0x40, 0x41): counted, its vector noted,
 * then an x2APIC EOI (MSR 0x80b, value 0). */
    .globl lapic_entry_40, lapic_entry_41
lapic_entry_40:
    movl $0x40, lapic_vector(%rip)
    jmp 2f
lapic_entry_41:
    movl $0x41, lapic_vector(%rip)
2:  incl lapic_count(%rip)
    pushq %rax
    pushq %rcx
    pushq %rdx
    movl $0x80b, %ecx
    xorl %eax, %eax
    xorl %edx, %edx
    wrmsr
    popq %rdx
    popq %rcx
    popq %rax
    iretq

/* The event callback vector (HVM_PARAM_CALLBACK_IRQ): cb_handler
 * (main.c) with the caller-saved registers kept. */
    .globl cb_entry, cb_entry_f4
cb_entry_f4:
    movl $0xf4, cb_vector(%rip)
    jmp 1f
cb_entry:
    movl $0xf3, cb_vector(%rip)
1:  pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    call cb_handler
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    iretq

    .section .rodata
    .p2align 3
gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

    .data
    .globl start_info_pa, gp_count, vmmcall32_result, gp_skip, cb_vector
cb_vector: .long 0
start_info_pa: .long 0
gp_count: .long 0
gp_skip: .long 2
vmmcall32_result: .long 0

    .bss
    .p2align 12
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096
    .skip 16384
stack_top:
