/*
 * What a 64-bit PV guest kernel may not do itself, done for it as Xen 4.17
 * does: the #GP path (software interrupts its trap table refuses, the
 * privileged instructions Xen emulates: RDMSR/WRMSR, MOV from/to control
 * and debug registers, CLTS, WBINVD, RDTSC/RDTSCP, CLI/STI with I/O
 * privilege, IN/OUT/INS/OUTS), the #UD path (CPUID behind the forced
 * emulation prefix "ud2; .ascii \"xen\"", with the PV CPUID policy), and
 * physdev_op's set_iopl and set_iobitmap.  docs/abi.md lists what is
 * covered and where Keel differs.
 *
 * Everything here reads the guest through the guest-access layer: the
 * instruction bytes at the guest's rip, its I/O bitmap, the buffers of
 * INS/OUTS.  A fetch that fails gives the guest the #PF Xen gives it
 * (error code 0, the first byte that could not be read); an operand the
 * guest may not use gives it the fault Xen gives (mostly #GP(0)).
 */
#include "lib.h"
#include "x86.h"
#include "domain.h"
#include "sched.h"
#include "hypercall.h"
#include "guest_access.h"
#include "time.h"
#include "mm.h"
#include "xsm.h"
#include "pci.h"
#include "hvm.h"
#include "flushtlb.h"
#include "pv.h"
#include <xen/physdev.h>
#include <xen/arch-x86/cpuid.h>
#include <xen/arch-x86/cpufeatureset.h>
#include "pv_featuremask.h"
#include "xstate.h"

#define X86_EFLAGS_TF     (1UL << 8)
#define X86_EFLAGS_DF     (1UL << 10)
#define X86_EFLAGS_RF     (1UL << 16)
#define X86_CR4_PAE       (1UL << 5)
#define X86_CR4_MCE       (1UL << 6)
#define DR6_BS            (1UL << 14)
#define DR6_DEFAULT       0xffff0ff0UL

#define MSR_IA32_TSC             0x00000010
#define MSR_IA32_FEATURE_CONTROL 0x0000003a
#define MSR_SPEC_CTRL            0x00000048
#define MSR_PRED_CMD             0x00000049
#define MSR_AMD_PATCHLEVEL       0x0000008b
#define MSR_INTEL_PLATFORM_INFO  0x000000ce
#define MSR_IA32_MPERF           0x000000e7
#define MSR_IA32_APERF           0x000000e8
#define MSR_ARCH_CAPABILITIES    0x0000010a
#define MSR_FLUSH_CMD            0x0000010b
#define MSR_MISC_FEATURES_ENABLES 0x00000140
#define MSR_IA32_PERF_STATUS     0x00000198
#define MSR_IA32_PERF_CTL        0x00000199
#define MSR_IA32_THERM_CONTROL   0x0000019a
#define MSR_IA32_THERM_STATUS    0x0000019c
#define MSR_IA32_MISC_ENABLE     0x000001a0
#define MSR_IA32_ENERGY_PERF_BIAS 0x000001b0
#define MSR_IA32_CR_PAT          0x00000277
#define MSR_IA32_PERF_CAPABILITIES 0x00000345
#define MSR_K8_HWCR              0xc0010015
#define MSR_AMD64_NB_CFG         0xc001001f
#define MSR_AMD64_DE_CFG         0xc0011029

/* MISC_ENABLE bits a PV guest sees changed (Xen's guest_misc_enable). */
#define MISC_ENABLE_PERF_AVAIL    (1UL << 7)
#define MISC_ENABLE_BTS_UNAVAIL   (1UL << 11)
#define MISC_ENABLE_PEBS_UNAVAIL  (1UL << 12)
#define MISC_ENABLE_MONITOR       (1UL << 18)
#define MISC_ENABLE_XTPR_DISABLE  (1UL << 23)

/* EFER bits a guest may see: SCE, LME, LMA, NXE, FFXSE (SVME hidden). */
#define EFER_VISIBLE  ((1UL << 0) | (1UL << 8) | (1UL << 10) | (1UL << 11) | (1UL << 14))

#define APIC_BASE_BSP     (1UL << 8)
#define APIC_BASE_ENABLE  (1UL << 11)
#define APIC_DEFAULT_BASE 0xfee00000UL

/* The PAT every CPU runs with (arch/x86_64/setup.c programs it): Xen's
 * layout, so that a PV guest's PTE cache bits mean what they mean on Xen:
 * WB, WT, UC-, UC, WC, WP, UC, UC. */
#define KEEL_PAT 0x0000050100070406UL

static bool canonical(unsigned long a)
{
    return a < 0x0000800000000000UL || a >= 0xFFFF800000000000UL;
}

/* Keel has no guest user mode yet: every guest instruction is the guest
 * kernel's.  Guest user mode changes this one place (cpl 3, and only the
 * trap-table entries of DPL 3 for int $n). */
static bool guest_kernel_mode(const struct vcpu *v)
{
    return !v->arch.pv.user_mode;
}

static unsigned long *gpr(struct cpu_user_regs *r, unsigned n)
{
    switch (n & 15) {
    case 0:  return &r->rax;
    case 1:  return &r->rcx;
    case 2:  return &r->rdx;
    case 3:  return &r->rbx;
    case 4:  return &r->rsp;
    case 5:  return &r->rbp;
    case 6:  return &r->rsi;
    case 7:  return &r->rdi;
    case 8:  return &r->r8;
    case 9:  return &r->r9;
    case 10: return &r->r10;
    case 11: return &r->r11;
    case 12: return &r->r12;
    case 13: return &r->r13;
    case 14: return &r->r14;
    default: return &r->r15;
    }
}

/* rdmsr that survives an MSR the CPU does not have (a #GP is fixed up). */
static bool rdmsr_safe(uint32_t msr, uint64_t *val)
{
    uint32_t lo = 0, hi = 0, fault;
    __asm__ volatile("movl $1, %2\n"
                     "1: rdmsr\n\t"
                     "movl $0, %2\n"
                     "2:\n\t"
                     ".pushsection .extable, \"a\"\n\t"
                     ".quad 1b, 2b\n\t"
                     ".popsection"
                     : "=a"(lo), "=d"(hi), "=&r"(fault) : "c"(msr));
    *val = ((uint64_t)hi << 32) | lo;
    return !fault;
}

/* ------------------------------------------------------------------ */
/* Instruction bytes, fetched one at a time through the guest-access layer. */

struct insn {
    unsigned long rip;           /* where the instruction starts */
    unsigned len;                /* bytes fetched so far */
    bool fault;                  /* a byte could not be read ... */
    unsigned long fault_addr;    /* ... this one */
    /* prefixes */
    bool opsz, adsz, rep, lock;
    int seg;                     /* -1, or 4 (fs) / 5 (gs) */
    uint8_t rex;
};

static bool fetch(struct insn *i, uint8_t *b)
{
    if (i->len >= 15)
        return false;            /* too long: the caller's #GP stands */
    unsigned long a = i->rip + i->len;
    if (copy_from_guest(b, a, 1)) {
        i->fault = true;
        i->fault_addr = a;
        return false;
    }
    i->len++;
    return true;
}

/* Legacy prefixes and REX; returns with the opcode byte in *op. */
static bool fetch_opcode(struct insn *i, uint8_t *op)
{
    i->seg = -1;
    for (;;) {
        if (!fetch(i, op))
            return false;
        switch (*op) {
        case 0x66: i->opsz = true; break;
        case 0x67: i->adsz = true; break;
        case 0xf2: case 0xf3: i->rep = true; break;
        case 0xf0: i->lock = true; break;
        case 0x2e: case 0x36: case 0x3e: case 0x26: i->seg = -1; break;
        case 0x64: i->seg = 4; break;
        case 0x65: i->seg = 5; break;
        default:
            if ((*op & 0xf0) == 0x40) {
                i->rex = *op;
                if (!fetch(i, op))
                    return false;
                if ((*op & 0xf0) == 0x40 || *op == 0x66 || *op == 0x67 ||
                    *op == 0xf2 || *op == 0xf3 || *op == 0xf0)
                    return false;   /* REX must come last: give up */
            }
            return true;
        }
        i->rex = 0;
    }
}

/* Xen's answer to an instruction it could not fetch: #PF, error code 0,
 * at the first byte it could not read. */
static void inject_fetch_fault(struct vcpu *v, const struct insn *i)
{
    pv_inject_exception(v, 14, 0, i->fault_addr);
}

