/* Guest test: Xen 4.17's exact results for multicall, vm_assist,
 * XENMEM_machphys_mapping/_mfn_list, the PTE bits a 64-bit PV guest may
 * set and the ones Xen sets for it, xen_version, and a table of every
 * hypercall number as Xen answers an unprivileged domU.  It runs on Keel
 * (a domU without roles) and as dom0 of real Xen 4.17 (xen-abi-xen):
 * where Xen answers dom0 differently from a domU, the start_info flags
 * say which is expected; where Keel knowingly differs (docs/abi.md), the
 * extraversion says which. */
#define __XEN_TOOLS__ 1            /* domctl, sysctl, platform_op, dm_op structures */
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/mm.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <xen/memory.h>
#include <xen/version.h>
#include <xen/features.h>
#include <xen/vcpu.h>
#include <xen/event_channel.h>
#include <xen/physdev.h>
#include <xen/callback.h>
#include <xen/nmi.h>
#include <xen/xenoprof.h>
#include <xen/kexec.h>
#include <xen/hypfs.h>
#include <xen/platform.h>
#include <xen/sysctl.h>
#include <xen/domctl.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/trace.h>
#include <xen/arch-x86/xen-mca.h>
#include <minios/time.h>
#include <minios/traps.h>
#include "report.h"
#include "ptwalk.h"

#define HV_ADDR 0xFFFF830000100000UL
#define PTE_P   1UL
#define PTE_W   2UL
#define PTE_U   4UL
#define PTE_PWT 8UL
#define PTE_PCD 0x10UL
#define PTE_A   0x20UL
#define PTE_D   0x40UL
#define PTE_PS  0x80UL
#define PTE_G   0x100UL
#define PTE_AVAIL      (7UL << 9)
#define PTE_AVAIL_HIGH (0x7ffUL << 52)
#define PTE_KERNEL     (1UL << 52)   /* Xen's _PAGE_GUEST_KERNEL */
#define PTE_NX  (1UL << 63)
#define ADDR    0x000FFFFFFFFFF000UL

static bool on_keel, dom0, privileged;

static long multicall(struct multicall_entry *l, unsigned long n)
{
    return _hypercall2(__HYPERVISOR_multicall, l, n);
}

static long vm_assist(unsigned long cmd, unsigned long type)
{
    return _hypercall2(__HYPERVISOR_vm_assist, cmd, type);
}

static long memop(unsigned long cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_memory_op, cmd, arg);
}

static unsigned long features(void)
{
    xen_feature_info_t fi = { .submap_idx = 0, .submap = 0xdeadbeef };
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_get_features, &fi), 0);
    return fi.submap;
}

static void set_entry(struct multicall_entry *e, unsigned long op, unsigned long a0,
                      unsigned long a1, unsigned long a2, unsigned long a3)
{
    memset(e, 0, sizeof(*e));
    e->op = op;
    e->result = 0x5555;
    e->args[0] = a0;
    e->args[1] = a1;
    e->args[2] = a2;
    e->args[3] = a3;
}

static struct multicall_entry big[2048];
static struct mmuext_op flushes[600];

static void test_multicall(void)
{
    struct multicall_entry mc[8];
    static struct multicall_entry nested[1];
    xen_extraversion_t ev;

    set_entry(&mc[0], __HYPERVISOR_xen_version, XENVER_version, 0, 0, 0);
    set_entry(&mc[1], __HYPERVISOR_xen_version, 12345, 0, 0, 0);
    set_entry(&mc[2], __HYPERVISOR_xen_version, XENVER_extraversion, HV_ADDR, 0, 0);
    set_entry(&mc[3], 60, 0, 0, 0, 0);                    /* no such hypercall */
    set_entry(&mc[4], 100000, 0, 0, 0, 0);
    set_entry(&nested[0], __HYPERVISOR_xen_version, XENVER_version, 0, 0, 0);
    set_entry(&mc[5], __HYPERVISOR_multicall, (unsigned long)nested, 1, 0, 0);
    set_entry(&mc[6], __HYPERVISOR_vm_assist, VMASST_CMD_enable, 6, 0, 0);
    set_entry(&mc[7], __HYPERVISOR_xen_version, XENVER_extraversion, (unsigned long)ev, 0, 0);
    CHECK_EQ(multicall(mc, 8), 0);
    CHECK_EQ(mc[0].result, (4 << 16) | 17);
    CHECK_EQ(mc[1].result, -XEN_ENOSYS);
    CHECK_EQ(mc[2].result, -XEN_EFAULT);      /* a failing entry: the batch goes on */
    CHECK_EQ(mc[3].result, -XEN_ENOSYS);
    CHECK_EQ(mc[4].result, -XEN_ENOSYS);
    CHECK_EQ(mc[5].result, -XEN_EINVAL);      /* no multicall inside a multicall */
    CHECK_EQ(nested[0].result, 0x5555);       /* ... and its list untouched */
    CHECK_EQ(mc[6].result, -XEN_EINVAL);
    CHECK_EQ(mc[7].result, 0);
    CHECK_EQ(mc[0].op, __HYPERVISOR_xen_version);

    /* The count is 32 bits: the high half is ignored. */
    set_entry(&mc[0], __HYPERVISOR_xen_version, XENVER_version, 0, 0, 0);
    set_entry(&mc[1], __HYPERVISOR_xen_version, XENVER_version, 0, 0, 0);
    CHECK_EQ(multicall(mc, (1UL << 32) | 1), 0);
    CHECK_EQ(mc[0].result, (4 << 16) | 17);
    CHECK_EQ(mc[1].result, 0x5555);
    CHECK_EQ(multicall(mc, 0), 0);
    CHECK_EQ(multicall(mc, 1UL << 32), 0);
    /* A list the guest cannot give: -EFAULT, nothing done. */
    CHECK_EQ(multicall((struct multicall_entry *)HV_ADDR, 1), -XEN_EFAULT);
    CHECK_EQ(multicall((struct multicall_entry *)0xFFFFFFFFFFFFFFC0UL, 2), -XEN_EFAULT);
    /* An entry in a read-only page (the bootstrap L4: its op is whatever
     * the table holds, the result cannot be written back): -EFAULT. */
    CHECK_EQ(multicall((struct multicall_entry *)minios_start_info->pt_base, 1), -XEN_EFAULT);

    /* A long batch: preemptible, every result written. */
    for (unsigned i = 0; i < 2048; i++)
        set_entry(&big[i], __HYPERVISOR_xen_version, i % 3 ? XENVER_version : 999, 0, 0, 0);
    CHECK_EQ(multicall(big, 2048), 0);
    unsigned bad = 0;
    for (unsigned i = 0; i < 2048; i++)
        if ((long)big[i].result != (i % 3 ? (4 << 16) | 17 : -XEN_ENOSYS))
            bad++;
    CHECK_EQ(bad, 0);

    /* Batches inside a batch: a sub-call's own continuation stays inside
     * its entry; its *done counts everything. */
    unsigned int done[4] = { 0 };
    for (unsigned i = 0; i < 600; i++)
        flushes[i].cmd = MMUEXT_TLB_FLUSH_LOCAL;
    for (unsigned i = 0; i < 4; i++)
        set_entry(&mc[i], __HYPERVISOR_mmuext_op, (unsigned long)flushes, 600,
                  (unsigned long)&done[i], DOMID_SELF);
    flushes[599].cmd = 9999;                     /* the last one fails */
    set_entry(&mc[3], __HYPERVISOR_mmuext_op, (unsigned long)flushes, 599,
              (unsigned long)&done[3], DOMID_SELF);
    CHECK_EQ(multicall(mc, 4), 0);
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(mc[i].result, -XEN_ENOSYS);
        CHECK_EQ(done[i], 599);
    }
    CHECK_EQ(mc[3].result, 0);
    CHECK_EQ(done[3], 599);
    printf("multicall: checked\n");
}

