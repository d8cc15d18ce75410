/* Guest test: exceptions bounced to the guest (int3, ud2, #DE, #PF, #GP, #NM); set_trap_table, set_segment_base, stack_switch, fpu_taskswitch. */
#include <stdio.h>
#include <string.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/traps.h>
#include "report.h"

#define HV_ADDR      0xFFFF830000100000UL   /* inside the hypervisor */
#define UNMAPPED     0x0000000040000000UL   /* 1 GiB: past the bootstrap map */
#define NONCANONICAL 0x0000900000000000UL

/* What the handler saw, and where it should resume (0: where it returns to). */
static volatile struct {
    unsigned long count, vector, error_code, cr2, rip, resume, mask;
} seen;

static void handler(struct minios_trap_frame *f)
{
    seen.count++;
    seen.vector = f->vector;
    seen.error_code = f->error_code;
    seen.cr2 = f->cr2;
    seen.rip = f->rip;
    seen.mask = minios_vcpu_info() ? minios_vcpu_info()->evtchn_upcall_mask : 1;
    if (seen.resume)
        f->rip = seen.resume;
}

static void expect(const char *what, unsigned long vec, unsigned long rip)
{
    if (seen.count != 1)
        test_fail("%s: handler ran %lu times, expected once", what, seen.count);
    else if (seen.vector != vec || seen.rip != rip)
        test_fail("%s: vector %lu rip %#lx, expected vector %lu rip %#lx",
                  what, seen.vector, seen.rip, vec, rip);
    if (!seen.mask)
        test_fail("%s: handler ran with events unmasked", what);
}

static void reset(void)
{
    memset((void *)&seen, 0, sizeof(seen));
}

static void test_int3(void)
{
    unsigned long after;

    reset();
    minios_set_trap_handler(3, handler);
    __asm__ volatile("leaq 1f(%%rip), %0\n\tint3\n1:" : "=r"(after) : : "memory");
    expect("int3", 3, after);           /* a trap: rip is after int3 */
    minios_set_trap_handler(3, NULL);
}

static void test_ud2(void)
{
    unsigned long at, resume;

    reset();
    minios_set_trap_handler(6, handler);
    __asm__ volatile("leaq 2f(%%rip), %1\n\tmovq %1, %2\n\tleaq 1f(%%rip), %0\n"
                     "1:\tud2\n2:"
                     : "=&r"(at), "=&r"(resume), "=m"(seen.resume) : : "memory");
    expect("ud2", 6, at);
    minios_set_trap_handler(6, NULL);
}

static void test_divide(void)
{
    unsigned long at, resume;

    reset();
    minios_set_trap_handler(0, handler);
    __asm__ volatile("leaq 2f(%%rip), %1\n\tmovq %1, %2\n\tleaq 1f(%%rip), %0\n\t"
                     "xorl %%ecx, %%ecx\n\txorl %%edx, %%edx\n\tmovl $1, %%eax\n"
                     "1:\tdivl %%ecx\n2:"
                     : "=&r"(at), "=&r"(resume), "=m"(seen.resume)
                     : : "rax", "rcx", "rdx", "memory");
    expect("divide by zero", 0, at);
    CHECK_EQ(seen.error_code, 0);
    minios_set_trap_handler(0, NULL);
}

/* One memory access at addr (a read or a write) that faults. */
static void page_fault(const char *what, unsigned long addr, int write,
                       unsigned long want_err)
{
    unsigned long at, resume;

    reset();
    if (write)
        __asm__ volatile("leaq 2f(%%rip), %1\n\tmovq %1, %2\n\tleaq 1f(%%rip), %0\n"
                         "1:\tmovb $1, (%3)\n2:"
                         : "=&r"(at), "=&r"(resume), "=m"(seen.resume)
                         : "r"(addr) : "memory");
    else
        __asm__ volatile("leaq 2f(%%rip), %1\n\tmovq %1, %2\n\tleaq 1f(%%rip), %0\n"
                         "1:\tmovb (%3), %%al\n2:"
                         : "=&r"(at), "=&r"(resume), "=m"(seen.resume)
                         : "r"(addr) : "rax", "memory");
    expect(what, 14, at);
    if (seen.cr2 != addr)
        test_fail("%s: cr2 %#lx, expected %#lx", what, seen.cr2, addr);
    if (seen.error_code != want_err)
        test_fail("%s: error code %#lx, expected %#lx", what, seen.error_code, want_err);
}

static void test_page_faults(void)
{
    if (!minios_vcpu_info()) {
        test_skip("no shared_info: cr2 cannot be read");
        return;
    }
    minios_set_trap_handler(14, handler);
    /* Error code bits: 1 present, 2 write, 4 user (Xen clears it for the
     * guest kernel), 16 instruction fetch. */
    page_fault("read of an unmapped page", UNMAPPED + 0x123, 0, 0);
    page_fault("write to an unmapped page", UNMAPPED + 0x456, 1, 2);
    page_fault("write to a page table (read-only)", minios_start_info->pt_base + 8, 1, 3);
    page_fault("read of a hypervisor address", HV_ADDR, 0, 1);
    minios_set_trap_handler(14, NULL);
}

/* A general protection fault: a privileged instruction, and a software
 * interrupt through a vector whose DPL is 0. */
static void test_gp(void)
{
    unsigned long at, resume;
    struct trap_info t[2] = {
        { .vector = 0x40, .flags = 0, .cs = FLAT_KERNEL_CS, .address = 0x1000 },
    };

    minios_set_trap_handler(13, handler);
    reset();
    __asm__ volatile("leaq 2f(%%rip), %1\n\tmovq %1, %2\n\tleaq 1f(%%rip), %0\n"
                     "1:\thlt\n2:"
                     : "=&r"(at), "=&r"(resume), "=m"(seen.resume) : : "memory");
    expect("hlt", 13, at);
    CHECK_EQ(seen.error_code, 0);

    CHECK_EQ(HYPERVISOR_set_trap_table(t), 0);
    reset();
    __asm__ volatile("leaq 2f(%%rip), %1\n\tmovq %1, %2\n\tleaq 1f(%%rip), %0\n"
                     "1:\tint $0x40\n2:"
                     : "=&r"(at), "=&r"(resume), "=m"(seen.resume) : : "memory");
    expect("int $0x40 (DPL 0)", 13, at);
    /* The IDT error code is vector * 8 + 2 on hardware; QEMU's TCG gives
     * vector * 16 + 2 in long mode, and Xen passes that on. */
    if (seen.error_code != ((0x40 << 3) | 2) && seen.error_code != ((0x40 << 4) | 2))
        test_fail("int $0x40: error code %#lx, expected %#x", seen.error_code,
                  (0x40 << 3) | 2);
    minios_set_trap_handler(13, NULL);
}

/*
 * A trap-table entry whose handler is in the hypervisor's range or
 * unmapped: Xen accepts it (only a non-canonical address is refused), and
 * `int $vec` then faults on fetching the handler: a #PF at that rip, on
 * the bounce frame that Xen pushed for the int. The #PF handler unwinds
 * that frame (rcx, r11, rip, cs, rflags, rsp, ss) and resumes after the
 * int.
 */
static volatile unsigned long bad_target;

static void bad_handler_pf(struct minios_trap_frame *f)
{
    const unsigned long *bounce = (const unsigned long *)f->rsp;

    handler(f);
    if (f->rip == bad_target) {
        f->rcx = bounce[0];
        f->r11 = bounce[1];
        f->rip = bounce[2];
        f->rsp = bounce[5];
    }
}

static void bad_handler(const char *what, uint8_t vec, unsigned long target,
                        unsigned long want_err)
{
    /*
     * Under QEMU's TCG the #GP that Xen takes for `int $vec` (its own IDT
     * entry has DPL 0) carries vec * 16 + 2, so Xen looks up the guest's
     * vector 2 * vec: point both at the target.
     */
    struct trap_info t[3] = {
        { .vector = vec, .flags = 3, .cs = FLAT_KERNEL_CS, .address = target },
        { .vector = (uint8_t)(2 * vec), .flags = 3, .cs = FLAT_KERNEL_CS, .address = target },
    };
    unsigned long after;

    CHECK_EQ(HYPERVISOR_set_trap_table(t), 0);
    reset();
    bad_target = target;
    minios_set_trap_handler(14, bad_handler_pf);
    if (vec == 0x41)
        __asm__ volatile("leaq 1f(%%rip), %0\n\tint $0x41\n1:"
                         : "=&r"(after) : : "rcx", "r11", "memory");
    else
        __asm__ volatile("leaq 1f(%%rip), %0\n\tint $0x42\n1:"
                         : "=&r"(after) : : "rcx", "r11", "memory");
    minios_set_trap_handler(14, NULL);
    expect(what, 14, target);
    if (seen.cr2 != target || seen.error_code != want_err)
        test_fail("%s: cr2 %#lx error code %#lx, expected %#lx %#lx", what,
                  seen.cr2, seen.error_code, target, want_err);
}