/* The instruction is done: rip past it, RF clear, and the single-step trap
 * the guest asked for with TF (Xen's pv_emul_instruction_done). */
static void retire(struct vcpu *v, struct cpu_user_regs *r, unsigned long next)
{
    r->rip = next;
    r->rflags &= ~X86_EFLAGS_RF;
    if (r->rflags & X86_EFLAGS_TF) {
        v->arch.dr[6] = (v->arch.dr[6] ? v->arch.dr[6] : DR6_DEFAULT) | DR6_BS;
        pv_inject_exception(v, 1, 0, 0);
    }
}

/* ------------------------------------------------------------------ */
/* CPUID: the PV policy, as Xen 4.17 builds it for a domU. */

struct leaf { uint32_t a, b, c, d; };
enum { EAX, EBX, ECX, EDX };

/* Where each featureset word of <xen/arch-x86/cpufeatureset.h> lives. */
static const struct word_loc { uint32_t leaf, sub; uint8_t reg; bool valid; }
word_loc[PV_DEF_FEATUREMASK_WORDS] = {
    [0]  = { 0x00000001, 0, EDX, true },
    [1]  = { 0x00000001, 0, ECX, true },
    [2]  = { 0x80000001, 0, EDX, true },
    [3]  = { 0x80000001, 0, ECX, true },
    [4]  = { 0x0000000d, 1, EAX, true },
    [5]  = { 0x00000007, 0, EBX, true },
    [6]  = { 0x00000007, 0, ECX, true },
    [7]  = { 0x80000007, 0, EDX, true },
    [8]  = { 0x80000008, 0, EBX, true },
    [9]  = { 0x00000007, 0, EDX, true },
    [10] = { 0x00000007, 1, EAX, true },
    [11] = { 0x80000021, 0, EAX, true },
    [12] = { 0x00000007, 1, EBX, true },
    [13] = { 0x00000007, 2, EDX, true },
    [14] = { 0x00000007, 1, ECX, true },
    [15] = { 0x00000007, 1, EDX, true },
    [18] = { 0x80000021, 0, ECX, true },
};

static const uint32_t pv_def_mask[PV_DEF_FEATUREMASK_WORDS] = PV_DEF_FEATUREMASK;

/*
 * Features Xen gives a PV guest that Keel cannot: the speculation controls
 * whose MSRs Keel does not virtualise (SPEC_CTRL, PRED_CMD, FLUSH_CMD,
 * ARCH_CAPABILITIES).
 */
static const uint16_t keel_lacks[] = {
    XEN_X86_FEATURE_IBRSB, XEN_X86_FEATURE_STIBP, XEN_X86_FEATURE_SSBD,
    XEN_X86_FEATURE_L1D_FLUSH, XEN_X86_FEATURE_ARCH_CAPS, XEN_X86_FEATURE_CORE_CAPS,
    XEN_X86_FEATURE_IBPB, XEN_X86_FEATURE_IBRS, XEN_X86_FEATURE_AMD_STIBP,
    XEN_X86_FEATURE_AMD_SSBD, XEN_X86_FEATURE_VIRT_SSBD, XEN_X86_FEATURE_PSFD,
    XEN_X86_FEATURE_INTEL_PSFD, XEN_X86_FEATURE_IPRED_CTRL, XEN_X86_FEATURE_RRSBA_CTRL,
    XEN_X86_FEATURE_BHI_CTRL, XEN_X86_FEATURE_SBPB,
};

/* XSAVE and everything that needs it: hidden only on a host where Keel
 * does not run with XSAVE (xstate.h), as Xen's policy hides them there. */
static const uint16_t needs_xsave[] = {
    XEN_X86_FEATURE_XSAVE, XEN_X86_FEATURE_AVX,
    XEN_X86_FEATURE_FMA, XEN_X86_FEATURE_F16C, XEN_X86_FEATURE_XOP,
    XEN_X86_FEATURE_FMA4, XEN_X86_FEATURE_LWP,
    XEN_X86_FEATURE_XSAVEOPT, XEN_X86_FEATURE_XSAVEC, XEN_X86_FEATURE_XGETBV1,
    XEN_X86_FEATURE_XSAVES, XEN_X86_FEATURE_AVX2, XEN_X86_FEATURE_MPX,
    XEN_X86_FEATURE_AVX512F, XEN_X86_FEATURE_AVX512DQ, XEN_X86_FEATURE_AVX512_IFMA,
    XEN_X86_FEATURE_AVX512PF, XEN_X86_FEATURE_AVX512ER, XEN_X86_FEATURE_AVX512CD,
    XEN_X86_FEATURE_AVX512BW, XEN_X86_FEATURE_AVX512VL, XEN_X86_FEATURE_AVX512_VBMI,
    XEN_X86_FEATURE_PKU, XEN_X86_FEATURE_AVX512_VBMI2, XEN_X86_FEATURE_VAES,
    XEN_X86_FEATURE_VPCLMULQDQ, XEN_X86_FEATURE_AVX512_VNNI, XEN_X86_FEATURE_AVX512_BITALG,
    XEN_X86_FEATURE_AVX512_VPOPCNTDQ, XEN_X86_FEATURE_AVX512_4VNNIW,
    XEN_X86_FEATURE_AVX512_4FMAPS, XEN_X86_FEATURE_AVX512_VP2INTERSECT,
    XEN_X86_FEATURE_AVX512_FP16, XEN_X86_FEATURE_AVX_VNNI, XEN_X86_FEATURE_AVX512_BF16,
};

enum vendor { VENDOR_OTHER, VENDOR_INTEL, VENDOR_AMD };

/* The host's vendor and highest leaves, read once (every CPU agrees). */
static struct {
    bool known;
    enum vendor vendor;
    uint32_t max_basic, max_extd;
} host;

static void host_read(void)
{
    uint32_t b, c, d;
    cpuid(0, 0, &host.max_basic, &b, &c, &d);
    if (b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e)      /* GenuineIntel */
        host.vendor = VENDOR_INTEL;
    else if ((b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163) ||  /* AuthenticAMD */
             (b == 0x6f677948 && d == 0x6e65476e && c == 0x656e6975))    /* HygonGenuine */
        host.vendor = VENDOR_AMD;
    else
        host.vendor = VENDOR_OTHER;
    cpuid(0x80000000, 0, &host.max_extd, &b, &c, &d);
    if ((host.max_extd & 0xffff0000) != 0x80000000)
        host.max_extd = 0x80000000;
    host.known = true;
}

static enum vendor host_vendor(void)
{
    if (!host.known)
        host_read();
    return host.vendor;
}

static uint32_t *reg_of(struct leaf *l, unsigned reg)
{
    return reg == EAX ? &l->a : reg == EBX ? &l->b : reg == ECX ? &l->c : &l->d;
}

/* Xen's PV default featureset less what Keel lacks, made once, and the
 * XCR0 bits it allows (0: no XSAVE). */
static uint32_t pv_mask[PV_DEF_FEATUREMASK_WORDS];
static uint64_t pv_xcr0;
static unsigned long pv_cr4_mask;
static bool pv_mask_made;

/* A feature in the host's CPUID and in mask (pv_mask, or the words
 * make_pv_mask is making). */
static bool policy_has_in(const uint32_t *mask, unsigned feat)
{
    const struct word_loc *wl = &word_loc[feat / 32];
    struct leaf l;
    host_vendor();
    if (wl->leaf < 0x80000000 ? wl->leaf > host.max_basic : wl->leaf > host.max_extd)
        return false;
    cpuid(wl->leaf, wl->sub, &l.a, &l.b, &l.c, &l.d);
    return (*reg_of(&l, wl->reg) & mask[feat / 32]) >> (feat % 32) & 1;
}

static bool policy_has(unsigned feat)
{
    return policy_has_in(pv_mask, feat);
}

/* Made in a local copy first: CPUs that race here only ever store the
 * final words, so a reader never sees a half-made mask. */
static void make_pv_mask(void)
{
    uint32_t m[PV_DEF_FEATUREMASK_WORDS];
    for (unsigned w = 0; w < PV_DEF_FEATUREMASK_WORDS; w++)
        m[w] = pv_def_mask[w];
    for (unsigned k = 0; k < ARRAY_SIZE(keel_lacks); k++)
        if (keel_lacks[k] / 32 < PV_DEF_FEATUREMASK_WORDS)
            m[keel_lacks[k] / 32] &= ~(1u << (keel_lacks[k] % 32));
    for (unsigned k = 0; !xstate_on && k < ARRAY_SIZE(needs_xsave); k++)
        if (needs_xsave[k] / 32 < PV_DEF_FEATUREMASK_WORDS)
            m[needs_xsave[k] / 32] &= ~(1u << (needs_xsave[k] % 32));
    /* The XCR0 bits the policy allows, as Xen's recalculate_xstate: x87
     * and SSE with XSAVE, YMM with AVX, the three AVX-512 components with
     * AVX512F; MPX and PKRU are not a PV guest's (its policy has neither);
     * each only if the host has it. */
    uint64_t x = 0;
    if (policy_has_in(m, XEN_X86_FEATURE_XSAVE)) {
        x = XSTATE_FP_SSE;
        if (policy_has_in(m, XEN_X86_FEATURE_AVX))
            x |= XSTATE_YMM;
        if (policy_has_in(m, XEN_X86_FEATURE_AVX512F))
            x |= XSTATE_OPMASK | XSTATE_ZMM | XSTATE_HI_ZMM;
        x &= xstate_host_xcr0;
        /* The area is a page: leave out what would not fit (nothing does
         * today; AVX-512 ends at 2.7 KiB). */
        for (unsigned c = 2; c < 63; c++) {
            uint32_t off, size;
            xstate_component(c, &off, &size);
            if ((x >> c & 1) && off + size > XSTATE_AREA_SIZE)
                x &= ~(XSTATE_YMM | XSTATE_OPMASK | XSTATE_ZMM | XSTATE_HI_ZMM);
        }
    }
    for (unsigned w = 0; w < PV_DEF_FEATUREMASK_WORDS; w++)
        pv_mask[w] = m[w];
    pv_xcr0 = x;
    pv_cr4_mask = X86_CR4_TSD | X86_CR4_DE | (x ? X86_CR4_OSXSAVE : 0) |
                  (cpu_has_fsgsbase && policy_has_in(m, XEN_X86_FEATURE_FSGSBASE) ?
                   X86_CR4_FSGSBASE : 0);
    __atomic_store_n(&pv_mask_made, true, __ATOMIC_RELEASE);   /* the same words on every CPU */
}

static void pv_mask_ready(void)
{
    if (!__atomic_load_n(&pv_mask_made, __ATOMIC_ACQUIRE))
        make_pv_mask();
}

/* At boot, before any domain is built: the policy once, so that no
 * domain's build or first CPUID pays for it. */
void pv_policy_init(void)
{
    pv_mask_ready();
}

unsigned long pv_cr4_guest_mask(void)
{
    pv_mask_ready();
    return pv_cr4_mask;
}

/* The XCR0 bits a guest may set (0: the policy has no XSAVE). */
static uint64_t pv_xcr0_max(void)
{
    pv_mask_ready();
    return pv_xcr0;
}

/* Leaf 0xd as Xen's policy has it: the allowed components, their sizes
 * and offsets from the host; subleaf 0's EBX (and subleaf 1's with
 * XSAVEC) the hardware's for the XCR0 loaded, which is the vCPU's. */
static void xstate_leaf(uint32_t sub, struct leaf *l)
{
    uint64_t max = pv_xcr0_max();
    struct leaf h = *l;
    memset(l, 0, sizeof(*l));
    if (!max)
        return;
    if (sub == 0) {
        uint32_t end = 512 + 64;         /* the legacy area and the header */
        for (unsigned c = 2; c < 63; c++) {
            uint32_t off, size;
            xstate_component(c, &off, &size);
            if ((max >> c & 1) && off + size > end)
                end = off + size;
        }
        l->a = (uint32_t)max;
        l->b = h.b;
        l->c = end;
        l->d = (uint32_t)(max >> 32);
    } else if (sub == 1) {
        l->a = h.a;                      /* XSAVEOPT, XSAVEC, ...: masked below */
        if (policy_has(XEN_X86_FEATURE_XSAVEC) || policy_has(XEN_X86_FEATURE_XSAVES))
            l->b = h.b;
    } else if (sub < 63 && (max >> sub & 1)) {
        l->a = h.a;
        l->b = h.b;
        l->c = h.c & 2;                  /* 64-byte aligned when compacted */
    }
}

/* The feature words of the policy are the host's, masked by Xen's PV
 * default featureset and by what Keel lacks. */
static void mask_features(uint32_t leaf, uint32_t sub, struct leaf *l)
{
    pv_mask_ready();
    for (unsigned w = 0; w < PV_DEF_FEATUREMASK_WORDS; w++) {
        const struct word_loc *wl = &word_loc[w];
        if (!wl->valid || wl->leaf != leaf || wl->sub != sub)
            continue;
        *reg_of(l, wl->reg) &= pv_mask[w];
        if (w == XEN_X86_FEATURE_HYPERVISOR / 32)
            *reg_of(l, wl->reg) |= 1u << (XEN_X86_FEATURE_HYPERVISOR % 32);
    }
}

/* Xen's leaves 0x40000000-0x40000005 for a PV guest. */
static void hypervisor_leaf(struct vcpu *v, uint32_t idx, uint32_t sub, struct leaf *l)
{
    (void)v;
    switch (idx) {
    case 0:
        l->a = 0x40000000 + XEN_CPUID_MAX_NUM_LEAVES;
        l->b = XEN_CPUID_SIGNATURE_EBX;
        l->c = XEN_CPUID_SIGNATURE_ECX;
        l->d = XEN_CPUID_SIGNATURE_EDX;
        break;
    case 1:
        l->a = (4 << 16) | 17;           /* the version xen_version reports */
        break;
    case 2:
        l->a = 1;                        /* hypercall pages */
        l->b = 0x40000000;               /* MSR base */
        l->c = XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD;
        break;
    case 3: {                            /* time: native TSC, no offset */
        uint32_t a, b, c, d;
        cpuid(0x80000001, 0, &a, &b, &c, &d);
        if (sub == 0) {
            uint32_t pm;
            cpuid(0x80000007, 0, &a, &b, &c, &pm);
            l->a = ((pm >> 8) & 1u) << 1 |   /* a safe TSC: the host's is invariant */
                   ((d >> 27) & 1u) << 2;    /* RDTSCP */
            l->b = 0;                    /* tsc_mode default */
            l->c = (uint32_t)tsc_khz;
            l->d = 0;                    /* incarnation */
        } else if (sub == 2) {
            l->a = (uint32_t)tsc_khz;
        } else if (sub == 1) {
            const vcpu_time_info_t *t = &v->vcpu_info->time;
            l->c = t->tsc_to_system_mul;
            l->d = (uint32_t)(int32_t)t->tsc_shift;
        }
        break;
    }
    case 5:                              /* PV: machine address width */
        if (sub == 0) {
            unsigned bits = 0;
            while (bits < 64 && (max_pfn >> bits))
                bits++;
            l->b = bits + 12;
        }
        break;
    default:                             /* 4: HVM only */
        break;
    }
}

