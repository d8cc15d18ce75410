/* Between the files of hv/hvm/. */
#ifndef KEEL_HVM_INTERNAL_H
#define KEEL_HVM_INTERNAL_H
#include "domain.h"

/* One #VMEXIT of v (current), its registers synced from the VMCB. */
void hvm_exit(struct vcpu *v, struct cpu_user_regs *r);

#endif