static void test_vm_assist(void)
{
    static const unsigned ok[] = { VMASST_TYPE_4gb_segments, VMASST_TYPE_4gb_segments_notify,
                                   VMASST_TYPE_pae_extended_cr3, VMASST_TYPE_architectural_iopl,
                                   VMASST_TYPE_runstate_update_flag, VMASST_TYPE_m2p_strict };
    for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        CHECK_EQ(vm_assist(VMASST_CMD_enable, ok[i]), 0);
        CHECK_EQ(vm_assist(VMASST_CMD_disable, ok[i]), 0);
        CHECK_EQ(vm_assist(VMASST_CMD_disable, ok[i]), 0);
        CHECK_EQ(vm_assist(2, ok[i]), -XEN_ENOSYS);
    }
    static const unsigned long bad[] = { 6, 7, 31, 33, 63, 64, 1000, 0xffffffffUL };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(vm_assist(VMASST_CMD_enable, bad[i]), -XEN_EINVAL);
        CHECK_EQ(vm_assist(VMASST_CMD_disable, bad[i]), -XEN_EINVAL);
        CHECK_EQ(vm_assist(2, bad[i]), -XEN_EINVAL);    /* the type is checked first */
    }
    /* Both arguments are 32 bits. */
    CHECK_EQ(vm_assist(VMASST_CMD_enable, (1UL << 32) | VMASST_TYPE_4gb_segments), 0);
    CHECK_EQ(vm_assist((1UL << 32) | VMASST_CMD_disable, VMASST_TYPE_4gb_segments), 0);

    /* pae_extended_cr3 is what get_features reports as pae_pgdir_above_4gb. */
    unsigned long f0 = features();
    CHECK_EQ(f0 & (1UL << XENFEAT_pae_pgdir_above_4gb), 0);
    CHECK_EQ(vm_assist(VMASST_CMD_enable, VMASST_TYPE_pae_extended_cr3), 0);
    CHECK_EQ(features(), f0 | (1UL << XENFEAT_pae_pgdir_above_4gb));
    CHECK_EQ(vm_assist(VMASST_CMD_disable, VMASST_TYPE_pae_extended_cr3), 0);
    CHECK_EQ(features(), f0);

    CHECK_EQ(vm_assist(VMASST_CMD_enable, VMASST_TYPE_writable_pagetables), 0);
    CHECK_EQ(vm_assist(VMASST_CMD_disable, VMASST_TYPE_writable_pagetables), 0);
    printf("vm_assist: checked\n");
}

static void test_machphys(void)
{
    struct xen_machphys_mapping m;
    memset(&m, 0xff, sizeof(m));
    CHECK_EQ(memop(XENMEM_machphys_mapping, &m), 0);
    CHECK_EQ(m.v_start, MACH2PHYS_VIRT_START);
    CHECK_EQ(m.v_end, MACH2PHYS_VIRT_END);
    if (dom0) {
        /* The hardware domain: the last frame there is. */
        if (m.max_mfn == 0 || m.max_mfn >= MACH2PHYS_NR_ENTRIES - 1)
            test_fail("dom0 machphys max_mfn %lx", (unsigned long)m.max_mfn);
    } else {
        CHECK_EQ(m.max_mfn, MACH2PHYS_NR_ENTRIES - 1);
    }
    CHECK_EQ(memop(XENMEM_machphys_mapping, (void *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(memop(XENMEM_machphys_mapping, (void *)minios_start_info->pt_base), -XEN_EFAULT);
    /* The m2p reads what the p2m says, up to our highest frame. */
    const unsigned long *p2m = (const unsigned long *)minios_start_info->mfn_list;
    unsigned long top = 0;
    for (unsigned long pfn = 0; pfn < minios_start_info->nr_pages; pfn++) {
        if (m2p[p2m[pfn]] != pfn) {
            test_fail("m2p[%lx] = %lx, expected %lx", p2m[pfn], m2p[p2m[pfn]], pfn);
            break;
        }
        if (p2m[pfn] > top)
            top = p2m[pfn];
    }
    if (top > m.max_mfn)
        test_fail("frame %lx above max_mfn %lx", top, (unsigned long)m.max_mfn);

    /* machphys_mfn_list: the frames of the m2p, one per 2 MiB. */
    static xen_pfn_t ext[64];
    struct xen_machphys_mfn_list l = { .max_extents = 64 };
    set_xen_guest_handle(l.extent_start, ext);
    CHECK_EQ(memop(XENMEM_machphys_mfn_list, &l), 0);
    unsigned long need = ((top + 1) * 8 + (1UL << 21) - 1) >> 21;
    if (l.nr_extents < need || l.nr_extents > 64)
        test_fail("machphys_mfn_list: %u extents, the m2p up to frame %lx needs %lu",
                  l.nr_extents, top, need);
    for (unsigned i = 0; i < l.nr_extents && i < 64; i++)
        if (ext[i] == 0)
            test_fail("machphys_mfn_list: extent %u is frame %lx", i, (unsigned long)ext[i]);
    l.max_extents = 1;
    l.nr_extents = 77;
    ext[1] = 0x1234;
    CHECK_EQ(memop(XENMEM_machphys_mfn_list, &l), 0);
    CHECK_EQ(l.nr_extents, 1);
    CHECK_EQ(ext[1], 0x1234);
    l.max_extents = 0;
    CHECK_EQ(memop(XENMEM_machphys_mfn_list, &l), 0);
    CHECK_EQ(l.nr_extents, 0);
    l.max_extents = 2;
    set_xen_guest_handle(l.extent_start, (xen_pfn_t *)HV_ADDR);
    CHECK_EQ(memop(XENMEM_machphys_mfn_list, &l), -XEN_EFAULT);
    CHECK_EQ(memop(XENMEM_machphys_mfn_list, (void *)HV_ADDR), -XEN_EFAULT);
    printf("machphys: max_mfn %lx, %u m2p extents\n", (unsigned long)m.max_mfn, 1U);
}

static void test_version(void)
{
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_version, NULL), (4 << 16) | 17);
    /* The command is an int: the high half is ignored. */
    CHECK_EQ(_hypercall2(__HYPERVISOR_xen_version, (1UL << 32) | XENVER_version, 0),
             (4 << 16) | 17);
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_pagesize, NULL), 4096);
    static char buf[2048];
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_pagesize, buf), -XEN_EINVAL);

    /* Features: what a 64-bit PV guest gets. */
    unsigned long f = features(), want;
    if (on_keel)
        want = (1UL << XENFEAT_mmu_pt_update_preserve_ad) |
               (1UL << XENFEAT_highmem_assist) | (1UL << XENFEAT_gnttab_map_avail_bits) |
               (1UL << XENFEAT_direct_mapped);
    else
        want = (1UL << XENFEAT_memory_op_vnode_supported) |
               (1UL << XENFEAT_mmu_pt_update_preserve_ad) | (1UL << XENFEAT_highmem_assist) |
               (1UL << XENFEAT_gnttab_map_avail_bits) | (1UL << XENFEAT_direct_mapped) |
               (dom0 ? 1UL << XENFEAT_dom0 : 0);
    CHECK_EQ(f, want);
    xen_feature_info_t fi = { .submap_idx = 1, .submap = 0x77 };
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_get_features, &fi), -XEN_EINVAL);
    CHECK_EQ(fi.submap, 0x77);
    fi.submap_idx = 0xffffffff;
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_get_features, &fi), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_get_features, (void *)HV_ADDR), -XEN_EFAULT);

    xen_platform_parameters_t pp = { 0 };
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_platform_parameters, &pp), 0);
    CHECK_EQ(pp.virt_start, HYPERVISOR_VIRT_START);
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_platform_parameters, (void *)HV_ADDR), -XEN_EFAULT);

    /* Strings: NUL-filled to their size. */
    memset(buf, 0x7f, sizeof(buf));
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_extraversion, buf), 0);
    CHECK_EQ(buf[sizeof(xen_extraversion_t) - 1], 0);
    CHECK_EQ(buf[sizeof(xen_extraversion_t)], 0x7f);
    memset(buf, 0x7f, sizeof(buf));
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_capabilities, buf), 0);
    if (strncmp(buf, "xen-3.0-x86_64", 14))
        test_fail("capabilities '%s'", buf);
    CHECK_EQ(buf[sizeof(xen_capabilities_info_t) - 1], 0);
    CHECK_EQ(buf[sizeof(xen_capabilities_info_t)], 0x7f);
    memset(buf, 0x7f, sizeof(buf));
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_changeset, buf), 0);
    CHECK_EQ(buf[sizeof(xen_changeset_info_t) - 1], 0);
    CHECK_EQ(buf[sizeof(xen_changeset_info_t)], 0x7f);
    memset(buf, 0x7f, sizeof(buf));
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_compile_info, buf), 0);
    CHECK_EQ(buf[sizeof(xen_compile_info_t) - 1], 0);
    CHECK_EQ(buf[sizeof(xen_compile_info_t)], 0x7f);
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_changeset, (void *)HV_ADDR), -XEN_EFAULT);

    /* guest_handle: the domain's handle (16 bytes). */
    memset(buf, 0x7f, sizeof(buf));
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_guest_handle, buf), 0);
    CHECK_EQ(buf[sizeof(xen_domain_handle_t)], 0x7f);
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_guest_handle, (void *)HV_ADDR), -XEN_EFAULT);

    /* commandline and build_id: a control domain's; others are denied. */
    memset(buf, 0x7f, sizeof(buf));
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_commandline, buf), 0);
    if (privileged) {
        CHECK_EQ(buf[sizeof(xen_commandline_t) - 1], 0);
        CHECK_EQ(buf[sizeof(xen_commandline_t)], 0x7f);
    } else {
        if (memcmp(buf, "<denied>", 9))
            test_fail("commandline for a domU: '%.16s'", buf);
        CHECK_EQ(buf[9], 0x7f);
    }
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_commandline, (void *)HV_ADDR), -XEN_EFAULT);
    struct { uint32_t len; unsigned char b[256]; } bid = { .len = 256 };
    if (!privileged) {
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_build_id, NULL), -XEN_EPERM);
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_build_id, &bid), -XEN_EPERM);
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_build_id, (void *)HV_ADDR), -XEN_EPERM);
    } else if (on_keel) {
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_build_id, &bid), -XEN_ENODATA);
    } else {
        long sz = HYPERVISOR_xen_version(XENVER_build_id, NULL);
        if (sz <= 0 || sz > 256)
            test_fail("build_id size %ld", sz);
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_build_id, &bid), sz);
        bid.len = 0;
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_build_id, &bid), -XEN_EINVAL);
        bid.len = (uint32_t)sz - 1;
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_build_id, &bid), -XEN_ENOBUFS);
        CHECK_EQ(HYPERVISOR_xen_version(XENVER_build_id, (void *)HV_ADDR), -XEN_EFAULT);
    }
    CHECK_EQ(HYPERVISOR_xen_version(11, buf), -XEN_ENOSYS);
    CHECK_EQ(HYPERVISOR_xen_version(-1, buf), -XEN_ENOSYS);
    printf("xen_version: checked\n");
}

