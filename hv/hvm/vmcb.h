/*
 * The VMCB, as the AMD64 Architecture Programmer's Manual vol. 2
 * (appendix B) lays it out: byte offsets into the 4 KiB page, read and
 * written with vmcb_rd/vmcb_wr.  Only the fields Keel uses.
 */
#ifndef KEEL_HVM_VMCB_H
#define KEEL_HVM_VMCB_H
#include "lib.h"

/* Control area. */
#define VMCB_CR_INTERCEPTS      0x000   /* u32: reads 0-15, writes 16-31 */
#define VMCB_EXC_INTERCEPTS     0x008   /* u32: one bit per vector */
#define VMCB_MISC1_INTERCEPTS   0x00c   /* u32 */
#define VMCB_MISC2_INTERCEPTS   0x010   /* u32 */
#define VMCB_IOPM_BASE          0x040
#define VMCB_MSRPM_BASE         0x048
#define VMCB_TSC_OFFSET         0x050
#define VMCB_ASID               0x058   /* u32 */
#define VMCB_TLB_CONTROL        0x05c   /* u8 */
#define VMCB_VINTR              0x060   /* u64: V_TPR, V_IRQ, ..., V_INTR_MASKING (24) */
#define VINTR_V_IRQ        (1ULL << 8)
#define VINTR_PRIO_MASK    (0xfULL << 16)
#define VINTR_IGN_TPR      (1ULL << 20)
#define VINTR_VECTOR_MASK  (0xffULL << 32)
#define VMCB_INT_SHADOW         0x068
#define VMCB_EXITCODE           0x070
#define VMCB_EXITINFO1          0x078
#define VMCB_EXITINFO2          0x080
#define VMCB_EXITINTINFO        0x088
#define VMCB_NP_ENABLE          0x090
#define VMCB_EVENTINJ           0x0a8
#define VMCB_N_CR3              0x0b0
#define VMCB_CLEAN              0x0c0   /* u32: 0, nothing cached */

/* State-save area: segments are {u16 sel, u16 attr, u32 limit, u64 base}. */
#define VMCB_ES                 0x400
#define VMCB_CS                 0x410
#define VMCB_SS                 0x420
#define VMCB_DS                 0x430
#define VMCB_FS                 0x440
#define VMCB_GS                 0x450
#define VMCB_GDTR               0x460
#define VMCB_LDTR               0x470
#define VMCB_IDTR               0x480
#define VMCB_TR                 0x490
#define VMCB_CPL                0x4cb   /* u8 */
#define VMCB_EFER               0x4d0
#define VMCB_CR4                0x548
#define VMCB_CR3                0x550
#define VMCB_CR0                0x558
#define VMCB_DR7                0x560
#define VMCB_DR6                0x568
#define VMCB_RFLAGS             0x570
#define VMCB_RIP                0x578
#define VMCB_RSP                0x5d8
#define VMCB_RAX                0x5f8
#define VMCB_CR2                0x640
#define VMCB_G_PAT              0x668

/* MISC1 intercept bits. */
#define ICPT_INTR        (1u << 0)
#define ICPT_NMI         (1u << 1)
#define ICPT_SMI         (1u << 2)
#define ICPT_INIT        (1u << 3)
#define ICPT_VINTR       (1u << 4)
#define ICPT_RDPMC       (1u << 15)
#define ICPT_CPUID       (1u << 18)
#define ICPT_RSM         (1u << 19)
#define ICPT_INVD        (1u << 22)
#define ICPT_HLT         (1u << 24)
#define ICPT_INVLPGA     (1u << 26)
#define ICPT_IOIO        (1u << 27)
#define ICPT_MSR         (1u << 28)
#define ICPT_TASKSWITCH  (1u << 29)
#define ICPT_SHUTDOWN    (1u << 31)
/* MISC2. */
#define ICPT_VMRUN       (1u << 0)
#define ICPT_VMMCALL     (1u << 1)
#define ICPT_VMLOAD      (1u << 2)
#define ICPT_VMSAVE      (1u << 3)
#define ICPT_STGI        (1u << 4)
#define ICPT_CLGI        (1u << 5)
#define ICPT_SKINIT      (1u << 6)
#define ICPT_RDTSCP      (1u << 7)
#define ICPT_ICEBP       (1u << 8)
#define ICPT_MONITOR     (1u << 10)
#define ICPT_MWAIT       (1u << 11)
#define ICPT_MWAIT_COND  (1u << 12)
#define ICPT_XSETBV      (1u << 13)

/* Exit codes. */
#define VMEXIT_EXCP_BASE 0x40
#define VMEXIT_INTR      0x60
#define VMEXIT_NMI       0x61
#define VMEXIT_SMI       0x62
#define VMEXIT_INIT      0x63
#define VMEXIT_VINTR     0x64
#define VMEXIT_CPUID     0x72
#define VMEXIT_HLT       0x78
#define VMEXIT_IOIO      0x7b
#define VMEXIT_MSR       0x7c
#define VMEXIT_SHUTDOWN  0x7f
#define VMEXIT_VMMCALL   0x81
#define VMEXIT_XSETBV    0x8d
#define VMEXIT_NPF       0x400
#define VMEXIT_INVALID   ((uint64_t)-1)

/* EVENTINJ: vector, type (3: exception), error code valid, valid. */
#define EVENTINJ_EXC     (3u << 8)
#define EVENTINJ_EV      (1u << 11)
#define EVENTINJ_V       (1u << 31)

static inline uint64_t vmcb_rd(const uint8_t *vmcb, unsigned off)
{
    uint64_t v;
    memcpy(&v, vmcb + off, 8);
    return v;
}
static inline void vmcb_wr(uint8_t *vmcb, unsigned off, uint64_t v)
{
    memcpy(vmcb + off, &v, 8);
}
static inline uint32_t vmcb_rd32(const uint8_t *vmcb, unsigned off)
{
    uint32_t v;
    memcpy(&v, vmcb + off, 4);
    return v;
}
static inline void vmcb_wr32(uint8_t *vmcb, unsigned off, uint32_t v)
{
    memcpy(vmcb + off, &v, 4);
}
static inline void vmcb_seg(uint8_t *vmcb, unsigned off, uint16_t sel, uint16_t attr,
                            uint32_t limit, uint64_t base)
{
    memcpy(vmcb + off, &sel, 2);
    memcpy(vmcb + off + 2, &attr, 2);
    memcpy(vmcb + off + 4, &limit, 4);
    memcpy(vmcb + off + 8, &base, 8);
}

#endif
