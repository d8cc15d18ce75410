/* Guest test: what Xen 4.17 emulates for a 64-bit PV kernel, with Xen's
 * exact results: CPUID behind the forced-emulation prefix (the PV policy
 * and the hypervisor leaves), RDMSR/WRMSR (the MSRs that work and the
 * ones that #GP), MOV from/to control registers, CLTS, I/O to a port the
 * domain was granted and to refused ones (physdev_op set_iopl and
 * set_iobitmap, IN/OUT/INS/OUTS), CLI/STI, and int $n refused by the
 * trap table (#GP with the vector's IDT error code).
 *
 * It runs on Keel as a control domain and as dom0 of real Xen 4.17
 * (xen-priv-xen).  Both give themselves port 0x81 and take ports 0x80,
 * 0x82, 0x83 and the RTC (0x70-0x71) away with XEN_DOMCTL_ioport_permission,
 * so that dom0 on Xen sees what a domU sees.  Where Xen answers its
 * hardware domain differently (CPUID's MTRR bit), the start_info flags
 * say which answer is expected; where QEMU's TCG differs from hardware
 * (the IDT error code of int $n: vector*16+2, which Xen passes on), the
 * test accepts what Xen passes on only on Xen. */
#include "../domctl/ctl.h"   /* first: it defines __XEN_TOOLS__ */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/traps.h>
#include <xen/version.h>
#include <xen/features.h>
#include <xen/physdev.h>
#include <xen/callback.h>
#include <xen/vcpu.h>
#include <xen/arch-x86/cpuid.h>
#include "report.h"
#include "ptwalk.h"

#define HV_ADDR      0xFFFF830000100000UL
#define NONCANONICAL 0x0000900000000000UL
#define UNMAPPED     0x0000000040000000UL

static bool on_keel, dom0, amd;

/* ---- catching faults ---------------------------------------------- */

static volatile struct {
    unsigned long count, vector, error_code, cr2, rip;
} seen;
volatile unsigned long xp_resume;        /* set by ARM_RESUME in the asm */

static void handler(struct minios_trap_frame *f)
{
    seen.count++;
    seen.vector = f->vector;
    seen.error_code = f->error_code;
    seen.cr2 = f->cr2;
    seen.rip = f->rip;
    if (xp_resume)
        f->rip = xp_resume;
}

static void arm(void)
{
    memset((void *)&seen, 0, sizeof(seen));
}

/* An instruction that may fault: a fault resumes at local label 1. */
#define ARM_RESUME "leaq 1f(%%rip), %%r11\n\tmovq %%r11, xp_resume(%%rip)\n\t"

static bool gp0(const char *what)
{
    if (!seen.count)
        return false;
    if (seen.vector != 13 || seen.error_code != 0)
        test_fail("%s: vector %lu error %#lx, expected #GP(0)", what, seen.vector,
                  seen.error_code);
    return true;
}

static void expect_ok(const char *what)
{
    if (seen.count)
        test_fail("%s: fault vector %lu error %#lx, expected none", what, seen.vector,
                  seen.error_code);
}

static void expect_gp0(const char *what)
{
    if (!gp0(what))
        test_fail("%s: no fault, expected #GP(0)", what);
}

/* ---- CPUID ---------------------------------------------------------- */

struct leaf { uint32_t a, b, c, d; };

static struct leaf xen_cpuid(uint32_t leaf, uint32_t sub)
{
    struct leaf l;
    __asm__ volatile(".byte 0x0f, 0x0b\n\t.ascii \"xen\"\n\tcpuid"
                     : "=a"(l.a), "=b"(l.b), "=c"(l.c), "=d"(l.d) : "a"(leaf), "c"(sub));
    return l;
}

static struct leaf native_cpuid(uint32_t leaf, uint32_t sub)
{
    struct leaf l;
    __asm__ volatile("cpuid" : "=a"(l.a), "=b"(l.b), "=c"(l.c), "=d"(l.d) : "a"(leaf), "c"(sub));
    return l;
}

static void bit(const char *what, uint32_t reg, unsigned b, bool want)
{
    if (!!(reg & (1u << b)) != want)
        test_fail("CPUID %s: %s, expected %s", what, want ? "hidden" : "shown",
                  want ? "shown" : "hidden");
}

static void test_cpuid(void)
{
    struct leaf l = xen_cpuid(0x40000000, 0);
    CHECK_EQ(l.a, 0x40000005);
    CHECK_EQ(l.b, XEN_CPUID_SIGNATURE_EBX);
    CHECK_EQ(l.c, XEN_CPUID_SIGNATURE_ECX);
    CHECK_EQ(l.d, XEN_CPUID_SIGNATURE_EDX);
    l = xen_cpuid(0x40000001, 0);
    CHECK_EQ(l.a, (4 << 16) | 17);
    l = xen_cpuid(0x40000002, 0);
    CHECK_EQ(l.a, 1);                    /* one hypercall page */
    CHECK_EQ(l.b, 0x40000000);           /* its MSR */
    CHECK_EQ(l.c, XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD);
    CHECK_EQ(l.d, 0);
    l = xen_cpuid(0x40000003, 0);
    CHECK_EQ(l.a & 1, 0);                /* no virtual TSC */
    CHECK_EQ(l.b, 0);                    /* tsc_mode default */
    l = xen_cpuid(0x40000004, 0);        /* HVM only */
    CHECK_EQ(l.a | l.b | l.c | l.d, 0);
    l = xen_cpuid(0x40000005, 0);        /* PV: machine address width */
    if (l.b < 20 || l.b > 52)
        test_fail("CPUID 0x40000005: ebx %u, expected a machine address width", l.b);
    l = xen_cpuid(0x40000006, 0);
    CHECK_EQ(l.a | l.b | l.c | l.d, 0);
    l = xen_cpuid(0x40000100, 0);
    CHECK_EQ(l.a | l.b | l.c | l.d, 0);

    struct leaf v = xen_cpuid(0, 0);
    amd = v.b == 0x68747541 || v.b == 0x6f677948;
    if (v.a < 7)
        test_fail("CPUID 0: max leaf %#x", v.a);

    l = xen_cpuid(1, 0);
    CHECK_EQ(l.b >> 24, 0);              /* APIC ID */
    bit("1.ecx HYPERVISOR", l.c, 31, true);
    bit("1.ecx MONITOR", l.c, 3, false);
    bit("1.ecx VMX", l.c, 5, false);
    bit("1.ecx PCID", l.c, 17, false);
    bit("1.ecx X2APIC", l.c, 21, false);
    bit("1.ecx TSC_DEADLINE", l.c, 24, false);
    bit("1.edx VME", l.d, 1, false);
    bit("1.edx PSE", l.d, 3, false);
    bit("1.edx PGE", l.d, 13, false);
    bit("1.edx PSE36", l.d, 17, false);
    /* Xen leaks MTRR to its hardware domain's kernel. */
    bit("1.edx MTRR", l.d, 12, dom0);
    bit("1.edx FPU", l.d, 0, true);
    bit("1.edx TSC", l.d, 4, true);
    bit("1.edx MSR", l.d, 5, true);
    bit("1.edx PAE", l.d, 6, true);
    bit("1.edx CX8", l.d, 8, true);
    bit("1.edx CMOV", l.d, 15, true);
    bit("1.edx PAT", l.d, 16, true);
    bit("1.edx FXSR", l.d, 24, true);
    bit("1.edx SSE", l.d, 25, true);
    bit("1.edx SSE2", l.d, 26, true);
    bit("1.edx SEP", l.d, 11, !amd);     /* no SYSENTER in long mode on AMD */
    /* Machine checks as the host has them (the MSRs are Xen's vMCE). */
    bit("1.edx MCE", l.d, 7, native_cpuid(1, 0).d & (1u << 7));
    bit("1.edx MCA", l.d, 14, native_cpuid(1, 0).d & (1u << 14));

    l = xen_cpuid(7, 0);
    bit("7.ebx FSGSBASE", l.b, 0, native_cpuid(7, 0).b & 1);
    bit("7.ebx SMEP", l.b, 7, false);
    bit("7.ebx INVPCID", l.b, 10, false);
    bit("7.ebx SMAP", l.b, 20, false);
    bit("7.ecx UMIP", l.c, 2, false);

    l = xen_cpuid(0x80000001, 0);
    bit("0x80000001.edx PAGE1GB", l.d, 26, false);
    bit("0x80000001.ecx SVM", l.c, 2, false);
    bit("0x80000001.edx SYSCALL", l.d, 11, true);
    bit("0x80000001.edx NX", l.d, 20, true);
    bit("0x80000001.edx LM", l.d, 29, true);
    /* RDTSCP as the host has it (both keep TSC_AUX per vCPU). */
    bit("0x80000001.edx RDTSCP", l.d, 27, native_cpuid(0x80000001, 0).d & (1u << 27));

    if (amd) {                           /* leaf 1's common features, repeated */
        struct leaf l1 = xen_cpuid(1, 0);
        CHECK_EQ(l.d & 0x0183f3ffu, l1.d & 0x0183f3ffu);
    } else {
        CHECK_EQ(l.d & 0x0183f3ffu, 0);
    }

    l = xen_cpuid(0x80000008, 0);
    CHECK_EQ((l.a >> 8) & 0xff, 48);     /* linear address width: 4 levels */

    l = xen_cpuid(5, 0);                 /* MONITOR leaf: hidden */
    CHECK_EQ(l.a | l.b | l.c | l.d, 0);

    /* Without the prefix CPUID runs on the CPU (Xen without CPUID
     * faulting does the same; Xen on QEMU's TCG uses faulting). */
    if (on_keel) {
        l = native_cpuid(1, 0);
        bit("native 1.edx PGE", l.d, 13, true);
        l = native_cpuid(0x40000000, 0);
        if (l.b == XEN_CPUID_SIGNATURE_EBX)
            test_fail("native CPUID 0x40000000 was emulated");
    }
}

