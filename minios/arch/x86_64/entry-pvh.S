/* entry-pvh.S: minios's PVH entry point (_start): boot page tables, long mode, then C; the boot stack and hypercall page. */

/*
 * A PVH build of minios (docs/hvm.md, "minios as a PVH guest") is entered as Xen 4.17
 * starts a PVH domain (docs/misc/pvh.pandoc): at the ELF's
 * XEN_ELFNOTE_PHYS32_ENTRY (this _start) in 32-bit flat protected mode,
 * paging off, interrupts off, EBX the hvm_start_info's physical address.
 * The image is linked at 0 with virtual = physical (the same minios.ld
 * as the PV build), so its symbols are its physical addresses here.
 *
 * _start clears .bss (the builder copies the file's bytes only), maps
 * the first 4 GiB one to one in 2 MiB pages (kernel/mm.c replaces these
 * tables with 4 KiB ones for the memory the domain has), turns on
 * SSE (CR4.OSFXSR/OSXMMEXCPT; CR0.MP, not EM or TS: the C code and
 * newlib use SSE), long mode and paging, loads a GDT of its own and calls
 * minios_pvh_start(start_info_pa) (arch/x86_64/pvh.c) on the boot stack.
 */
#define CR0_MP     0x00000002
#define CR0_EM     0x00000004
#define CR0_TS     0x00000008
#define CR0_PG     0x80000000
#define CR4_PAE    0x00000020
#define CR4_OSFXSR 0x00000200
#define CR4_OSXMMEXCPT 0x00000400
#define MSR_EFER   0xc0000080
#define EFER_LME   0x00000100
#define PDE_TABLE  0x003            /* present, writable */
#define PDE_2M     0x083            /* present, writable, 2 MiB page */

        .section .text.entry, "ax", @progbits
        .code32
        .globl  _start
        .type   _start, @function
_start:
        cld
        movl    %ebx, %esi              /* kept for C: hvm_start_info */
        movl    $__bss_start, %edi
        movl    $__bss_end, %ecx
        subl    %edi, %ecx
        xorl    %eax, %eax
        rep stosb

        /* pml4[0] -> pdpt; pdpt[0..3] -> pd[0..3]; pd[i] = i * 2 MiB */
        movl    $boot_pdpt + PDE_TABLE, boot_pml4
        xorl    %ecx, %ecx
1:      movl    %ecx, %eax
        shll    $12, %eax
        addl    $boot_pd + PDE_TABLE, %eax
        movl    %eax, boot_pdpt(,%ecx,8)
        incl    %ecx
        cmpl    $4, %ecx
        jb      1b
        xorl    %ecx, %ecx
2:      movl    %ecx, %eax
        shll    $21, %eax
        orl     $PDE_2M, %eax
        movl    %eax, boot_pd(,%ecx,8)
        incl    %ecx
        cmpl    $2048, %ecx
        jb      2b

        movl    %cr4, %eax
        orl     $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
        movl    %eax, %cr4
        movl    $boot_pml4, %eax
        movl    %eax, %cr3
        movl    $MSR_EFER, %ecx
        rdmsr
        orl     $EFER_LME, %eax
        wrmsr
        movl    %cr0, %eax
        andl    $~(CR0_EM | CR0_TS), %eax
        orl     $(CR0_PG | CR0_MP), %eax
        movl    %eax, %cr0
        lgdt    minios_pvh_gdt_desc
        ljmp    $0x08, $long_mode

        .code64
long_mode:
        movl    $0x10, %eax
        movl    %eax, %ds
        movl    %eax, %es
        movl    %eax, %ss
        xorl    %eax, %eax
        movl    %eax, %fs
        movl    %eax, %gs
        leaq    minios_boot_stack_top(%rip), %rsp
        xorl    %ebp, %ebp
        movl    %esi, %edi
        call    minios_pvh_start
        ud2                             /* minios_pvh_start never returns */
        .size   _start, . - _start

/*
 * The hypercall page, as in the PV build: the hypervisor fills it when
 * minios writes its address to the MSR that CPUID leaf base+2 names.
 */
        .section .text.hypercall_page, "ax", @progbits
        .balign 4096
        .globl  hypercall_page
        .type   hypercall_page, @object
hypercall_page:
        .fill   4096, 1, 0xcc
        .size   hypercall_page, 4096

/* Null, 64-bit kernel code (0x08), data (0x10). */
        .section .rodata
        .balign 8
minios_pvh_gdt:
        .quad   0
        .quad   0x00af9a000000ffff
        .quad   0x00cf92000000ffff
        .globl  minios_pvh_gdt_desc
minios_pvh_gdt_desc:
        .word   minios_pvh_gdt_desc - minios_pvh_gdt - 1
        .long   minios_pvh_gdt
        .long   0

        .section .bss.minios_boot, "aw", @nobits
        .balign 4096
boot_pml4:
        .skip   4096
boot_pdpt:
        .skip   4096
boot_pd:
        .skip   4 * 4096
        .balign 16
        .globl  minios_boot_stack
minios_boot_stack:
        .skip   65536
        .globl  minios_boot_stack_top
minios_boot_stack_top:

        .section .note.GNU-stack, "", @progbits
