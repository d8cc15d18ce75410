/* Guest test: guest user mode, as Xen 4.17 gives a 64-bit PV kernel.  The
 * guest (the "kernel") builds a user L4 with a code, a stack and a data
 * page, installs it with MMUEXT_NEW_USER_BASEPTR, registers a syscall
 * callback and irets to user mode; the user program makes syscalls
 * (returned from with a plain iret and with VGCF_in_syscall), reads its
 * GS base, faults (int3, #PF on a kernel address, on the hypervisor, on
 * its read-only code, ud2, int $n, a syscall with no callback), takes an
 * event upcall, makes a syscall from compatibility mode, and exits with a
 * last syscall.  Each entry into the kernel is checked against the frame
 * Xen builds; refusals are checked with Xen's errno.  It runs on Keel and
 * as dom0 of real Xen 4.17 (xen-user-xen) with the same expectations. */
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/startinfo.h>
#include <minios/traps.h>
#include <minios/time.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "report.h"
#include "ptwalk.h"
#include "vcpuctx.h"

#define PTE_P 1UL
#define PTE_W 2UL
#define PTE_U 4UL
#define PTE_A 0x20UL
#define PTE_D 0x40UL

#define HV_ADDR   0xFFFF830000100000UL
#define UCODE     0x40000000UL           /* user code (read-only), 1 GiB */
#define USTACK    (UCODE + 0x1000)       /* user stack page */
#define UDATA     (UCODE + 0x2000)       /* user data page */
#define UGS_OFF   0x800                  /* the user GS base: UDATA + this */
#define CS_USER   0xe033                 /* FLAT_USER_CS64 (FLAT_RING3_CS64) */
#define CS_USER32 0xe023                 /* FLAT_USER_CS32 */
#define SS_USER   0xe02b                 /* FLAT_USER_SS64 */
#define CS_KERNEL_FRAME 0xe030           /* kernel CS as Xen shows it: RPL 0 */
#define IRET_OFF  (__HYPERVISOR_iret * 32)
#define EXIT_CALL 99

/* ------------------------------------------------------------------ */
/* The user program: position independent, copied to UCODE.  It keeps
 * %rbx = UDATA and stores what it sees there for the kernel to check. */
__asm__(
    ".text\n"
    ".globl u_prog, u_after1, u_after2, u_int3, u_pf_kernel, u_pf_hv, u_pf_code\n"
    ".globl u_ud2, u_int40, u_nocb, u_after_ev, u_compat, u_sys32, u_back64, u_end\n"
    ".globl u_compat2, u_sys32b, u_back64b\n"
    ".balign 16\n"
    "u_prog:\n"
    "    movabs $" "0x40002000" ", %rbx\n"
    /* 1: a syscall with arguments; the kernel returns with a plain iret */
    "    movl $1, %eax\n"
    "    movq $0x1111, %rdi\n"
    "    movq $0x2222, %rsi\n"
    "    movq $0x3333, %rdx\n"
    "    movq $0x4444, %r10\n"
    "    movq $0x5555, %r8\n"
    "    movq $0x6666, %r9\n"
    "    syscall\n"
    "u_after1:\n"
    "    movq %rax, 0(%rbx)\n"
    "    movq %rcx, 8(%rbx)\n"
    "    movq %r11, 16(%rbx)\n"
    /* 2: the kernel returns with VGCF_in_syscall */
    "    movl $2, %eax\n"
    "    syscall\n"
    "u_after2:\n"
    "    movq %rax, 24(%rbx)\n"
    "    movq %rcx, 32(%rbx)\n"
    "    movq %r11, 40(%rbx)\n"
    /* the user GS base */
    "    movq %gs:0, %rax\n"
    "    movq %rax, 48(%rbx)\n"
    /* faults: each handler checks the frame and steps over */
    "    int3\n"
    "u_int3:\n"
    "    movabs $0x1000, %rax\n"        /* patched: a kernel address */
    "u_pf_kernel:\n"
    "    movb (%rax), %al\n"
    "    movabs $0xFFFF830000100000, %rax\n"
    "u_pf_hv:\n"
    "    movb (%rax), %al\n"
    "    movabs $0x40000000, %rax\n"
    "u_pf_code:\n"
    "    movb %al, (%rax)\n"
    "u_ud2:\n"
    "    ud2\n"
    "u_int40:\n"
    "    int $0x40\n"
    /* 3: the kernel removes its syscall callback: the next syscall #UDs */
    "    movl $3, %eax\n"
    "    syscall\n"
    "u_nocb:\n"
    "    syscall\n"
    /* 4: the kernel sends itself an event: the upcall comes in user mode */
    "    movl $4, %eax\n"
    "    syscall\n"
    "u_after_ev:\n"
    "    movq $0x77, 56(%rbx)\n"
    /* a syscall from compatibility mode: the syscall32 callback.  Into
     * compatibility mode with a far jump through memory (QEMU's TCG pops
     * lret's and iret's operands as supervisor reads, which fault on user
     * pages under Xen's SMAP). */
    "    leaq u_compat(%rip), %rax\n"
    "    movl %eax, 72(%rbx)\n"
    "    movw $0xe023, 76(%rbx)\n"
    "    ljmpl *72(%rbx)\n"
    "u_compat:\n"
    "    movl $5, %eax\n"
    "u_sys32:\n"
    "    syscall\n"                     /* the kernel resumes us at u_back64 */
    "    ud2\n"
    "u_back64:\n"
    "    movq $0x88, 64(%rbx)\n"
    /* a compatibility-mode syscall with no syscall32 callback (case 5
     * removed it): #UD at the syscall, in compatibility mode */
    "    leaq u_compat2(%rip), %rax\n"
    "    movl %eax, 72(%rbx)\n"
    "    movw $0xe023, 76(%rbx)\n"
    "    ljmpl *72(%rbx)\n"
    "u_compat2:\n"
    "u_sys32b:\n"
    "    syscall\n"
    "    ud2\n"
    "u_back64b:\n"
    /* user %gs from the guest's GDT (SEGBASE_GS_USER_SEL) */
    "    movl $6, %eax\n"
    "    syscall\n"
    "    movq %gs:0, %rax\n"
    "    movq %rax, 80(%rbx)\n"
    "    xorl %eax, %eax\n"
    "    movw %gs, %ax\n"
    "    movq %rax, 88(%rbx)\n"
    /* a selector the CPU refuses: null */
    "    movl $7, %eax\n"
    "    syscall\n"
    "    xorl %eax, %eax\n"
    "    movw %gs, %ax\n"
    "    movq %rax, 96(%rbx)\n"
    /* the flat data selector: base 0 */
    "    movl $8, %eax\n"
    "    syscall\n"
    "    xorl %eax, %eax\n"
    "    movw %gs, %ax\n"
    "    movq %rax, 104(%rbx)\n"
    "    movabs $0x40002800, %rcx\n"
    "    movq %gs:(%rcx), %rax\n"
    "    movq %rax, 112(%rbx)\n"
    /* user %gs from the LDT */
    "    movl $9, %eax\n"
    "    syscall\n"
    "    movq %gs:0, %rax\n"
    "    movq %rax, 120(%rbx)\n"
    "    xorl %eax, %eax\n"
    "    movw %gs, %ax\n"
    "    movq %rax, 128(%rbx)\n"
    /* a long stretch in user mode (preempted on Keel, where a second
     * domain competes) on a %gs the program loads itself from GDT entry
     * 3: selector and base stay */
    "    movl $0x1b, %eax\n"
    "    movw %ax, %gs\n"
    "    movl $" "15000000" ", %ecx\n"
    "1:  movq %gs:0, %rax\n"
    "    cmpq 0x900(%rbx), %rax\n"
    "    jne 2f\n"
    "    decl %ecx\n"
    "    jnz 1b\n"
    "    movq $0x99, 136(%rbx)\n"
    "    jmp 3f\n"
    "2:  movq %rcx, 136(%rbx)\n"
    "3:  xorl %eax, %eax\n"
    "    movw %gs, %ax\n"
    "    movq %rax, 144(%rbx)\n"
    "    movl $" "99" ", %eax\n"
    "    syscall\n"
    "    ud2\n"
    "u_end:\n");