/* ---- MSRs ------------------------------------------------------------ */

/* 0 and the value, or -1 after a #GP(0). */
static int rdmsr_try(uint32_t msr, uint64_t *val)
{
    uint32_t lo = 0, hi = 0;
    arm();
    __asm__ volatile(ARM_RESUME "rdmsr\n1:"
                     : "=a"(lo), "=d"(hi) : "c"(msr) : "r11", "memory");
    *val = ((uint64_t)hi << 32) | lo;
    return gp0("rdmsr") ? -1 : 0;
}

static int wrmsr_try(uint32_t msr, uint64_t val)
{
    arm();
    __asm__ volatile(ARM_RESUME "wrmsr\n1:"
                     :: "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
                     : "r11", "memory");
    return gp0("wrmsr") ? -1 : 0;
}

static uint64_t rdmsr_ok(uint32_t msr)
{
    uint64_t v;
    if (rdmsr_try(msr, &v))
        test_fail("RDMSR %#x: #GP, expected a value", msr);
    return v;
}

#define MSR_EFER           0xc0000080
#define MSR_LSTAR          0xc0000082
#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_SHADOW_GS_BASE 0xc0000102
#define MSR_APIC_BASE      0x1b
#define MSR_PAT            0x277
#define MSR_MISC_ENABLE    0x1a0

static unsigned long fs_word(void)
{
    unsigned long v;
    __asm__ volatile("movq %%fs:0, %0" : "=r"(v) :: "memory");
    return v;
}

static unsigned long gs_word(void)
{
    unsigned long v;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(v) :: "memory");
    return v;
}

static uint32_t rdtscp_aux(void)
{
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    return aux;
}

static uint64_t rdpid(void)
{
    uint64_t v;
    __asm__ volatile("rdpid %0" : "=r"(v));
    return v;
}

/* TSC_AUX: the vCPU's own, 0 at first, 32 bits, what RDTSCP and RDPID
 * read (across yields too); #GP where neither is offered. */
static void test_tsc_aux(void)
{
    uint64_t v;
    bool rdtscp = xen_cpuid(0x80000001, 0).d & (1u << 27);
    bool has_rdpid = xen_cpuid(7, 0).c & (1u << 22);
    if (!rdtscp && !has_rdpid) {
        CHECK_EQ(rdmsr_try(0xc0000103, &v), -1);
        CHECK_EQ(wrmsr_try(0xc0000103, 0), -1);
        return;
    }
    CHECK_EQ(rdmsr_ok(0xc0000103), 0);
    CHECK_EQ(wrmsr_try(0xc0000103, 0x8badf00dUL), 0);
    CHECK_EQ(rdmsr_ok(0xc0000103), 0x8badf00dUL);
    CHECK_EQ(wrmsr_try(0xc0000103, 1UL << 32), -1);
    CHECK_EQ(rdmsr_ok(0xc0000103), 0x8badf00dUL);
    for (int k = 0; k < 10; k++)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    if (rdtscp)
        CHECK_EQ(rdtscp_aux(), 0x8badf00dUL);
    if (has_rdpid)
        CHECK_EQ(rdpid(), 0x8badf00dUL);
    CHECK_EQ(wrmsr_try(0xc0000103, 0), 0);
    if (rdtscp)
        CHECK_EQ(rdtscp_aux(), 0);
}

/* Xen's vMCE: two banks, the vCPU's MCG_STATUS and bank registers, only
 * 0 written to STATUS/ADDR/MISC, MCi_CTL all ones, no LMCE. */
static void test_vmce(void)
{
    uint64_t v;
    bool intel = !amd;
    uint64_t cap = intel ? 0x1000c02UL : 2;
    CHECK_EQ(rdmsr_ok(0x179), cap);                  /* MCG_CAP */
    CHECK_EQ(wrmsr_try(0x179, 0x1ff), 0);            /* read-only: ignored */
    CHECK_EQ(rdmsr_ok(0x179), cap);
    CHECK_EQ(rdmsr_ok(0x17a), 0);                    /* MCG_STATUS */
    CHECK_EQ(wrmsr_try(0x17a, 5), 0);
    CHECK_EQ(rdmsr_ok(0x17a), 5);
    CHECK_EQ(wrmsr_try(0x17a, 0), 0);
    CHECK_EQ(rdmsr_ok(0x17b), 0);                    /* MCG_CTL: not present */
    CHECK_EQ(wrmsr_try(0x17b, ~0UL), 0);
    CHECK_EQ(rdmsr_ok(0x17b), 0);
    CHECK_EQ(rdmsr_try(0x4d0, &v), -1);              /* MCG_EXT_CTL: no LMCE */
    CHECK_EQ(wrmsr_try(0x4d0, 0), -1);
    for (unsigned b = 0; b < 2; b++) {
        uint32_t base = 0x400 + 4 * b;
        CHECK_EQ(rdmsr_ok(base), ~0UL);               /* MCi_CTL */
        CHECK_EQ(wrmsr_try(base, 0), 0);
        CHECK_EQ(rdmsr_ok(base), ~0UL);
        for (uint32_t m = base + 1; m < base + 4; m++) {
            CHECK_EQ(rdmsr_ok(m), 0);
            CHECK_EQ(wrmsr_try(m, 0), 0);
            CHECK_EQ(wrmsr_try(m, 0x8000000000000001UL), -1);
            CHECK_EQ(rdmsr_ok(m), 0);
        }
    }
    CHECK_EQ(rdmsr_ok(0x408), 0);                    /* bank 2 and on: 0, writes ignored */
    CHECK_EQ(wrmsr_try(0x408, 1), 0);
    CHECK_EQ(rdmsr_ok(0x408), 0);
    CHECK_EQ(rdmsr_ok(0x47f), 0);
    CHECK_EQ(rdmsr_ok(0x29f), 0);                    /* MCi_CTL2 beyond the banks */
    CHECK_EQ(wrmsr_try(0x29f, 1), 0);
    CHECK_EQ(rdmsr_ok(0x29f), 0);
    if (intel) {                                     /* MCi_CTL2 of banks 0, 1 */
        CHECK_EQ(wrmsr_try(0x281, 0x4005), 0);
        CHECK_EQ(rdmsr_ok(0x281), 0x4005);
        CHECK_EQ(wrmsr_try(0x281, 0), 0);
    } else {
        CHECK_EQ(wrmsr_try(0x281, 0x4005), 0);
        CHECK_EQ(rdmsr_ok(0x281), 0);
    }
    CHECK_EQ(rdmsr_ok(0), 0);                        /* P5_MC_ADDR, P5_MC_TYPE */
    CHECK_EQ(rdmsr_ok(1), 0);
    CHECK_EQ(wrmsr_try(0, 0), -1);
}

/* The speculation-control MSRs, as Xen's guest_rdmsr/guest_wrmsr: each
 * #GPs unless CPUID offers it (SPEC_CTRL with IBRSB or IBRS, PRED_CMD
 * with IBRSB or IBPB and write-only, FLUSH_CMD with L1D_FLUSH and
 * write-only, ARCH_CAPABILITIES with ARCH_CAPS and read-only,
 * VIRT_SPEC_CTRL with VIRT_SSBD).  Keel offers none of them; where Xen
 * offers one its checks are skipped. */
static void test_spec_ctrl(void)
{
    uint64_t v;
    struct leaf l7 = xen_cpuid(7, 0), e8 = xen_cpuid(0x80000008, 0);
    bool ibrsb = l7.d & (1u << 26), ibrs = e8.b & (1u << 14), ibpb = e8.b & (1u << 12);
    bool l1d = l7.d & (1u << 28), caps = l7.d & (1u << 29), virt_ssbd = e8.b & (1u << 25);
    if (on_keel && (ibrsb || ibrs || ibpb || l1d || caps || virt_ssbd))
        test_fail("CPUID offers a speculation control Keel does not virtualise");
    if (!ibrsb && !ibrs) {
        CHECK_EQ(rdmsr_try(0x48, &v), -1);           /* SPEC_CTRL */
        CHECK_EQ(wrmsr_try(0x48, 0), -1);
    }
    CHECK_EQ(rdmsr_try(0x49, &v), -1);               /* PRED_CMD: write-only */
    if (!ibrsb && !ibpb)
        CHECK_EQ(wrmsr_try(0x49, 1), -1);
    CHECK_EQ(rdmsr_try(0x10b, &v), -1);              /* FLUSH_CMD: write-only */
    if (!l1d)
        CHECK_EQ(wrmsr_try(0x10b, 1), -1);
    if (!caps)
        CHECK_EQ(rdmsr_try(0x10a, &v), -1);          /* ARCH_CAPABILITIES */
    CHECK_EQ(wrmsr_try(0x10a, 0), -1);               /* read-only */
    if (!virt_ssbd) {
        CHECK_EQ(rdmsr_try(0xc001011f, &v), -1);     /* VIRT_SPEC_CTRL */
        CHECK_EQ(wrmsr_try(0xc001011f, 0), -1);
    }
}

static void test_msrs(void)
{
    static unsigned long fs_target = 0x1122334455667788UL, gs_target = 0x8877665544332211UL;
    uint64_t v;

    /* EFER: readable; writing back its value is fine, a change is not. */
    uint64_t efer = rdmsr_ok(MSR_EFER);
    if ((efer & 0xd01) != 0xd01 || (efer & (1UL << 12)))
        test_fail("EFER %#lx: expected SCE, LME, LMA, NXE and no SVME", efer);
    CHECK_EQ(wrmsr_try(MSR_EFER, efer), 0);
    CHECK_EQ(wrmsr_try(MSR_EFER, efer & ~(1UL << 11)), -1);
    CHECK_EQ(rdmsr_ok(MSR_EFER), efer);

    /* Segment bases, canonical only. */
    uint64_t fs0 = rdmsr_ok(MSR_FS_BASE), gs0 = rdmsr_ok(MSR_GS_BASE);
    CHECK_EQ(wrmsr_try(MSR_FS_BASE, (unsigned long)&fs_target), 0);
    CHECK_EQ(fs_word(), fs_target);
    CHECK_EQ(rdmsr_ok(MSR_FS_BASE), (unsigned long)&fs_target);
    CHECK_EQ(wrmsr_try(MSR_GS_BASE, (unsigned long)&gs_target), 0);
    CHECK_EQ(gs_word(), gs_target);
    CHECK_EQ(rdmsr_ok(MSR_GS_BASE), (unsigned long)&gs_target);
    CHECK_EQ(wrmsr_try(MSR_FS_BASE, NONCANONICAL), -1);
    CHECK_EQ(wrmsr_try(MSR_GS_BASE, NONCANONICAL), -1);
    CHECK_EQ(rdmsr_ok(MSR_FS_BASE), (unsigned long)&fs_target);
    CHECK_EQ(wrmsr_try(MSR_SHADOW_GS_BASE, 0x1000), 0);
    CHECK_EQ(rdmsr_ok(MSR_SHADOW_GS_BASE), 0x1000);
    CHECK_EQ(wrmsr_try(MSR_SHADOW_GS_BASE, NONCANONICAL), -1);
    CHECK_EQ(rdmsr_ok(MSR_SHADOW_GS_BASE), 0x1000);
    CHECK_EQ(wrmsr_try(MSR_SHADOW_GS_BASE, 0), 0);
    CHECK_EQ(wrmsr_try(MSR_FS_BASE, fs0), 0);
    CHECK_EQ(wrmsr_try(MSR_GS_BASE, gs0), 0);

    /* APIC_BASE: the default xAPIC, enabled, BSP on vCPU 0; read-only. */
    CHECK_EQ(rdmsr_ok(MSR_APIC_BASE), 0xfee00900UL);
    CHECK_EQ(wrmsr_try(MSR_APIC_BASE, 0xfee00900UL), -1);

    /* PAT: Xen's layout; read-only. */
    CHECK_EQ(rdmsr_ok(MSR_PAT), 0x0000050100070406UL);
    CHECK_EQ(wrmsr_try(MSR_PAT, 0x0000050100070406UL), -1);

    /* MISC_ENABLE: no PERF_AVAIL or MONITOR, BTS/PEBS unavailable, xTPR
     * disabled; writing another value is ignored. */
    if (rdmsr_try(MSR_MISC_ENABLE, &v) == 0) {
        if ((v & (1UL << 7)) || (v & (1UL << 18)) || !(v & (1UL << 11)) ||
            !(v & (1UL << 12)) || !(v & (1UL << 23)))
            test_fail("MISC_ENABLE %#lx", v);
        CHECK_EQ(wrmsr_try(MSR_MISC_ENABLE, v), 0);
        CHECK_EQ(wrmsr_try(MSR_MISC_ENABLE, v ^ 1), 0);
        CHECK_EQ(rdmsr_ok(MSR_MISC_ENABLE), v);
    }

    /* The TSC reads; PERF_CAPABILITIES reads as 0. */
    uint64_t t0 = rdmsr_ok(0x10), t1 = rdmsr_ok(0x10);
    if (!t0 || t1 <= t0)
        test_fail("MSR_IA32_TSC %#lx then %#lx", t0, t1);
    CHECK_EQ(rdmsr_ok(0x345), 0);
    test_tsc_aux();
    test_vmce();
    test_spec_ctrl();

    /* FEATURE_CONTROL: locked with nothing enabled on Intel, #GP on AMD. */
    if (amd)
        CHECK_EQ(rdmsr_try(0x3a, &v), -1);
    else
        CHECK_EQ(rdmsr_ok(0x3a), 1);

    /* Xen's MSR 0x40000000 (CPUID 0x40000002) writes a hypercall page
     * into the frame it names: the same stubs as the one at start of day.
     * An offset in the page, a page table, a frame not the domain's: #GP. */
    static uint8_t hpage[4096] __attribute__((aligned(4096)));
    extern char hypercall_page[];
    const unsigned long *p2m = (const unsigned long *)minios_start_info->mfn_list;
    unsigned long mfn = p2m[(unsigned long)hpage >> 12];
    memset(hpage, 0xa5, sizeof(hpage));
    CHECK_EQ(wrmsr_try(0x40000000, mfn << 12), 0);
    if (memcmp(hpage, hypercall_page, 64 * 32))
        test_fail("MSR 0x40000000: the page written differs from the hypercall page");
    CHECK_EQ(wrmsr_try(0x40000000, (mfn << 12) | 1), -1);
    CHECK_EQ(wrmsr_try(0x40000000, p2m[minios_start_info->pt_base >> 12] << 12), -1);
    CHECK_EQ(wrmsr_try(0x40000000, 0xfffffffff000UL), -1);
    CHECK_EQ(rdmsr_ok(0x40000000), 0);
    CHECK_EQ(wrmsr_try(0x40000001, 0), -1);

    /* What a PV guest may not touch: #GP(0) either way. */
    CHECK_EQ(rdmsr_try(MSR_LSTAR, &v), -1);
    CHECK_EQ(wrmsr_try(MSR_LSTAR, 0), -1);
    CHECK_EQ(rdmsr_try(0x174, &v), -1);          /* SYSENTER_CS */
    CHECK_EQ(rdmsr_try(0x12345678, &v), -1);
    CHECK_EQ(wrmsr_try(0x12345678, 0), -1);
    CHECK_EQ(wrmsr_try(0x10, 0), -1);            /* the TSC is not the guest's */
}

/* ---- control registers, CLTS ------------------------------------------ */