static void pv_cpuid(struct vcpu *v, uint32_t leaf, uint32_t sub, struct leaf *l)
{
    enum vendor vendor = host_vendor();
    uint32_t max_basic, max_extd, x;
    memset(l, 0, sizeof(*l));

    if (leaf >= 0x40000000 && leaf <= 0x400001ff) {
        if (leaf - 0x40000000 <= XEN_CPUID_MAX_NUM_LEAVES)
            hypervisor_leaf(v, leaf - 0x40000000, sub, l);
        return;
    }
    max_basic = MIN(host.max_basic, 0xdu);
    max_extd = MIN(host.max_extd, vendor == VENDOR_AMD ? 0x80000021u : 0x80000008u);
    if (leaf < 0x80000000 ? leaf > max_basic : leaf > max_extd || leaf > 0x8000ffff)
        return;

    cpuid(leaf, sub, &l->a, &l->b, &l->c, &l->d);
    switch (leaf) {
    case 0:
        l->a = max_basic;
        break;
    case 1:
        l->a &= 0x0fff0fff;              /* processor type hidden */
        l->b &= 0x00ffffff;              /* APIC ID: 0 */
        if (vendor != VENDOR_INTEL)      /* no SYSENTER in long mode there */
            l->d &= ~(1u << (XEN_X86_FEATURE_SEP % 32));
        break;
    case 2: case 4:
        if (vendor == VENDOR_AMD)
            memset(l, 0, sizeof(*l));
        break;
    case 7: {
        uint32_t max_sub;
        cpuid(7, 0, &max_sub, &x, &x, &x);
        if (sub > max_sub)
            memset(l, 0, sizeof(*l));
        break;
    }
    case 3: case 5: case 6: case 8: case 9: case 0xa: case 0xb: case 0xc:
        memset(l, 0, sizeof(*l));
        break;
    case 0xd:
        xstate_leaf(sub, l);
        break;
    case 0x80000000:
        l->a = max_extd;
        if (vendor != VENDOR_AMD)
            l->b = l->c = l->d = 0;
        break;
    case 0x80000001:
        if (vendor != VENDOR_AMD)
            l->a = l->b = 0;
        else
            l->b &= 0xff00ffff;
        break;
    case 0x80000005:
        if (vendor != VENDOR_AMD)
            memset(l, 0, sizeof(*l));
        break;
    case 0x80000007:
        l->a = l->b = l->c = 0;
        break;
    case 0x80000008:
        l->a &= 0x000000ff;              /* guest physical width hidden, */
        l->a |= 48 << 8;                 /* 4-level paging only */
        l->c = vendor == VENDOR_AMD ? l->c & 0x0003f0ff : 0;
        l->d = 0;
        break;
    default:
        if (leaf >= 0x80000009 && leaf != 0x80000019 && leaf != 0x8000001a &&
            leaf != 0x80000021)
            memset(l, 0, sizeof(*l));
        break;
    }
    mask_features(leaf, sub, l);
    /* OSXSAVE (not in the policy itself): the guest's CR4.OSXSAVE; and,
     * as Xen keeps for old Linux kernels, always to the guest kernel when
     * XSAVE is offered (Xen's own CR4.OSXSAVE shows through). */
    if (leaf == 1 && v->domain->arch.type == GUEST_PV &&
        ((v->arch.pv.cr4 & X86_CR4_OSXSAVE) || (pv_xcr0_max() && guest_kernel_mode(v))))
        l->c |= 1u << (XEN_X86_FEATURE_OSXSAVE % 32);
    if (leaf == 0x80000001 && vendor == VENDOR_AMD) {
        /* AMD repeats leaf 1's common features here (FPU..PSE36, MMX,
         * FXSR): as Xen's policy, the masked leaf 1 values. */
        struct leaf l1;
        pv_cpuid(v, 1, 0, &l1);
        l->d |= l1.d & 0x0183f3ffu;
    }
}

/*
 * The policy for an HVM/PVH vCPU (hv/hvm/hvm.c): the same object as PV's
 * (the host's leaves masked by Xen's PV default featureset, Xen's leaves
 * 0x40000000.. with "XenVMMXenVMM" and the hypercall MSR 0x40000000), so
 * that both kinds of guest see one documented set (docs/hvm.md); OSXSAVE
 * is the guest's own CR4.OSXSAVE, which it sets in its VMCB.
 */
void guest_cpuid(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    struct leaf l;
    pv_cpuid(v, leaf, sub, &l);
    if (v->domain->arch.type == GUEST_PVH && leaf == 1 &&
        (hvm_guest_cr4(v) & X86_CR4_OSXSAVE))
        l.c |= 1u << (XEN_X86_FEATURE_OSXSAVE % 32);
    out[0] = l.a;
    out[1] = l.b;
    out[2] = l.c;
    out[3] = l.d;
    if (v->domain->arch.type == GUEST_PVH)
        hvm_cpuid_adjust(v, leaf, sub, out);
}

/* #UD: "ud2; .ascii \"xen\"; cpuid" is emulated; anything else is not ours. */
bool pv_emulate_ud(struct vcpu *v, struct cpu_user_regs *r)
{
    static const uint8_t sig[7] = { 0x0f, 0x0b, 'x', 'e', 'n', 0x0f, 0xa2 };
    struct insn i = { .rip = r->rip };
    uint8_t b[7];

    /* The common case in one copy: the signature and CPUID both there. */
    if (!copy_from_guest(b, r->rip, sizeof(b))) {
        if (memcmp(b, sig, sizeof(b)))
            return false;
        goto emulate;
    }
    /* As Xen: the 5-byte signature is read whole, then the 2-byte
     * instruction; an unreadable byte in either is the guest's #PF. */
    for (unsigned k = 0; k < 7; k++) {
        if (!fetch(&i, &b[k])) {
            inject_fetch_fault(v, &i);
            return true;
        }
        if ((k == 4 && memcmp(b, sig, 5)) || (k == 6 && memcmp(b + 5, sig + 5, 2)))
            return false;
    }
emulate:;
    struct leaf l;
    pv_cpuid(v, (uint32_t)r->rax, (uint32_t)r->rcx, &l);
    r->rax = l.a;
    r->rbx = l.b;
    r->rcx = l.c;
    r->rdx = l.d;
    retire(v, r, r->rip + 7);
    return true;
}

/* ------------------------------------------------------------------ */
/* MSRs: Xen's read_msr/write_msr and guest_rdmsr/guest_wrmsr for a PV
 * domU.  Returns false for #GP(0). */

static bool in_range(uint32_t m, uint32_t lo, uint32_t hi)
{
    return m >= lo && m <= hi;
}

/* Performance counters: with Xen's vPMU off (its default) reads are 0 and
 * writes ignored, for the vendor's own counter MSRs. */
static bool pmu_msr(uint32_t m, enum vendor vendor)
{
    if (vendor == VENDOR_INTEL)
        return in_range(m, 0xc1, 0xc8) || in_range(m, 0x186, 0x189) ||
               in_range(m, 0x309, 0x30b) || in_range(m, 0x38d, 0x390);
    if (vendor == VENDOR_AMD)
        return in_range(m, 0xc0010000, 0xc0010007) || in_range(m, 0xc0010200, 0xc001020b);
    return false;
}

/* AMD P-state and FID/VID MSRs: 0 and ignored for a domain that is not
 * the cpufreq controller (Keel has none). */
static bool amd_pstate_msr(uint32_t m)
{
    return m == 0xc0010041 || m == 0xc0010042 || in_range(m, 0xc0010061, 0xc001006b);
}

static bool has_feature(uint32_t leaf, uint32_t sub, unsigned reg, unsigned bit)
{
    struct leaf l;
    pv_cpuid(current_vcpu(), leaf, sub, &l);
    return (*reg_of(&l, reg) >> bit) & 1;
}

static uint64_t guest_efer(void)
{
    return rdmsr(MSR_EFER) & EFER_VISIBLE;
}

static uint64_t guest_misc_enable(uint64_t v)
{
    v &= ~(MISC_ENABLE_PERF_AVAIL | MISC_ENABLE_MONITOR);
    return v | MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL | MISC_ENABLE_XTPR_DISABLE;
}

/* ------------------------------------------------------------------ */
/* Xen's vMCE for a PV guest: MCG_CAP with two banks (and, on Intel, SER,
 * TES and CMCI; no MCG_CTL, no LMCE), MCG_STATUS the vCPU's, MCG_CTL 0,
 * MCG_EXT_CTL #GP; bank 0 and 1: MCi_CTL all ones (writes ignored),
 * STATUS/ADDR/MISC the vCPU's, 0 at first, only 0 written (else #GP),
 * MCi_CTL2 the vCPU's on Intel; the other bank MSRs of Xen's ranges read
 * 0 and ignore writes; the P5 MSRs 0 and 1 read bank 1's ADDR and STATUS
 * on Intel (0 elsewhere) and #GP on write.  Keel never raises a guest
 * machine check (nor does Xen without a host one).  Returns 1 if m is
 * one of these MSRs, -1 for #GP, 0 if not one of them. */

#define MSR_MCG_CAP      0x179
#define MSR_MCG_STATUS   0x17a
#define MSR_MCG_CTL      0x17b
#define MSR_MCG_EXT_CTL  0x4d0
#define MSR_MC0_CTL2     0x280
#define MSR_MC0_CTL      0x400
#define GUEST_MC_BANKS   2

static bool vmce_msr(uint32_t m)
{
    return in_range(m, MSR_MCG_CAP, MSR_MCG_CTL) || in_range(m, 0x280, 0x29f) ||
           in_range(m, 0x400, 0x47f) || m == MSR_MCG_EXT_CTL;
}