extern char u_prog[], u_after1[], u_after2[], u_int3[], u_pf_kernel[], u_pf_hv[], u_pf_code[],
    u_ud2[], u_int40[], u_nocb[], u_after_ev[], u_compat[], u_sys32[], u_back64[], u_end[],
    u_compat2[], u_sys32b[], u_back64b[];

static unsigned long uaddr(const char *label)
{
    return UCODE + (unsigned long)(label - u_prog);
}

/* ------------------------------------------------------------------ */
/* The kernel side of a syscall: the callback's frame, then our pushes. */
struct ksys_frame {
    uint64_t r15, r14, r13, r12, r10, r9, r8, rbp, rdi, rsi, rdx, rbx, rax;
    uint64_t rcx, r11, rip, cs, rflags, rsp, ss;    /* Xen's frame */
};

unsigned long ksys_iret_flags, kctx_rsp;
unsigned long ksys_c(struct ksys_frame *f);
void ksys_entry(void);
void ksys32_entry(void);
void enter_user(const unsigned long *iret_frame);

__asm__(
    ".text\n"
    ".globl ksys_entry, ksys32_entry, enter_user\n"
    /* rsp -> rcx, r11, rip, cs, rflags, rsp, ss (Xen's frame) */
    "ksys32_entry:\n"
    "ksys_entry:\n"
    "    pushq %rax\n    pushq %rbx\n    pushq %rdx\n    pushq %rsi\n    pushq %rdi\n"
    "    pushq %rbp\n    pushq %r8\n    pushq %r9\n    pushq %r10\n    pushq %r12\n"
    "    pushq %r13\n    pushq %r14\n    pushq %r15\n"
    "    movq %rsp, %rdi\n"
    "    movq %rsp, %rbx\n"
    "    andq $-16, %rsp\n"
    "    call ksys_c\n"
    "    movq %rbx, %rsp\n"
    "    cmpq $2, %rax\n"
    "    je 1f\n"
    "    popq %r15\n    popq %r14\n    popq %r13\n    popq %r12\n    popq %r10\n"
    "    popq %r9\n    popq %r8\n    popq %rbp\n    popq %rdi\n    popq %rsi\n"
    "    popq %rdx\n    popq %rbx\n    popq %rax\n"
    "    popq %rcx\n    popq %r11\n"
    "    pushq ksys_iret_flags(%rip)\n"
    "    jmp hypercall_page + " "736" "\n"
    /* exit: back into enter_user's caller, on the kernel's own stack */
    "1:  movq kctx_rsp(%rip), %rsp\n"
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
    "    xorl %eax, %eax\n    xorl %ecx, %ecx\n    xorl %r11d, %r11d\n"
    "    jmp hypercall_page + " "736" "\n");

_Static_assert(IRET_OFF == 736, "iret stub offset");
_Static_assert(UDATA == 0x40002000UL, "UDATA in u_prog");
_Static_assert(UDATA + UGS_OFF == 0x40002800UL, "the GS word in u_prog");

static bool on_keel;
static volatile unsigned long kgs_word = 0x6b6b6b6b6b6b6b6bUL;
static volatile unsigned long kdata_probe = 0x1234;
static unsigned long *udata;          /* the kernel's view of the data page */
static evtchn_port_t ev_send, ev_recv;
static volatile unsigned long ev_count, calls;

