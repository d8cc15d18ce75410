/* Multiboot 1 entry: from 32-bit protected mode into long mode in the
 * direct map, then into C (hv_main).  Runs at physical addresses until the
 * jump to the linked (upper-half) address. */
#include "memlayout.h"

#define MB_MAGIC   0x1BADB002
#define MB_FLAGS   0x00010003   /* page-align modules, memory map, a.out kludge */
#define P(sym)     ((sym) - DIRECTMAP_BASE)

    .section .multiboot, "a"
    .align 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long P(mb_header)          /* header_addr */
    .long P(_image_start)       /* load_addr */
    .long P(_edata)             /* load_end_addr */
    .long P(_end)               /* bss_end_addr */
    .long P(_start32)           /* entry_addr */

    .section .boot.text, "ax"
    .code32
    .globl _start32
_start32:
    cli
    cld
    movl %eax, %edi             /* multiboot magic */
    movl %ebx, %esi             /* multiboot info (physical) */
    rdtsc
    movl %eax, P(boot_tsc)
    movl %edx, P(boot_tsc) + 4

    /* Boot page tables: L4[0] and L4[262] -> one L3 -> one L2 mapping the
     * first 1 GiB with 2 MiB pages (identity and direct map at once). */
    movl $P(boot_l3), %eax
    orl  $0x3, %eax
    movl %eax, P(boot_l4)
    movl %eax, P(boot_l4) + DIRECTMAP_L4_SLOT * 8
    movl $P(boot_l2), %eax
    orl  $0x3, %eax
    movl %eax, P(boot_l3)
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl  $0x83, %eax            /* present, writable, 2 MiB */
    movl %eax, P(boot_l2)(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jne  1b

    movl %cr4, %eax
    orl  $0x20, %eax            /* PAE */
    movl %eax, %cr4
    movl $P(boot_l4), %eax
    movl %eax, %cr3
    movl $0x80000001, %eax      /* EFER: LME, SCE, and NXE if present */
    cpuid
    movl %edx, %ebp
    movl $0xC0000080, %ecx
    rdmsr
    orl  $0x101, %eax
    btl  $20, %ebp
    jnc  2f
    orl  $0x800, %eax
2:  wrmsr
    movl %cr0, %eax
    orl  $0x80010001, %eax      /* PG, WP, PE */
    movl %eax, %cr0
    lgdt P(boot_gdt_ptr)
    ljmp $0x08, $P(start64_low)

    .code64
start64_low:
    movabsq $start64, %rax
    jmp *%rax
start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    /* edi = magic, esi = mbi phys: already the C arguments. */
    call hv_main
3:  cli
    hlt
    jmp 3b

    .section .rodata
    .align 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long P(boot_gdt)

    .data
    .globl boot_tsc
    .align 8
boot_tsc:
    .quad 0

    .section .bss.pagetables, "aw", @nobits
    .align 4096
    .globl boot_l4
boot_l4:  .skip 4096
boot_l3:  .skip 4096
boot_l2:  .skip 4096
    .globl boot_stack, boot_stack_top
boot_stack:
    .skip STACK_SIZE * 2
boot_stack_top:
