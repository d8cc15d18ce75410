/*
 * The x86 part of vCPUs and domains, as Xen splits them
 * (xen/arch/x86/include/asm/domain.h): what every x86 vCPU has (FPU
 * image, debug registers, its hypervisor stack and saved frame), and a
 * union by guest type: PV, and PVH on AMD SVM (its VMCB, ASID and p2m;
 * docs/hvm.md).
 *
 * Common code never reads what is in here: it calls the arch hooks at
 * the end of this file (hv/arch/x86_64/domain.c), which call the PV ones
 * (hv/pv/domain.c) for a PV guest.
 */
#ifndef KEEL_ARCH_DOMAIN_H
#define KEEL_ARCH_DOMAIN_H

#include "lib.h"
#include <xen/xen.h>

struct vcpu;
struct domain;
struct vcpu_guest_context;

enum guest_type { GUEST_PV, GUEST_PVH };

/* A PV vCPU: what the guest registered through the PV interface. */
struct pv_vcpu {
    struct trap_info *trap_ctxt;   /* 256 entries, one page, by vector */
    unsigned long event_callback, failsafe_callback, syscall_callback;
    bool failsafe_mask_events, syscall_mask_events;
    /* Registered as Xen accepts them from a 64-bit guest; never entered
     * (no 32-bit user code segment is offered, no sysenter path). */
    unsigned long syscall32_callback, sysenter_callback;
    bool syscall32_mask_events, sysenter_mask_events;
    unsigned long kernel_ss, kernel_sp;   /* stack_switch */
    unsigned long fs_base, gs_base_kernel, gs_base_user;
    bool fpu_ts;                   /* the guest's virtual CR0.TS */
    uint64_t cr3;                  /* its base table (machine address), referenced */
    /* Guest user mode (hv/pv/user.c), as Xen's TF_kernel_mode inverted:
     * the user base table (MMUEXT_NEW_USER_BASEPTR, referenced as cr3 is;
     * 0: none), and whether the vCPU runs on it now.  Only the vCPU
     * itself changes them, on its own pCPU. */
    uint64_t cr3_user;
    bool user_mode;
    /* It may use segments of its own: it has had a GDT, an LDT or a user
     * base table, or an iret named other segments than the flat 64-bit
     * ones.  Then its frame is checked on the way out (pv_frame_fault),
     * and its data selectors (ds, es, fs, gs) and FS/GS bases are saved at
     * switch-out and loaded at switch-in (descriptor.c), as Xen does for
     * every vCPU. */
    bool own_segments;
    uint16_t sel[4];
    /* A selector of sel[] did not load at switch-in (descriptor.c): the
     * failsafe callback is owed, with sel[] as they were in its frame,
     * on the way out (traps.c), as Xen's load_segments gives it. */
    bool failsafe_pending;
    /* set_gdt (hv/pv/descriptor.c): the frames, referenced with the
     * descriptor-page type, and the number of entries. */
    unsigned long gdt_frames[14];
    unsigned gdt_ents;
    /* MMUEXT_SET_LDT (descriptor.c): the guest's LDT address and entries,
     * the frames behind it held as descriptor pages (0: none), and the
     * checked copy the CPU reads (16 pages, allocated at the first). */
    unsigned long ldt_base;
    unsigned ldt_ents;
    unsigned long ldt_frames[16];
    uint64_t *ldt_shadow;
    /* Privileged-operation emulation (pv/emulate.c). */
    unsigned long cr2;             /* the last #PF address delivered (MOV from CR2) */
    unsigned long cr4;             /* the CR4 bits the guest set itself (TSD, DE) */
    unsigned iopl;                 /* PHYSDEVOP_set_iopl: 0-3 */
    uint32_t tsc_aux;              /* MSR_TSC_AUX (RDTSCP, RDPID), loaded at switch-in */
    bool extra;                    /* tsc_aux not 0 or CR4.FSGSBASE (pv_switch_extra) */
    /* VCPUOP_send_nmi (pv/traps.c): an NMI waits (set by any vCPU of the
     * domain, taken on the way out); one was delivered and the guest has
     * not left its handler with the iret hypercall yet. */
    bool nmi_pending;
    bool nmi_masked;
    /* Virtual machine-check MSRs (pv/emulate.c), Xen's vMCE: MCG_STATUS
     * and the two banks a guest sees.  Only the vCPU itself uses them. */
    uint64_t mcg_status;
    struct { uint64_t status, addr, misc, ctl2; } mc_bank[2];
    unsigned long iobmp;           /* PHYSDEVOP_set_iobitmap: its guest address ... */
    unsigned iobmp_limit;          /* ... and the number of ports it covers */
};

/* An HVM/PVH vCPU on AMD SVM (hv/hvm/svm.c): its VMCB, the GPRs the
 * VMCB does not hold (in arch.regs, as a PV frame), its ASID on the pCPU
 * it last ran on. */