static unsigned long cr0(void) { unsigned long v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static unsigned long cr2(void) { unsigned long v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static unsigned long cr3(void) { unsigned long v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static unsigned long cr4(void) { unsigned long v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }

static volatile unsigned long nm_count;

static void nm_handler(struct minios_trap_frame *f)
{
    (void)f;
    nm_count++;
    HYPERVISOR_fpu_taskswitch(0);
}

static void test_control_registers(void)
{
    unsigned long c0 = cr0();
    if (!(c0 & 1) || !(c0 & (1UL << 31)) || (c0 & 8))
        test_fail("CR0 %#lx: expected PE and PG, TS clear", c0);
    if (!(cr4() & (1UL << 5)))
        test_fail("CR4 %#lx: expected PAE", cr4());

    /* CR3: the machine address of the base table (PV is not translated). */
    const unsigned long *p2m = (const unsigned long *)minios_start_info->mfn_list;
    unsigned long l4 = p2m[minios_start_info->pt_base >> 12] << 12;
    CHECK_EQ(cr3(), l4);

    /* MOV to CR3: a new base, checked as an L4 (a data page: #GP). */
    arm();
    __asm__ volatile(ARM_RESUME "mov %0, %%cr3\n1:" :: "r"(l4) : "r11", "memory");
    expect_ok("mov to cr3 (the same L4)");
    CHECK_EQ(cr3(), l4);
    static char data_page[4096] __attribute__((aligned(4096)));
    data_page[0] = 1;
    arm();
    __asm__ volatile(ARM_RESUME "mov %0, %%cr3\n1:"
                     :: "r"(p2m[(unsigned long)data_page >> 12] << 12) : "r11", "memory");
    expect_gp0("mov to cr3 (a data page)");
    CHECK_EQ(cr3(), l4);

    /* CR2: the address of the last #PF delivered. */
    minios_set_trap_handler(14, handler);
    arm();
    __asm__ volatile(ARM_RESUME "movb (%0), %%al\n1:" :: "r"(UNMAPPED + 0x321)
                     : "rax", "r11", "memory");
    minios_set_trap_handler(14, NULL);
    CHECK_EQ(seen.vector, 14);
    CHECK_EQ(cr2(), UNMAPPED + 0x321);

    /* CR8: #GP. */
    unsigned long x;
    arm();
    __asm__ volatile(ARM_RESUME "mov %%cr8, %0\n1:" : "=r"(x) :: "r11", "memory");
    expect_gp0("mov from cr8");

    /* Debug registers: DR7 as get_debugreg gives it, DR8 #UD. */
    arm();
    minios_set_trap_handler(6, handler);
    __asm__ volatile(ARM_RESUME "mov %%dr7, %0\n1:" : "=r"(x) :: "r11", "memory");
    expect_ok("mov from dr7");
    CHECK_EQ(x, (unsigned long)_hypercall1(__HYPERVISOR_get_debugreg, 7));
    arm();
    __asm__ volatile(ARM_RESUME ".byte 0x44, 0x0f, 0x21, 0xc0\n1:" ::: "rax", "r11", "memory");
    if (seen.count != 1 || seen.vector != 6)
        test_fail("mov from dr8: vector %lu (%lu faults), expected #UD", seen.vector, seen.count);
    minios_set_trap_handler(6, NULL);

    /* MOV to CR4 never faults: the bits a PV guest may set are kept (TSD,
     * DE), others dropped; with DE, DR4 is #UD. */
    unsigned long c4 = cr4();
    arm();
    __asm__ volatile(ARM_RESUME "mov %0, %%cr4\n1:" :: "r"(c4 | 4 | 8 | (1UL << 7) | (1UL << 4))
                     : "r11", "memory");
    expect_ok("mov to cr4");
    CHECK_EQ(cr4(), c4 | 4 | 8);
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));   /* still works for the kernel */
    if (!lo && !hi)
        test_fail("rdtsc with CR4.TSD: 0");
    minios_set_trap_handler(6, handler);
    arm();
    __asm__ volatile(ARM_RESUME "mov %%dr4, %0\n1:" : "=r"(x) :: "r11", "memory");
    if (seen.count != 1 || seen.vector != 6)
        test_fail("mov from dr4 with CR4.DE: vector %lu (%lu faults), expected #UD", seen.vector,
                  seen.count);
    minios_set_trap_handler(6, NULL);
    arm();
    __asm__ volatile(ARM_RESUME "mov %0, %%cr4\n1:" :: "r"(c4) : "r11", "memory");
    expect_ok("mov to cr4 (back)");
    CHECK_EQ(cr4(), c4);
    arm();
    __asm__ volatile(ARM_RESUME "mov %%dr4, %0\n1:" : "=r"(x) :: "r11", "memory");
    expect_ok("mov from dr4 without CR4.DE");

    /* MOV to CR0 may change TS and nothing else; CLTS clears TS. */
    minios_set_trap_handler(7, nm_handler);
    arm();
    __asm__ volatile(ARM_RESUME "mov %0, %%cr0\n1:" :: "r"(c0 | 8) : "r11", "memory");
    expect_ok("mov to cr0 (TS)");
    if (!(cr0() & 8))
        test_fail("CR0.TS clear after mov to cr0 set it");
    arm();
    __asm__ volatile(ARM_RESUME "clts\n1:" ::: "r11", "memory");
    expect_ok("clts");
    if (cr0() & 8)
        test_fail("CR0.TS set after clts");
    nm_count = 0;
    __asm__ volatile("addps %%xmm0, %%xmm0" ::: "xmm0");
    CHECK_EQ(nm_count, 0);
    CHECK_EQ(HYPERVISOR_fpu_taskswitch(1), 0);
    if (!(cr0() & 8))
        test_fail("CR0.TS clear after fpu_taskswitch(1)");
    __asm__ volatile("clts");
    __asm__ volatile("addps %%xmm0, %%xmm0" ::: "xmm0");
    CHECK_EQ(nm_count, 0);
    minios_set_trap_handler(7, NULL);
    arm();
    __asm__ volatile(ARM_RESUME "mov %0, %%cr0\n1:" :: "r"(c0 ^ (1UL << 30)) : "r11", "memory");
    expect_gp0("mov to cr0 (CD)");
    CHECK_EQ(cr0(), c0);
}

/* ---- I/O ports ------------------------------------------------------------ */

static long set_iopl(unsigned iopl)
{
    struct physdev_set_iopl s = { .iopl = iopl };
    return _hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, &s);
}

static long set_iobitmap(void *bitmap, unsigned nr_ports)
{
    struct physdev_set_iobitmap s = { .nr_ports = nr_ports };
    set_xen_guest_handle(s.bitmap, (uint8_t *)bitmap);
    return _hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iobitmap, &s);
}

static long ioport_permission(unsigned first, unsigned nr, bool allow)
{
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_ioport_permission, minios_domid());
    op.u.ioport_permission.first_port = first;
    op.u.ioport_permission.nr_ports = nr;
    op.u.ioport_permission.allow_access = allow;
    return do_domctl(&op);
}

/* One IN or OUT of 1, 2 or 4 bytes; *val is what it read.  0, or -1
 * after #GP(0). */
static int io_try(bool out, unsigned port, unsigned bytes, uint32_t *val)
{
    uint32_t v = *val;
    arm();
    if (out && bytes == 1)
        __asm__ volatile(ARM_RESUME "outb %%al, %%dx\n1:" :: "a"(v), "d"(port) : "r11", "memory");
    else if (out && bytes == 2)
        __asm__ volatile(ARM_RESUME "outw %%ax, %%dx\n1:" :: "a"(v), "d"(port) : "r11", "memory");
    else if (out)
        __asm__ volatile(ARM_RESUME "outl %%eax, %%dx\n1:" :: "a"(v), "d"(port) : "r11", "memory");
    else if (bytes == 1)
        __asm__ volatile(ARM_RESUME "inb %%dx, %%al\n1:" : "+a"(v) : "d"(port) : "r11", "memory");
    else if (bytes == 2)
        __asm__ volatile(ARM_RESUME "inw %%dx, %%ax\n1:" : "+a"(v) : "d"(port) : "r11", "memory");
    else
        __asm__ volatile(ARM_RESUME "inl %%dx, %%eax\n1:" : "+a"(v) : "d"(port) : "r11", "memory");
    *val = v;
    return gp0(out ? "out" : "in") ? -1 : 0;
}

static uint32_t in_ok(unsigned port, unsigned bytes)
{
    uint32_t v = 0xabababab;
    if (io_try(false, port, bytes, &v))
        test_fail("in%u from %#x: #GP", bytes, port);
    else if (bytes < 4 && (v >> (bytes * 8)) != (0xabababab >> (bytes * 8)))
        test_fail("in%u from %#x: %#x, the rest of eax changed", bytes, port, v);
    return bytes == 4 ? v : v & ((1u << (bytes * 8)) - 1);
}

static void out_ok(unsigned port, unsigned bytes, uint32_t v)
{
    if (io_try(true, port, bytes, &v))
        test_fail("out%u to %#x: #GP", bytes, port);
}

static uint8_t bitmap[8192];