static int vmce_rdmsr(struct vcpu *v, uint32_t m, uint64_t *val, enum vendor vendor)
{
    struct pv_vcpu *p = &v->arch.pv;
    *val = 0;
    if (m == 0 || m == 1) {              /* P5_MC_ADDR, P5_MC_TYPE */
        if (vendor == VENDOR_INTEL)
            *val = m ? p->mc_bank[1].status : p->mc_bank[1].addr;
        return 1;
    }
    if (!vmce_msr(m))
        return 0;
    switch (m) {
    case MSR_MCG_CAP:
        *val = GUEST_MC_BANKS |
               (vendor == VENDOR_INTEL ? (1UL << 24) | (1UL << 11) | (1UL << 10) : 0);
        return 1;
    case MSR_MCG_STATUS:
        *val = p->mcg_status;
        return 1;
    case MSR_MCG_EXT_CTL:                /* no LMCE */
        return -1;
    }
    if (m >= MSR_MC0_CTL && m < MSR_MC0_CTL + 4 * GUEST_MC_BANKS) {
        unsigned b = (m - MSR_MC0_CTL) / 4;
        switch (m & 3) {
        case 0: *val = ~0UL; break;
        case 1: *val = p->mc_bank[b].status; break;
        case 2: *val = p->mc_bank[b].addr; break;
        default: *val = p->mc_bank[b].misc; break;
        }
    } else if (vendor == VENDOR_INTEL && m >= MSR_MC0_CTL2 && m < MSR_MC0_CTL2 + GUEST_MC_BANKS) {
        *val = p->mc_bank[m - MSR_MC0_CTL2].ctl2;
    }
    return 1;                            /* MCG_CTL and the rest: 0 */
}

static int vmce_wrmsr(struct vcpu *v, uint32_t m, uint64_t val, enum vendor vendor)
{
    struct pv_vcpu *p = &v->arch.pv;
    if (!vmce_msr(m))
        return 0;
    switch (m) {
    case MSR_MCG_STATUS:
        p->mcg_status = val;
        return 1;
    case MSR_MCG_CAP:                    /* read-only: ignored */
    case MSR_MCG_CTL:
        return 1;
    case MSR_MCG_EXT_CTL:
        return -1;
    }
    if (m >= MSR_MC0_CTL && m < MSR_MC0_CTL + 4 * GUEST_MC_BANKS) {
        unsigned b = (m - MSR_MC0_CTL) / 4;
        if ((m & 3) == 0)
            return 1;                    /* MCi_CTL stays all ones */
        if (val)
            return -1;
        if ((m & 3) == 1)
            p->mc_bank[b].status = 0;
        else if ((m & 3) == 2)
            p->mc_bank[b].addr = 0;
        else
            p->mc_bank[b].misc = 0;
    } else if (vendor == VENDOR_INTEL && m >= MSR_MC0_CTL2 && m < MSR_MC0_CTL2 + GUEST_MC_BANKS) {
        p->mc_bank[m - MSR_MC0_CTL2].ctl2 = val;
    }
    return 1;
}

static bool tsc_aux_offered(void)
{
    return has_feature(0x80000001, 0, EDX, 27) || has_feature(7, 0, ECX, 22);
}

static bool read_msr(struct vcpu *v, uint32_t m, uint64_t *val)
{
    enum vendor vendor = host_vendor();
    uint64_t tmp;
    *val = 0;
    switch (m) {
    case MSR_FS_BASE:
        pv_bases_sync(v);
        *val = v->arch.pv.fs_base;
        return true;
    case MSR_GS_BASE:
        pv_bases_sync(v);
        *val = v->arch.pv.gs_base_kernel;
        return true;
    case MSR_KERNEL_GS_BASE:             /* the shadow: the user GS base */
        pv_bases_sync(v);
        *val = v->arch.pv.gs_base_user;
        return true;
    case MSR_EFER:
        *val = guest_efer();
        return true;
    case MSR_APIC_BASE:
        *val = APIC_BASE_ENABLE | APIC_DEFAULT_BASE | (v->id == 0 ? APIC_BASE_BSP : 0);
        return true;
    case MSR_IA32_TSC:
        *val = rdtsc();
        return true;
    case MSR_IA32_CR_PAT:
        *val = KEEL_PAT;
        return true;
    case MSR_IA32_MISC_ENABLE:
        if (!rdmsr_safe(m, val))
            return false;
        *val = guest_misc_enable(*val);
        return true;
    case MSR_IA32_PERF_CAPABILITIES:
    case MSR_INTEL_PLATFORM_INFO:        /* no CPUID faulting offered */
    case MSR_MISC_FEATURES_ENABLES:
        return true;
    case MSR_IA32_FEATURE_CONTROL:
        if (vendor != VENDOR_INTEL)
            return false;
        *val = 1;                        /* locked, nothing enabled */
        return true;
    case MSR_IA32_PERF_STATUS:
    case MSR_IA32_PERF_CTL:
    case MSR_IA32_THERM_STATUS:
        return vendor == VENDOR_INTEL;
    case MSR_AMD_PATCHLEVEL:
        return vendor != VENDOR_OTHER && rdmsr_safe(m, val);
    case MSR_TSC_AUX:                    /* #GP without RDTSCP and RDPID */
        if (!tsc_aux_offered())
            return false;
        *val = v->arch.pv.tsc_aux;
        return true;
    case MSR_K8_HWCR:
        return vendor == VENDOR_AMD;
    case MSR_AMD64_NB_CFG:
        return true;                     /* not the hardware domain: 0 */
    case 0x40000000:                     /* Xen's hypercall-page MSR: reads 0 */
        return true;
    case MSR_AMD64_DE_CFG:               /* LFENCE serialising, if it is */
        if (vendor != VENDOR_AMD)
            return false;
        *val = rdmsr_safe(m, &tmp) ? tmp & (1u << 1) : 0;
        return true;
    default:
        if (pmu_msr(m, vendor) || (vendor == VENDOR_AMD && amd_pstate_msr(m)))
            return true;
        int rc = vmce_rdmsr(v, m, val, vendor);
        if (rc)
            return rc > 0;
        break;
    }
    /* Xen fakes a read of an MSR the hardware has as 0 for a guest with no
     * #GP handler (outside its own 0x4000xxxx range). */
    if (!v->arch.pv.trap_ctxt[13].address && (m >> 16) != 0x4000 && rdmsr_safe(m, &tmp)) {
        static unsigned said;            /* a guest must not flood the console */
        if (said < 16) {
            said++;
            printk("d%u: faking RDMSR %#x (no #GP handler)\n", v->domain->id, m);
        }
        *val = 0;
        return true;
    }
    return false;
}

static bool write_msr(struct vcpu *v, uint32_t m, uint64_t val)
{
    enum vendor vendor = host_vendor();
    uint64_t tmp;
    switch (m) {
    case MSR_FS_BASE:
        if (!canonical(val))
            return false;
        v->arch.pv.fs_base = val;
        wrmsr(MSR_FS_BASE, val);
        return true;
    case MSR_GS_BASE:                    /* the kernel's, live after swapgs */
        if (!canonical(val))
            return false;
        v->arch.pv.gs_base_kernel = val;
        wrmsr(MSR_KERNEL_GS_BASE, val);
        return true;
    case MSR_KERNEL_GS_BASE:
        if (!canonical(val))
            return false;
        v->arch.pv.gs_base_user = val;
        return true;
    case MSR_EFER:                       /* only the value it has */
        return val == guest_efer();
    case MSR_TSC_AUX:                    /* the vCPU's, 32 bits, loaded now */
        if (!tsc_aux_offered() || val >> 32)
            return false;
        v->arch.pv.tsc_aux = (uint32_t)val;
        pv_extra_note(v);
        pv_switch_extra(v, this_cpu());  /* into the CPU now */
        return true;
    case MSR_IA32_MISC_ENABLE:           /* a change is dropped, not refused */
        return rdmsr_safe(m, &tmp);
    case MSR_MISC_FEATURES_ENABLES:      /* no CPUID faulting: only 0 */
        return val == 0;
    case MSR_AMD64_NB_CFG:
        return true;
    case MSR_K8_HWCR:
        return vendor == VENDOR_AMD;
    case 0x40000000: {                   /* Xen's: write the hypercall page */
        uint64_t mfn = val >> 12;
        if ((val & 0xfff) || !get_page(mfn, v->domain))
            return false;
        if (get_page_type(mfn, PGT_WRITABLE, v->domain)) {
            put_page(mfn);               /* a page table, or not writable */
            return false;
        }
        hypercall_page_fill(pfn_to_virt(mfn));
        put_page_type(mfn);
        put_page(mfn);
        return true;
    }
    case MSR_IA32_MPERF:
    case MSR_IA32_APERF:
        return vendor != VENDOR_OTHER;
    case MSR_IA32_THERM_CONTROL:
    case MSR_IA32_ENERGY_PERF_BIAS:
        return vendor == VENDOR_INTEL;
    default: {
        int rc = vmce_wrmsr(v, m, val, vendor);
        if (rc)
            return rc > 0;
        return pmu_msr(m, vendor) || (vendor == VENDOR_AMD && amd_pstate_msr(m));
    }
    }
}