static char scratch[4096] __attribute__((aligned(4096)));
static char data[4096] __attribute__((aligned(4096)));

static unsigned long mfn_of(const void *va)
{
    return ((const unsigned long *)minios_start_info->mfn_list)[(unsigned long)va >> 12];
}

/* The entry at machine address ma, read through minios's (read-only)
 * mapping of its page tables. */
static unsigned long read_entry(unsigned long ma)
{
    return *(volatile unsigned long *)((m2p[ma >> 12] << 12) + (ma & 4095));
}

static long pt_update(unsigned long ma, unsigned long val, unsigned cmd)
{
    struct mmu_update u = { .ptr = ma | cmd, .val = val };
    return _hypercall4(__HYPERVISOR_mmu_update, &u, 1, NULL, DOMID_SELF);
}

static long uvm(void *va, unsigned long val)
{
    return _hypercall3(__HYPERVISOR_update_va_mapping, va, val, UVMF_INVLPG);
}

static void test_pte(void)
{
    unsigned long ma = l1e_maddr((unsigned long)scratch);
    unsigned long mfn = mfn_of(scratch), orig = read_entry(ma);
    unsigned long base = mfn << 12 | PTE_P | PTE_W | PTE_A | PTE_D;
    memset(scratch, 0x3c, sizeof(scratch));

    /* A kernel mapping (no user bit from the guest): user and bit 52. */
    CHECK_EQ(uvm(scratch, base), 0);
    CHECK_EQ(read_entry(ma), base | PTE_U | PTE_KERNEL);
    /* A user mapping: made global. */
    CHECK_EQ(uvm(scratch, base | PTE_U), 0);
    CHECK_EQ(read_entry(ma), base | PTE_U | PTE_G);
    /* Both user and bit 52 from the guest: a kernel mapping, kept so. */
    CHECK_EQ(uvm(scratch, base | PTE_U | PTE_KERNEL), 0);
    CHECK_EQ(read_entry(ma), base | PTE_U | PTE_KERNEL);
    /* Global on a kernel mapping: kept. */
    CHECK_EQ(uvm(scratch, base | PTE_G), 0);
    CHECK_EQ(read_entry(ma), base | PTE_G | PTE_U | PTE_KERNEL);
    /* Every software-available bit, and NX. */
    CHECK_EQ(uvm(scratch, base | PTE_AVAIL | PTE_AVAIL_HIGH | PTE_NX), 0);
    CHECK_EQ(read_entry(ma), base | PTE_AVAIL | PTE_AVAIL_HIGH | PTE_NX | PTE_U);
    CHECK_EQ(uvm(scratch, base | (1UL << 9)), 0);
    CHECK_EQ(read_entry(ma), base | (1UL << 9) | PTE_U | PTE_KERNEL);
    CHECK_EQ(uvm(scratch, base | (1UL << 62) | PTE_U), 0);
    CHECK_EQ(read_entry(ma), base | (1UL << 62) | PTE_U | PTE_G);
    if (scratch[17] != 0x3c)
        test_fail("scratch lost its contents");
    /* Cache attributes: only for a domain with I/O (dom0 on Xen). */
    if (!dom0) {
        CHECK_EQ(uvm(scratch, base | PTE_PCD), -XEN_EINVAL);
        CHECK_EQ(uvm(scratch, base | PTE_PWT), -XEN_EINVAL);
        CHECK_EQ(uvm(scratch, base | PTE_PS), -XEN_EINVAL);    /* PAT in an L1 entry */
        CHECK_EQ(read_entry(ma), base | (1UL << 62) | PTE_U | PTE_G);   /* unchanged */
    }
    /* The same through mmu_update. */
    CHECK_EQ(pt_update(ma, base | (1UL << 10), MMU_NORMAL_PT_UPDATE), 0);
    CHECK_EQ(read_entry(ma), base | (1UL << 10) | PTE_U | PTE_KERNEL);
    CHECK_EQ(pt_update(ma, (base & ~(PTE_A | PTE_D)) | PTE_U, MMU_PT_UPDATE_PRESERVE_AD), 0);
    CHECK_EQ(read_entry(ma), base | PTE_U | PTE_G);
    CHECK_EQ(pt_update(ma, (base & ~(PTE_A | PTE_D)) | PTE_U, MMU_NORMAL_PT_UPDATE), 0);
    CHECK_EQ(read_entry(ma), (base & ~(PTE_A | PTE_D)) | PTE_U | PTE_G);
    CHECK_EQ(pt_update(ma, orig, MMU_NORMAL_PT_UPDATE), 0);
    CHECK_EQ(uvm(scratch, orig), 0);

    /* Upper levels: a new tree in an empty L4 slot, built while its pages
     * are ordinary memory, then hooked in: validation adjusts each entry
     * (user at every level, accessed in the L4 entry) and keeps the
     * software bits. */
    const unsigned long *l4 = (const unsigned long *)minios_start_info->pt_base;
    unsigned slot = 1;
    while (slot < 256 && l4[slot])
        slot++;
    if (slot == 256) {
        test_error("no empty L4 slot");
        return;
    }
    unsigned long *t3 = minios_alloc_pages(1), *t2 = minios_alloc_pages(1),
                  *t1 = minios_alloc_pages(1);
    memset(t3, 0, 4096);
    memset(t2, 0, 4096);
    memset(t1, 0, 4096);
    unsigned long m3 = mfn_of(t3), m2 = mfn_of(t2), m1 = mfn_of(t1);
    memset(data, 0xa5, sizeof(data));
    t1[0] = mfn_of(data) << 12 | PTE_P | PTE_A | PTE_D | (1UL << 11);
    t2[0] = m1 << 12 | PTE_P | PTE_W | PTE_A | (1UL << 9) | (1UL << 60);
    t3[0] = m2 << 12 | PTE_P | PTE_W | PTE_A | (3UL << 10);
    CHECK_EQ(uvm(t1, m1 << 12 | PTE_P | PTE_A), 0);
    CHECK_EQ(uvm(t2, m2 << 12 | PTE_P | PTE_A), 0);
    CHECK_EQ(uvm(t3, m3 << 12 | PTE_P | PTE_A), 0);
    unsigned long l4ma = (mfn_of(l4) << 12) + slot * 8;
    CHECK_EQ(pt_update(l4ma, m3 << 12 | PTE_P | PTE_W | PTE_G, MMU_NORMAL_PT_UPDATE), -XEN_EINVAL);
    CHECK_EQ(pt_update(l4ma, m3 << 12 | PTE_P | PTE_W | PTE_PCD, MMU_NORMAL_PT_UPDATE), -XEN_EINVAL);
    CHECK_EQ(pt_update(l4ma, m3 << 12 | PTE_P | PTE_W | PTE_AVAIL | (1UL << 55),
                       MMU_NORMAL_PT_UPDATE), 0);
    CHECK_EQ(l4[slot], m3 << 12 | PTE_P | PTE_W | PTE_AVAIL | (1UL << 55) | PTE_U | PTE_A);
    CHECK_EQ(t3[0], m2 << 12 | PTE_P | PTE_W | PTE_A | (3UL << 10) | PTE_U);
    CHECK_EQ(t2[0], m1 << 12 | PTE_P | PTE_W | PTE_A | (1UL << 9) | (1UL << 60) | PTE_U);
    CHECK_EQ(t1[0], mfn_of(data) << 12 | PTE_P | PTE_A | PTE_D | (1UL << 11) | PTE_U | PTE_KERNEL);
    volatile unsigned char *through = (volatile unsigned char *)((unsigned long)slot << 39);
    CHECK_EQ(through[100], 0xa5);
    /* Refused above L1: superpages, global, cache attributes. */
    unsigned long m2a = (m2 << 12) + 8, m3a = (m3 << 12) + 8;
    CHECK_EQ(pt_update(m2a, m1 << 12 | PTE_P | PTE_PS, MMU_NORMAL_PT_UPDATE), -XEN_EINVAL);
    CHECK_EQ(pt_update(m2a, m1 << 12 | PTE_P | PTE_G, MMU_NORMAL_PT_UPDATE), -XEN_EINVAL);
    CHECK_EQ(pt_update(m2a, m1 << 12 | PTE_P | PTE_PCD, MMU_NORMAL_PT_UPDATE), -XEN_EINVAL);
    CHECK_EQ(pt_update(m2a, m1 << 12 | PTE_P | PTE_PWT, MMU_NORMAL_PT_UPDATE), -XEN_EINVAL);
    CHECK_EQ(pt_update(m3a, m2 << 12 | PTE_P | PTE_PS, MMU_NORMAL_PT_UPDATE), -XEN_EINVAL);
    CHECK_EQ(pt_update(m3a, m2 << 12 | PTE_P | PTE_G, MMU_NORMAL_PT_UPDATE), -XEN_EINVAL);
    /* A second L2 entry through mmu_update: user added, bits kept. */
    CHECK_EQ(pt_update(m2a, m1 << 12 | PTE_P | (0x3ffUL << 53), MMU_NORMAL_PT_UPDATE), 0);
    CHECK_EQ(t2[1], m1 << 12 | PTE_P | (0x3ffUL << 53) | PTE_U);
    CHECK_EQ(through[(1UL << 21) + 100], 0xa5);
    CHECK_EQ(pt_update(m2a, 0, MMU_NORMAL_PT_UPDATE), 0);
    /* Unhook: the tree is devalidated; its pages can be written again. */
    CHECK_EQ(pt_update(l4ma, 0, MMU_NORMAL_PT_UPDATE), 0);
    CHECK_EQ(uvm(t3, m3 << 12 | PTE_P | PTE_W | PTE_A | PTE_D), 0);
    CHECK_EQ(uvm(t2, m2 << 12 | PTE_P | PTE_W | PTE_A | PTE_D), 0);
    CHECK_EQ(uvm(t1, m1 << 12 | PTE_P | PTE_W | PTE_A | PTE_D), 0);
    t1[0] = 0;
    printf("PTE bits: checked (L4 slot %u)\n", slot);
}

static long ext2(unsigned cmd, unsigned long mfn, unsigned long src)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = mfn;
    op.arg2.src_mfn = src;
    return _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
}

/* MMUEXT_CLEAR_PAGE and MMUEXT_COPY_PAGE (XENFEAT_highmem_assist). */
static void test_clear_copy(void)
{
    unsigned long dm = mfn_of(data), sm = mfn_of(scratch);
    unsigned long l4m = mfn_of((void *)minios_start_info->pt_base);
    memset(data, 0x6b, sizeof(data));
    CHECK_EQ(ext2(MMUEXT_CLEAR_PAGE, dm, 0), 0);
    if (data[0] || data[2048] || data[4095])
        test_fail("CLEAR_PAGE left data");
    for (unsigned i = 0; i < sizeof(scratch); i++)
        scratch[i] = (char)(i * 7);
    CHECK_EQ(ext2(MMUEXT_COPY_PAGE, dm, sm), 0);
    if (memcmp(data, scratch, sizeof(data)))
        test_fail("COPY_PAGE: copy differs");
    /* From a page table (any type of ours) and from our code. */
    CHECK_EQ(ext2(MMUEXT_COPY_PAGE, dm, l4m), 0);
    CHECK_EQ(((unsigned long *)data)[0], ((const unsigned long *)minios_start_info->pt_base)[0]);
    unsigned long code = (unsigned long)test_finish & ~4095UL;
    CHECK_EQ(ext2(MMUEXT_COPY_PAGE, dm, mfn_of((void *)code)), 0);
    if (memcmp(data, (void *)code, sizeof(data)))
        test_fail("COPY_PAGE from our code differs");
    /* Refused: a destination that is a page table, frames not ours. */
    CHECK_EQ(ext2(MMUEXT_CLEAR_PAGE, l4m, 0), -XEN_EINVAL);
    CHECK_EQ(ext2(MMUEXT_COPY_PAGE, l4m, sm), -XEN_EINVAL);
    CHECK_EQ(ext2(MMUEXT_CLEAR_PAGE, 0xFFFFFFFFFUL, 0), -XEN_EINVAL);
    CHECK_EQ(ext2(MMUEXT_COPY_PAGE, dm, 0xFFFFFFFFFUL), -XEN_EINVAL);
    CHECK_EQ(ext2(MMUEXT_COPY_PAGE, 0xFFFFFFFFFUL, sm), -XEN_EINVAL);
    static xen_pfn_t ext[1];
    struct xen_machphys_mfn_list l = { .max_extents = 1 };
    set_xen_guest_handle(l.extent_start, ext);
    CHECK_EQ(memop(XENMEM_machphys_mfn_list, &l), 0);
    CHECK_EQ(ext2(MMUEXT_CLEAR_PAGE, ext[0], 0), -XEN_EINVAL);     /* the hypervisor's m2p */
    CHECK_EQ(ext2(MMUEXT_COPY_PAGE, dm, ext[0]), -XEN_EINVAL);
    printf("clear/copy page: checked\n");
}

static long reg_runstate(unsigned long vcpu, unsigned long addr)
{
    struct vcpu_register_runstate_memory_area a;
    a.addr.p = addr;
    return _hypercall3(__HYPERVISOR_vcpu_op, VCPUOP_register_runstate_memory_area, vcpu, &a);
}

/* VCPUOP_register_runstate_memory_area: written at once, then whenever
 * the vCPU is switched in (here: after blocking in minios_sleep_ns). */