static void test_io(void)
{
    uint32_t v = 0;
    long rc;

    /* Port 0x81 (a DMA page register: it keeps what is written) is the
     * domain's; 0x82, 0x83 and the RTC are not. */
    CHECK_EQ(ioport_permission(0x81, 1, true), 0);
    CHECK_EQ(ioport_permission(0x82, 2, false), 0);
    CHECK_EQ(ioport_permission(0x70, 2, false), 0);
    CHECK_EQ(ioport_permission(0x80, 1, false), 0);

    /* physdev_op's own refusals. */
    CHECK_EQ(set_iopl(4), -XEN_EINVAL);
    CHECK_EQ(_hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(_hypercall2(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iobitmap, UNMAPPED), -XEN_EFAULT);
    CHECK_EQ(set_iobitmap((void *)HV_ADDR, 16), -XEN_EINVAL);
    CHECK_EQ(set_iobitmap(bitmap, 65537), -XEN_EINVAL);

    /* I/O privilege 0: the kernel (ring 1 for Xen) may not do I/O. */
    CHECK_EQ(set_iopl(0), 0);
    CHECK_EQ(io_try(false, 0x81, 1, &v), -1);
    CHECK_EQ(io_try(true, 0x81, 1, &v), -1);
    arm();
    __asm__ volatile(ARM_RESUME "cli\n1:" ::: "r11", "memory");
    expect_gp0("cli at iopl 0");

    /* With VMASST_TYPE_architectural_iopl the kernel is ring 0 for the
     * I/O privilege: IOPL 0 lets it in. */
    CHECK_EQ(_hypercall2(__HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_architectural_iopl), 0);
    v = 0x11;
    CHECK_EQ(io_try(true, 0x81, 1, &v), 0);
    CHECK_EQ(_hypercall2(__HYPERVISOR_vm_assist, VMASST_CMD_disable, VMASST_TYPE_architectural_iopl), 0);
    CHECK_EQ(io_try(false, 0x81, 1, &v), -1);

    /* I/O privilege 1: the granted port is the hardware's. */
    CHECK_EQ(set_iopl(1), 0);
    out_ok(0x81, 1, 0x11);
    CHECK_EQ(in_ok(0x81, 1), 0x11);
    out_ok(0x81, 1, 0x5c);
    CHECK_EQ(in_ok(0x81, 1), 0x5c);
    __asm__ volatile("inb $0x81, %%al" : "=a"(v));   /* the imm8 form */
    CHECK_EQ(v & 0xff, 0x5c);

    /* A refused port reads as all ones and drops writes.  Seeing the
     * drop needs the port back: Keel's control role may grant a port it
     * does not hold; Xen only lets a domain grant ports it has itself
     * (-EPERM), so on Xen only the reads are checked. */
    CHECK_EQ(in_ok(0x82, 1), 0xff);
    if (on_keel) {
        CHECK_EQ(ioport_permission(0x82, 1, true), 0);
        out_ok(0x82, 1, 0x22);
        CHECK_EQ(ioport_permission(0x82, 1, false), 0);
        CHECK_EQ(in_ok(0x82, 1), 0xff);
        out_ok(0x82, 1, 0x5a);                       /* dropped */
        CHECK_EQ(ioport_permission(0x82, 1, true), 0);
        CHECK_EQ(in_ok(0x82, 1), 0x22);
        CHECK_EQ(ioport_permission(0x82, 1, false), 0);
    } else {
        out_ok(0x82, 1, 0x5a);
        CHECK_EQ(ioport_permission(0x82, 1, true), -XEN_EPERM);
    }

    /* Wider accesses go port by port: 0x81 granted, 0x80, 0x82 and 0x83
     * not. */
    CHECK_EQ(in_ok(0x81, 2), 0xff5c);
    CHECK_EQ(in_ok(0x80, 4) >> 8, 0xffff5c);

    /* The RTC, taken away: the index port still latches what the domain
     * writes and reads it back; the data port reads all ones. */
    out_ok(0x70, 1, 0x8a);
    CHECK_EQ(in_ok(0x70, 1), 0x8a);
    CHECK_EQ(in_ok(0x71, 1), 0xff);
    out_ok(0x71, 1, 0);                              /* dropped */
    out_ok(0x70, 1, 0);

    /* The PCI address register, as a dword: latched per domain, read
     * back; the data port reads all ones for a domain that is not the
     * hardware domain (Xen's dom0 reads the device, so only on Keel). */
    CHECK_EQ(in_ok(0xcf8, 4), 0);
    out_ok(0xcf8, 4, 0x80000000);
    CHECK_EQ(in_ok(0xcf8, 4), 0x80000000);
    if (on_keel) {
        CHECK_EQ(in_ok(0xcfc, 4), 0xffffffff);
        CHECK_EQ(in_ok(0xcfe, 2), 0xffff);
    }
    out_ok(0xcf8, 4, 0);
    CHECK_EQ(in_ok(0xcf8, 4), 0);

    /* CLI and STI with I/O privilege: ignored. */
    arm();
    __asm__ volatile(ARM_RESUME "cli\n\tsti\n1:" ::: "r11", "memory");
    expect_ok("cli; sti at iopl 1");

    /* String I/O: rep insb from the refused port, rep outsb to ours. */
    uint8_t buf[8];
    memset(buf, 0, sizeof(buf));
    unsigned long di = (unsigned long)buf, cx = 4;
    arm();
    __asm__ volatile(ARM_RESUME "rep insb\n1:" : "+D"(di), "+c"(cx) : "d"(0x82)
                     : "r11", "memory");
    expect_ok("rep insb");
    CHECK_EQ(cx, 0);
    CHECK_EQ(di, (unsigned long)buf + 4);
    CHECK_EQ(buf[0] & buf[1] & buf[2] & buf[3], 0xff);
    CHECK_EQ(buf[4], 0);
    static const uint8_t src[2] = { 0x33, 0x44 };
    unsigned long si = (unsigned long)src;
    cx = 2;
    arm();
    __asm__ volatile(ARM_RESUME "rep outsb\n1:" : "+S"(si), "+c"(cx) : "d"(0x81)
                     : "r11", "memory");
    expect_ok("rep outsb");
    CHECK_EQ(cx, 0);
    CHECK_EQ(in_ok(0x81, 1), 0x44);
    /* INS into a page the guest cannot write: its #PF (write, cr2). */
    minios_set_trap_handler(14, handler);
    di = minios_start_info->pt_base + 16;
    arm();
    __asm__ volatile(ARM_RESUME "insb\n1:" : "+D"(di) : "d"(0x81) : "r11", "memory");
    minios_set_trap_handler(14, NULL);
    if (seen.vector != 14 || seen.error_code != 2 || seen.cr2 != minios_start_info->pt_base + 16)
        test_fail("insb to a page table: vector %lu error %#lx cr2 %#lx", seen.vector,
                  seen.error_code, seen.cr2);

    /* A buffer in the hypervisor's range or non-canonical: #GP(0). */
    di = HV_ADDR;
    arm();
    __asm__ volatile(ARM_RESUME "insb\n1:" : "+D"(di) : "d"(0x81) : "r11", "memory");
    expect_gp0("insb to the hypervisor's range");
    si = NONCANONICAL;
    arm();
    __asm__ volatile(ARM_RESUME "outsb\n1:" : "+S"(si) : "d"(0x81) : "r11", "memory");
    expect_gp0("outsb from a non-canonical address");
    CHECK_EQ(in_ok(0x81, 1), 0x44);

    /* The I/O bitmap, with I/O privilege 0: a clear bit lets the port in. */
    CHECK_EQ(set_iopl(0), 0);
    memset(bitmap, 0xff, sizeof(bitmap));
    bitmap[0x81 / 8] &= ~(1 << (0x81 % 8));
    CHECK_EQ(set_iobitmap(bitmap, 0x100), 0);
    CHECK_EQ(in_ok(0x81, 1), 0x44);
    CHECK_EQ(io_try(false, 0x87, 1, &v), -1);
    CHECK_EQ(io_try(false, 0x81, 2, &v), -1);        /* 0x82 is not in it */
    CHECK_EQ(set_iobitmap(bitmap, 0x81), 0);         /* 0x81 past its end */
    CHECK_EQ(io_try(false, 0x81, 1, &v), -1);
    CHECK_EQ(set_iobitmap(bitmap, 0), 0);
    CHECK_EQ(io_try(false, 0x81, 1, &v), -1);
    /* A bitmap the guest cannot read refuses everything. */
    CHECK_EQ(set_iobitmap((void *)UNMAPPED, 0x100), 0);
    CHECK_EQ(io_try(false, 0x81, 1, &v), -1);
    CHECK_EQ(set_iobitmap(NULL, 0), 0);

    /* HLT stays privileged. */
    arm();
    __asm__ volatile(ARM_RESUME "hlt\n1:" ::: "r11", "memory");
    expect_gp0("hlt");
    rc = set_iopl(1);
    CHECK_EQ(rc, 0);
}

/* ---- int $n ------------------------------------------------------------------ */

volatile unsigned long xp_int_count;
void xp_int_handler(void);
/* A software interrupt's handler: Xen's bounce frame {rcx, r11, rip, cs,
 * rflags, rsp, ss}; back with HYPERVISOR_iret, whose stub pushes rcx,
 * r11 and rax over {flags, rip, ...}. */
__asm__(".text\n"
        ".globl xp_int_handler\n"
        "xp_int_handler:\n\t"
        "lock incq xp_int_count(%rip)\n\t"
        "popq %rcx\n\t"
        "popq %r11\n\t"
        "pushq $0\n\t"
        "jmp hypercall_page + 23 * 32\n");

static void int_entries(uint8_t vec, unsigned dpl)
{
    /* Xen on QEMU's TCG looks vector 2*vec up (the error code TCG gives
     * is vec*16+2): set both there; on Keel the real vector only. */
    struct trap_info t[3] = {
        { .vector = vec, .flags = (uint8_t)dpl, .cs = FLAT_KERNEL_CS,
          .address = (unsigned long)xp_int_handler },
    };
    if (!on_keel)
        t[1] = (struct trap_info){ .vector = (uint8_t)(2 * vec), .flags = (uint8_t)dpl,
                                   .cs = FLAT_KERNEL_CS,
                                   .address = (unsigned long)xp_int_handler };
    CHECK_EQ(HYPERVISOR_set_trap_table(t), 0);
}

static void expect_int_gp(const char *what, unsigned vec)
{
    if (seen.count != 1 || seen.vector != 13) {
        test_fail("%s: vector %lu (%lu faults), expected #GP", what, seen.vector, seen.count);
        return;
    }
    if (!on_keel)
        printf("%s: error code %#lx on Xen\n", what, seen.error_code);
    bool ok = seen.error_code == vec * 8 + 2 ||
              (!on_keel && seen.error_code == vec * 16 + 2);
    if (!ok)
        test_fail("%s: error code %#lx, expected %#x", what, seen.error_code, vec * 8 + 2);
}

static void test_int(void)
{
    /* DPL 1: the kernel may use it. */
    int_entries(0x40, 1);
    xp_int_count = 0;
    arm();
    __asm__ volatile(ARM_RESUME "int $0x40\n1:" ::: "rcx", "r11", "memory");
    expect_ok("int $0x40 (DPL 1)");
    CHECK_EQ(xp_int_count, 1);
    /* DPL 0: refused, #GP with the vector's IDT error code. */
    int_entries(0x41, 0);
    if (on_keel) {
        /* The vector is the instruction's, not TCG's error code's. */
        struct trap_info t[2] = {
            { .vector = 0x82, .flags = 3, .cs = FLAT_KERNEL_CS,
              .address = (unsigned long)xp_int_handler },
        };
        CHECK_EQ(HYPERVISOR_set_trap_table(t), 0);
    }
    xp_int_count = 0;
    arm();
    __asm__ volatile(ARM_RESUME "int $0x41\n1:" ::: "rcx", "r11", "memory");
    expect_int_gp("int $0x41 (DPL 0)", 0x41);
    CHECK_EQ(xp_int_count, 0);
    /* No entry at all: the same #GP. */
    arm();
    __asm__ volatile(ARM_RESUME "int $0x45\n1:" ::: "rcx", "r11", "memory");
    expect_int_gp("int $0x45 (no entry)", 0x45);
}

/* ---- debug traps, NMI callback ----------------------------------------------- */

static volatile unsigned long db_count, db_rip;

static void db_handler(struct minios_trap_frame *f)
{
    db_count++;
    db_rip = f->rip;
    f->rflags &= ~0x100UL;               /* TF off */
}

static long setdr(int reg, unsigned long v)
{
    return _hypercall2(__HYPERVISOR_set_debugreg, reg, v);
}

static long getdr(int reg)
{
    return _hypercall1(__HYPERVISOR_get_debugreg, reg);
}

static volatile unsigned long watch[2];

static void test_debug(void)
{
    minios_set_trap_handler(1, db_handler);

    /* Write watchpoints (DR7: L0/L1, R/W 01, 8 bytes): a hit raises #DB
     * in the guest, and DR6 gathers B0 and B1 until the guest clears it. */
    CHECK_EQ(setdr(0, (unsigned long)&watch[0]), 0);
    CHECK_EQ(setdr(1, (unsigned long)&watch[1]), 0);
    CHECK_EQ(setdr(6, 0), 0);
    CHECK_EQ(setdr(7, 0x1 | 0x4 | (0xdUL << 16) | (0xdUL << 20)), 0);
    db_count = 0;
    watch[0] = 1;
    CHECK_EQ(db_count, 1);
    watch[1] = 1;
    CHECK_EQ(db_count, 2);
    CHECK_EQ(getdr(6) & 0xf, 3);
    /* The hypervisor writing the watched word for the guest (a hypercall's
     * result) is no #DB for the guest and no crash. */
    CHECK_EQ(setdr(6, 0), 0);
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_extraversion, (void *)&watch[0]), 0);
    CHECK_EQ(db_count, 2);
    CHECK_EQ(getdr(6) & 0xf, 0);
    CHECK_EQ(setdr(7, 0), 0);

    /* Single-stepping over an emulated instruction: #DB after it, BS. */
    uint32_t lo, hi;
    unsigned long after;
    db_count = 0;
    CHECK_EQ(setdr(6, 0), 0);
    __asm__ volatile("pushfq\n\t"
                     "orq $0x100, (%%rsp)\n\t"
                     "popfq\n\t"
                     "rdmsr\n"
                     "1:\tleaq 1b(%%rip), %2\n\t"
                     : "=a"(lo), "=d"(hi), "=r"(after) : "c"(0xc0000080) : "memory");
    CHECK_EQ(db_count, 1);
    CHECK_EQ(db_rip, after);
    if (!(getdr(6) & (1UL << 14)))
        test_fail("DR6 %#lx after a single step: no BS", getdr(6));
    CHECK_EQ(setdr(6, 0), 0);

    minios_set_trap_handler(1, NULL);

    /* An NMI callback: accepted, and removed again (Linux needs both). */
    struct callback_register cb = {
        .type = CALLBACKTYPE_nmi, .address = (unsigned long)xp_int_handler,
    };
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);
    struct callback_unregister ucb = { .type = CALLBACKTYPE_nmi };
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_unregister, &ucb), 0);
    cb.address = NONCANONICAL;
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &cb), -XEN_EINVAL);
}

/* ---- instruction bytes that cannot be read ---------------------------------------- */

static uint8_t code2[2 * 4096] __attribute__((aligned(4096)));

static unsigned long read_l1e(unsigned long va)
{
    unsigned long ma = l1e_maddr(va);
    return *(volatile unsigned long *)((m2p[ma >> 12] << 12) | (ma & 0xfff));
}

/* Jumps to the code at va; a fault resumes after the jump. */
static void run_at(unsigned long va)
{
    arm();
    __asm__ volatile(ARM_RESUME "jmp *%0\n1:" :: "r"(va) : "r11", "memory");
}

/* The forced-emulation signature read across into an unmapped page: the
 * #PF Xen gives (error code 0, cr2 at the first byte it could not read)
 * instead of the #UD; a ud2 that is not the signature stays a #UD. */
static void test_fetch_fault(void)
{
    unsigned long va1 = (unsigned long)code2, va2 = va1 + 4096;
    unsigned long pte1 = read_l1e(va1), pte2 = read_l1e(va2);
    static const uint8_t sig[6] = { 0x0f, 0x0b, 'x', 'e', 'n', 0x0f };

    memset(code2, 0x90, sizeof(code2));
    CHECK_EQ(HYPERVISOR_update_va_mapping(va1, pte1 & ~(1UL << 63), UVMF_INVLPG), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping(va2, 0, UVMF_INVLPG), 0);
    minios_set_trap_handler(6, handler);
    minios_set_trap_handler(14, handler);

    memcpy(code2 + 4094, sig, 2);                    /* ud2, then nothing */
    run_at(va1 + 4094);
    if (seen.count != 1 || seen.vector != 14 || seen.error_code != 0 || seen.cr2 != va2)
        test_fail("ud2 before an unmapped page: vector %lu error %#lx cr2 %#lx",
                  seen.vector, seen.error_code, seen.cr2);
    memcpy(code2 + 4090, sig, 6);                    /* cpuid's second byte missing */
    run_at(va1 + 4090);
    if (seen.count != 1 || seen.vector != 14 || seen.error_code != 0 || seen.cr2 != va2)
        test_fail("forced cpuid across into an unmapped page: vector %lu error %#lx cr2 %#lx",
                  seen.vector, seen.error_code, seen.cr2);
    memcpy(code2 + 4080, sig, 2);                    /* ud2, then nops */
    run_at(va1 + 4080);
    if (seen.count != 1 || seen.vector != 6 || seen.rip != va1 + 4080)
        test_fail("ud2: vector %lu rip %#lx", seen.vector, seen.rip);

    minios_set_trap_handler(6, NULL);
    minios_set_trap_handler(14, NULL);
    CHECK_EQ(HYPERVISOR_update_va_mapping(va2, pte2, UVMF_INVLPG), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping(va1, pte1, UVMF_INVLPG), 0);
}

