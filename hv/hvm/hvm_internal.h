/* Between the files of hv/hvm/. */
#ifndef KEEL_HVM_INTERNAL_H
#define KEEL_HVM_INTERNAL_H
#include "domain.h"

/* One #VMEXIT of v (current), its registers synced from the VMCB. */
void hvm_exit(struct vcpu *v, struct cpu_user_regs *r);

/* Before each VMRUN of v: its callback vector as V_IRQ while its event
 * upcall is pending (hvm.c). */
void hvm_inject_callback(struct vcpu *v);

#endif
