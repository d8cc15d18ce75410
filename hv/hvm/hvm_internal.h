/* Between the files of hv/hvm/. */
#ifndef KEEL_HVM_INTERNAL_H
#define KEEL_HVM_INTERNAL_H
#include "domain.h"

/* One #VMEXIT of v (current), its registers synced from the VMCB. */
void hvm_exit(struct vcpu *v, struct cpu_user_regs *r);

/* Before each VMRUN of v: its callback vector as V_IRQ while its event
 * upcall is pending (hvm.c). */
void hvm_inject_callback(struct vcpu *v);

/* The x2APIC (vlapic.c): reset at build; its MSRs (and IA32_APIC_BASE),
 * false for #GP; the vector it would deliver now (-1: none); injection
 * before each VMRUN, after the callback's. */
void vlapic_reset(struct vcpu *v);
bool vlapic_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
bool vlapic_msr_write(struct vcpu *v, uint32_t msr, uint64_t val);
int vlapic_pending(struct vcpu *v);
void vlapic_inject(struct vcpu *v);

/* vcpu_areas.c: VCPUOP_register_vcpu_info by GFN; the runstate and time
 * areas written before a VMRUN into its kernel. */
long hvm_register_vcpu_info(struct vcpu *curr, unsigned long vcpuid, unsigned long arg);
void hvm_guest_areas(struct vcpu *v);

#endif
