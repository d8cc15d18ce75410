/* Guest test: hostile returns to a guest.  A frame may name segments the
 * return cannot load any more; an iretq that faulted would fault inside
 * the hypervisor.  The guest gets the iretq's fault instead, as on Xen;
 * with no handler that can fix the frame, each op= below ends with its
 * own domain crashed and the witness running:
 *   iret32    iret to the 32-bit user code segment with rip above 4 GiB
 *   iretsel   iret to a code selector of a GDT it does not have
 *   staleseg  vCPU 1 runs on a code segment of its GDT; vCPU 0 makes that
 *             descriptor not present through update_descriptor on the
 *             shared frame and spins, so vCPU 1 is switched back in with
 *             its frame naming the dead segment
 *   ctxseg    starts vCPU 1 from a context whose CS names a GDT entry it
 *             does not have (no GDT at all): its first return to the
 *             guest would fault
 *   fsstack   vCPU 0 loads %ds from its GDT, then with its rsp in the
 *             hypervisor's range (raw syscalls, nothing pushed) makes
 *             that entry not present and yields while vCPU 1 spins:
 *             switched back in, it owes the failsafe callback, whose
 *             frame cannot be written there
 *   witness   spins, reports progress, and reports the result */
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <stdio.h>
#include <string.h>
#include "report.h"
#include "vcpuctx.h"

#define DESC_CODE64 0x0020fa0000000000UL

/* Jumps to the iret stub with frame (flags, rip, cs, rflags, rsp, ss). */
static void raw_iret(const unsigned long *frame)
{
    __asm__ volatile("subq $48, %%rsp\n\t"
                     "movq %%rsp, %%rax\n\t"
                     "movl $6, %%ecx\n"
                     "1:\tmovq (%0), %%rdx\n\t"
                     "movq %%rdx, (%%rax)\n\t"
                     "addq $8, %0\n\t"
                     "addq $8, %%rax\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b\n\t"
                     "jmp hypercall_page + 736"
                     : "+r"(frame) : : "rax", "rcx", "rdx", "memory");
}

static unsigned long here_rsp(void)
{
    unsigned long sp;
    __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
    return sp & ~15UL;
}

static void spin_forever(void)
{
    for (;;)
        __asm__ volatile("pause");
}

static void iret_to(unsigned long rip, unsigned long cs)
{
    unsigned long frame[6] = { 0, rip, cs, 0x202, here_rsp() - 256, 0xe02b };
    printf("iret to %lx:%lx\n", cs, rip);
    fflush(stdout);
    raw_iret(frame);
}

/* staleseg */
static unsigned long *gdt_page;
static volatile int v1_ready;
static char v1_stack[16384] __attribute__((aligned(16)));

static void far_jump(unsigned sel)
{
    static volatile struct { uint32_t off; uint16_t sel; } __attribute__((packed)) ptr;
    ptr.sel = (uint16_t)sel;
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
                     "movl %%eax, %0\n\t"
                     "ljmpl *%0\n"
                     "1:"
                     : "+m"(ptr.off) : "m"(ptr.sel) : "rax", "memory");
}

static void vcpu1_main(void)
{
    unsigned long g = minios_virt_to_mfn(gdt_page);
    if (_hypercall2(__HYPERVISOR_set_gdt, &g, 2) != 0)
        spin_forever();
    far_jump(0x0b);
    v1_ready = 1;
    spin_forever();                /* on selector 0x0b, never a hypercall */
}

static void staleseg(void)
{
    gdt_page = minios_alloc_pages(1);
    memset(gdt_page, 0, 4096);
    gdt_page[1] = DESC_CODE64;
    unsigned long g = minios_virt_to_mfn(gdt_page);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, gdt_page, g << 12 | 0x21, UVMF_INVLPG), 0);
    CHECK_EQ(_hypercall2(__HYPERVISOR_set_gdt, &g, 2), 0);
    struct vcpu_guest_context ctxt;
    vcpu_ctx_init(&ctxt, vcpu1_main, v1_stack, sizeof(v1_stack));
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    uint64_t t0 = minios_monotonic_ns();
    while (!v1_ready && minios_monotonic_ns() < t0 + 2000000000ULL)
        ;
    if (!v1_ready) {
        test_error("vCPU 1 never ran on its own code segment");
        return;
    }
    printf("staleseg: vCPU 1 on selector 0xb; making it not present\n");
    fflush(stdout);
    CHECK_EQ(_hypercall2(__HYPERVISOR_update_descriptor, g << 12 | 8, DESC_CODE64 & ~(1UL << 47)), 0);
    spin_forever();                /* vCPU 1 comes back: its return must not fault */
}