static long callback_op(unsigned cmd, unsigned type, unsigned flags, unsigned long addr)
{
    struct callback_register r = { .type = (uint16_t)type, .flags = (uint16_t)flags,
                                   .address = addr };
    if (cmd == CALLBACKOP_unregister) {
        struct callback_unregister u = { .type = (uint16_t)type };
        return HYPERVISOR_callback_op(cmd, &u);
    }
    return HYPERVISOR_callback_op(cmd, &r);
}

static unsigned long gs_word(void)
{
    unsigned long v;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(v) : : "memory");
    return v;
}

static bool events_masked(void)
{
    vcpu_info_t *v = minios_vcpu_info();
    return v && v->evtchn_upcall_mask;
}

/* Checks the part of a syscall frame that every user syscall shares. */
static void check_sys_frame(const char *what, const struct ksys_frame *f, unsigned long rip,
                            unsigned long cs)
{
    if (f->rip != rip || f->rcx != rip || f->cs != cs || f->ss != SS_USER ||
        f->rsp != USTACK + 0x1000)
        test_fail("%s: frame rip %#lx rcx %#lx cs %#lx ss %#lx rsp %#lx, expected rip=rcx=%#lx "
                  "cs %#lx ss %#x rsp %#lx", what, f->rip, f->rcx, f->cs, f->ss, f->rsp, rip, cs,
                  SS_USER, USTACK + 0x1000);
    if (!(f->rflags & 0x200) || (f->rflags & ~0x10000UL) != (f->r11 & ~0x10000UL))
        test_fail("%s: frame rflags %#lx r11 %#lx", what, f->rflags, f->r11);
    if (!events_masked())
        test_fail("%s: callback entered with events unmasked", what);
    if (gs_word() != kgs_word)
        test_fail("%s: the kernel's GS base is not active in the callback", what);
}

unsigned long ksys_c(struct ksys_frame *f)
{
    calls++;
    ksys_iret_flags = 0;
    switch (f->rax) {
    case 1:
        check_sys_frame("syscall 1", f, uaddr(u_after1), CS_USER);
        if (f->rdi != 0x1111 || f->rsi != 0x2222 || f->rdx != 0x3333 || f->r10 != 0x4444 ||
            f->r8 != 0x5555 || f->r9 != 0x6666 || f->rbx != UDATA)
            test_fail("syscall 1: registers not the user's (rdi %#lx r9 %#lx rbx %#lx)",
                      f->rdi, f->r9, f->rbx);
        f->rax = 0x100;
        f->rcx = 0xc1c1c1c1;     /* a plain iret restores rcx and r11 */
        f->r11 = 0x5151;
        return 0;
    case 2:
        check_sys_frame("syscall 2", f, uaddr(u_after2), CS_USER);
        f->rax = 0x200;
        f->rcx = 0xbad;          /* ignored with VGCF_in_syscall */
        f->r11 = 0xbad;
        f->rflags = 0x203;
        ksys_iret_flags = VGCF_in_syscall;
        return 0;
    case 3:
        /* No syscall callback (address 0, as Xen takes it): #UD. */
        CHECK_EQ(callback_op(CALLBACKOP_register, CALLBACKTYPE_syscall, 0, 0), 0);
        return 0;
    case 4:
        /* Pending now, delivered as soon as the iret unmasks events: in
         * user mode. */
        CHECK_EQ(minios_evtchn_send(ev_send), 0);
        if (ev_count)
            test_fail("event delivered while the syscall callback masks events");
        return 0;
    case 5:
        check_sys_frame("compat syscall", f, uaddr(u_sys32) + 2, CS_USER32);
        f->rip = uaddr(u_back64);   /* back to 64-bit user code */
        f->cs = CS_USER;
        CHECK_EQ(callback_op(CALLBACKOP_register, CALLBACKTYPE_syscall32, 0, 0), 0);
        return 0;
    case 6:
        CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_USER_SEL, 0x10), 0);
        return 0;
    case 7:
        CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_USER_SEL, 0xfff4), 0);
        return 0;
    case 8:
        CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_USER_SEL, 0xe02b), 0);
        return 0;
    case 9:
        CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_USER_SEL, 0x0c), 0);
        return 0;
    case EXIT_CALL:
        return 2;
    default:
        test_fail("unexpected syscall %#lx from rip %#lx", f->rax, f->rip);
        return 2;
    }
}

/* ------------------------------------------------------------------ */
/* Exceptions from user mode (minios's trap stubs, on the kernel stack). */
static volatile unsigned long nr_user_traps, trap_bad, kint3_cs, kint3_ss, kint3_count;
static volatile unsigned long kgp_count, kgp_err, kgp_rip;