/* ------------------------------------------------------------------ */
/* I/O ports. */

static bool iopl_ok(const struct vcpu *v)
{
    unsigned cpl = guest_kernel_mode(v) ?
        ((v->domain->vm_assist & (1UL << VMASST_TYPE_architectural_iopl)) ? 0 : 1) : 3;
    return cpl <= v->arch.pv.iopl;
}

/* Xen's guest_io_okay: the vCPU's I/O privilege, else its I/O bitmap (a
 * byte it cannot read counts as all ports refused). */
static bool guest_io_okay(struct vcpu *v, unsigned port, unsigned bytes)
{
    if (iopl_ok(v))
        return true;
    if (port + bytes > v->arch.pv.iobmp_limit)
        return false;
    uint8_t x[2] = { 0xff, 0xff };
    if (!copy_from_guest(&x[0], v->arch.pv.iobmp + (port >> 3), 1))
        if (copy_from_guest(&x[1], v->arch.pv.iobmp + (port >> 3) + 1, 1))
            x[1] = 0xff;
    unsigned mask = x[0] | (x[1] << 8);
    return (mask & (((1u << bytes) - 1) << (port & 7))) == 0;
}

static bool rtc_port(unsigned port, unsigned bytes)
{
    return port <= 0x71 && port + bytes > 0x70;
}

/* The administrator's grant (DOMCTL_ioport_permission): never the PCI
 * address register as a dword, never the RTC. */
static bool admin_io_okay(struct domain *d, unsigned port, unsigned bytes)
{
    if (port == 0xcf8 && bytes == 4)
        return false;
    if (rtc_port(port, bytes))
        return false;
    return xsm_io_allowed(d, XSM_IO_PORT, port, port + bytes - 1);
}

static uint32_t hw_in(unsigned port, unsigned bytes)
{
    uint32_t v;
    if (bytes == 1) {
        uint8_t b;
        __asm__ volatile("inb %w1, %0" : "=a"(b) : "Nd"(port));
        v = b;
    } else if (bytes == 2) {
        uint16_t w;
        __asm__ volatile("inw %w1, %0" : "=a"(w) : "Nd"(port));
        v = w;
    } else {
        __asm__ volatile("inl %w1, %0" : "=a"(v) : "Nd"(port));
    }
    return v;
}

static void hw_out(unsigned port, unsigned bytes, uint32_t v)
{
    if (bytes == 1)
        __asm__ volatile("outb %b0, %w1" :: "a"(v), "Nd"(port));
    else if (bytes == 2)
        __asm__ volatile("outw %w0, %w1" :: "a"(v), "Nd"(port));
    else
        __asm__ volatile("outl %0, %w1" :: "a"(v), "Nd"(port));
}

/* The RTC as Xen lets a PV guest see it: every domain latches an index
 * with port 0x70 and reads it back there; the data port goes to the CMOS
 * (at the latched index, NMI-disable bit clear) only for a domain granted
 * both ports, else reads all ones and drops writes. */
static uint32_t rtc_read(struct domain *d, unsigned port)
{
    if (port == 0x70)
        return d->arch.pv.cmos_idx;
    if (!xsm_io_allowed(d, XSM_IO_PORT, 0x70, 0x71))
        return ~0u;
    outb(0x70, d->arch.pv.cmos_idx & 0x7f);
    return inb(0x71);
}

static void rtc_write(struct domain *d, unsigned port, uint8_t val)
{
    if (port == 0x70) {
        d->arch.pv.cmos_idx = val;
    } else if (xsm_io_allowed(d, XSM_IO_PORT, 0x70, 0x71)) {
        outb(0x70, d->arch.pv.cmos_idx & 0x7f);
        outb(0x71, val);
    }
}

/* Xen's guest_io_read/guest_io_write: a whole access the domain was
 * granted goes to the port; otherwise port by port (a 16-bit pair where
 * both are granted), reads of what it may not touch all ones, writes to
 * it dropped.  The PCI address register as a dword is latched per domain
 * and reads back; the data ports reach the configuration space of the
 * domain's own PCI devices only, filtered (hv/arch/x86_64/pci.c). */
static uint32_t io_read(struct domain *d, unsigned port, unsigned bytes)
{
    if (admin_io_okay(d, port, bytes))
        return hw_in(port, bytes);
    uint32_t data = 0;
    unsigned shift = 0;
    while (bytes) {
        unsigned size = 1;
        uint32_t sub = ~0u;
        port &= 0xffff;
        if (port == 0x70 || port == 0x71) {
            sub = rtc_read(d, port);
        } else if (port == 0xcf8 && bytes == 4) {
            return d->arch.pv.pci_cf8;
        } else if ((port & 0xfffc) == 0xcfc) {
            size = MIN(bytes, 4 - (port & 3));
            if (size == 3)
                size = 2;
            sub = pci_guest_cfg_read(d, d->arch.pv.pci_cf8, port & 3, size);
        } else if (xsm_io_allowed(d, XSM_IO_PORT, port, port)) {
            if (bytes > 1 && !(port & 1) && xsm_io_allowed(d, XSM_IO_PORT, port, port + 1)) {
                sub = hw_in(port, 2);
                size = 2;
            } else {
                sub = hw_in(port, 1);
            }
        }
        if (size == 4)
            return sub;
        data |= (sub & ((1u << (size * 8)) - 1)) << shift;
        shift += size * 8;
        port += size;
        bytes -= size;
    }
    return data;
}

static void io_write(struct domain *d, unsigned port, unsigned bytes, uint32_t data)
{
    if (admin_io_okay(d, port, bytes)) {
        hw_out(port, bytes, data);
        return;
    }
    while (bytes) {
        unsigned size = 1;
        port &= 0xffff;
        if (port == 0x70 || port == 0x71) {
            rtc_write(d, port, (uint8_t)data);
        } else if (port == 0xcf8 && bytes == 4) {
            d->arch.pv.pci_cf8 = data;
            return;
        } else if ((port & 0xfffc) == 0xcfc) {
            size = MIN(bytes, 4 - (port & 3));
            if (size == 3)
                size = 2;
            pci_guest_cfg_write(d, d->arch.pv.pci_cf8, port & 3, size,
                                size == 4 ? data : data & ((1u << (size * 8)) - 1));
        } else if (xsm_io_allowed(d, XSM_IO_PORT, port, port)) {
            if (bytes > 1 && !(port & 1) && xsm_io_allowed(d, XSM_IO_PORT, port, port + 1))
                size = 2;
            hw_out(port, size, data);
        }
        port += size;
        bytes -= size;
        data = size < 4 ? data >> (size * 8) : 0;
    }
}

/* The first byte of [a, a+n) the guest cannot access (for the #PF). */
static unsigned long first_bad_byte(unsigned long a, unsigned n, bool write)
{
    for (unsigned k = 0; k < n; k++) {
        uint8_t b;
        if (copy_from_guest(&b, a + k, 1) || (write && copy_to_guest(a + k, &b, 1)))
            return a + k;
    }
    return a;
}

/* At most this many string I/O elements per trip into the hypervisor; the
 * rest is done when the guest re-executes the instruction. */
#define REP_BATCH 256