struct hvm_vcpu {
    uint8_t *vmcb;                 /* one page, hypervisor-owned */
    uint64_t vmcb_pa;
    uint32_t asid;                 /* 0: none yet */
    uint64_t asid_gen;             /* the pCPU generation it was taken in */
    int asid_cpu;                  /* the pCPU it was taken on (-1: none) */
    uint8_t upcall_vector;         /* HVMOP_set_evtchn_upcall_vector (0: none) */
    struct hvm_mtrr {              /* its MTRRs, kept (hvm.c): no effect under NPT */
        uint64_t def, fixed[11], var[16];
    } mtrr;
    struct hvm_io_wait {           /* an I/O sent to an ioreq server (ioreq.c) */
        bool wait;                 /* its answer not taken yet: the vCPU does not run */
        bool emul;                 /* from the emulator: it runs again once answered */
        uint8_t srv, size, dir;    /* the server; the access (IOREQ_READ/WRITE) */
        uint8_t type;              /* IOREQ_TYPE_PIO, _COPY (MMIO), _PCI_CONFIG */
        bool ptr, df;              /* a REP INS/OUTS by pointer (ioreq.c) */
        uint32_t count;
        uint64_t addr, gpa;
        uint64_t next_rip;         /* IN/OUT: where the guest goes on once answered */
        /* The emulator's answered accesses of the instruction (or REP
         * iteration) being emulated, replayed in order on each run. */
        unsigned nr_done, pos;
        struct hvm_io_done {
            uint64_t addr, data;       /* data: by pointer, the guest-physical address */
            uint32_t count;            /* elements: above 1 only by pointer */
            uint8_t type, size, dir;
            bool ptr, df;              /* data_is_ptr, and its direction */
        } done[4];
    } io;
    struct hvm_vlapic {            /* its local APIC (hv/hvm/vlapic.c) */
        uint64_t apic_base;        /* IA32_APIC_BASE: enabled, x2APIC mode (EXTD) */
        uint32_t ldr, dfr;         /* xAPIC mode's logical destination */
        uint32_t icr_hi;           /* xAPIC mode's ICR destination half */
        uint32_t tpr, svr, esr, tdcr, lvt[6];
        uint32_t irr[8], isr[8], tmr[8];
        uint64_t icr;
        uint32_t tmict;            /* the timer's initial count */
        uint64_t timer_next;       /* its next expiry, system time (0: stopped) */
    } lapic;
};

struct arch_vcpu {
    uint8_t *fpu;                  /* XSAVE area, one page (xstate.h): FXSAVE image first */
    uint64_t xcr0;                 /* its XCR0 (XSETBV, emulate.c); 0 without XSAVE */
    unsigned long dr[8];
    void *stack;                   /* STACK_SIZE bytes */
    struct cpu_user_regs *regs;    /* guest frame at the top of the stack */
    unsigned long frame_top;       /* TSS.RSP0 / syscall stack */
    unsigned long ctx_rsp;         /* saved by arch_switch_stack */
    union {
        struct pv_vcpu pv;
        struct hvm_vcpu hvm;       /* GUEST_PVH (hv/hvm/, docs/hvm.md) */
    };
};

/* A PV domain: its start-of-day tables and image. */
struct pv_domain {
    uint64_t cr3;                  /* the L4 the builder made (machine address) */
    int shared_image;              /* 1 + index of its shared image, or 0 */
    uint64_t si_mfn;               /* the start_info frame, 0 if none */
    uint8_t cmos_idx;              /* RTC index latched by an emulated OUT to 0x70 */
    uint32_t pci_cf8;              /* PCI address latched by an emulated OUT to 0xcf8 */
};

/* A grant of another domain mapped into a PVH domain's p2m at gfn by
 * map_grant_ref (hv/hvm/p2m.c): the granted frame mfn (a frame
 * reference, and a writable type unless ro, held until the unmap or the
 * p2m's end) hides the RAM frame ram_mfn there (0: the slot is free). */
struct hvm_gnt_map {
    uint64_t gfn, ram_mfn, mfn;
    uint32_t ro;
};
#define HVM_GNT_MAPS 16            /* grants a PVH domain may map at once */

/* An HVM/PVH domain: its nested page tables (hv/hvm/p2m.c), built from
 * its own frames, and the hypercall page it asked for. */