static void test_runstate_area(void)
{
    static volatile struct vcpu_runstate_info rs;
    memset((void *)&rs, 0xff, sizeof(rs));
    CHECK_EQ(reg_runstate(0, (unsigned long)&rs), 0);
    CHECK_EQ(rs.state, RUNSTATE_running);
    uint64_t entry0 = rs.state_entry_time, blocked0 = rs.time[RUNSTATE_blocked];
    if (entry0 == ~0ULL || (entry0 & XEN_RUNSTATE_UPDATE) || rs.time[RUNSTATE_running] == ~0ULL)
        test_fail("runstate area not written at registration");
    /* A sleep blocks the vCPU unless its deadline passed before it could
     * block (a host that stalled QEMU meanwhile): sleep again until the
     * area shows a switch-in after blocking, at most 20 times. */
    for (int k = 0; k < 20 && rs.time[RUNSTATE_blocked] <= blocked0; k++)
        minios_sleep_ns(5000000);
    CHECK_EQ(rs.state, RUNSTATE_running);
    if (rs.state_entry_time <= entry0)
        test_fail("runstate area: entry time %lx not after %lx",
                  (unsigned long)rs.state_entry_time, (unsigned long)entry0);
    if (rs.time[RUNSTATE_blocked] <= blocked0)
        test_fail("runstate area: blocked %lu ns, before %lu ns",
                  (unsigned long)rs.time[RUNSTATE_blocked], (unsigned long)blocked0);
    struct vcpu_runstate_info ri;
    CHECK_EQ(_hypercall3(__HYPERVISOR_vcpu_op, VCPUOP_get_runstate_info, 0, &ri), 0);
    if (ri.time[RUNSTATE_blocked] < rs.time[RUNSTATE_blocked] || ri.state_entry_time < rs.state_entry_time)
        test_fail("get_runstate_info behind the runstate area");
    /* With VMASST_TYPE_runstate_update_flag: the flag is clear once done. */
    CHECK_EQ(vm_assist(VMASST_CMD_enable, VMASST_TYPE_runstate_update_flag), 0);
    minios_sleep_ns(2000000);
    CHECK_EQ(rs.state, RUNSTATE_running);
    CHECK_EQ(rs.state_entry_time & XEN_RUNSTATE_UPDATE, 0);
    CHECK_EQ(vm_assist(VMASST_CMD_disable, VMASST_TYPE_runstate_update_flag), 0);
    /* Refusals; an area that cannot be written is not an error. */
    CHECK_EQ(_hypercall3(__HYPERVISOR_vcpu_op, VCPUOP_register_runstate_memory_area, 0, HV_ADDR),
             -XEN_EFAULT);
    CHECK_EQ(reg_runstate(0, HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(reg_runstate(0, 0x0000900000000000UL), -XEN_EFAULT);   /* non-canonical */
    CHECK_EQ(reg_runstate(0, 0xFFFFFFFFFFFFFFF0UL), 0);   /* only the start is checked */
    minios_sleep_ns(1000000);
    CHECK_EQ(reg_runstate(4096, (unsigned long)&rs), -XEN_ENOENT);
    CHECK_EQ(reg_runstate(0, minios_start_info->pt_base), 0);
    minios_sleep_ns(1000000);
    /* Address 0: no more updates. */
    CHECK_EQ(reg_runstate(0, 0), 0);
    rs.state = 77;
    minios_sleep_ns(1000000);
    CHECK_EQ(rs.state, 77);
    printf("runstate area: checked\n");
}

/* Writes with fixed encodings (the emulator decodes them). */
static void wr64(volatile unsigned long *p, unsigned long v)
{
    __asm__ volatile(".byte 0x48,0x89,0x07" : : "D"(p), "a"(v) : "memory");  /* mov %rax,(%rdi) */
}

static void wr32(volatile unsigned long *p, uint32_t v)
{
    __asm__ volatile(".byte 0x89,0x07" : : "D"(p), "a"(v) : "memory");       /* mov %eax,(%rdi) */
}

static void wr16(volatile unsigned long *p, uint16_t v)
{
    __asm__ volatile(".byte 0x66,0x89,0x07" : : "D"(p), "a"(v) : "memory");  /* mov %ax,(%rdi) */
}

static void wr_zero(volatile unsigned long *p)
{
    __asm__ volatile(".byte 0x48,0xc7,0x07,0,0,0,0" : : "D"(p) : "memory");  /* movq $0,(%rdi) */
}

static unsigned long xchg64(volatile unsigned long *p, unsigned long v)
{
    __asm__ volatile(".byte 0x48,0x87,0x07" : "+a"(v) : "D"(p) : "memory");  /* xchg %rax,(%rdi) */
    return v;
}

static int cas64(volatile unsigned long *p, unsigned long *old, unsigned long v)
{
    unsigned char zf;
    unsigned long a = *old;
    __asm__ volatile(".byte 0xf0,0x48,0x0f,0xb1,0x37\n\tsetz %1"           /* lock cmpxchg %rsi,(%rdi) */
                     : "+a"(a), "=q"(zf) : "D"(p), "S"(v) : "memory", "cc");
    *old = a;
    return zf;
}

/* Read-modify-write instructions on a PTE, as Linux uses them
 * (ptep_set_wrprotect's `lock andb`, the ageing `lock btr`); each returns
 * the flags it left. */
#define RMW(name, bytes, ...)                                                             \
    static unsigned long name(volatile unsigned long *p, unsigned long v)                 \
    {                                                                                     \
        unsigned long fl;                                                                 \
        __asm__ volatile(".byte " bytes "\n\tpushfq\n\tpopq %0"                          \
                         : "=r"(fl), "+a"(v) : "D"(p) : "memory", "cc");                  \
        return fl;                                                                        \
    }
RMW(lock_andb_fd, "0xf0,0x80,0x27,0xfd")          /* lock andb $0xfd,(%rdi) */
RMW(lock_orb_02, "0xf0,0x80,0x0f,0x02")           /* lock orb $2,(%rdi) */
RMW(lock_btrq_5, "0xf0,0x48,0x0f,0xba,0x37,0x05") /* lock btrq $5,(%rdi) */
RMW(lock_btsq_rax, "0xf0,0x48,0x0f,0xab,0x07")    /* lock btsq %rax,(%rdi) */
RMW(lock_xorq_rax, "0xf0,0x48,0x31,0x07")         /* lock xorq %rax,(%rdi) */
RMW(lock_andq_rax, "0xf0,0x48,0x21,0x07")         /* lock andq %rax,(%rdi) */
RMW(movb_al, "0x88,0x07")                         /* movb %al,(%rdi) */
#define FL_CF 0x1UL
#define FL_ZF 0x40UL

static volatile int pf_count;
static void pf_skip(struct minios_trap_frame *f)
{
    pf_count++;
    f->rip += 3;                 /* wr64 */
}

/* VMASST_TYPE_writable_pagetables: direct writes to our own L1 tables,
 * mapped read-only, are emulated and validated; others fault. */
static void test_ptwr(void)
{
    unsigned long ma = l1e_maddr((unsigned long)scratch);
    volatile unsigned long *pte = (volatile unsigned long *)((m2p[ma >> 12] << 12) + (ma & 4095));
    unsigned long orig = *pte, mfn = mfn_of(scratch);
    unsigned long base = mfn << 12 | PTE_P | PTE_W | PTE_A | PTE_D;
    unsigned long l4m = mfn_of((void *)minios_start_info->pt_base);

    /* Without the assist a domU's write faults; Xen emulates the hardware
     * domain's anyway (its read-only-MMIO check takes the same path). */
    minios_set_trap_handler(14, pf_skip);
    int f = dom0 ? 0 : 1;
    wr64(pte, base | (1UL << 10));
    CHECK_EQ(pf_count, f);
    CHECK_EQ(*pte, dom0 ? base | (1UL << 10) | PTE_U | PTE_KERNEL : orig);
    CHECK_EQ(vm_assist(VMASST_CMD_enable, VMASST_TYPE_writable_pagetables), 0);
    wr64(pte, base);
    CHECK_EQ(*pte, base | PTE_U | PTE_KERNEL);
    wr32(pte, (uint32_t)(base & ~PTE_W));        /* low half merged, then adjusted */
    CHECK_EQ(*pte, (base & ~PTE_W) | PTE_U | PTE_KERNEL);
    wr16(pte, (uint16_t)(base | PTE_U | (1UL << 9)));
    CHECK_EQ(*pte, base | PTE_U | PTE_KERNEL | (1UL << 9));
    CHECK_EQ(xchg64(pte, base | PTE_U), base | PTE_U | PTE_KERNEL | (1UL << 9));
    CHECK_EQ(*pte, base | PTE_U | PTE_G);
    unsigned long old = base | PTE_U | PTE_G;
    CHECK_EQ(cas64(pte, &old, base), 1);
    CHECK_EQ(*pte, base | PTE_U | PTE_KERNEL);
    old = 0x1234;
    CHECK_EQ(cas64(pte, &old, 0), 0);
    CHECK_EQ(old, base | PTE_U | PTE_KERNEL);
    CHECK_EQ(*pte, base | PTE_U | PTE_KERNEL);
    wr_zero(pte);
    CHECK_EQ(*pte, 0);
    wr64(pte, base);
    CHECK_EQ(*pte, base | PTE_U | PTE_KERNEL);
    CHECK_EQ(pf_count, f);
    /* Read-modify-write: Linux's fork write-protects with lock andb. */
    lock_andb_fd(pte, 0);
    CHECK_EQ(*pte, (base & ~PTE_W) | PTE_U | PTE_KERNEL);
    lock_orb_02(pte, 0);
    CHECK_EQ(*pte, base | PTE_U | PTE_KERNEL);
    CHECK_EQ(lock_btrq_5(pte, 0) & FL_CF, FL_CF);  /* accessed was set */
    CHECK_EQ(*pte, (base & ~PTE_A) | PTE_U | PTE_KERNEL);
    CHECK_EQ(lock_btrq_5(pte, 0) & FL_CF, 0);
    CHECK_EQ(lock_btsq_rax(pte, 9) & FL_CF, 0);
    CHECK_EQ(*pte, (base & ~PTE_A) | PTE_U | PTE_KERNEL | (1UL << 9));
    CHECK_EQ(lock_xorq_rax(pte, (1UL << 9) | PTE_A) & FL_ZF, 0);
    CHECK_EQ(*pte, base | PTE_U | PTE_KERNEL);
    movb_al(pte, (uint8_t)(base & ~PTE_D));
    CHECK_EQ(*pte, (base & ~PTE_D) | PTE_U | PTE_KERNEL);
    movb_al(pte, (uint8_t)base);
    CHECK_EQ(*pte, base | PTE_U | PTE_KERNEL);
    CHECK_EQ(lock_andq_rax(pte, 0) & FL_ZF, FL_ZF);
    CHECK_EQ(*pte, 0);
    wr64(pte, base);
    CHECK_EQ(pf_count, f);
    /* Not emulated: an entry that fails validation, a table not an L1. */
    wr64(pte, l4m << 12 | PTE_P | PTE_W);
    CHECK_EQ(pf_count, f + 1);
    CHECK_EQ(*pte, base | PTE_U | PTE_KERNEL);
    const unsigned long *t4 = (const unsigned long *)minios_start_info->pt_base;
    unsigned long va = (unsigned long)scratch;
    unsigned long e4 = t4[(va >> 39) & 511];
    const unsigned long *t3 = (const unsigned long *)(m2p[(e4 & ADDR) >> 12] << 12);
    unsigned long e3 = t3[(va >> 30) & 511];
    volatile unsigned long *l2e = (volatile unsigned long *)(m2p[(e3 & ADDR) >> 12] << 12) +
                                  ((va >> 21) & 511);
    wr64(l2e, *l2e);
    CHECK_EQ(pf_count, f + 2);
    CHECK_EQ(vm_assist(VMASST_CMD_disable, VMASST_TYPE_writable_pagetables), 0);
    wr64(pte, orig);
    CHECK_EQ(pf_count, f + 2 + f);
    minios_set_trap_handler(14, NULL);
    CHECK_EQ(uvm(scratch, orig), 0);
    scratch[0] = 1;
    printf("writable page tables: checked\n");
}

/* The legacy hypercalls Xen 4.17 keeps for 64-bit PV guests: each does
 * what its successor does, for the commands Xen passes on; and
 * update_va_mapping_otherdomain's page owner. */
static void test_legacy(void)
{
    CHECK_EQ(_hypercall2(__HYPERVISOR_sched_op_compat, SCHEDOP_yield, 0), 0);
    CHECK_EQ(_hypercall2(__HYPERVISOR_sched_op_compat, SCHEDOP_poll, 0), -XEN_ENOSYS);
    CHECK_EQ(_hypercall2(__HYPERVISOR_sched_op_compat, 99, 0), -XEN_ENOSYS);

    struct evtchn_op op = { .cmd = EVTCHNOP_alloc_unbound,
                            .u.alloc_unbound = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF } };
    CHECK_EQ(_hypercall1(__HYPERVISOR_event_channel_op_compat, &op), 0);
    evtchn_port_t port = op.u.alloc_unbound.port;
    CHECK_EQ(port != 0, 1);
    op = (struct evtchn_op){ .cmd = EVTCHNOP_status,
                             .u.status = { .dom = DOMID_SELF, .port = port } };
    CHECK_EQ(_hypercall1(__HYPERVISOR_event_channel_op_compat, &op), 0);
    CHECK_EQ(op.u.status.status, EVTCHNSTAT_unbound);
    op = (struct evtchn_op){ .cmd = EVTCHNOP_close, .u.close = { .port = port } };
    CHECK_EQ(_hypercall1(__HYPERVISOR_event_channel_op_compat, &op), 0);
    CHECK_EQ(_hypercall1(__HYPERVISOR_event_channel_op_compat, &op), -XEN_EINVAL);
    op = (struct evtchn_op){ .cmd = EVTCHNOP_reset };   /* not one Xen passes on */
    CHECK_EQ(_hypercall1(__HYPERVISOR_event_channel_op_compat, &op), -XEN_ENOSYS);
    CHECK_EQ(_hypercall1(__HYPERVISOR_event_channel_op_compat, 0xFFFF830000100000UL), -XEN_EFAULT);

    struct physdev_op pop = { .cmd = PHYSDEVOP_set_iopl, .u.set_iopl = { .iopl = 4 } };
    CHECK_EQ(_hypercall1(__HYPERVISOR_physdev_op_compat, &pop), -XEN_EINVAL);
    pop.u.set_iopl.iopl = 0;
    CHECK_EQ(_hypercall1(__HYPERVISOR_physdev_op_compat, &pop), 0);
    CHECK_EQ(_hypercall1(__HYPERVISOR_physdev_op_compat, 0xFFFF830000100000UL), -XEN_EFAULT);

    /* update_va_mapping_otherdomain: DOMID_SELF is the caller; its own id
     * as a foreign domain and a domain that does not exist are -ESRCH. */
    unsigned long ma = l1e_maddr((unsigned long)scratch), orig = read_entry(ma);
    /* Our own id: d1 on Keel (test.cfg boots this domain alone), dom0 on Xen. */
    domid_t self = on_keel ? 1 : 0;
    CHECK_EQ(_hypercall4(__HYPERVISOR_update_va_mapping_otherdomain, scratch, orig, UVMF_INVLPG,
                         DOMID_SELF), 0);
    CHECK_EQ(read_entry(ma), orig);
    CHECK_EQ(_hypercall4(__HYPERVISOR_update_va_mapping_otherdomain, scratch, orig, UVMF_INVLPG,
                         self), -XEN_ESRCH);
    CHECK_EQ(_hypercall4(__HYPERVISOR_update_va_mapping_otherdomain, scratch, orig, UVMF_INVLPG,
                         0x7000), -XEN_ESRCH);
}


/*
 * Every hypercall number, as Xen 4.17 answers an unprivileged 64-bit PV
 * domU.  Xen's table for a 64-bit PV caller is xen/include/hypercall-defs.c
 * (the pv64 column) built with Debian's Kconfig (/boot/xen-4.17-amd64.config:
 * PV32, ARGO, XSM off; HVM, KEXEC, XENOPROF, IOREQ_SERVER, HYPFS, GRANT_TABLE
 * on), so its dummy XSM policy (xen/include/xsm/dummy.h) decides privilege.
 * Each row is one call with harmless or invalid arguments, through a bare
 * `syscall` (numbers past the hypercall page's 128 too), and names the Xen
 * function whose code gives the result.  dom0: what Xen gives its dom0
 * where that differs (SAME where it does not); xen-abi-xen runs this as dom0
 * and checks that column, Keel (a domU without roles) the domU one.
 * Not called: iret (23), which does not return and crashes the domain
 * given a bad frame (every event return of minios exercises it).
 */
#define SAME 0x5a5a5a5aL

static long hc_raw(unsigned long nr, unsigned long a1, unsigned long a2, unsigned long a3,
                   unsigned long a4, unsigned long a5)
{
    register unsigned long r10 __asm__("r10") = a4;
    register unsigned long r8 __asm__("r8") = a5;
    __asm__ __volatile__("syscall"
                         : "+a"(nr), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                         :
                         : "rcx", "r11", "memory", "cc");
    return (long)nr;
}

static struct xen_platform_op hc_pf;
static struct xen_platform_op hc_pf_oldver;
static struct xen_sysctl hc_sysctl;
static struct xen_sysctl hc_sysctl_oldver;
static struct xen_domctl hc_domctl_self;
static struct xen_domctl hc_domctl_none;
static struct xen_domctl hc_domctl_oldver;
static struct xen_domctl hc_paging;
static struct xennmi_callback hc_nmi_bad = { .handler_address = 0x8000000000000000UL };
/* hvm_op's arguments (do_hvm_op: every Keel domain, and Xen's dom0, is PV). */
static struct xen_hvm_param hc_hvm_param = { .domid = DOMID_SELF, .index = HVM_PARAM_CALLBACK_IRQ };
static struct xen_hvm_param hc_hvm_param_big = { .domid = DOMID_SELF, .index = HVM_NR_PARAMS };
static struct xen_hvm_param hc_hvm_param_none = { .domid = 999, .index = 0 };
static struct xen_hvm_get_mem_type hc_hvm_memtype = { .domid = DOMID_SELF };
static struct xen_hvm_get_mem_type hc_hvm_memtype_none = { .domid = 999 };
static struct xen_hvm_pagetable_dying hc_hvm_ptdying = { .domid = DOMID_SELF };
static struct xen_hvm_pagetable_dying hc_hvm_ptdying_none = { .domid = 999 };
static xen_hvm_get_time_t hc_hvm_time;
static xen_hvm_xentrace_t hc_hvm_trace = { .event = 1, .extra_bytes = 4 };
static xen_hvm_xentrace_t hc_hvm_trace_big = { .event = 1, .extra_bytes = 100 };
static xen_hvm_xentrace_t hc_hvm_trace_class = { .event = 1u << TRC_SUBCLS_SHIFT };
static struct xen_dm_op hc_dmop;
static xen_dm_op_buf_t hc_dmbuf[1];
static char hc_stack[512] __attribute__((aligned(16)));

struct hc_case {
    unsigned long nr, a[5];
    long domu, dom0;
    const char *xen;             /* where Xen 4.17 decides */
};

static void test_hypercall_table(void)
{
    domid_t self = on_keel ? 1 : 0;   /* see test_legacy */
    hc_pf.interface_version = XENPF_INTERFACE_VERSION;
    hc_pf.cmd = 0xffff;
    hc_pf_oldver = hc_pf;
    hc_pf_oldver.interface_version = XENPF_INTERFACE_VERSION - 1;
    hc_sysctl.interface_version = XEN_SYSCTL_INTERFACE_VERSION;
    hc_sysctl.cmd = 0xffff;
    hc_sysctl_oldver = hc_sysctl;
    hc_sysctl_oldver.interface_version = XEN_SYSCTL_INTERFACE_VERSION - 1;
    hc_domctl_self.interface_version = XEN_DOMCTL_INTERFACE_VERSION;
    hc_domctl_self.cmd = 0xffff;
    hc_domctl_self.domain = self;
    hc_domctl_none = hc_domctl_self;
    hc_domctl_none.domain = 0x7000;
    hc_domctl_oldver = hc_domctl_self;
    hc_domctl_oldver.interface_version = XEN_DOMCTL_INTERFACE_VERSION - 1;
    hc_paging.interface_version = XEN_DOMCTL_INTERFACE_VERSION;
    hc_paging.cmd = XEN_DOMCTL_getdomaininfo;          /* not shadow_op */
    hc_paging.domain = self;
    hc_dmop.op = 0xffff;
    set_xen_guest_handle(hc_dmbuf[0].h, &hc_dmop);
    hc_dmbuf[0].size = sizeof(hc_dmop);
    const unsigned long NC = 0x8000000000000000UL;       /* non-canonical */
    const unsigned long stack_top = (unsigned long)(hc_stack + sizeof(hc_stack));
#define P(x) ((unsigned long)(x))
    const struct hc_case cases[] = {
        { __HYPERVISOR_set_trap_table, { HV_ADDR }, -XEN_EFAULT, SAME,
          "do_set_trap_table: copy_from_guest" },
        { __HYPERVISOR_mmu_update, { HV_ADDR, 1, 0, DOMID_SELF }, -XEN_EFAULT, SAME,
          "do_mmu_update: guest_handle_okay" },
        { __HYPERVISOR_set_gdt, { HV_ADDR, 1 }, -XEN_EFAULT, SAME,
          "do_set_gdt: copy_from_guest of the frame list" },
        { __HYPERVISOR_set_gdt, { P(hc_stack), 7169 }, -XEN_EINVAL, SAME,
          "do_set_gdt: entries > FIRST_RESERVED_GDT_ENTRY" },
        /* Any value is stored; minios never enters user mode, where it is used. */
        { __HYPERVISOR_stack_switch, { FLAT_KERNEL_SS, stack_top }, 0, SAME,
          "do_stack_switch" },
        /* Xen ignores each registration's result: non-canonical ones are skipped. */
        { __HYPERVISOR_set_callbacks, { NC, NC, NC }, 0, SAME,
          "do_set_callbacks: register_guest_callback's result ignored" },
        { __HYPERVISOR_fpu_taskswitch, { 0 }, 0, SAME, "do_fpu_taskswitch" },
        { __HYPERVISOR_sched_op_compat, { 99 }, -XEN_ENOSYS, SAME, "do_sched_op_compat" },
        { __HYPERVISOR_platform_op, { HV_ADDR }, -XEN_EFAULT, SAME,
          "do_platform_op: copy_from_guest" },
        { __HYPERVISOR_platform_op, { P(&hc_pf_oldver) }, -XEN_EACCES, SAME,
          "do_platform_op: interface_version" },
        { __HYPERVISOR_platform_op, { P(&hc_pf) }, -XEN_EPERM, -XEN_ENOSYS,
          "do_platform_op: xsm_platform_op (XSM_PRIV); dom0: unknown cmd" },
        { __HYPERVISOR_set_debugreg, { 8, 0 }, -XEN_ENODEV, SAME, "set_debugreg: default" },
        { __HYPERVISOR_get_debugreg, { 8 }, -XEN_ENODEV, SAME,
          "do_get_debugreg: x86emul_read_dr fails" },
        { __HYPERVISOR_update_descriptor, { 1, 0 }, -XEN_EINVAL, SAME,
          "do_update_descriptor: address not 8-byte aligned" },
        { 11, { 0 }, -XEN_ENOSYS, SAME, "no hypercall 11" },
        { __HYPERVISOR_memory_op, { 63, 0 }, -XEN_ENOSYS, SAME,
          "do_memory_op -> arch_memory_op -> subarch_memory_op: default" },
        { __HYPERVISOR_multicall, { 0, 0 }, 0, SAME, "do_multicall: nothing to do" },
        { __HYPERVISOR_update_va_mapping, { HV_ADDR, 0, 0 }, -XEN_EINVAL, SAME,
          "__do_update_va_mapping: !access_ok(va)" },
        { __HYPERVISOR_set_timer_op, { 0 }, 0, SAME, "do_set_timer_op: 0 stops the timer" },
        { __HYPERVISOR_event_channel_op_compat, { HV_ADDR }, -XEN_EFAULT, SAME,
          "do_event_channel_op_compat: copy_from_guest" },
        { __HYPERVISOR_xen_version, { XENVER_version }, (4 << 16) | 17, SAME,
          "do_xen_version" },
        { __HYPERVISOR_console_io, { 99, 0, 0 }, -XEN_EPERM, -XEN_ENOSYS,
          "do_console_io: xsm_console_io (XSM_PRIV, no domain is_console on x86)" },
        { __HYPERVISOR_console_io, { CONSOLEIO_read, 0, 0 }, -XEN_EPERM, 0,
          "do_console_io: xsm_console_io; dom0: no input" },
        { __HYPERVISOR_physdev_op_compat, { HV_ADDR }, -XEN_EFAULT, SAME,
          "do_physdev_op_compat: copy_from_guest" },
        { __HYPERVISOR_grant_table_op, { 99, 0, 0 }, -XEN_ENOSYS, SAME,
          "do_grant_table_op: default" },
        { __HYPERVISOR_vm_assist, { 99, 0 }, -XEN_ENOSYS, SAME, "do_vm_assist: default" },
        { __HYPERVISOR_update_va_mapping_otherdomain, { 0, 0, 0, 0x7000 }, -XEN_ESRCH, SAME,
          "do_update_va_mapping_otherdomain: get_pg_owner" },
        { __HYPERVISOR_vcpu_op, { 99, 0, 0 }, -XEN_ENOSYS, SAME,
          "do_vcpu_op -> arch_do_vcpu_op: default" },
        { __HYPERVISOR_vcpu_op, { VCPUOP_is_up, 9999, 0 }, -XEN_ENOENT, SAME,
          "do_vcpu_op: domain_vcpu" },
        { __HYPERVISOR_set_segment_base, { 99, 0 }, -XEN_EINVAL, SAME,
          "do_set_segment_base: default" },
        { __HYPERVISOR_mmuext_op, { HV_ADDR, 1, 0, DOMID_SELF }, -XEN_EFAULT, SAME,
          "do_mmuext_op: guest_handle_okay" },
        { __HYPERVISOR_xsm_op, { 0 }, -XEN_ENOSYS, SAME, "dummy xsm_do_xsm_op" },
        { __HYPERVISOR_nmi_op, { 99, 0 }, -XEN_ENOSYS, SAME, "do_nmi_op: default" },
        { __HYPERVISOR_nmi_op, { XENNMI_register_callback, HV_ADDR }, -XEN_EFAULT, SAME,
          "do_nmi_op: copy_from_guest" },
        { __HYPERVISOR_nmi_op, { XENNMI_register_callback, P(&hc_nmi_bad) }, -XEN_EINVAL, SAME,
          "register_guest_nmi_callback: not canonical" },
        { __HYPERVISOR_sched_op, { 99, 0 }, -XEN_ENOSYS, SAME, "do_sched_op: default" },
        { __HYPERVISOR_callback_op, { 99, 0 }, -XEN_ENOSYS, SAME, "do_callback_op: default" },
        { __HYPERVISOR_xenoprof_op, { 99, 0 }, -XEN_EINVAL, SAME,
          "do_xenoprof_op: op > XENOPROF_last_op" },
        { __HYPERVISOR_xenoprof_op, { 0xffffffffUL, 0 }, -XEN_EINVAL, SAME,
          "do_xenoprof_op: op < 0" },
        { __HYPERVISOR_xenoprof_op, { XENOPROF_reset_active_list, 0 }, -XEN_EPERM, SAME,
          "do_xenoprof_op: not the primary profiler" },
        { __HYPERVISOR_event_channel_op, { 99, 0 }, -XEN_ENOSYS, SAME,
          "do_event_channel_op: default" },
        { __HYPERVISOR_physdev_op, { 99, 0 }, -XEN_ENOSYS, SAME, "do_physdev_op: default" },
        { __HYPERVISOR_hvm_op, { 99, 0 }, -XEN_ENOSYS, SAME, "do_hvm_op: default" },
        { __HYPERVISOR_hvm_op, { HVMOP_set_param, HV_ADDR }, -XEN_EFAULT, SAME,
          "hvmop_set_param: copy_from_guest" },
        { __HYPERVISOR_hvm_op, { HVMOP_set_param, P(&hc_hvm_param_big) }, -XEN_EINVAL, SAME,
          "hvmop_set_param: index >= HVM_NR_PARAMS" },
        { __HYPERVISOR_hvm_op, { HVMOP_set_param, P(&hc_hvm_param_none) }, -XEN_ESRCH, SAME,
          "hvmop_set_param: rcu_lock_domain_by_any_id" },
        { __HYPERVISOR_hvm_op, { HVMOP_set_param, P(&hc_hvm_param) }, -XEN_EINVAL, SAME,
          "hvmop_set_param: not is_hvm_domain" },
        { __HYPERVISOR_hvm_op, { HVMOP_get_param, P(&hc_hvm_param_none) }, -XEN_ESRCH, SAME,
          "hvmop_get_param: rcu_lock_domain_by_any_id" },
        { __HYPERVISOR_hvm_op, { HVMOP_get_param, P(&hc_hvm_param) }, -XEN_EINVAL, SAME,
          "hvmop_get_param: not is_hvm_domain" },
        { __HYPERVISOR_hvm_op, { HVMOP_set_evtchn_upcall_vector, 0 }, -XEN_EINVAL, SAME,
          "hvmop_set_evtchn_upcall_vector: not is_hvm_domain" },
        { __HYPERVISOR_hvm_op, { HVMOP_flush_tlbs, 0 }, -XEN_EINVAL, SAME,
          "hvmop_flush_tlb_all: not is_hvm_domain" },
        { __HYPERVISOR_hvm_op, { HVMOP_flush_tlbs, P(&hc_hvm_time) }, -XEN_EINVAL, SAME,
          "do_hvm_op: flush_tlbs with an argument" },
        { __HYPERVISOR_hvm_op, { HVMOP_get_mem_type, P(&hc_hvm_memtype_none) }, -XEN_ESRCH, SAME,
          "hvmop_get_mem_type: rcu_lock_domain_by_any_id" },
        { __HYPERVISOR_hvm_op, { HVMOP_get_mem_type, P(&hc_hvm_memtype) }, -XEN_EINVAL, SAME,
          "hvmop_get_mem_type: xsm_hvm_param (self), not is_hvm_domain" },
        { __HYPERVISOR_hvm_op, { HVMOP_pagetable_dying, P(&hc_hvm_ptdying_none) }, -XEN_ESRCH,
          SAME, "do_hvm_op pagetable_dying: rcu_lock_domain_by_any_id" },
        { __HYPERVISOR_hvm_op, { HVMOP_pagetable_dying, P(&hc_hvm_ptdying) }, -XEN_EINVAL, SAME,
          "do_hvm_op pagetable_dying: itself, not HVM" },
        { __HYPERVISOR_hvm_op, { HVMOP_get_time, HV_ADDR }, -XEN_EFAULT, SAME,
          "do_hvm_op get_time: copy_to_guest" },
        { __HYPERVISOR_hvm_op, { HVMOP_get_time, P(&hc_hvm_time) }, 0, SAME,
          "do_hvm_op get_time: NOW() for anyone" },
        { __HYPERVISOR_hvm_op, { HVMOP_xentrace, P(&hc_hvm_trace_big) }, -XEN_EINVAL, SAME,
          "do_hvm_op xentrace: extra_bytes" },
        { __HYPERVISOR_hvm_op, { HVMOP_xentrace, P(&hc_hvm_trace_class) }, -XEN_EINVAL, SAME,
          "do_hvm_op xentrace: event class bits" },
        { __HYPERVISOR_hvm_op, { HVMOP_xentrace, P(&hc_hvm_trace) }, 0, SAME,
          "do_hvm_op xentrace: trace_var" },
        { __HYPERVISOR_hvm_op, { HVMOP_guest_request_vm_event, 0 }, 0, SAME,
          "do_hvm_op: monitor_guest_request" },
        { __HYPERVISOR_hvm_op, { HVMOP_guest_request_vm_event, P(&hc_hvm_time) }, -XEN_EINVAL,
          SAME, "do_hvm_op guest_request_vm_event: an argument" },
        { __HYPERVISOR_hvm_op, { HVMOP_altp2m, P(&hc_hvm_time) }, -XEN_EOPNOTSUPP, SAME,
          "do_altp2m_op: hvm_altp2m_supported" },
        { __HYPERVISOR_sysctl, { HV_ADDR }, -XEN_EFAULT, SAME, "do_sysctl: copy_from_guest" },
        { __HYPERVISOR_sysctl, { P(&hc_sysctl_oldver) }, -XEN_EACCES, SAME,
          "do_sysctl: interface_version" },
        { __HYPERVISOR_sysctl, { P(&hc_sysctl) }, -XEN_EPERM, -XEN_ENOSYS,
          "do_sysctl: xsm_sysctl (XSM_PRIV); dom0: arch_do_sysctl default" },
        { __HYPERVISOR_domctl, { HV_ADDR }, -XEN_EFAULT, SAME, "do_domctl: copy_from_guest" },
        { __HYPERVISOR_domctl, { P(&hc_domctl_oldver) }, -XEN_EACCES, SAME,
          "do_domctl: interface_version" },
        { __HYPERVISOR_domctl, { P(&hc_domctl_none) }, -XEN_ESRCH, SAME,
          "do_domctl: rcu_lock_domain_by_id before xsm_domctl" },
        { __HYPERVISOR_domctl, { P(&hc_domctl_self) }, -XEN_EPERM, -XEN_ENOSYS,
          "do_domctl: xsm_domctl (XSM_PRIV); dom0: arch_do_domctl default" },
        { __HYPERVISOR_kexec_op, { 99, 0 }, -XEN_EPERM, 0,
          "do_kexec_op_internal: xsm_kexec (XSM_PRIV); dom0: no case, ret stays 0" },
        { __HYPERVISOR_tmem_op, { 0 }, -XEN_ENOSYS, SAME, "tmem_op: '-' in every column" },
        { __HYPERVISOR_argo_op, { 0 }, -XEN_ENOSYS, SAME, "argo_op: CONFIG_ARGO off" },
        { __HYPERVISOR_xenpmu_op, { 99, 0 }, -XEN_EOPNOTSUPP, SAME,
          "do_xenpmu_op: vpmu off (opt_vpmu_enabled 0)" },
        { __HYPERVISOR_dm_op, { 0x7000, 3, 0 }, -XEN_E2BIG, SAME,
          "do_dm_op: nr_bufs > ARRAY_SIZE(args.buf)" },
        { __HYPERVISOR_dm_op, { 0x7000, 1, HV_ADDR }, -XEN_EFAULT, SAME,
          "do_dm_op: copy_from_guest_offset of the buffers" },
        { __HYPERVISOR_dm_op, { 0x7000, 1, P(hc_dmbuf) }, -XEN_ESRCH, SAME,
          "dm_op: rcu_lock_remote_domain_by_id" },
        { __HYPERVISOR_dm_op, { self, 1, P(hc_dmbuf) }, -XEN_EPERM, SAME,
          "dm_op: rcu_lock_remote_domain_by_id (the caller itself)" },
        { __HYPERVISOR_hypfs_op, { XEN_HYPFS_OP_get_version, 0, 0, 0, 0 }, -XEN_EPERM,
          XEN_HYPFS_VERSION, "do_hypfs_op: xsm_hypfs_op (XSM_PRIV); dom0: the version" },
        { 43, { 0 }, -XEN_ENOSYS, SAME, "no hypercall 43" },
        { 44, { 0 }, -XEN_ENOSYS, SAME, "no hypercall 44" },
        { 45, { 0 }, -XEN_ENOSYS, SAME, "no hypercall 45" },
        { 46, { 0 }, -XEN_ENOSYS, SAME, "no hypercall 46" },
        { 47, { 0 }, -XEN_ENOSYS, SAME, "no hypercall 47" },
        { __HYPERVISOR_mca, { HV_ADDR }, -XEN_EPERM, -XEN_EFAULT,
          "do_mca: xsm_do_mca (XSM_PRIV) before copy_from_guest" },
        { __HYPERVISOR_arch_1, { HV_ADDR }, -XEN_EFAULT, SAME,
          "do_paging_domctl_cont: copy_from_guest" },
        { __HYPERVISOR_arch_1, { P(&hc_paging) }, -XEN_EOPNOTSUPP, SAME,
          "do_paging_domctl_cont: cmd not shadow_op" },
    };
#undef P
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct hc_case *c = &cases[i];
        long want = dom0 && c->dom0 != SAME ? c->dom0 : c->domu;
        long got = hc_raw(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4]);
        if (got != want)
            test_fail("hypercall %lu (%lx, %lx, ...): %ld, Xen 4.17 gives %s %ld (%s)", c->nr,
                      c->a[0], c->a[1], got, dom0 ? "dom0" : "a domU", want, c->xen);
    }
    /* The arch numbers Xen's x86 table leaves empty, the rest to 63, and beyond. */
    static const unsigned long none[] = { 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
                                          63, 64, 127, 128, 1000, 1UL << 32 | 17, ~0UL };
    for (unsigned i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        long got = hc_raw(none[i], 0, 0, 0, 0, 0);
        if (got != -XEN_ENOSYS)
            test_fail("hypercall %#lx: %ld, Xen 4.17 gives -ENOSYS", none[i], got);
    }
    printf("hypercall table: %u calls checked as Xen 4.17 answers %s\n",
           (unsigned)(sizeof(cases) / sizeof(cases[0]) + sizeof(none) / sizeof(none[0])),
           dom0 ? "dom0" : "a domU");
}

int main(void)
{
    start_info_t *si = minios_start_info;
    xen_extraversion_t ev;
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_extraversion, ev), 0);
    on_keel = strstr(ev, "keel") != NULL;
    dom0 = si->flags & SIF_INITDOMAIN;
    privileged = si->flags & SIF_PRIVILEGED;
    printf("xen-abi on %s%s (%s%s)\n", on_keel ? "Keel 4.17" : "Xen 4.17", ev,
           dom0 ? "dom0" : "domU", privileged ? ", privileged" : "");
    test_version();
    test_multicall();
    test_vm_assist();
    test_machphys();
    test_pte();
    test_clear_copy();
    test_runstate_area();
    test_ptwr();
    test_legacy();
    test_hypercall_table();
    return test_finish();
}