static void user_trap(struct minios_trap_frame *f)
{
    if (f->vector == 6 && (f->cs & 0xffff) == CS_USER32) {
        /* The compatibility-mode syscall without a callback. */
        nr_user_traps++;
        if (f->rip != uaddr(u_sys32b) || (f->ss & 0xffff) != SS_USER)
            test_fail("compat #UD: rip %#lx ss %#lx, expected rip %#lx", f->rip,
                      f->ss & 0xffff, uaddr(u_sys32b));
        CHECK_EQ(callback_op(CALLBACKOP_register, CALLBACKTYPE_syscall32, CALLBACKF_mask_events,
                             (unsigned long)ksys32_entry), 0);
        f->rip = uaddr(u_back64b);
        f->cs = (f->cs & ~0xffffUL) | CS_USER;
        return;
    }
    if ((f->cs & 0xffff) != CS_USER) {
        /* The iret of test_iret_fault to a selector with no descriptor:
         * the fault on its frame; back to the flat kernel CS. */
        if (f->vector == 13 && (f->cs & 0xffff) == 0x08) {
            kgp_count++;
            kgp_err = f->error_code;
            kgp_rip = f->rip;
            f->cs = (f->cs & ~0xffffUL) | CS_KERNEL_FRAME;
            return;
        }
        /* The kernel-mode int3s of check_kernel_frame and test_own_cs. */
        if (f->vector == 3 && !(f->cs & 3)) {
            kint3_cs = f->cs & 0xffff;
            kint3_ss = f->ss & 0xffff;
            kint3_count++;
            return;
        }
        test_fail("vector %lu from kernel mode: cs %#lx ss %#lx rip %#lx", f->vector,
                  f->cs & 0xffff, f->ss & 0xffff, f->rip);
        trap_bad++;
        if (f->vector != 3)
            minios_set_trap_handler((unsigned)f->vector, NULL);   /* minios ends it */
        return;
    }
    nr_user_traps++;
    if ((f->ss & 0xffff) != SS_USER || f->rsp != USTACK + 0x1000 || !(f->rflags & 0x200))
        test_fail("vector %lu: frame ss %#lx rsp %#lx rflags %#lx", f->vector, f->ss & 0xffff,
                  f->rsp, f->rflags);
    if (gs_word() != kgs_word)
        test_fail("vector %lu: the kernel's GS base is not active", f->vector);
    if (kdata_probe != 0x1234)
        test_fail("vector %lu: kernel data unreadable", f->vector);
    unsigned long want_rip = 0, want_err = 0, want_cr2 = 0, skip = 2;
    switch (f->vector) {
    case 3:
        want_rip = uaddr(u_int3);
        skip = 0;
        break;
    case 14:
        if (f->rip == uaddr(u_pf_kernel)) {
            want_rip = f->rip;
            want_cr2 = (unsigned long)&kdata_probe;
            want_err = 4;                    /* user, read, not present */
        } else if (f->rip == uaddr(u_pf_hv)) {
            want_rip = f->rip;
            want_cr2 = HV_ADDR;
            want_err = 5;                    /* user, read, present */
        } else {
            want_rip = uaddr(u_pf_code);
            want_cr2 = UCODE;
            want_err = 7;                    /* user, write, present */
        }
        break;
    case 6:
        if (f->rip == uaddr(u_nocb)) {
            /* The syscall #UD: put the callback back. */
            want_rip = uaddr(u_nocb);
            CHECK_EQ(callback_op(CALLBACKOP_register, CALLBACKTYPE_syscall,
                                 CALLBACKF_mask_events, (unsigned long)ksys_entry), 0);
        } else {
            want_rip = uaddr(u_ud2);
        }
        break;
    case 13:
        /* int $0x40 through a gate user mode may not use: #GP with the
         * IDT error code (vector * 8 + 2; QEMU's TCG gives vector * 16 + 2). */
        want_rip = uaddr(u_int40);
        want_err = f->error_code == ((0x40 << 4) | 2) ? (0x40 << 4) | 2 : (0x40 << 3) | 2;
        break;
    default:
        test_fail("unexpected vector %lu at rip %#lx", f->vector, f->rip);
        trap_bad++;
        f->rip = uaddr(u_end) - 2;          /* the exit syscall is before it */
        return;
    }
    if (f->rip != want_rip || f->error_code != want_err || (f->vector == 14 && f->cr2 != want_cr2))
        test_fail("vector %lu: rip %#lx error %#lx cr2 %#lx, expected rip %#lx error %#lx cr2 %#lx",
                  f->vector, f->rip, f->error_code, f->cr2, want_rip, want_err, want_cr2);
    f->rip += skip;
}

static void ev_handler(evtchn_port_t port, void *data)
{
    (void)port, (void)data;
    ev_count++;
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

static unsigned long *tables[4];       /* L4, L3, L2, L1 of the user space */
static unsigned long *ucode, *ustack;
static unsigned char kstack[16384] __attribute__((aligned(16)));

static void map_tables(bool writable)
{
    for (int i = 0; i < 4; i++)
        CHECK_EQ(uvm(tables[i], mfn_of(tables[i]) << 12 | PTE_P | PTE_A |
                                (writable ? PTE_W | PTE_D : 0)), 0);
}

static bool build_user_space(void)
{
    for (int i = 0; i < 4; i++)
        tables[i] = minios_alloc_pages(1);
    ucode = minios_alloc_pages(1);
    ustack = minios_alloc_pages(1);
    udata = minios_alloc_pages(1);
    if (!tables[0] || !tables[1] || !tables[2] || !tables[3] || !ucode || !ustack || !udata) {
        test_error("out of pages");
        return false;
    }
    for (int i = 0; i < 4; i++)
        memset(tables[i], 0, 4096);
    memset(ucode, 0xcc, 4096);
    memcpy(ucode, u_prog, (size_t)(u_end - u_prog));
    /* Patch the kernel address the program reads (the movabs before
     * u_pf_kernel: its 8-byte immediate ends there). */
    unsigned long kaddr = (unsigned long)&kdata_probe;
    memcpy((char *)ucode + (u_pf_kernel - u_prog) - 8, &kaddr, 8);
    memset(ustack, 0, 4096);
    memset(udata, 0, 4096);
    udata[UGS_OFF / 8] = 0x7573657267736273UL;
    udata[0x900 / 8] = 0x32736567736c6573UL;
    unsigned long u = PTE_P | PTE_W | PTE_U | PTE_A;
    tables[0][(UCODE >> 39) & 511] = mfn_of(tables[1]) << 12 | u;
    tables[1][(UCODE >> 30) & 511] = mfn_of(tables[2]) << 12 | u;
    tables[2][(UCODE >> 21) & 511] = mfn_of(tables[3]) << 12 | u;
    tables[3][(UCODE >> 12) & 511] = mfn_of(ucode) << 12 | PTE_P | PTE_U | PTE_A;
    tables[3][(USTACK >> 12) & 511] = mfn_of(ustack) << 12 | u | PTE_D;
    tables[3][(UDATA >> 12) & 511] = mfn_of(udata) << 12 | u | PTE_D;
    map_tables(false);
    return true;
}

/* MMUEXT_NEW_USER_BASEPTR: the good table, and refusals. */
static void test_user_baseptr(void)
{
    unsigned long l4 = mfn_of(tables[0]);
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, l4), 0);
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, l4), 0);                /* the same again */
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, mfn_of(udata)), -XEN_EINVAL);   /* writable */
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, mfn_of(tables[3])), -XEN_EINVAL); /* an L1 */
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, 0xFFFFFFFFFUL), -XEN_EINVAL);     /* not ours */
    /* In use: its frames cannot be mapped writable.  Xen refuses the
     * writable mapping with -EBUSY; Keel's mm.c with -EINVAL (docs/abi.md). */
    long busy = on_keel ? -XEN_EINVAL : -XEN_EBUSY;
    CHECK_EQ(uvm(tables[0], l4 << 12 | PTE_P | PTE_W | PTE_A | PTE_D), busy);
    CHECK_EQ(uvm(tables[3], mfn_of(tables[3]) << 12 | PTE_P | PTE_W | PTE_A | PTE_D), busy);
    /* Dropped (0) and installed again. */
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, 0), 0);
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, 0), 0);
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, l4), 0);
}