struct hvm_domain {
    uint64_t p2m_root;             /* machine address of the NPT L4 (0: none) */
    uint64_t nr_gfns;              /* guest frames 0..nr_gfns-1 are RAM */
    uint64_t gfn_limit;            /* no leaf at or above (the physical width) */
    unsigned p2m_tables;           /* hypervisor pages holding the NPT */
    unsigned p2m_built;            /* ... of which the builder made (the rest: */
                                   /* frames placed above RAM, HVM_P2M_EXTRA_TABLES) */
    uint64_t start_info_gpa;       /* the hvm_start_info page */
    char dbg_line[120];            /* port 0xe9 output (hvm.c), up to a newline */
    unsigned dbg_len;
    uint64_t params[39];           /* HVM_PARAM_* (HVM_NR_PARAMS, hvm_op in hvm.c) */
    uint64_t si_gfn;               /* where shared_info is mapped (add_to_physmap) ... */
    uint64_t si_ram_mfn;           /* ... and the RAM frame it hides there (0: none, */
                                   /* HVM_P2M_HOLE: placed above RAM) */
    uint64_t gt_gfn[64];           /* grant-table frame i mapped there (HVM_GT_FRAMES) */
    uint64_t gt_ram_mfn[64];       /* ... and the RAM frame it hides (0: not mapped) */
    struct hvm_gnt_map gnt_map[16]; /* others' grants in its p2m (HVM_GNT_MAPS) */
    uint64_t st_gfn[8];            /* v2 status frame i mapped there (HVM_GT_STATUS_FRAMES) */
    uint64_t st_ram_mfn[8];        /* ... and the RAM frame it hides (0: not mapped) */
    struct hvm_ioreq *ioreq;       /* its ioreq servers (ioreq.c; NULL: none made yet) */
    uint32_t pci_cf8;              /* the last 32-bit write to port 0xcf8 (ioreq.c) */
    bool firmware;                 /* type=hvm: started at its firmware's reset vector */
    uint64_t cb_via;               /* the callback (GSI or PCI INTx) whose line ... */
    bool cb_asserted;              /* ... is asserted now (hvm.c, hvm_callback_level) */
    struct hvm_rtc {               /* type=hvm: its RTC and CMOS (rtc.c) */
        uint8_t index;
        uint8_t nvram[128];
    } rtc;
    struct hvm_isa {               /* type=hvm: its PICs and PIT (isa.c) */
        struct hvm_pic {
            uint8_t irr, isr, imr, base, init_step;
            bool icw4, single, read_isr, auto_eoi;
        } pic[2];
        uint8_t elcr[2], port61;
        struct hvm_pit_ch {
            uint16_t reload, latch;
            uint8_t rw, mode;
            bool loaded, latched, read_msb, write_msb;
            uint64_t start;        /* system time it was loaded (or its gate rose) */
        } ch[3];
        uint64_t irq0_at;          /* counter 0's next IRQ0 (0: none) */
        uint16_t lines;            /* ISA lines a device model holds asserted */
    } isa;
    struct hvm_pm {                /* type=hvm: its ACPI PM timer and PM1a event block (pmtimer.c) */
        uint64_t start;            /* system time its count was 0 */
        uint64_t msb_seen;         /* the count's bits 23 and up when TMR_STS was last updated */
        uint64_t sci_at;           /* when bit 23 next changes, while TMR_EN waits for it (0: not) */
        uint16_t sts, en;          /* PM1a_STS, PM1a_EN */
        bool sci;                  /* the SCI (ISA IRQ 9) as last driven */
        unsigned long bad, scis;   /* accesses refused; SCIs raised */
    } pm;
    struct hvm_ioapic *ioapic;     /* type=hvm: its I/O APIC (vioapic.c; a page of its own) */
};

/* The hidden frame of a frame placed above its RAM (add_to_physmap of
 * shared_info, a grant or status frame where the p2m maps nothing): when
 * it moves, the leaf goes back to not present. */
#define HVM_P2M_HOLE (~0ULL)
/* NPT pages made for such frames while the domain lives, at most (the
 * 73 frames need no more than 3 each; kept until the domain dies). */
#define HVM_P2M_EXTRA_TABLES 64

/* Grant-table frames a PVH guest may map (docs/hvm.md): all of a table,
 * GNT_MAX_FRAMES (checked in grant_table.c). */
#define HVM_GT_FRAMES 64
#define HVM_GT_STATUS_FRAMES 8     /* GNT_MAX_STATUS_FRAMES (grant_table.c checks) */

struct arch_domain {
    enum guest_type type;
    union {
        struct pv_domain pv;
        struct hvm_domain hvm;     /* GUEST_PVH */
    };
};

/* vCPU life (hv/arch/x86_64/domain.c): the stack, the first frame, a
 * clean FPU, then the type's own state. */
int arch_vcpu_create(struct vcpu *v);
void arch_vcpu_destroy(struct vcpu *v);

/* Context switch: arch_ctxt_switch_from/to/to_idle and
 * arch_switch_stack, inline in arch_switch.h (the scheduler's hot path). */

/* vcpu_guest_context in and out (VCPUOP_initialise,
 * DOMCTL_{set,get}vcpucontext and the boot builder). */
long arch_set_info_guest(struct vcpu *v, const struct vcpu_guest_context *c);
void arch_get_info_guest(struct vcpu *v, struct vcpu_guest_context *c);

/* The PV versions (hv/pv/domain.c). */
int pv_vcpu_create(struct vcpu *v);
void pv_vcpu_destroy(struct vcpu *v);
long pv_set_info_guest(struct vcpu *v, const struct vcpu_guest_context *c);
void pv_get_info_guest(struct vcpu *v, struct vcpu_guest_context *c);

#endif