/* INS/OUTS: false if the guest may not use the port (#GP(0)). */
static bool string_io(struct vcpu *v, struct cpu_user_regs *r, struct insn *i,
                      uint8_t op, unsigned bytes)
{
    bool in = op <= 0x6d;
    unsigned port = (uint16_t)r->rdx;
    unsigned long count = i->rep ? (i->adsz ? (uint32_t)r->rcx : r->rcx) : 1;
    unsigned long *idx = in ? &r->rdi : &r->rsi;
    unsigned long base = 0;

    if (!guest_io_okay(v, port, bytes))
        return false;
    if (!in && i->seg >= 0)
        pv_bases_sync(v);
    if (!in && i->seg == 4)
        base = v->arch.pv.fs_base;
    else if (!in && i->seg == 5)
        base = v->arch.pv.gs_base_kernel;

    unsigned long done = 0;
    while (done < count && done < REP_BATCH) {
        unsigned long off = i->adsz ? (uint32_t)*idx : *idx;
        unsigned long a = i->adsz ? (uint32_t)(base + off) : base + off;
        if (!guest_range_ok(a, 1)) {     /* as Xen: only where it starts */
            pv_inject_exception(v, 13, 0, 0);
            goto partial;
        }
        uint32_t data = 0;
        if (in) {
            data = io_read(v->domain, port, bytes);
            if (copy_to_guest(a, &data, bytes)) {
                pv_inject_exception(v, 14, PFEC_W, first_bad_byte(a, bytes, true));
                goto partial;
            }
        } else {
            if (copy_from_guest(&data, a, bytes)) {
                pv_inject_exception(v, 14, 0, first_bad_byte(a, bytes, false));
                goto partial;
            }
            io_write(v->domain, port, bytes, data);
        }
        off += (r->rflags & X86_EFLAGS_DF) ? -(unsigned long)bytes : bytes;
        *idx = i->adsz ? (uint32_t)off : off;
        done++;
    }
    if (i->rep) {
        unsigned long left = count - done;
        r->rcx = i->adsz ? (uint32_t)left : left;
        if (left) {
            if (sched_work_pending())    /* let others in; the guest comes back */
                this_cpu()->need_resched = true;
            return true;                 /* rip stays: the rest next time */
        }
    }
    retire(v, r, i->rip + i->len);
    return true;
partial:
    if (i->rep)
        r->rcx = i->adsz ? (uint32_t)(count - done) : count - done;
    return true;
}

/* ------------------------------------------------------------------ */
/* #GP. */

/* int $n through a vector the IDT keeps at DPL 0: allowed if the guest's
 * trap table lets this mode enter n, else #GP with n's IDT error code. */
static bool software_interrupt(struct vcpu *v, struct cpu_user_regs *r)
{
    struct insn i = { .rip = r->rip };
    uint8_t op, n;
    if (!fetch_opcode(&i, &op) || op != 0xcd || !fetch(&i, &n))
        return false;                    /* not an int $n we can read: as raised */
    const struct trap_info *t = &v->arch.pv.trap_ctxt[n];
    unsigned need = guest_kernel_mode(v) ? 1 : 3;
    if (t->address && TI_GET_DPL(t) >= need) {
        r->rip += i.len;
        pv_inject_softint(v, n);
        return true;
    }
    pv_inject_exception(v, 13, (uint32_t)n * 8 + 2, 0);
    return true;
}

static void read_cr(struct vcpu *v, unsigned cr, unsigned long *val)
{
    switch (cr) {
    case 0:
        *val = (read_cr0() & ~X86_CR0_TS) | (v->arch.pv.fpu_ts ? X86_CR0_TS : 0);
        break;
    case 2:
        *val = v->arch.pv.cr2;
        break;
    case 3:                              /* not translated: gfn = mfn */
        *val = v->arch.pv.cr3 ? v->arch.pv.cr3 : v->domain->arch.pv.cr3;
        break;
    default:                             /* 4: the guest's bits and Keel's visible ones */
        *val = v->arch.pv.cr4 |
               (read_cr4() & (X86_CR4_PAE | X86_CR4_MCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT));
        break;
    }
}

/* MOV to CR: CR0 may change TS only (fpu_taskswitch), CR2 is the guest's
 * (vcpu_info too), CR3 is a new base (NEW_BASEPTR's checks), CR4 keeps
 * the bits a PV guest may set that Keel's policy offers (TSD, DE,
 * OSXSAVE with XSAVE, FSGSBASE with FSGSBASE) and drops the rest without
 * a fault, as Xen's pv_fixup_guest_cr4.  OSXSAVE is virtual: the
 * hardware's is always set with XSAVE (as on Xen), the guest's gates
 * XSETBV; FSGSBASE is loaded into the CPU's CR4 (pv.h), as Xen's
 * pv_make_cr4 does.  TSD is recorded, not loaded: the kernel's own
 * RDTSC gives the same value trapped or not, and there is no guest user
 * mode yet for it to refuse. */
static bool write_cr(struct vcpu *v, unsigned cr, unsigned long val)
{
    switch (cr) {
    case 0:
        if ((val ^ read_cr0()) & ~X86_CR0_TS)
            return false;
        do_fpu_taskswitch(!!(val & X86_CR0_TS), 0, 0, 0, 0);
        return true;
    case 2:
        v->arch.pv.cr2 = val;
        v->vcpu_info->arch.cr2 = val;
        return true;
    case 4:
        pv_bases_sync(v);                /* before FSGSBASE may go */
        v->arch.pv.cr4 = val & pv_cr4_guest_mask();
        pv_extra_note(v);
        pv_switch_extra(v, this_cpu());  /* the CPU's CR4.FSGSBASE now */
        return true;
    case 3:                              /* as MMUEXT_NEW_BASEPTR */
        if (pv_set_base(v, val >> 12))
            return false;
        switch_cr3(v->arch.pv.cr3);
        return true;
    default:
        return false;
    }
}

static bool read_dr(struct vcpu *v, unsigned dr, unsigned long *val)
{
    if (dr == 4 || dr == 5)
        dr += 2;                         /* CR4.DE clear: aliases of 6, 7 */
    *val = v->arch.dr[dr];
    return true;
}

/* Xen's valid_xcr0: x87 always; YMM needs SSE; the three AVX-512
 * components all or none, and with YMM; MPX's two together. */
static bool valid_xcr0(uint64_t x)
{
    uint64_t avx512 = XSTATE_OPMASK | XSTATE_ZMM | XSTATE_HI_ZMM;
    if (!(x & XSTATE_FP))
        return false;
    if ((x & XSTATE_YMM) && !(x & XSTATE_SSE))
        return false;
    if ((x & avx512) && (!(x & XSTATE_YMM) || (x & avx512) != avx512))
        return false;
    if (!(x & XSTATE_BNDREGS) != !(x & XSTATE_BNDCSR))
        return false;
    return true;
}

/* XSETBV (0f 01 d1), as Xen emulates it: #UD with a 66/f2/f3 prefix or
 * the guest's CR4.OSXSAVE clear; #GP(0) from user mode, for an XCR other
 * than 0, or for an XCR0 the policy does not allow or that is not valid.
 * The XCR0 is the vCPU's from now on (loaded here and at every switch-in,
 * arch_switch.h).  False if the instruction is not XSETBV (i has fetched
 * its ModRM byte then). */
static bool xsetbv_op(struct vcpu *v, struct cpu_user_regs *r, struct insn *i)
{
    uint8_t modrm;
    unsigned long save = i->len;
    if (!fetch(i, &modrm) || modrm != 0xd1) {
        i->len = save;
        return false;
    }
    if (i->opsz || i->rep || !(v->arch.pv.cr4 & X86_CR4_OSXSAVE)) {
        pv_inject_exception(v, 6, 0, 0);
        return true;
    }
    uint64_t x = ((r->rdx & 0xffffffffUL) << 32) | (uint32_t)r->rax;
    if (!guest_kernel_mode(v) || (uint32_t)r->rcx != 0 ||
        (x & ~pv_xcr0_max()) || !valid_xcr0(x)) {
        pv_inject_exception(v, 13, 0, 0);
        return true;
    }
    xsetbv0(x);
    this_cpu()->xcr0 = x;
    v->arch.xcr0 = x;
    /* The saved image may say a component now disabled is in use; XRSTOR
     * would refuse that header (#GP in the hypervisor). */
    *xstate_bv(v->arch.fpu) &= x;
    retire(v, r, i->rip + i->len);
    return true;
}