/* ------------------------------------------------------------------ */
/* Descriptors: flat 64-bit code and a data segment at base, DPL 0 (Xen
 * raises both to 3), and system descriptors. */
#define DESC_CODE64 0x00209a0000000000UL
#define DPL3        (3UL << 45)

static unsigned long data_desc(unsigned long base)
{
    return 0xffffUL | (base & 0xffff) << 16 | ((base >> 16) & 0xff) << 32 | 0x92UL << 40 |
           0xfUL << 48 | 0xcUL << 52 | ((base >> 24) & 0xff) << 56;
}

static unsigned long gate(unsigned sel, unsigned dpl, unsigned long extra)
{
    return 0x1000UL | (unsigned long)sel << 16 | (0x8cUL | dpl << 5) << 40 | extra;
}

static long update_desc(unsigned long maddr, unsigned long d)
{
    return _hypercall2(__HYPERVISOR_update_descriptor, maddr, d);
}

static long set_gdt(const unsigned long *frames, unsigned long ents)
{
    return _hypercall2(__HYPERVISOR_set_gdt, frames, ents);
}

static unsigned long *gdt_page, *bad_page;
static void test_own_cs(void);

static void test_update_descriptor(void)
{
    unsigned long *pg = minios_alloc_pages(1);
    if (!pg) {
        test_error("out of pages");
        return;
    }
    memset(pg, 0, 4096);
    unsigned long m = mfn_of(pg) << 12;
    long busy = on_keel ? -XEN_EINVAL : -XEN_EBUSY;
    (void)busy;
    CHECK_EQ(update_desc(m + 8, DESC_CODE64), 0);
    CHECK_EQ(pg[1], DESC_CODE64 | DPL3);                         /* DPL raised to 3 */
    CHECK_EQ(update_desc(m + 16, data_desc(0x12345678)), 0);
    CHECK_EQ(pg[2], data_desc(0x12345678) | DPL3);
    CHECK_EQ(update_desc(m + 24, 0x1234567812345678UL), 0);      /* not present: as is */
    CHECK_EQ(pg[3], 0x1234567812345678UL);
    CHECK_EQ(update_desc(m + 32, 0x0000800000000000UL), 0);      /* type 0: harmless */
    CHECK_EQ(pg[4], 0x0000800000000000UL);
    CHECK_EQ(update_desc(m + 40, gate(FLAT_KERNEL_CS, 3, 0)), 0);
    CHECK_EQ(pg[5], gate(FLAT_KERNEL_CS, 0, 0));                 /* gate DPL 0 */
    CHECK_EQ(update_desc(m + 48, gate(0x10, 3, 0)), 0);
    CHECK_EQ(pg[6], gate(0x13, 0, 0));                           /* DPL kept in the RPL */
    CHECK_EQ(update_desc(m + 56, gate(0xfff4, 0, 0)), 0);        /* an LDT selector */
    CHECK_EQ(pg[7], gate(0xfff7, 0, 0));
    /* Refused, nothing written. */
    pg[8] = 0x77;
    CHECK_EQ(update_desc(m + 64, gate(0xe008, 3, 0)), -XEN_EINVAL);   /* the hypervisor's CS */
    CHECK_EQ(update_desc(m + 64, gate(0x10, 3, 1UL << 32)), -XEN_EINVAL); /* reserved bits */
    CHECK_EQ(update_desc(m + 64, 0x0000890000000067UL), -XEN_EINVAL); /* a TSS */
    CHECK_EQ(update_desc(m + 64, 0x0000820000000fffUL), -XEN_EINVAL); /* an LDT */
    CHECK_EQ(update_desc(m + 64, 0x00008e0000000000UL), -XEN_EINVAL); /* an interrupt gate */
    CHECK_EQ(update_desc(m + 64, 0x00008f0000000000UL), -XEN_EINVAL); /* a trap gate */
    CHECK_EQ(update_desc(m + 66, DESC_CODE64), -XEN_EINVAL);          /* misaligned */
    CHECK_EQ(pg[8], 0x77);
    CHECK_EQ(update_desc(0xFFFFFFFFF000UL, DESC_CODE64), -XEN_EINVAL); /* not ours */
    CHECK_EQ(update_desc(mfn_of((void *)minios_start_info->pt_base) << 12, DESC_CODE64),
             -XEN_EINVAL);                                            /* a page table */
    minios_free_pages(pg, 1);
}

