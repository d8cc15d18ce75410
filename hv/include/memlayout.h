/* The hypervisor's virtual memory map, shared by C and assembly. */
#ifndef KEEL_MEMLAYOUT_H
#define KEEL_MEMLAYOUT_H

/*
 * Every address space (the hypervisor's own and every guest's) maps the
 * range the Xen x86_64 ABI reserves for the hypervisor, L4 slots 256..271:
 *
 *   0xFFFF800000000000  +------------------------------+ slot 256
 *                       | machine-to-phys (later, r/o) |
 *   0xFFFF830000000000  +------------------------------+ slot 262
 *                       | direct map of all RAM        |  phys 0 .. max
 *                       |   hv image at +1 MiB         |
 *                       |   frame table, stacks, ...   |
 *   0xFFFF838000000000  +------------------------------+ slot 263
 *                       | MMIO (local APIC), uncached  |
 *   0xFFFF880000000000  +------------------------------+ end of hv range
 *
 * Guests own everything below 0x0000800000000000 and from
 * 0xFFFF880000000000 up.  Hypervisor pages are supervisor-only.
 */
#define HV_VIRT_START      0xFFFF800000000000
#define HV_VIRT_END        0xFFFF880000000000
#define HV_L4_FIRST_SLOT   256
#define HV_L4_LAST_SLOT    271
#define M2P_L4_SLOT        256                  /* the read-only M2P for guests */
#define DIRECTMAP_BASE     0xFFFF830000000000
#define DIRECTMAP_L4_SLOT  262
#define DIRECTMAP_MAX      0x0000008000000000   /* 512 GiB: one L4 slot */
#define MMIO_BASE          0xFFFF838000000000
#define MMIO_L4_SLOT       263

#define HV_LOAD_PHYS       0x100000             /* where QEMU loads us */
#define HV_LINK_BASE       (DIRECTMAP_BASE + HV_LOAD_PHYS)

#define PAGE_SHIFT         12
#define PAGE_SIZE          4096
#define STACK_ORDER        1                    /* 8 KiB hv stacks */
#define STACK_SIZE         (PAGE_SIZE << STACK_ORDER)

/* GDT layout: Xen's reserved selectors live at 0xe000 upwards. */
#define GDT_FIRST_RESERVED 0x1c00               /* entry of selector 0xe000 */
#define SEL_HV_CS          0xe008
#define SEL_HV_DS          0xe010
#define SEL_GUEST_CS32     0xe023
#define SEL_GUEST_DS       0xe02b
#define SEL_GUEST_CS64     0xe033
#define SEL_TSS            0xe040
#define SEL_LDT            0xe050               /* a vCPU's MMUEXT_SET_LDT */
#define GDT_ENTRIES        (GDT_FIRST_RESERVED + 12)

/* Interrupt vectors. */
#define VEC_APIC_TIMER     0xf0
#define VEC_SPURIOUS       0xff
#define VEC_SYSCALL        0x100                /* pseudo-vector in frames */

/* Per-CPU area offsets used from assembly (checked by static asserts). */
#define PCPU_STACK_TOP     0
#define PCPU_SCRATCH       8
#define PCPU_SELF          16
#define VEC_EVENT_CHECK    0xf1                 /* IPI: look at your queue */
#define VEC_TLB_FLUSH      0xf2                 /* IPI: flush the TLB */
#define VEC_CALL           0xf3                 /* IPI: run a remote call */

#if defined(KEEL_HOST_TEST) && !defined(__ASSEMBLY__)
/* Host unit tests: the "direct map" is a buffer of the test process. */
extern unsigned long keel_host_directmap;
#undef DIRECTMAP_BASE
#define DIRECTMAP_BASE keel_host_directmap
#endif

#ifndef __ASSEMBLY__
#define PA(va)   ((unsigned long)(va) - DIRECTMAP_BASE)
#define VA(pa)   ((void *)((unsigned long)(pa) + DIRECTMAP_BASE))
#endif

#endif
