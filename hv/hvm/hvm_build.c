/*
 * Building a type=hvm boot domain (docs/hvm.md, "HVM from firmware"): its
 * module is a firmware image (Debian's SeaBIOS bios.bin, 128 KiB, or
 * bios-256k.bin), placed as a PC's board places its flash: the whole image
 * at the top of the 4 GiB space (ending at 0xffffffff) and its last
 * 128 KiB (at most) also below 1 MiB, ending at 0xfffff, in the domain's
 * RAM; vCPU 0 starts as a PC's CPU leaves reset, in real mode at
 * F000:FFF0 (CS base 0xffff0000), so the first instruction is the
 * image's last 16 bytes.  RAM is guest-physical 0..mem; no start info,
 * no ACPI tables and no special pages from the builder (the firmware and
 * its device model provide a PC).
 */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "hvm.h"
#include "vmcb.h"
#include "hvm_internal.h"
#include <xen/errno.h>
#include <xen/hvm/params.h>

#define FW_MAX (256u << 10)
#define FW_LOW_MAX (128u << 10)          /* the alias below 1 MiB: 0xe0000-0xfffff */
#define HVM_MIN_MEM (1ULL << 20)

bool hvm_fw_config_ok(uint64_t mem, unsigned vcpus, uint64_t len, char *err, size_t errlen)
{
    if (!svm_usable)
        return snprintf(err, errlen, "type=hvm needs AMD SVM with nested paging: %s",
                        svm_missing), false;
    if (!len || len % (64u << 10) || len > FW_MAX)
        return snprintf(err, errlen, "type=hvm: a firmware image of %lu bytes (a multiple of "
                        "64 KiB, at most 256 KiB, as SeaBIOS's bios.bin)",
                        (unsigned long)len), false;
    if (mem < HVM_MIN_MEM || mem > PVH_MAX_MEM)
        return snprintf(err, errlen, "type=hvm: mem=%luK: between 1M and %luM",
                        (unsigned long)(mem >> 10), (unsigned long)(PVH_MAX_MEM >> 20)), false;
    if (vcpus != 1)
        return snprintf(err, errlen, "type=hvm: one vCPU for now (vcpus=%u)", vcpus), false;
    return true;
}

/* As a PC's CPU after RESET (AMD APM vol. 2, "Processor Initialization
 * State"): real mode, CS selector F000 with base FFFF0000, IP FFF0, the
 * other segments 0 with limit FFFF, CR0 60000010 (CD, NW, ET), EDX the
 * family/model/stepping (CPUID 1's EAX). */
static void reset_state(struct vcpu *v)
{
    const struct hvm_boot_segs s = { .cs = 0xf000, .code = 0x09b, .ds = 0, .data = 0x093,
                                     .limit = 0xffff, .cs_base = 0xffff0000, .tr = 0,
                                     .tr_limit = 0xffff, .dt_limit = 0xffff };
    hvm_boot_state(v, &s, 0x60000010, 0xfff0);
    uint32_t id[4];
    guest_cpuid(v, 1, 0, id);
    v->arch.regs->rdx = id[0];
}

int hvm_fw_build(struct domain *d, const uint8_t *img, uint64_t len, char *err, size_t errlen)
{
    uint64_t nr = d->max_pages, nfw = len >> PAGE_SHIFT;
    unsigned order;
    uint64_t *mfns = hvm_alloc_frames(d, nr + nfw, &order, err, errlen);
    if (!mfns)
        return -1;
    int rc = -1;
    d->nr_pages = nr;
    uint64_t fw_gfn = (1ULL << (32 - PAGE_SHIFT)) - nfw;
    for (uint64_t gfn = 0; gfn < nr; gfn++)
        m2p[mfns[gfn]] = gfn;
    for (uint64_t i = 0; i < nfw; i++) {
        m2p[mfns[nr + i]] = fw_gfn + i;
        memcpy(pfn_to_virt(mfns[nr + i]), img + (i << PAGE_SHIFT), PAGE_SIZE);
    }
    /* The low alias: the image's last 128 KiB (at most) ending at 1 MiB. */
    uint64_t low = MIN(len, (uint64_t)FW_LOW_MAX);
    for (uint64_t off = 0; off < low; off += PAGE_SIZE) {
        uint64_t gfn = (0x100000 - low + off) >> PAGE_SHIFT;
        if (gfn < nr)
            memcpy(pfn_to_virt(mfns[gfn]), img + len - low + off, PAGE_SIZE);
    }
    long e = hvm_p2m_build(d, mfns, nr);
    if (!e)
        e = hvm_p2m_build_extra(d, fw_gfn, mfns + nr, nfw);
    if (e) {
        snprintf(err, errlen, "cannot build the p2m (%ld)", e);
        goto out;
    }
    /* The xenstore and console rings at the top of its RAM, as a PVH
     * domain's (the device model reads them with HVMOP_get_param and
     * marks them reserved in the e820 map it gives the firmware). */
    for (uint64_t gfn = nr - 2; gfn < nr; gfn++)
        memset(pfn_to_virt(mfns[gfn]), 0, PAGE_SIZE);
    d->arch.hvm.params[HVM_PARAM_STORE_PFN] = nr - 2;
    d->arch.hvm.params[HVM_PARAM_CONSOLE_PFN] = nr - 1;
    if (vioapic_init(d)) {
        snprintf(err, errlen, "no memory for its I/O APIC");
        goto out;
    }
    d->arch.hvm.firmware = true;
    hvm_rtc_init(d, nr << PAGE_SHIFT, d->nr_vcpus);
    hvm_pm_init(d);
    reset_state(d->vcpu[0]);
    printk("d%u (%s): HVM, %luK of RAM, firmware of %luK at %lx and %lx, p2m in %u tables, "
           "reset vector F000:FFF0\n", d->id, d->name, (unsigned long)(nr * 4),
           (unsigned long)(len >> 10), (unsigned long)(fw_gfn << PAGE_SHIFT),
           (unsigned long)(0x100000 - low), d->arch.hvm.p2m_tables);
    rc = 0;
out:
    free_hv_pages(mfns, order);
    return rc;
}