static void test_gdt(void)
{
    gdt_page = minios_alloc_pages(1);
    bad_page = minios_alloc_pages(1);
    if (!gdt_page || !bad_page) {
        test_error("out of pages");
        return;
    }
    memset(gdt_page, 0, 4096);
    memset(bad_page, 0, 4096);
    gdt_page[1] = DESC_CODE64;
    gdt_page[2] = data_desc(UDATA + 0x900);       /* moved by update_descriptor below */
    gdt_page[3] = gate(0xe008, 0, 0) & ~(1UL << 47);    /* not present: fine */
    bad_page[5] = 0x0000890000000067UL;          /* a TSS */
    unsigned long g = mfn_of(gdt_page), b = mfn_of(bad_page), frames[2] = { g, mfn_of(udata) };
    long busy = on_keel ? -XEN_EINVAL : -XEN_EBUSY;
    /* Writable frames, a bad descriptor, frames not ours, too many. */
    CHECK_EQ(set_gdt(&g, 4), -XEN_EINVAL);
    CHECK_EQ(uvm(gdt_page, g << 12 | PTE_P | PTE_A), 0);
    CHECK_EQ(uvm(bad_page, b << 12 | PTE_P | PTE_A), 0);
    CHECK_EQ(set_gdt(&b, 8), -XEN_EINVAL);
    unsigned long notours = 0xFFFFFFFFFUL;
    CHECK_EQ(set_gdt(&notours, 1), -XEN_EINVAL);
    CHECK_EQ(set_gdt(frames, 513), -XEN_EINVAL);  /* the second frame is writable */
    CHECK_EQ(set_gdt(&g, 14 * 512 + 1), -XEN_EINVAL);
    CHECK_EQ(set_gdt(&notours, (1UL << 32) | 1), -XEN_EINVAL);   /* the count is 32 bits */
    CHECK_EQ(set_gdt(&g, 0xFFFFFFFF00000000UL), 0);              /* i.e. 0: no GDT */
    CHECK_EQ(set_gdt((unsigned long *)HV_ADDR, 4), -XEN_EFAULT);
    /* A good one: its frame cannot be mapped writable while in use. */
    CHECK_EQ(set_gdt(&g, 4), 0);
    CHECK_EQ(gdt_page[1], DESC_CODE64 | DPL3);
    CHECK_EQ(gdt_page[2], data_desc(UDATA + 0x900) | DPL3);
    CHECK_EQ(uvm(gdt_page, g << 12 | PTE_P | PTE_W | PTE_A | PTE_D), busy);
    CHECK_EQ(mmuext(MMUEXT_PIN_L1_TABLE, g), -XEN_EINVAL);
    /* update_descriptor on it, live: entry 2 now based at the GS word. */
    CHECK_EQ(update_desc(g << 12 | 16, data_desc(UDATA + UGS_OFF)), 0);
    CHECK_EQ(gdt_page[2], data_desc(UDATA + UGS_OFF) | DPL3);
    CHECK_EQ(update_desc(g << 12 | 24, 0x0000890000000067UL), -XEN_EINVAL);
    CHECK_EQ(update_desc(g << 12 | 24, data_desc(UDATA + 0x900)), 0);   /* for user mode */
    test_own_cs();
    /* The bad page is free again, the good one stays the GDT (user mode
     * loads a selector from it). */
    CHECK_EQ(uvm(bad_page, b << 12 | PTE_P | PTE_W | PTE_A | PTE_D), 0);
}

/* MMUEXT_SET_LDT: refusals, and an LDT whose entry 1 user mode loads. */
static unsigned long *ldt_page;

static long set_ldt(unsigned long base, unsigned long ents)
{
    struct mmuext_op op = { .cmd = MMUEXT_SET_LDT };
    op.arg1.linear_addr = base;
    op.arg2.nr_ents = (unsigned)ents;
    return _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
}

static void test_ldt(void)
{
    ldt_page = minios_alloc_pages(1);
    if (!ldt_page) {
        test_error("out of pages");
        return;
    }
    memset(ldt_page, 0, 4096);
    ldt_page[1] = data_desc(UDATA + UGS_OFF);
    CHECK_EQ(uvm(ldt_page, mfn_of(ldt_page) << 12 | PTE_P | PTE_A), 0);
    unsigned long va = (unsigned long)ldt_page;
    CHECK_EQ(set_ldt(va + 8, 2), -XEN_EINVAL);            /* not page aligned */
    CHECK_EQ(set_ldt(HV_ADDR & ~4095UL, 2), -XEN_EINVAL); /* the hypervisor's */
    CHECK_EQ(set_ldt(0x0000900000000000UL, 2), -XEN_EINVAL);
    CHECK_EQ(set_ldt(va, 8193), -XEN_EINVAL);
    CHECK_EQ(set_ldt(va + 8, 0), 0);                      /* none: the address ignored */
    CHECK_EQ(set_ldt(va, 2), 0);
}

static void test_ldt_drop(void)
{
    unsigned long m = mfn_of(ldt_page);
    long busy = on_keel ? -XEN_EINVAL : -XEN_EBUSY;
    /* Used (user mode loaded %gs from it): a descriptor page. */
    CHECK_EQ(uvm(ldt_page, m << 12 | PTE_P | PTE_W | PTE_A | PTE_D), busy);
    CHECK_EQ(update_desc(m << 12 | 16, 0x0000890000000067UL), -XEN_EINVAL);
    CHECK_EQ(update_desc(m << 12 | 16, DESC_CODE64), 0);
    CHECK_EQ(ldt_page[2], DESC_CODE64 | DPL3);
    CHECK_EQ(set_ldt(0, 0), 0);
    CHECK_EQ(uvm(ldt_page, m << 12 | PTE_P | PTE_W | PTE_A | PTE_D), 0);
}

/* A second vCPU started with a GDT in its vcpu_guest_context (as Linux
 * brings up its secondary vCPUs): it sees its entries. */
static volatile unsigned long v1_ar, v1_zf, v1_done;
static char v1_stack[16384] __attribute__((aligned(16)));

static void vcpu1_fn(void)
{
    unsigned long ar = 0;
    unsigned char zf = 0;
    __asm__ volatile("lar %k2, %k0\n\tsetz %1" : "+r"(ar), "=q"(zf) : "r"(0x13UL) : "cc");
    v1_ar = ar;
    v1_zf = zf;
    v1_done = 1;
    HYPERVISOR_vcpu_op(VCPUOP_down, 1, NULL);
    for (;;)
        __asm__ volatile("pause");
}

