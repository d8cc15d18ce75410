/* PV guest support: traps, callbacks, the PV MMU entry points. */
#ifndef KEEL_PV_H
#define KEEL_PV_H
#include "domain.h"
#include "x86.h"

void pv_guest_exception(struct cpu_user_regs *r, unsigned vec);
bool pv_inject_exception(struct vcpu *v, unsigned vec, uint32_t err, unsigned long cr2);
bool pv_inject_softint(struct vcpu *v, unsigned vec);
long pv_vcpu_send_nmi(struct vcpu *v, unsigned long arg);
void pv_exit_to_guest(void);
/* Emulation on the #GP and #UD paths (emulate.c): true if handled. */
bool pv_emulate_gp(struct vcpu *v, struct cpu_user_regs *r);
bool pv_emulate_ud(struct vcpu *v, struct cpu_user_regs *r);
long do_physdev_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
void load_debugregs(struct vcpu *v);

/* The PV hypercall entry (pv/hypercall.c): syscall from the guest
 * kernel, and the page of stubs that makes it. */
void hypercall_dispatch(struct cpu_user_regs *regs);
void hypercall_page_fill(void *page);

/* Bounces v into its guest kernel at handler with Xen's frame, entering
 * guest kernel mode first if v is in user mode (traps.c); false if the
 * kernel stack cannot take the frame. */
bool pv_bounce(struct vcpu *v, unsigned long handler, bool has_err, uint32_t err,
               bool mask_events);

/* FSGSBASE, as Xen: the CPU's CR4.FSGSBASE is set while a vCPU runs that
 * set it in its own CR4 (emulate.c lets it with the policy's FSGSBASE),
 * clear otherwise.  Such a vCPU may change its FS and active GS base
 * without the hypervisor knowing: pv_bases_sync reads them back into the
 * vCPU (on its own pCPU, in the hypervisor, where the guest's active GS
 * base is MSR_KERNEL_GS_BASE) before anything uses them. */
/* What is rarely not the default at switch-in, the vCPU's TSC_AUX and
 * CR4.FSGSBASE, is loaded by pv_switch_extra (domain.c) only when the
 * next vCPU or the CPU has something else than the default (one test on
 * the hot path).  pv_extra_note keeps v's flag current when either
 * changes (v running on this CPU: loaded at once too). */
void pv_switch_extra(struct vcpu *next, struct pcpu *pc);

static inline void pv_extra_note(struct vcpu *v)
{
    v->arch.pv.extra = v->arch.pv.tsc_aux || (v->arch.pv.cr4 & X86_CR4_FSGSBASE);
}

static inline void pv_bases_sync(struct vcpu *v)
{
    if (!(v->arch.pv.cr4 & X86_CR4_FSGSBASE))
        return;
    v->arch.pv.fs_base = rdmsr(MSR_FS_BASE);
    unsigned long gs = rdmsr(MSR_KERNEL_GS_BASE);
    if (v->arch.pv.user_mode)
        v->arch.pv.gs_base_user = gs;
    else
        v->arch.pv.gs_base_kernel = gs;
}

/* The CR4 bits a guest may set (emulate.c): TSD, DE, and OSXSAVE and
 * FSGSBASE as the policy offers XSAVE and FSGSBASE. */
unsigned long pv_cr4_guest_mask(void);
void pv_policy_init(void);     /* the PV CPUID policy, made once at boot */

/* Guest user mode (user.c). */
static inline uint64_t pv_active_cr3(const struct vcpu *v)
{
    if (v->arch.pv.user_mode)
        return v->arch.pv.cr3_user;
    return v->arch.pv.cr3 ? v->arch.pv.cr3 : v->domain->arch.pv.cr3;
}
long pv_set_user_base(struct vcpu *v, uint64_t mfn);
void pv_drop_user_bases(struct domain *d);
void pv_toggle_guest_mode(struct vcpu *v);
void pv_user_syscall(struct vcpu *v, struct cpu_user_regs *r);
void pv_syscall32_dispatch(struct cpu_user_regs *r);

/* Guest descriptor tables (descriptor.c). */
long do_set_gdt(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_update_descriptor(unsigned long, unsigned long, unsigned long, unsigned long,
                          unsigned long);
bool pv_check_descriptor(uint64_t *desc);
long pv_set_gdt(struct vcpu *v, const unsigned long *frames, unsigned long entries);
unsigned pv_frame_fault(const struct cpu_user_regs *r, uint32_t *err);
long pv_set_gs_user_sel(struct vcpu *v, unsigned long sel);
void pv_drop_descriptor_tables(struct domain *d);
extern bool pv_segs_loaded[];
void pv_segments_load(struct vcpu *v);
void pv_segments_save(struct vcpu *v);
long pv_set_ldt(struct vcpu *v, unsigned long base, unsigned long ents);
bool pv_ldt_fault(struct vcpu *v, uint32_t err);
void pv_ldt_invalidate(struct vcpu *v);
bool pv_segments_retry(struct vcpu *v);
void pv_ldt_free(struct vcpu *v);

long do_set_trap_table(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_set_callbacks(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_callback_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_nmi_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_stack_switch(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_fpu_taskswitch(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_set_segment_base(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_set_debugreg(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_get_debugreg(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_iret(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_mmu_update(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_memory_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_mmuext_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long pv_set_base(struct vcpu *v, uint64_t l4_mfn);
/* The read-only M2P slot of a guest L4 (mm.c): filled for a kernel base
 * without VMASST_TYPE_m2p_strict, cleared for a user base with it. */
void pv_ro_m2p_fill(struct domain *d, uint64_t l4mfn);
void pv_ro_m2p_zap(struct domain *d, uint64_t l4mfn);
bool pv_zap_table(uint64_t mfn, unsigned level, uint64_t end);
void pv_drop_bases(struct domain *d);
void pv_unpin_any(struct domain *d, uint64_t mfn);
void m2p_init(void);
void shared_image_put(int idx);
extern bool page_sharing;
int xsm_map_foreign(struct domain *cur, struct domain *target);
/* A present entry as Xen adjusts it for a 64-bit PV guest (mm.c). */
uint64_t pv_adjust_entry(uint64_t e, unsigned level);
/* Grant host mappings (mm.c): install, or remove (and with new_addr
 * replace), the L1 entry for a granted frame at a linear address of d's
 * current tables or, with GNTMAP_contains_pte, at the machine address of
 * an entry of an L1 table of d.  The caller has checked the grant and
 * holds d's lock. */
long pv_map_grant(struct domain *d, uint64_t addr, uint64_t mfn, uint32_t gnt_flags);
long pv_unmap_grant(struct domain *d, uint64_t addr, uint64_t mfn, uint32_t gnt_flags,
                    uint64_t new_addr);
/* xs_boot.c: boot domains and the xenstore domain (docs/boot-config.md). */
int xs_wire(struct domain *d, struct domain *xs, char *err, size_t errlen);
void xs_unwire(struct domain *d);
bool xs_wired(struct domain *d);
size_t xs_boot_list(char *buf, size_t size);
long do_update_va_mapping(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_update_va_mapping_otherdomain(unsigned long, unsigned long, unsigned long, unsigned long,
                                      unsigned long);
/* VMASST_TYPE_writable_pagetables: emulates a guest write that faulted on
 * a read-only mapping of its L1 table; false if it is not one (mm.c). */
bool pv_ptwr_fault(struct vcpu *v, struct cpu_user_regs *r, unsigned long addr, uint32_t err);
/* XENMEM_machphys_mapping and XENMEM_machphys_mfn_list (mm.c). */
long pv_machphys_op(unsigned op, unsigned long arg);

#endif
