/* Guest test: the read-only M2P (MACH2PHYS_VIRT_START) seen from guest
 * user mode, with and without VMASST_TYPE_m2p_strict, as Xen 4.17 keeps
 * that L4 slot for a 64-bit PV guest: an L4 validated without m2p_strict
 * has no M2P slot until it becomes a kernel base (NEW_BASEPTR fills it);
 * under m2p_strict every L4 is validated with it and it is cleared when
 * the table becomes a user base (NEW_USER_BASEPTR).  The user tables here
 * are copies of the kernel's own L4 (so user mode runs this image's
 * code); user mode reads the M2P, a #PF skips the read, a syscall ends
 * it.  It runs on Keel and as dom0 of real Xen 4.17 (xen-m2p-xen) with
 * the same expectations. */
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/startinfo.h>
#include <minios/traps.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "report.h"

#define PTE_P 1UL
#define PTE_W 2UL
#define PTE_A 0x20UL
#define PTE_D 0x40UL
#define CS_USER 0xe033UL
#define SS_USER 0xe02bUL
#define M2P_VA  0xFFFF800000000000UL
#define NO_READ 0x6e6f2d7265616421UL    /* what a faulting read gives */

/* ------------------------------------------------------------------ */
/* User mode: reads the M2P entry at u_addr into rax (a #PF makes it
 * NO_READ), then a syscall back to the kernel, which ends the run. */
void u_probe(void);
extern char u_probe_read[];
/* Kernel mode: the same read of *p. */
unsigned long k_probe(const volatile unsigned long *p);
extern char k_probe_read[];
void ksys_entry(void);
void enter_user(const unsigned long *iret_frame);
unsigned long kctx_rsp, user_rax, u_addr;

__asm__(
    ".text\n"
    ".globl u_probe, u_probe_read, k_probe, k_probe_read, ksys_entry, enter_user\n"
    "u_probe:\n"
    "    movq u_addr(%rip), %rax\n"
    "u_probe_read:\n"
    "    movq (%rax), %rax\n"
    "    syscall\n"
    "    ud2\n"
    "k_probe:\n"
    "k_probe_read:\n"
    "    movq (%rdi), %rax\n"
    "    ret\n"
    /* the syscall callback: back into enter_user's caller */
    "ksys_entry:\n"
    "    movq %rax, user_rax(%rip)\n"
    "    movq kctx_rsp(%rip), %rsp\n"
    "    popq %r15\n    popq %r14\n    popq %r13\n    popq %r12\n    popq %rbp\n    popq %rbx\n"
    "    ret\n"
    /* enter_user(frame): flags, rip, cs, rflags, rsp, ss -> iret */
    "enter_user:\n"
    "    pushq %rbx\n    pushq %rbp\n    pushq %r12\n    pushq %r13\n    pushq %r14\n    pushq %r15\n"
    "    movq %rsp, kctx_rsp(%rip)\n"
    "    subq $48, %rsp\n"
    "    movq %rsp, %rax\n"
    "    movl $6, %ecx\n"
    "2:  movq (%rdi), %rdx\n    movq %rdx, (%rax)\n    addq $8, %rdi\n    addq $8, %rax\n"
    "    decl %ecx\n    jnz 2b\n"
    "    xorl %eax, %eax\n"
    "    jmp hypercall_page + 736\n");

_Static_assert(__HYPERVISOR_iret * 32 == 736, "iret stub offset");

static volatile unsigned long upf_count, upf_cr2, kpf_count, kpf_cr2;

static void pf_handler(struct minios_trap_frame *f)
{
    if (f->rip == (unsigned long)u_probe_read && (f->cs & 3) == 3) {
        upf_count++;
        upf_cr2 = f->cr2;
    } else if (f->rip == (unsigned long)k_probe_read && (f->cs & 3) == 0) {
        kpf_count++;
        kpf_cr2 = f->cr2;
    } else {
        test_fail("#PF at rip %#lx cs %#lx cr2 %#lx", f->rip, f->cs & 0xffff, f->cr2);
        minios_set_trap_handler(14, NULL);
        return;
    }
    f->rax = NO_READ;
    f->rip += 3;                        /* movq (%reg), %rax */
}

/* ------------------------------------------------------------------ */
static unsigned long mfn_of(const void *va)
{
    return ((const unsigned long *)minios_start_info->mfn_list)[(unsigned long)va >> 12];
}

static long uvm(const void *va, unsigned long val)
{
    return _hypercall3(__HYPERVISOR_update_va_mapping, va, val, UVMF_INVLPG);
}

static long mmuext(unsigned cmd, unsigned long mfn)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = mfn;
    return _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
}

static long m2p_strict(bool on)
{
    return _hypercall2(__HYPERVISOR_vm_assist, on ? VMASST_CMD_enable : VMASST_CMD_disable,
                       VMASST_TYPE_m2p_strict);
}

/* A copy of the kernel's L4 (its guest slots), read-only and pinned. */
static unsigned long *copy_l4(void)
{
    const unsigned long *k = (const unsigned long *)minios_start_info->pt_base;
    unsigned long *t = minios_alloc_pages(1);
    if (!t)
        return NULL;
    memset(t, 0, 4096);
    for (unsigned i = 0; i < 512; i++)
        if (i < 256 || i > 271)
            t[i] = k[i];
    CHECK_EQ(uvm(t, mfn_of(t) << 12 | PTE_P | PTE_A), 0);
    CHECK_EQ(mmuext(MMUEXT_PIN_L4_TABLE, mfn_of(t)), 0);
    return t;
}

