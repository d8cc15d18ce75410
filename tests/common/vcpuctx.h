/* Guest helper for tests that start a second vCPU: a kernel-mode context
 * that runs fn on the given stack in the domain's current address space. */
#ifndef KEEL_TEST_VCPUCTX_H
#define KEEL_TEST_VCPUCTX_H

#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <string.h>

static inline void vcpu_ctx_init(struct vcpu_guest_context *c, void (*fn)(void),
                                 void *stack, unsigned long stack_size)
{
    const unsigned long *p2m = (const unsigned long *)minios_start_info->mfn_list;
    memset(c, 0, sizeof(*c));
    c->flags = VGCF_in_kernel;
    c->user_regs.rip = (unsigned long)fn;
    c->user_regs.rsp = (unsigned long)stack + stack_size - 8;
    c->user_regs.cs = FLAT_KERNEL_CS;
    c->user_regs.ss = FLAT_KERNEL_SS;
    c->user_regs.rflags = 0x200;
    c->kernel_ss = FLAT_KERNEL_SS;
    c->kernel_sp = c->user_regs.rsp;
    c->ctrlreg[3] = xen_pfn_to_cr3(p2m[minios_start_info->pt_base >> 12]);
}

#endif