/* ctxseg */
static char v1_ctx_stack[16384] __attribute__((aligned(16)));

static void ctxseg(void)
{
    struct vcpu_guest_context ctxt;
    vcpu_ctx_init(&ctxt, spin_forever, v1_ctx_stack, sizeof(v1_ctx_stack));
    ctxt.user_regs.cs = 0x08;      /* RPL raised to 3: GDT entry 1, which it lacks */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt), 0);
    printf("ctxseg: vCPU 1 up on cs 0x0b\n");
    fflush(stdout);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    spin_forever();                /* vCPU 1's first return must not fault */
}

/* fsstack */
static void fsstack(void)
{
    unsigned long *gdt = minios_alloc_pages(1);
    memset(gdt, 0, 4096);
    gdt[2] = 0x00cff2000000ffffUL;           /* flat data, DPL 3 */
    unsigned long g = minios_virt_to_mfn(gdt);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, gdt, g << 12 | 0x21, UVMF_INVLPG), 0);
    CHECK_EQ(_hypercall2(__HYPERVISOR_set_gdt, &g, 4), 0);
    struct vcpu_guest_context ctxt;
    vcpu_ctx_init(&ctxt, spin_forever, v1_stack, sizeof(v1_stack));
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    __asm__ volatile("movw %w0, %%ds" : : "r"(0x13));
    printf("fsstack: making the descriptor not present and yielding, rsp in the "
           "hypervisor's range\n");
    fflush(stdout);
    minios_events_disable();                 /* no upcall on that stack first */
    /* From the update on, every return runs on the bad stack (raw
     * syscalls, nothing pushed): whenever vCPU 0 is switched back in, the
     * failsafe frame has nowhere to go. */
    unsigned long maddr = g << 12 | 16, desc = 0x00cff2000000ffffUL & ~(1UL << 47);
    __asm__ volatile("movq %%rsp, %%r12\n\t"
                     "movabs $0xFFFF830000100000, %%rsp\n\t"
                     "movl %[ud], %%eax\n\t"
                     "syscall\n\t"
                     "movl $1000, %%r13d\n"
                     "1:\tmovl %[so], %%eax\n\t"
                     "movl %[yield], %%edi\n\t"
                     "syscall\n\t"
                     "decl %%r13d\n\t"
                     "jnz 1b\n\t"
                     "movq %%r12, %%rsp"
                     : "+D"(maddr), "+S"(desc)
                     : [ud] "i"(__HYPERVISOR_update_descriptor), [so] "i"(__HYPERVISOR_sched_op),
                       [yield] "i"(SCHEDOP_yield)
                     : "rax", "rcx", "rdx", "r11", "r12", "r13", "memory");
}

int main(int argc, char **argv)
{
    const char *op = "";
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
    if (!strcmp(op, "witness")) {
        uint64_t t0 = minios_monotonic_ns();
        for (int r = 0; r < 5; r++) {
            while (minios_monotonic_ns() < t0 + (uint64_t)(r + 1) * 200000000ULL)
                ;
            printf("witness alive, round %d\n", r);
        }
    } else if (!strcmp(op, "iret32")) {
        iret_to(0x100000000UL + (unsigned long)spin_forever, 0xe020);   /* RPL 0: kernel mode */
        test_fail("survived an iret past the 32-bit segment's limit");
    } else if (!strcmp(op, "iretsel")) {
        iret_to((unsigned long)spin_forever, 0x08);
        test_fail("survived an iret to a selector it has no descriptor for");
    } else if (!strcmp(op, "fsstack")) {
        fsstack();
        test_fail("fsstack: no failsafe callback in 1000 yields");
    } else if (!strcmp(op, "ctxseg")) {
        ctxseg();
        test_fail("ctxseg ended");
    } else if (!strcmp(op, "staleseg")) {
        staleseg();
        test_fail("staleseg ended");
    } else {
        test_error("unknown op '%s'", op);
    }
    return test_finish();
}