static void test_vcpu1_gdt(void)
{
    struct vcpu_guest_context c;
    if (HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL) < 0) {
        printf("one vCPU: a GDT in vcpu_guest_context not tested (give vcpus=2)\n");
        return;
    }
    unsigned long *g2 = minios_alloc_pages(1);
    memset(g2, 0, 4096);
    g2[2] = data_desc(0x1000);
    unsigned long m2 = mfn_of(g2);
    vcpu_ctx_init(&c, vcpu1_fn, v1_stack, sizeof(v1_stack));
    c.gdt_frames[0] = m2;
    c.gdt_ents = 4;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &c), -XEN_EINVAL);  /* g2 writable */
    CHECK_EQ(uvm(g2, m2 << 12 | PTE_P | PTE_A), 0);
    c.gdt_ents = 17 * 512;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &c), -XEN_EINVAL);
    c.gdt_ents = 4;
    c.ldt_base = 8;
    c.ldt_ents = 1;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &c), -XEN_EINVAL);  /* LDT misaligned */
    c.ldt_base = 0;
    c.ldt_ents = 0;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &c), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    uint64_t t0 = minios_monotonic_ns();
    while (!v1_done && minios_monotonic_ns() < t0 + 2000000000ULL)
        ;
    CHECK_EQ(v1_done, 1);
    CHECK_EQ(v1_zf, 1);                      /* GDT entry 2 is there */
    CHECK_EQ(v1_ar & 0xff00, 0xf200);        /* a data segment, DPL 3 */
    CHECK_EQ(g2[2], data_desc(0x1000) | DPL3);
}

/* An iret to a code selector the GDT has no descriptor for: the guest
 * gets the #GP (error code: the selector) the iretq raises, on the frame
 * it named, as Xen gives it. */
static void test_iret_fault(void)
{
    unsigned long target;
    __asm__ volatile("subq $128, %%rsp\n\t"
                     "movq %%rsp, %%rax\n\t"
                     "leaq 1f(%%rip), %%rcx\n\t"
                     "movq %%rcx, %0\n\t"
                     "pushq $0xe02b\n\t"
                     "pushq %%rax\n\t"
                     "pushq $0x202\n\t"
                     "pushq $0x08\n\t"           /* RPL 0: kernel mode, entry 1 */
                     "pushq %%rcx\n\t"
                     "pushq $0\n\t"
                     "jmp hypercall_page + 736\n"
                     "1:\taddq $128, %%rsp"
                     : "=m"(target) : : "rax", "rcx", "rdx", "r11", "memory");
    CHECK_EQ(kgp_count, 1);
    CHECK_EQ(kgp_err, 0x08);
    CHECK_EQ(kgp_rip, target);
}

static void test_gdt_drop(void)
{
    unsigned long g = mfn_of(gdt_page);
    CHECK_EQ(set_gdt(NULL, 0), 0);
    CHECK_EQ(uvm(gdt_page, g << 12 | PTE_P | PTE_W | PTE_A | PTE_D), 0);
}

static void test_callbacks(void)
{
    /* As Xen for a 64-bit guest: syscall32 and sysenter are accepted;
     * none of the five can be unregistered; unknown types -ENOSYS. */
    CHECK_EQ(callback_op(CALLBACKOP_register, CALLBACKTYPE_syscall32, CALLBACKF_mask_events,
                         (unsigned long)ksys32_entry), 0);
    CHECK_EQ(callback_op(CALLBACKOP_register, CALLBACKTYPE_sysenter, 0,
                         (unsigned long)ksys32_entry), 0);
    CHECK_EQ(callback_op(CALLBACKOP_register, CALLBACKTYPE_syscall, CALLBACKF_mask_events,
                         0x0000900000000000UL), -XEN_EINVAL);
    CHECK_EQ(callback_op(CALLBACKOP_register, 77, 0, (unsigned long)ksys_entry), -XEN_ENOSYS);
    CHECK_EQ(callback_op(CALLBACKOP_unregister, CALLBACKTYPE_syscall, 0, 0), -XEN_EINVAL);
    CHECK_EQ(callback_op(CALLBACKOP_unregister, CALLBACKTYPE_syscall32, 0, 0), -XEN_EINVAL);
    CHECK_EQ(callback_op(CALLBACKOP_unregister, CALLBACKTYPE_sysenter, 0, 0), -XEN_EINVAL);
    CHECK_EQ(callback_op(CALLBACKOP_unregister, 77, 0, 0), -XEN_ENOSYS);
    /* Both commands are 32 bits wide. */
    struct callback_unregister cu = { .type = CALLBACKTYPE_syscall };
    CHECK_EQ(_hypercall2(__HYPERVISOR_callback_op, (1UL << 32) | CALLBACKOP_unregister, &cu),
             -XEN_EINVAL);
    CHECK_EQ(_hypercall2(__HYPERVISOR_set_segment_base, (1UL << 32) | SEGBASE_GS_USER,
                         0x0000900000000000UL), -XEN_EINVAL);
    CHECK_EQ(_hypercall2(__HYPERVISOR_set_segment_base, (1UL << 32) | SEGBASE_GS_USER, 0), 0);
    CHECK_EQ(callback_op(CALLBACKOP_register, CALLBACKTYPE_syscall, CALLBACKF_mask_events,
                         (unsigned long)ksys_entry), 0);
}

/* A kernel-mode exception's frame: CS with RPL 0, SS as it was. */
static void check_kernel_frame(void)
{
    unsigned long n = kint3_count;
    __asm__ volatile("int3" ::: "memory");
    CHECK_EQ(kint3_count, n + 1);
    CHECK_EQ(kint3_cs, CS_KERNEL_FRAME);
    CHECK_EQ(kint3_ss, SS_USER);
}