/* ---- XSAVE ------------------------------------------------------------- */

#define CR4_OSXSAVE (1UL << 18)

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* XSETBV: -1 after #GP(0), -6 after #UD, 0 if it went through. */
static int xsetbv_try(uint32_t xcr, uint64_t val, bool opsize)
{
    arm();
    if (opsize)
        __asm__ volatile(ARM_RESUME ".byte 0x66\n\txsetbv\n1:"
                         :: "c"(xcr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
                         : "r11", "memory");
    else
        __asm__ volatile(ARM_RESUME "xsetbv\n1:"
                         :: "c"(xcr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
                         : "r11", "memory");
    if (!seen.count)
        return 0;
    if (seen.vector == 6)
        return -6;
    return gp0("xsetbv") ? -1 : -99;
}

static void set_cr4(unsigned long v)
{
    arm();
    __asm__ volatile(ARM_RESUME "mov %0, %%cr4\n1:" :: "r"(v) : "r11", "memory");
    expect_ok("mov to cr4");
}

/* What Xen 4.17 offers a PV kernel on a host with XSAVE: leaf 0xd with
 * the components its policy allows (x87, SSE, YMM with AVX, the AVX-512
 * three with AVX512F; no PKRU or MPX), OSXSAVE shown to the kernel's
 * forced CPUID, a virtual CR4.OSXSAVE the kernel sets itself, XSETBV
 * emulated with do_xsetbv's checks, XGETBV native. */
static void test_xsave(void)
{
    struct leaf l1 = xen_cpuid(1, 0);
    if (!(l1.c & (1u << 26))) {
        printf("xen-priv: no XSAVE on this CPU: XSAVE checks skipped\n");
        CHECK_EQ(xen_cpuid(0xd, 0).a, 0);
        return;
    }
    bool avx = l1.c & (1u << 28);
    bit("1.ecx OSXSAVE (forced, kernel)", l1.c, 27, true);
    unsigned long cr4_0 = cr4();
    if (cr4_0 & CR4_OSXSAVE)
        test_fail("CR4 %#lx: OSXSAVE set before the kernel set it", cr4_0);

    /* Leaf 0xd: the allowed components, their sizes and offsets. */
    struct leaf d0 = xen_cpuid(0xd, 0);
    uint64_t max = d0.a | (uint64_t)d0.d << 32;
    if ((max & 3) != 3)
        test_fail("CPUID 0xd.0: XCR0 bits %#lx without x87 and SSE", max);
    CHECK_EQ(!!(max & 4), avx);
    CHECK_EQ(max & ~0xe7UL, 0);          /* x87, SSE, YMM, AVX-512 only */
    CHECK_EQ(d0.b, 576);                 /* the size for XCR0 = x87|SSE */
    uint32_t end = 576;
    for (unsigned c = 2; c < 64; c++) {
        struct leaf dc = xen_cpuid(0xd, c);
        if (c < 63 && (max >> c & 1)) {
            if (!dc.a || dc.b < 576)
                test_fail("CPUID 0xd.%u: size %u offset %u", c, dc.a, dc.b);
            if (dc.b + dc.a > end)
                end = dc.b + dc.a;
            CHECK_EQ(dc.c & ~2u, 0);
            CHECK_EQ(dc.d, 0);
        } else if (dc.a | dc.b | dc.c | dc.d) {
            test_fail("CPUID 0xd.%u: %08x %08x %08x %08x, expected zeros (not offered)",
                      c, dc.a, dc.b, dc.c, dc.d);
        }
    }
    CHECK_EQ(d0.c, end);
    if (avx) {
        struct leaf d2 = xen_cpuid(0xd, 2);
        CHECK_EQ(d2.a, 256);             /* YMM_Hi128: 16 x 16 bytes at 576 */
        CHECK_EQ(d2.b, 576);
    }
    struct leaf d1 = xen_cpuid(0xd, 1);
    CHECK_EQ(d1.a & ~0xfu, 0);           /* XSAVEOPT, XSAVEC, XGETBV1, XSAVES at most */
    bit("0xd.1.eax XSAVES", d1.a, 3, false);   /* not a PV guest's */
    CHECK_EQ(d1.c | d1.d, 0);

    CHECK_EQ(xgetbv0(), 3);
    minios_set_trap_handler(6, handler);
    /* Not yet enabled by the kernel: #UD. */
    CHECK_EQ(xsetbv_try(0, 3, false), -6);

    set_cr4(cr4_0 | CR4_OSXSAVE);
    if (!(cr4() & CR4_OSXSAVE))
        test_fail("CR4 %#lx: OSXSAVE not kept", cr4());
    bit("1.ecx OSXSAVE (CR4 set)", xen_cpuid(1, 0).c, 27, true);

    /* Refused: x87 clear, YMM without SSE, bits not offered, XCR 1, an
     * operand-size prefix (#UD).  XCR0 stays as it was. */
    CHECK_EQ(xsetbv_try(0, 0, false), -1);
    CHECK_EQ(xsetbv_try(0, 2, false), -1);
    CHECK_EQ(xsetbv_try(0, 1 | 4, false), -1);
    CHECK_EQ(xsetbv_try(0, 3 | (1UL << 9), false), -1);      /* PKRU */
    CHECK_EQ(xsetbv_try(0, 3 | (1UL << 3) | (1UL << 4), false), -1);   /* MPX */
    CHECK_EQ(xsetbv_try(0, 3 | (1UL << 63), false), -1);
    CHECK_EQ(xsetbv_try(0, 3 | (1UL << 5), false), -1);      /* OPMASK alone */
    CHECK_EQ(xsetbv_try(1, 3, false), -1);
    CHECK_EQ(xsetbv_try(0, 3, true), -6);
    CHECK_EQ(xgetbv0(), 3);

    /* Accepted: x87 alone, then all that is offered. */
    CHECK_EQ(xsetbv_try(0, 1, false), 0);
    CHECK_EQ(xgetbv0(), 1);
    CHECK_EQ(xsetbv_try(0, max, false), 0);
    CHECK_EQ(xgetbv0(), max);
    CHECK_EQ(xen_cpuid(0xd, 0).b, end);  /* the size for the XCR0 in force */

    if (avx) {
        /* YMM state kept across a yield (another vCPU may run). */
        static uint8_t in[32] __attribute__((aligned(32))), out[32] __attribute__((aligned(32)));
        for (unsigned k = 0; k < 32; k++)
            in[k] = (uint8_t)(0x5a + 7 * k);
        __asm__ volatile("vmovdqu %0, %%ymm7" :: "m"(in) : "xmm7");
        for (int k = 0; k < 20; k++)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        __asm__ volatile("vmovdqu %%ymm7, %0\n\tvzeroupper" : "=m"(out) :: "xmm7");
        if (memcmp(in, out, 32))
            test_fail("ymm7 changed across yields");
    }

    CHECK_EQ(xsetbv_try(0, 3, false), 0);
    CHECK_EQ(xgetbv0(), 3);
    CHECK_EQ(xen_cpuid(0xd, 0).b, 576);
    set_cr4(cr4_0);
    CHECK_EQ(cr4() & CR4_OSXSAVE, 0);
    CHECK_EQ(xsetbv_try(0, 3, false), -6);
    bit("1.ecx OSXSAVE (CR4 clear again, kernel)", xen_cpuid(1, 0).c, 27, true);
    minios_set_trap_handler(6, NULL);
}

/* ---- FSGSBASE ------------------------------------------------------------ */

#define CR4_FSGSBASE (1UL << 16)

/* RDFSBASE: -6 after #UD, else 0 and the base. */
static int rdfsbase_try(unsigned long *v)
{
    unsigned long x = 0;
    arm();
    __asm__ volatile(ARM_RESUME "rdfsbase %0\n1:" : "+r"(x) :: "r11", "memory");
    *v = x;
    if (!seen.count)
        return 0;
    return seen.vector == 6 ? -6 : -99;
}

/* As Xen: offered with the host's; usable once the kernel sets its
 * CR4.FSGSBASE (#UD before and after); the bases it writes are what the
 * MSRs read and survive yields; set_segment_base is seen by RDFSBASE. */
static void test_fsgsbase(void)
{
    unsigned long v, c4 = cr4();
    if (!(xen_cpuid(7, 0).b & 1)) {
        printf("xen-priv: no FSGSBASE on this CPU: checks skipped\n");
        return;
    }
    static unsigned long fs_target = 0x1234567890abcdefUL, gs_target = 0xfedcba0987654321UL;
    uint64_t fs0 = rdmsr_ok(MSR_FS_BASE), gs0 = rdmsr_ok(MSR_GS_BASE);
    minios_set_trap_handler(6, handler);
    if (c4 & CR4_FSGSBASE)
        test_fail("CR4 %#lx: FSGSBASE set before the kernel set it", c4);
    CHECK_EQ(rdfsbase_try(&v), -6);
    set_cr4(c4 | CR4_FSGSBASE);
    if (!(cr4() & CR4_FSGSBASE))
        test_fail("CR4 %#lx: FSGSBASE not kept", cr4());
    CHECK_EQ(rdfsbase_try(&v), 0);
    CHECK_EQ(v, fs0);
    __asm__ volatile("wrfsbase %0" :: "r"((unsigned long)&fs_target) : "memory");
    __asm__ volatile("wrgsbase %0" :: "r"((unsigned long)&gs_target) : "memory");
    CHECK_EQ(fs_word(), fs_target);
    CHECK_EQ(gs_word(), gs_target);
    CHECK_EQ(rdmsr_ok(MSR_FS_BASE), (unsigned long)&fs_target);
    CHECK_EQ(rdmsr_ok(MSR_GS_BASE), (unsigned long)&gs_target);
    for (int k = 0; k < 10; k++)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    unsigned long g;
    CHECK_EQ(rdfsbase_try(&v), 0);
    CHECK_EQ(v, (unsigned long)&fs_target);
    __asm__ volatile("rdgsbase %0" : "=r"(g));
    CHECK_EQ(g, (unsigned long)&gs_target);
    CHECK_EQ(fs_word(), fs_target);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_FS, 0x5000), 0);
    CHECK_EQ(rdfsbase_try(&v), 0);
    CHECK_EQ(v, 0x5000);
    CHECK_EQ(wrmsr_try(MSR_FS_BASE, fs0), 0);
    CHECK_EQ(wrmsr_try(MSR_GS_BASE, gs0), 0);
    set_cr4(c4);
    CHECK_EQ(cr4() & CR4_FSGSBASE, 0);
    CHECK_EQ(rdfsbase_try(&v), -6);
    CHECK_EQ(rdmsr_ok(MSR_FS_BASE), fs0);
    CHECK_EQ(rdmsr_ok(MSR_GS_BASE), gs0);
    minios_set_trap_handler(6, NULL);
}

