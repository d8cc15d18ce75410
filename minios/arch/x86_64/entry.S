/* entry.S: minios x86_64 PV entry point (_start), boot stack and hypercall page. */

/*
 * The hypervisor (ours, or Xen) enters here in ring 3 with events masked,
 * rsi = virtual address of start_info_t, rsp = a bootstrap stack inside the
 * bootstrap region. The loader has already zeroed .bss (ELF p_memsz), so
 * nothing is cleared here: switch to our own stack and go to C.
 */
        .section .text.entry, "ax", @progbits
        .globl  _start
        .type   _start, @function
_start:
        cld
        leaq    minios_boot_stack_top(%rip), %rsp
        xorl    %ebp, %ebp
        movq    %rsi, %rdi
        call    minios_start
        ud2                             /* minios_start never returns */
        .size   _start, . - _start

/*
 * The hypercall page: 4 KiB, page aligned, in .text. The hypervisor writes
 * one 32-byte stub per hypercall into it (ELF note HYPERCALL_PAGE). Until
 * then it holds int3 so that a call through an unfilled page traps.
 */
        .section .text.hypercall_page, "ax", @progbits
        .balign 4096
        .globl  hypercall_page
        .type   hypercall_page, @object
hypercall_page:
        .fill   4096, 1, 0xcc
        .size   hypercall_page, 4096

/* The boot stack: 64 KiB in .bss, 16-byte aligned as the SysV ABI wants. */
        .section .bss.minios_boot_stack, "aw", @nobits
        .balign 16
        .globl  minios_boot_stack
minios_boot_stack:
        .skip   65536
        .globl  minios_boot_stack_top
minios_boot_stack_top:

        .section .note.GNU-stack, "", @progbits