/* Bad trap tables, on vectors minios does not use. */
static void test_set_trap_table(void)
{
    struct trap_info t[2] = {
        { .vector = 0x41, .flags = 0, .cs = FLAT_KERNEL_CS },
    };

    t[0].address = NONCANONICAL;
    CHECK_EQ(HYPERVISOR_set_trap_table(t), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_set_trap_table((struct trap_info *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_set_trap_table((struct trap_info *)UNMAPPED), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_set_trap_table((struct trap_info *)NONCANONICAL), -XEN_EFAULT);
    if (!minios_vcpu_info())
        return;
    /* Error code: 16 instruction fetch, 1 present. */
    bad_handler("int to a handler in the hypervisor", 0x41, HV_ADDR, 0x11);
    bad_handler("int to an unmapped handler", 0x42, UNMAPPED, 0x10);
}

static unsigned long fs_word(void)
{
    unsigned long v;

    __asm__ volatile("movq %%fs:0, %0" : "=r"(v) : : "memory");
    return v;
}

static unsigned long gs_word(void)
{
    unsigned long v;

    __asm__ volatile("movq %%gs:0, %0" : "=r"(v) : : "memory");
    return v;
}

static void test_segment_base(void)
{
    static unsigned long fs_target = 0x1122334455667788UL;
    static unsigned long gs_target = 0x8877665544332211UL;

    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_FS, (unsigned long)&fs_target), 0);
    if (fs_word() != fs_target)
        test_fail("%%fs:0 = %#lx after set_segment_base(FS)", fs_word());
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_KERNEL, (unsigned long)&gs_target), 0);
    if (gs_word() != gs_target)
        test_fail("%%gs:0 = %#lx after set_segment_base(GS_KERNEL)", gs_word());
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_FS, NONCANONICAL), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_KERNEL, NONCANONICAL), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_USER, NONCANONICAL), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_set_segment_base(99, 0), -XEN_EINVAL);
    /* A base inside the hypervisor's range is canonical: accepted (any
     * access through it faults). */
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_FS, HV_ADDR), 0);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_USER, 0x1000), 0);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_FS, 0), 0);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_KERNEL, 0), 0);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_USER, 0), 0);
}

static void test_stack_switch(void)
{
    static char stack[4096] __attribute__((aligned(16)));

    CHECK_EQ(HYPERVISOR_stack_switch(FLAT_KERNEL_SS, (unsigned long)(stack + sizeof(stack))), 0);
    /* Xen takes any stack: it is only used on entry from guest user mode. */
    CHECK_EQ(HYPERVISOR_stack_switch(FLAT_KERNEL_SS, HV_ADDR), 0);
    CHECK_EQ(HYPERVISOR_stack_switch(FLAT_KERNEL_SS, NONCANONICAL), 0);
    CHECK_EQ(HYPERVISOR_stack_switch(FLAT_KERNEL_SS, (unsigned long)(stack + sizeof(stack))), 0);
}

static volatile unsigned long nm_count;

static void nm_handler(struct minios_trap_frame *f)
{
    (void)f;
    nm_count++;
    HYPERVISOR_fpu_taskswitch(0);
}

static void test_fpu_taskswitch(void)
{
    minios_set_trap_handler(7, nm_handler);
    CHECK_EQ(HYPERVISOR_fpu_taskswitch(1), 0);
    __asm__ volatile("addps %%xmm0, %%xmm0" : : : "xmm0");
    CHECK_EQ(nm_count, 1);
    __asm__ volatile("addps %%xmm0, %%xmm0" : : : "xmm0");
    CHECK_EQ(nm_count, 1);             /* TS is clear again */
    CHECK_EQ(HYPERVISOR_fpu_taskswitch(1), 0);
    CHECK_EQ(HYPERVISOR_fpu_taskswitch(0), 0);
    __asm__ volatile("addps %%xmm0, %%xmm0" : : : "xmm0");
    CHECK_EQ(nm_count, 1);             /* set then cleared: no #NM */
    minios_set_trap_handler(7, NULL);
}

int main(void)
{
    if (!minios_traps_available()) {
        test_skip("the hypervisor refused minios's trap table");
        return test_finish();
    }
    CHECK_EQ(minios_set_trap_handler(MINIOS_NR_TRAPS, handler), -XEN_EINVAL);
    test_int3();
    test_ud2();
    test_divide();
    test_page_faults();
    test_gp();
    test_set_trap_table();
    test_segment_base();
    test_stack_switch();
    test_fpu_taskswitch();
    return test_finish();
}