/* ---- VCPUOP_send_nmi ----------------------------------------------------- */

static volatile struct {
    unsigned long count, nested, rip;
    bool resend;
} nmi;

/* Another NMI sent from the handler waits until it returns (iret). */
static void nmi_handler(struct minios_trap_frame *f)
{
    unsigned long c = ++nmi.count;
    nmi.rip = f->rip;
    if (nmi.resend) {
        nmi.resend = false;
        CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_send_nmi, 0, NULL), 0);
        for (volatile int k = 0; k < 1000; k++)
            ;
        if (nmi.count != c)
            nmi.nested++;
    }
}

/* VCPUOP_send_nmi: no argument allowed, a vCPU of the caller's; the NMI
 * is delivered through the NMI callback (trap-table entry 2) on the way
 * out of the hypercall, not again until the handler's iret; with no
 * callback it is dropped. */
static void test_send_nmi(void)
{
    static int dummy;
    memset((void *)&nmi, 0, sizeof(nmi));
    CHECK_EQ(minios_set_trap_handler(2, nmi_handler), 0);
    /* minios's entry for vector 2 as the NMI callback (test_debug took
     * it away). */
    struct callback_register r = { .type = CALLBACKTYPE_nmi, .address = minios_trap_entry(2) };
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &r), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_send_nmi, 0, &dummy), -22);     /* -EINVAL */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_send_nmi, 4096, NULL), -2);     /* -ENOENT */
    CHECK_EQ(nmi.count, 0);

    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_send_nmi, 0, NULL), 0);
    CHECK_EQ(nmi.count, 1);
    if (nmi.rip < (unsigned long)hypercall_page ||
        nmi.rip >= (unsigned long)hypercall_page + 4096)
        test_fail("NMI taken at %#lx, expected in the hypercall page (right after the call)",
                  nmi.rip);

    nmi.resend = true;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_send_nmi, 0, NULL), 0);
    CHECK_EQ(nmi.count, 3);              /* the second one after the first's iret */
    CHECK_EQ(nmi.nested, 0);

    /* No NMI callback: dropped, not kept for later. */
    struct callback_unregister u = { .type = CALLBACKTYPE_nmi };
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_unregister, &u), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_send_nmi, 0, NULL), 0);
    CHECK_EQ(nmi.count, 3);
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &r), 0);
    HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    CHECK_EQ(nmi.count, 3);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_send_nmi, 0, NULL), 0);
    CHECK_EQ(nmi.count, 4);
    minios_set_trap_handler(2, NULL);
}

/* ---- XENVER_get_features ------------------------------------------------------- */

static void test_features(void)
{
    xen_feature_info_t fi = { .submap_idx = 0 };
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_get_features, &fi), 0);
    /* Linux needs both to run as a PV guest. */
    if (!(fi.submap & (1u << XENFEAT_mmu_pt_update_preserve_ad)))
        test_fail("get_features: no mmu_pt_update_preserve_ad");
    if (!(fi.submap & (1u << XENFEAT_gnttab_map_avail_bits)))
        test_fail("get_features: no gnttab_map_avail_bits");
}

static uint64_t tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* What one emulated instruction costs (TSC ticks, median-free: a mean
 * over 1000), printed for comparison with Xen; not checked. */
static void measure(void)
{
    uint64_t t0 = tsc();
    for (int i = 0; i < 1000; i++)
        (void)xen_cpuid(1, 0);
    uint64_t t1 = tsc();
    uint64_t v;
    for (int i = 0; i < 1000; i++)
        (void)rdmsr_try(MSR_EFER, &v);
    uint64_t t2 = tsc();
    for (int i = 0; i < 1000; i++)
        (void)native_cpuid(1, 0);
    uint64_t t3 = tsc();
    printf("xen-priv: ticks per forced CPUID %lu, per emulated RDMSR %lu, per native CPUID %lu\n",
           (unsigned long)((t1 - t0) / 1000), (unsigned long)((t2 - t1) / 1000),
           (unsigned long)((t3 - t2) / 1000));
}

int main(void)
{
    xen_extraversion_t ev;
    memset(ev, 0, sizeof(ev));
    HYPERVISOR_xen_version(XENVER_extraversion, ev);
    on_keel = strstr(ev, "keel") != NULL;
    dom0 = minios_start_info->flags & SIF_INITDOMAIN;
    printf("xen-priv: on %s as %s\n", on_keel ? "Keel" : "Xen", dom0 ? "dom0" : "a domU");
    struct leaf vend = xen_cpuid(0, 0);
    printf("xen-priv: vendor %.4s%.4s%.4s\n", (char *)&vend.b, (char *)&vend.d, (char *)&vend.c);
    if (!minios_traps_available()) {
        test_skip("the hypervisor refused minios's trap table");
        return test_finish();
    }
    minios_set_trap_handler(13, handler);
    /* The policy, for comparing Keel's with Xen's by eye (docs/abi.md
     * says where they differ). */
    static const uint32_t dump[][2] = { {0,0},{1,0},{2,0},{4,0},{6,0},{7,0},{7,1},{0xd,0},{0xd,1},
        {0x80000000,0},{0x80000001,0},{0x80000005,0},{0x80000006,0},{0x80000007,0},{0x80000008,0},
        {0x80000019,0},{0x8000001a,0},{0x80000021,0},{0x40000003,0},{0x40000003,1},{0x40000003,2},{0x40000005,0} };
    for (unsigned k = 0; k < sizeof(dump) / sizeof(dump[0]); k++) {
        struct leaf d = xen_cpuid(dump[k][0], dump[k][1]);
        printf("xen-priv: CPUID %08x.%u: %08x %08x %08x %08x\n", dump[k][0], dump[k][1], d.a, d.b, d.c, d.d);
    }
    test_cpuid();
    test_msrs();
    test_control_registers();
    test_io();
    test_int();
    test_debug();
    test_fetch_fault();
    test_xsave();
    test_send_nmi();
    test_fsgsbase();
    test_features();
    measure();
    minios_set_trap_handler(13, NULL);

    /* Last, as it leaves no way back: a guest with no #GP handler at all
     * reads an MSR the CPU has as 0 (Xen's "faking RDMSR"); a #GP here
     * would crash the domain, which the runner reports. */
    CHECK_EQ(HYPERVISOR_set_trap_table(NULL), 0);
    uint32_t flo = 0xdead, fhi = 0xbeef;
    __asm__ volatile("rdmsr" : "=a"(flo), "=d"(fhi) : "c"(MSR_LSTAR));
    CHECK_EQ(flo, 0);
    CHECK_EQ(fhi, 0);
    return test_finish();
}