/* The instructions Xen's emul-priv-op emulates; false for #GP(0). */
static bool privileged_op(struct vcpu *v, struct cpu_user_regs *r, struct insn *i)
{
    uint8_t op, op2, modrm;
    uint64_t val;

    if (!fetch_opcode(i, &op))
        return false;
    if (i->lock)
        return false;
    switch (op) {
    case 0xe4: case 0xe5: case 0xec: case 0xed:      /* IN */
    case 0xe6: case 0xe7: case 0xee: case 0xef: {    /* OUT */
        unsigned bytes = (op & 1) ? (i->opsz ? 2 : 4) : 1;
        unsigned port;
        if (op < 0xe8) {
            uint8_t imm;
            if (!fetch(i, &imm))
                return false;
            port = imm;
        } else {
            port = (uint16_t)r->rdx;
        }
        if (!guest_io_okay(v, port, bytes))
            return false;
        if ((op & 2) == 0) {
            uint32_t d = io_read(v->domain, port, bytes);
            if (bytes == 4)
                r->rax = d;
            else if (bytes == 2)
                r->rax = (r->rax & ~0xffffUL) | (d & 0xffff);
            else
                r->rax = (r->rax & ~0xffUL) | (d & 0xff);
        } else {
            io_write(v->domain, port, bytes, (uint32_t)r->rax);
        }
        break;
    }
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
        return string_io(v, r, i, op, (op & 1) ? (i->opsz ? 2 : 4) : 1);
    case 0xfa: case 0xfb:                            /* CLI, STI: ignored */
        if (!iopl_ok(v))
            return false;
        break;
    case 0x0f:
        if (!fetch(i, &op2))
            return false;
        if (op2 == 0x01 && xsetbv_op(v, r, i))
            return true;                 /* done, or its fault injected */
        /* The rest is the kernel's: from user mode a #GP stays one. */
        if (!guest_kernel_mode(v))
            return false;
        switch (op2) {
        case 0x06:                                   /* CLTS */
            do_fpu_taskswitch(0, 0, 0, 0, 0);
            break;
        case 0x09:                                   /* WBINVD */
            if (v->domain->io_ports.nr || v->domain->io_mem.nr)
                __asm__ volatile("wbinvd" ::: "memory");
            break;
        case 0x20: case 0x21: case 0x22: case 0x23: { /* MOV CR/DR */
            if (!fetch(i, &modrm))
                return false;
            unsigned reg = ((modrm >> 3) & 7) | ((i->rex & 4) ? 8 : 0);
            unsigned long *g = gpr(r, (modrm & 7) | ((i->rex & 1) ? 8 : 0));
            unsigned long x;
            if (op2 == 0x20) {
                if (reg != 0 && reg != 2 && reg != 3 && reg != 4)
                    return false;
                read_cr(v, reg, &x);
                *g = x;
            } else if (op2 == 0x22) {
                if (!write_cr(v, reg, *g))
                    return false;
            } else if (reg > 7 || ((reg == 4 || reg == 5) && (v->arch.pv.cr4 & X86_CR4_DE))) {
                /* DR8-15, and DR4/5 with CR4.DE: #UD, as Xen */
                pv_inject_exception(v, 6, 0, 0);
                return true;
            } else if (op2 == 0x21) {
                if (!read_dr(v, reg, &x))
                    return false;
                *g = x;
            } else {
                if (reg == 4 || reg == 5)
                    reg += 2;
                if (do_set_debugreg(reg, *g, 0, 0, 0) != 0)
                    return false;
            }
            break;
        }
        case 0x30:                                   /* WRMSR */
            if (!write_msr(v, (uint32_t)r->rcx, ((r->rdx & 0xffffffffUL) << 32) |
                                               (uint32_t)r->rax))
                return false;
            break;
        case 0x32:                                   /* RDMSR */
            if (!read_msr(v, (uint32_t)r->rcx, &val))
                return false;
            r->rax = (uint32_t)val;
            r->rdx = val >> 32;
            break;
        case 0x31:                                   /* RDTSC (CR4.TSD) */
            val = rdtsc();
            r->rax = (uint32_t)val;
            r->rdx = val >> 32;
            break;
        case 0x01:                                   /* RDTSCP */
            if (!fetch(i, &modrm) || modrm != 0xf9)
                return false;
            val = rdtsc();
            r->rax = (uint32_t)val;
            r->rdx = val >> 32;
            r->rcx = v->arch.pv.tsc_aux;
            break;
        default:
            return false;
        }
        break;
    default:
        return false;
    }
    retire(v, r, i->rip + i->len);
    return true;
}

/* #GP from the guest: true if handled here (emulated, or the fault Xen
 * gives injected); false to pass the #GP on as raised. */
bool pv_emulate_gp(struct vcpu *v, struct cpu_user_regs *r)
{
    uint32_t ec = r->error_code;
    if (ec & 1)
        return false;                    /* external event */
    if (ec & 2)
        return software_interrupt(v, r);
    if (ec != 0)
        return false;
    struct insn i = { .rip = r->rip };
    if (privileged_op(v, r, &i))
        return true;
    if (i.fault) {
        inject_fetch_fault(v, &i);
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* physdev_op: the vCPU's I/O privilege and bitmap, as Xen; MSI and MSI-X
 * vectors and INTx lines of the domain's own PCI devices as PIRQs
 * (pci.c); the other PCI and IRQ operations (PHYSDEVOP_pirq_eoi_gmfn_v2
 * among them: EOIs are hypercalls) are not there (-ENOSYS). */
long do_physdev_op(unsigned long cmd, unsigned long arg, unsigned long a3,
                   unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    switch ((int)cmd) {
    case PHYSDEVOP_set_iopl: {
        struct physdev_set_iopl s;
        if (copy_from_guest(&s, arg, sizeof(s)))
            return -XEN_EFAULT;
        if (s.iopl > 3)
            return -XEN_EINVAL;
        v->arch.pv.iopl = s.iopl;
        return 0;
    }
    case PHYSDEVOP_set_iobitmap: {
        struct physdev_set_iobitmap s;
        if (copy_from_guest(&s, arg, sizeof(s)))
            return -XEN_EFAULT;
        unsigned long bm = (unsigned long)s.bitmap.p;
        if (!guest_array_ok(bm, 0x10000 / 8, 1) || s.nr_ports > 65536)
            return -XEN_EINVAL;
        v->arch.pv.iobmp = bm;
        v->arch.pv.iobmp_limit = s.nr_ports;
        return 0;
    }
    case PHYSDEVOP_map_pirq: {
        struct physdev_map_pirq m;
        if (copy_from_guest(&m, arg, sizeof(m)))
            return -XEN_EFAULT;
        long rc = pci_map_pirq(v->domain, &m);
        if (!rc && copy_to_guest(arg, &m, sizeof(m))) {
            pci_unmap_pirq(v->domain, m.pirq);
            return -XEN_EFAULT;
        }
        return rc;
    }
    case PHYSDEVOP_unmap_pirq: {
        struct physdev_unmap_pirq u;
        if (copy_from_guest(&u, arg, sizeof(u)))
            return -XEN_EFAULT;
        if (!(v->domain->roles & ROLE_HARDWARE) ||
            (u.domid != DOMID_SELF && u.domid != v->domain->id))
            return -XEN_EPERM;
        return pci_unmap_pirq(v->domain, u.pirq);
    }
    case PHYSDEVOP_eoi: {
        /* MSI is edge-triggered: nothing to acknowledge (Xen's
         * ACKTYPE_NONE); a level INTx line is unmasked (ACKTYPE_UNMASK);
         * a PIRQ the domain has not mapped and bound -EINVAL. */
        struct physdev_eoi e;
        if (copy_from_guest(&e, arg, sizeof(e)))
            return -XEN_EFAULT;
        return pci_pirq_eoi(v->domain, e.irq);
    }
    case PHYSDEVOP_irq_status_query: {
        struct physdev_irq_status_query q;
        if (copy_from_guest(&q, arg, sizeof(q)))
            return -XEN_EFAULT;
        if (q.irq >= NR_PIRQS)   /* as Xen: any PIRQ in range answers */
            return -XEN_EINVAL;
        /* XENIRQSTAT_needs_eoi for a level INTx line; MSI is edge. */
        q.flags = pci_pirq_needs_eoi(v->domain, q.irq) ? XENIRQSTAT_needs_eoi : 0;
        return copy_to_guest(arg, &q, sizeof(q)) ? -XEN_EFAULT : 0;
    }
    default:
        return -XEN_ENOSYS;
    }
}

/* XSETBV from an HVM/PVH vCPU's kernel (hv/hvm/hvm.c; the CPU checked
 * CR4.OSXSAVE and the prefixes before the intercept): the same checks
 * and load as xsetbv_op below.  False for #GP. */
bool guest_xsetbv(struct vcpu *v, uint32_t xcr, uint64_t x)
{
    if (xcr != 0 || (x & ~pv_xcr0_max()) || !valid_xcr0(x))
        return false;
    xsetbv0(x);
    this_cpu()->xcr0 = x;
    v->arch.xcr0 = x;
    *xstate_bv(v->arch.fpu) &= x;
    return true;
}