static void drop_l4(unsigned long *t)
{
    CHECK_EQ(mmuext(MMUEXT_UNPIN_TABLE, mfn_of(t)), 0);
    CHECK_EQ(uvm(t, mfn_of(t) << 12 | PTE_P | PTE_W | PTE_A | PTE_D), 0);
    minios_free_pages(t, 1);
}

static unsigned char kstack[16384] __attribute__((aligned(16)));
static unsigned char ustack[4096] __attribute__((aligned(4096)));
static unsigned long m2p0;             /* the M2P entry at u_addr, read by the kernel */

/* User mode on table t: the value it read (NO_READ if it faulted). */
static unsigned long user_read(const char *what, unsigned long *t, bool want_fault)
{
    unsigned long frame[6] = { 0, (unsigned long)u_probe, CS_USER, 0x202,
                               (unsigned long)ustack + sizeof(ustack), SS_USER };
    unsigned long n = upf_count;
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, mfn_of(t)), 0);
    user_rax = 0;
    enter_user(frame);
    minios_events_enable();
    printf("%s: user mode read %#lx\n", what, user_rax);
    if (want_fault) {
        CHECK_EQ(user_rax, NO_READ);
        CHECK_EQ(upf_count, n + 1);
        CHECK_EQ(upf_cr2, u_addr);
    } else {
        CHECK_EQ(user_rax, m2p0);
        CHECK_EQ(upf_count, n);
    }
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, 0), 0);
    return user_rax;
}

/* Kernel mode on table t (a copy of the kernel's own): reads the M2P. */
static void kernel_read(const char *what, unsigned long *t, bool want_fault)
{
    unsigned long kmfn = mfn_of((void *)minios_start_info->pt_base), n = kpf_count;
    CHECK_EQ(mmuext(MMUEXT_NEW_BASEPTR, mfn_of(t)), 0);
    unsigned long v = k_probe((const volatile unsigned long *)u_addr);
    CHECK_EQ(mmuext(MMUEXT_NEW_BASEPTR, kmfn), 0);
    printf("%s: kernel mode read %#lx\n", what, v);
    if (want_fault) {
        CHECK_EQ(v, NO_READ);
        CHECK_EQ(kpf_count, n + 1);
        CHECK_EQ(kpf_cr2, u_addr);
    } else {
        CHECK_EQ(v, m2p0);
        CHECK_EQ(kpf_count, n);
    }
}

int main(void)
{
    xen_extraversion_t ev;
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_extraversion, ev), 0);
    bool on_keel = strstr(ev, "keel") != NULL;
    printf("xen-m2p on %s\n", on_keel ? "Keel" : "Xen");
    if (!minios_traps_available() || !minios_events_available()) {
        test_error("no traps or events");
        return test_finish();
    }
    minios_set_trap_handler(14, pf_handler);
    CHECK_EQ(HYPERVISOR_stack_switch(FLAT_KERNEL_SS, (unsigned long)kstack + sizeof(kstack)), 0);
    struct callback_register cb = { .type = CALLBACKTYPE_syscall, .flags = CALLBACKF_mask_events,
                                    .address = (unsigned long)ksys_entry };
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);

    /* The kernel's own table has the M2P: an entry of it names the pfn. */
    unsigned long kmfn = mfn_of((void *)minios_start_info->pt_base);
    u_addr = M2P_VA + kmfn * 8;
    m2p0 = k_probe((const volatile unsigned long *)u_addr);
    CHECK_EQ(m2p0, minios_start_info->pt_base >> 12);
    CHECK_EQ(kpf_count, 0);

    /* Without m2p_strict: a table only ever a user base has no M2P; one
     * that has been a kernel base keeps it, user mode reads it. */
    unsigned long *a = copy_l4(), *b = copy_l4();
    if (!a || !b) {
        test_error("out of pages");
        return test_finish();
    }
    user_read("no m2p_strict, never a kernel base", a, true);
    kernel_read("no m2p_strict, as a kernel base", b, false);
    user_read("no m2p_strict, once a kernel base", b, false);

    /* With it: made a user base, the table loses the slot. */
    CHECK_EQ(m2p_strict(true), 0);
    user_read("m2p_strict, once a kernel base", b, true);
    /* A table validated under it has the slot (a kernel base reads it)
     * until it is a user base; then it is not filled again. */
    unsigned long *c = copy_l4();
    if (!c) {
        test_error("out of pages");
        return test_finish();
    }
    kernel_read("m2p_strict, validated under it, as a kernel base", c, false);
    user_read("m2p_strict, validated under it", c, true);
    kernel_read("m2p_strict, after a user base, as a kernel base", c, true);
    /* The kernel's own table is untouched. */
    CHECK_EQ(k_probe((const volatile unsigned long *)u_addr), m2p0);

    /* Without it again: a kernel base gets the slot back. */
    CHECK_EQ(m2p_strict(false), 0);
    kernel_read("no m2p_strict again, as a kernel base", c, false);
    user_read("no m2p_strict again", c, false);

    drop_l4(a);
    drop_l4(b);
    drop_l4(c);
    CHECK_EQ(kpf_count, 1);
    minios_set_trap_handler(14, NULL);
    cb.address = 0;
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);
    return test_finish();
}
