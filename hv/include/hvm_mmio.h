/*
 * MMIO of HVM/PVH guests (hv/hvm/mmio.c, docs/hvm.md): a table of
 * guest-physical ranges with their handlers, for devices the hypervisor
 * emulates (none yet).  An access no range claims reads all ones and its
 * writes are dropped (a rate-limited log line), as Xen's null handler
 * does for an HVM guest without a device model.
 */
#ifndef KEEL_HVM_MMIO_H
#define KEEL_HVM_MMIO_H
#include "lib.h"
#include "domain.h"

struct hvm_mmio_ops {
    /* size 1, 2, 4 or 8, gpa inside the range, not crossing a page. */
    void (*read)(struct vcpu *v, uint64_t gpa, unsigned size, uint64_t *val);
    void (*write)(struct vcpu *v, uint64_t gpa, unsigned size, uint64_t val);
};

/* At boot, before any HVM domain runs: [start, start+len) is the device's
 * for every HVM domain.  -XEN_EINVAL for an empty, wrapping or overlapping
 * range, -XEN_ENOSPC when the table is full. */
int hvm_mmio_register(uint64_t start, uint64_t len, const struct hvm_mmio_ops *ops);

/* An access by the emulator to a GPA that is not the domain's RAM. */
void hvm_mmio_access(struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val);

#endif