/* The kernel on a code segment of its own GDT (entry 1, selector 0xb):
 * an exception's frame shows it with RPL 0, and iret goes back to it. */
static unsigned long cs_now(void)
{
    unsigned long cs = 0;
    __asm__ volatile("movw %%cs, %w0" : "+r"(cs));
    return cs;
}

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

static void test_own_cs(void)
{
    if ((unsigned long)test_own_cs >> 32) {
        test_skip("code above 4 GiB: no far jump through m16:32");
        return;
    }
    unsigned long n = kint3_count;
    far_jump(0x0b);
    unsigned long cs1 = cs_now();
    __asm__ volatile("int3" ::: "memory");
    unsigned long cs2 = cs_now();
    far_jump(CS_USER);
    CHECK_EQ(cs1, 0x0b);
    CHECK_EQ(kint3_count, n + 1);
    CHECK_EQ(kint3_cs, 0x08);              /* RPL 0: kernel mode */
    CHECK_EQ(cs2, 0x0b);                   /* iret loads the frame's CS */
    CHECK_EQ(cs_now(), CS_USER);
}

static void run_user(void)
{
    unsigned long frame[6] = { 0, UCODE, CS_USER, 0x202, USTACK + 0x1000, SS_USER };
    unsigned long traps_before = nr_user_traps;
    struct vcpu_runstate_info r0, r1;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0, &r0), 0);
    uint64_t t0 = minios_monotonic_ns();
    enter_user(frame);
    uint64_t t1 = minios_monotonic_ns();
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0, &r1), 0);
    printf("user mode: %lu ms, runnable (switched out) %lu ms\n",
           (unsigned long)((t1 - t0) / 1000000),
           (unsigned long)((r1.time[RUNSTATE_runnable] - r0.time[RUNSTATE_runnable]) / 1000000));
    if (on_keel && r1.time[RUNSTATE_runnable] == r0.time[RUNSTATE_runnable])
        test_fail("never switched out in user mode (the witness domain competes for the pCPU)");
    /* Back from the exit syscall: kernel mode, events masked. */
    minios_events_enable();
    CHECK_EQ(udata[0], 0x100);
    CHECK_EQ(udata[1], 0xc1c1c1c1);
    CHECK_EQ(udata[2], 0x5151);
    CHECK_EQ(udata[3], 0x200);
    CHECK_EQ(udata[4], uaddr(u_after2));        /* in_syscall: rcx = rip */
    CHECK_EQ(udata[5], 0x203);                  /* ... and r11 = rflags */
    CHECK_EQ(udata[6], 0x7573657267736273UL);   /* %gs:0 with the user GS base */
    CHECK_EQ(udata[7], 0x77);
    CHECK_EQ(udata[8], 0x88);
    CHECK_EQ(udata[10], 0x7573657267736273UL);  /* %gs:0, base from GDT entry 2 */
    CHECK_EQ(udata[11], 0x13);                  /* the selector, RPL 3 */
    CHECK_EQ(udata[12], 0);                     /* refused: null */
    CHECK_EQ(udata[13], 0xe02b);
    CHECK_EQ(udata[14], 0x7573657267736273UL);  /* flat: base 0 */
    CHECK_EQ(udata[15], 0x7573657267736273UL);  /* %gs:0, base from LDT entry 1 */
    CHECK_EQ(udata[16], 0x0f);
    CHECK_EQ(udata[17], 0x99);                  /* the long stretch saw its GS base */
    CHECK_EQ(udata[18], 0x1b);                  /* ... and kept its selector */
    CHECK_EQ(nr_user_traps - traps_before, 8);  /* int3, 3 #PF, ud2, int $0x40, 2 syscall #UD */
    CHECK_EQ(ev_count, 1);
    CHECK_EQ(calls, 10);
    CHECK_EQ(trap_bad, 0);
}

int main(void)
{
    xen_extraversion_t ev;
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_extraversion, ev), 0);
    on_keel = strstr(ev, "keel") != NULL;
    printf("xen-user on %s\n", on_keel ? "Keel" : "Xen");
    if (!minios_traps_available() || !minios_events_available()) {
        test_error("no traps or events");
        return test_finish();
    }
    static const unsigned vecs[] = { 3, 6, 13, 14 };
    for (unsigned i = 0; i < 4; i++)
        minios_set_trap_handler(vecs[i], user_trap);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_KERNEL, (unsigned long)&kgs_word), 0);
    check_kernel_frame();
    if (!build_user_space())
        return test_finish();
    test_user_baseptr();
    test_callbacks();
    test_update_descriptor();
    test_gdt();
    test_ldt();
    CHECK_EQ(HYPERVISOR_stack_switch(FLAT_KERNEL_SS, (unsigned long)kstack + sizeof(kstack)), 0);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_USER, UDATA + UGS_OFF), 0);
    domid_t self = minios_domid();
    CHECK_EQ(minios_evtchn_alloc_unbound(self, &ev_recv), 0);
    CHECK_EQ(minios_evtchn_bind_interdomain(self, ev_recv, &ev_send), 0);
    CHECK_EQ(minios_evtchn_bind(ev_recv, ev_handler, NULL), 0);

    run_user();
    printf("user mode: %lu syscalls, %lu exceptions, %lu events\n", calls, nr_user_traps,
           ev_count);

    /* The user base dropped: its tables are ordinary pages again. */
    CHECK_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, 0), 0);
    map_tables(true);
    test_vcpu1_gdt();
    test_gdt_drop();
    test_iret_fault();
    test_ldt_drop();
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_USER_SEL, 0), 0);
    CHECK_EQ(HYPERVISOR_set_segment_base(SEGBASE_GS_KERNEL, 0), 0);
    for (unsigned i = 0; i < 4; i++)
        minios_set_trap_handler(vecs[i], NULL);
    return test_finish();
}
