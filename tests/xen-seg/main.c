/* Guest test: segments a vCPU is switched back in with, as Xen 4.17 loads
 * them for a 64-bit PV guest (load_segments).  vCPU 1 spins on the same
 * pCPU, so that whenever vCPU 0 blocks it is switched out and back in.
 * Failsafe callback: vCPU 0 loads %ds and %es from an entry of its GDT,
 * makes that entry not present with update_descriptor and blocks; when it
 * is switched back in the selectors no longer load, and it must enter its
 * failsafe callback with Xen's frame { rcx, r11, ds, es, fs, gs, rip,
 * cs|mask<<32, rflags, rsp, ss } (the selectors as they were, cs with RPL
 * 0, events masked only if it was registered so), the two selectors null.
 * Three ways: registered with CALLBACKF_mask_events, without it, and
 * none at all (address 0: the vCPU runs at 0 and takes a
 * #PF there, on top of the same frame).  It runs on Keel and as dom0 of
 * real Xen 4.17 (xen-seg-xen) with the same expectations. */
#include <minios/events.h>
#include <xen/vcpu.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <minios/traps.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "report.h"
#include "vcpuctx.h"

#define PTE_P 1UL
#define PTE_A 0x20UL
#define PTE_W 2UL
#define PTE_D 0x40UL
#define SEL   0x13UL                      /* GDT entry 2, RPL 3 */
#define CS_KERNEL_FRAME 0xe030UL          /* the kernel CS as Xen shows it: RPL 0 */
#define IRET_OFF (__HYPERVISOR_iret * 32)

static bool on_keel;

/* ------------------------------------------------------------------ */
/* The failsafe callback: records the frame and what it finds, then
 * returns to the interrupted code with iret (the stub pushes rcx, r11 and
 * rax; flags 0 goes in the gs slot, just below rip). */
volatile unsigned long fs_frame[11], fs_at, fs_count, fs_mask, fs_ds, fs_es;
void fs_entry(void);
void fs_c(unsigned long *frame);

__asm__(
    ".text\n"
    ".globl fs_entry\n"
    "fs_entry:\n"
    "    pushq %rax\n    pushq %rdx\n    pushq %rsi\n    pushq %rdi\n    pushq %r8\n"
    "    pushq %r9\n    pushq %r10\n    pushq %rbx\n"
    "    leaq 64(%rsp), %rdi\n"
    "    movq %rsp, %rbx\n"
    "    andq $-16, %rsp\n"
    "    call fs_c\n"
    "    movq %rbx, %rsp\n"
    "    popq %rbx\n    popq %r10\n    popq %r9\n    popq %r8\n    popq %rdi\n"
    "    popq %rsi\n    popq %rdx\n    popq %rax\n"
    "    popq %rcx\n"                  /* the interrupted rcx, r11 */
    "    popq %r11\n"
    "    addq $24, %rsp\n"              /* ds, es, fs */
    "    movq $0, (%rsp)\n"             /* gs -> iret flags */
    "    jmp hypercall_page + " "736" "\n");

_Static_assert(IRET_OFF == 736, "iret stub offset");

void fs_c(unsigned long *frame)
{
    unsigned long ds = 0, es = 0;
    __asm__ volatile("movw %%ds, %w0\n\tmovw %%es, %w1" : "+r"(ds), "+r"(es));
    for (int i = 0; i < 11; i++)
        fs_frame[i] = frame[i];
    fs_at = (unsigned long)frame;
    vcpu_info_t *v = minios_vcpu_info();
    fs_mask = v ? v->evtchn_upcall_mask : 0xff;
    fs_ds = ds;
    fs_es = es;
    fs_count++;
}

/* With no failsafe callback the vCPU runs at address 0, where a page of
 * ours is mapped for that round (the image's first page holds only
 * _start): it counts and jumps on to fs_entry, the frame where the
 * failsafe left it. */
static volatile unsigned long zero_count;

static void *zero_page_make(void)
{
    unsigned char *p = minios_alloc_pages(1);
    if (!p)
        return NULL;
    memset(p, 0xcc, 4096);
    unsigned long cnt = (unsigned long)&zero_count, target = (unsigned long)fs_entry;
    if (cnt >> 31)
        return NULL;
    static const unsigned char code[14] = {
        0x48, 0xff, 0x04, 0x25, 0, 0, 0, 0,     /* incq zero_count (absolute) */
        0xff, 0x25, 0, 0, 0, 0,                 /* jmp *(the next 8 bytes) */
    };
    memcpy(p, code, sizeof(code));
    uint32_t c32 = (uint32_t)cnt;
    memcpy(p + 4, &c32, 4);
    memcpy(p + 14, &target, 8);
    return p;
}

/* ------------------------------------------------------------------ */
static unsigned long mfn_of(const void *va)
{
    return ((const unsigned long *)minios_start_info->mfn_list)[(unsigned long)va >> 12];
}

static unsigned long data_desc(unsigned long base)
{
    return 0xffffUL | (base & 0xffff) << 16 | ((base >> 16) & 0xff) << 32 | 0xf2UL << 40 |
           0xfUL << 48 | 0xcUL << 52 | ((base >> 24) & 0xff) << 56;
}

static unsigned long *gdt_page;
static evtchn_port_t idle_port;
static volatile int v1_running;
static char v1_stack[16384] __attribute__((aligned(16)));

static void vcpu1_spin(void)
{
    v1_running = 1;
    for (;;)
        __asm__ volatile("pause");
}

static unsigned long sel_now(int which)
{
    unsigned long s = 0;
    if (which == 0)
        __asm__ volatile("movw %%ds, %w0" : "+r"(s));
    else if (which == 1)
        __asm__ volatile("movw %%es, %w0" : "+r"(s));
    else if (which == 2)
        __asm__ volatile("movw %%fs, %w0" : "+r"(s));
    else
        __asm__ volatile("movw %%gs, %w0" : "+r"(s));
    return s;
}

/* Blocks (SCHEDOP_poll on a port never signalled, 20 ms) until *count
 * moves or 3 s pass: vCPU 1 runs meanwhile, vCPU 0 comes back. */
static bool block_until(volatile unsigned long *count, unsigned long was)
{
    uint64_t t0 = minios_monotonic_ns();
    while (*count == was && minios_monotonic_ns() < t0 + 3000000000ULL) {
        evtchn_port_t p = idle_port;
        struct sched_poll sp = { .nr_ports = 1, .timeout = minios_monotonic_ns() + 20000000ULL };
        set_xen_guest_handle(sp.ports, &p);
        HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
    }
    return *count != was;
}

/* One round: %ds and %es from GDT entry 2, the entry made not present
 * behind them, vCPU 0 switched out and in: the failsafe callback. */
static void round(const char *what, bool want_mask, bool via_zero)
{
    unsigned long g = mfn_of(gdt_page);
    CHECK_EQ(_hypercall2(__HYPERVISOR_update_descriptor, g << 12 | 16, data_desc(0)), 0);
    unsigned long fs0 = sel_now(2), gs0 = sel_now(3);
    __asm__ volatile("movw %w0, %%ds\n\tmovw %w0, %%es" : : "r"(SEL));
    unsigned long ds1 = sel_now(0), es1 = sel_now(1);
    CHECK_EQ(_hypercall2(__HYPERVISOR_update_descriptor, g << 12 | 16,
                         data_desc(0) & ~(1UL << 47)), 0);
    unsigned long was = fs_count, zero_was = zero_count;
    bool came = block_until(&fs_count, was);
    unsigned long ds2 = sel_now(0), es2 = sel_now(1);
    printf("%s: ds/es %#lx/%#lx, after the switch %#lx/%#lx; failsafe frame rip %#lx cs %#lx "
           "rflags %#lx rsp %#lx ss %#lx sel %#lx %#lx %#lx %#lx, mask %lu\n", what, ds1, es1,
           ds2, es2, fs_frame[6], fs_frame[7], fs_frame[8], fs_frame[9], fs_frame[10],
           fs_frame[2], fs_frame[3], fs_frame[4], fs_frame[5], fs_mask);
    if (!came) {
        test_fail("%s: no failsafe callback within 3 s", what);
        return;
    }
    CHECK_EQ(ds1, SEL);
    CHECK_EQ(es1, SEL);
    CHECK_EQ(fs_count, was + 1);
    /* The frame: the selectors as they were, the hypercall's return in
     * the hypercall page (sched_op's stub), kernel CS with RPL 0 and the
     * event mask (0) above it, IF set, the flat kernel SS. */
    CHECK_EQ(fs_frame[2], SEL);
    CHECK_EQ(fs_frame[3], SEL);
    CHECK_EQ(fs_frame[4], fs0);
    CHECK_EQ(fs_frame[5], gs0);
    /* (Or, if vCPU 0 was switched out on its way back from the
     * update_descriptor, that stub.) */
    unsigned long stub = (unsigned long)hypercall_page + __HYPERVISOR_sched_op * 32;
    unsigned long ud = (unsigned long)hypercall_page + __HYPERVISOR_update_descriptor * 32;
    if ((fs_frame[6] <= stub || fs_frame[6] >= stub + 32) &&
        (fs_frame[6] <= ud || fs_frame[6] >= ud + 32))
        test_fail("%s: frame rip %#lx not in sched_op's stub at %#lx", what, fs_frame[6], stub);
    CHECK_EQ(fs_frame[7], CS_KERNEL_FRAME);
    CHECK_EQ(fs_frame[8] & 0x200, 0x200);
    CHECK_EQ(fs_frame[8] & 0x3000, 0);
    CHECK_EQ(fs_frame[10], (unsigned long)FLAT_KERNEL_SS);
    /* 16-byte aligned below the interrupted rsp (the #PF came on top). */
    CHECK_EQ(fs_at, (fs_frame[9] & ~15UL) - 88);
    CHECK_EQ(fs_mask, want_mask ? 1 : 0);
    /* Loaded null, and so they stay. */
    CHECK_EQ(fs_ds, 0);
    CHECK_EQ(fs_es, 0);
    CHECK_EQ(ds2, 0);
    CHECK_EQ(es2, 0);
    CHECK_EQ(zero_count, zero_was + (via_zero ? 1 : 0));
}

/* ------------------------------------------------------------------ */
/* New vCPUs started from a context naming segments (VCPUOP_initialise,
 * as Xen's arch_set_info_guest): vCPU 2 on GDT code selector 0x08 (RPL 0,
 * raised to 3) and SS 0xe028 (likewise), with %ds and %fs from GDT entry
 * 2; vCPU 3 with %ds from entry 3, which is not present: its first run
 * enters the failsafe callback the context names. */
static volatile unsigned long v2_cs, v2_ss, v2_ds, v2_es, v2_fs, v2_done, v3_ds, v3_done;
static char v2_stack[16384] __attribute__((aligned(16)));
static char v3_stack[16384] __attribute__((aligned(16)));

static void vcpu2_fn(void)
{
    unsigned long cs = 0, ss = 0;
    __asm__ volatile("movw %%cs, %w0\n\tmovw %%ss, %w1" : "+r"(cs), "+r"(ss));
    v2_cs = cs;
    v2_ss = ss;
    v2_ds = sel_now(0);
    v2_es = sel_now(1);
    v2_fs = sel_now(2);
    v2_done = 1;
    HYPERVISOR_vcpu_op(VCPUOP_down, 2, NULL);
    for (;;)
        __asm__ volatile("pause");
}

static void vcpu3_fn(void)
{
    v3_ds = sel_now(0);
    v3_done = 1;
    HYPERVISOR_vcpu_op(VCPUOP_down, 3, NULL);
    for (;;)
        __asm__ volatile("pause");
}

static bool wait_flag(volatile unsigned long *f)
{
    uint64_t t0 = minios_monotonic_ns();
    while (!*f && minios_monotonic_ns() < t0 + 3000000000ULL) {
        evtchn_port_t p = idle_port;
        struct sched_poll sp = { .nr_ports = 1, .timeout = minios_monotonic_ns() + 20000000ULL };
        set_xen_guest_handle(sp.ports, &p);
        HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
    }
    return *f != 0;
}

static void test_new_vcpus(void)
{
    unsigned long g = mfn_of(gdt_page);
    struct vcpu_guest_context c;
    /* Refusals, as Xen's: nothing is started. */
    vcpu_ctx_init(&c, vcpu3_fn, v3_stack, sizeof(v3_stack));
    c.user_regs.rip = 0x0000900000000000UL;                 /* not canonical */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 3, &c), -XEN_EINVAL);
    vcpu_ctx_init(&c, vcpu3_fn, v3_stack, sizeof(v3_stack));
    c.failsafe_callback_eip = 0x8000000000000000UL;         /* not canonical */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 3, &c), -XEN_EINVAL);
    vcpu_ctx_init(&c, vcpu3_fn, v3_stack, sizeof(v3_stack));
    c.trap_ctxt[0].vector = 3;
    c.trap_ctxt[0].address = 0x0000800000000000UL;          /* not canonical */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 3, &c), -XEN_EINVAL);
    vcpu_ctx_init(&c, vcpu3_fn, v3_stack, sizeof(v3_stack));
    c.ldt_base = 0xFFFF830000000000UL;                      /* the hypervisor's, no entries */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 3, &c), -XEN_EINVAL);
    vcpu_ctx_init(&c, vcpu3_fn, v3_stack, sizeof(v3_stack));
    c.fs_base = 0x0000800000000000UL;                       /* not canonical */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 3, &c), -XEN_EINVAL);
    vcpu_ctx_init(&c, vcpu3_fn, v3_stack, sizeof(v3_stack));
    c.gdt_frames[0] = g;
    c.gdt_ents = 17 * 512;                                  /* more than 16 frames */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 3, &c), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_is_up, 3, NULL), 0);

    /* vCPU 2: the context's CS, SS and data selectors. */
    vcpu_ctx_init(&c, vcpu2_fn, v2_stack, sizeof(v2_stack));
    c.gdt_frames[0] = g;
    c.gdt_ents = 4;
    c.user_regs.cs = 0x08;
    c.user_regs.ss = 0xe028;
    c.user_regs.ds = SEL;
    c.user_regs.fs = SEL;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 2, &c), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 2, NULL), 0);
    if (!wait_flag(&v2_done)) {
        test_fail("vCPU 2 never ran");
    } else {
        printf("vCPU 2: cs %#lx ss %#lx ds %#lx es %#lx fs %#lx\n", v2_cs, v2_ss, v2_ds, v2_es,
               v2_fs);
        CHECK_EQ(v2_cs, 0x0b);
        CHECK_EQ(v2_ss, 0xe02b);
        CHECK_EQ(v2_ds, SEL);
        CHECK_EQ(v2_es, 0);
        CHECK_EQ(v2_fs, SEL);
    }

    /* vCPU 3: a data selector that does not load: the failsafe callback
     * of its context, before its first instruction. */
    unsigned long was = fs_count;
    vcpu_ctx_init(&c, vcpu3_fn, v3_stack, sizeof(v3_stack));
    c.gdt_frames[0] = g;
    c.gdt_ents = 4;
    c.user_regs.ds = 0x1b;
    c.failsafe_callback_eip = (unsigned long)fs_entry;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 3, &c), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 3, NULL), 0);
    if (!wait_flag(&v3_done)) {
        test_fail("vCPU 3 never ran");
        return;
    }
    printf("vCPU 3: failsafe frame rip %#lx cs %#lx rsp %#lx ss %#lx sel %#lx %#lx %#lx %#lx; "
           "then ds %#lx\n", fs_frame[6], fs_frame[7], fs_frame[9], fs_frame[10], fs_frame[2],
           fs_frame[3], fs_frame[4], fs_frame[5], v3_ds);
    CHECK_EQ(fs_count, was + 1);
    CHECK_EQ(fs_frame[2], 0x1b);
    CHECK_EQ(fs_frame[3], 0);
    CHECK_EQ(fs_frame[6], (unsigned long)vcpu3_fn);
    /* A new vCPU starts with events masked (the mask above CS, IF clear). */
    CHECK_EQ(fs_frame[7], CS_KERNEL_FRAME | 1UL << 32);
    CHECK_EQ(fs_frame[8] & 0x200, 0);
    CHECK_EQ(fs_frame[9], c.user_regs.rsp);
    CHECK_EQ(fs_frame[10], (unsigned long)FLAT_KERNEL_SS);
    CHECK_EQ(fs_at, (c.user_regs.rsp & ~15UL) - 88);
    CHECK_EQ(fs_ds, 0);
    CHECK_EQ(v3_ds, 0);
}

/* ------------------------------------------------------------------ */
/* An LDT page is taken at its first use, as Xen maps it: MMUEXT_SET_LDT
 * accepts a page still mapped writable; loading a selector from it then
 * gets the guest a #PF at the entry's linear address (the page cannot be
 * a descriptor page); once it is read-only the same load works, and from
 * then on the page is held as a descriptor page. */
extern char ldt_load_es[], ldt_load_es_end[];
static volatile unsigned long lpf_count, lpf_cr2, lpf_err;

static void ldt_pf(struct minios_trap_frame *f)
{
    if (f->rip != (unsigned long)ldt_load_es) {
        test_fail("#PF at rip %#lx cr2 %#lx error %#lx", f->rip, f->cr2, f->error_code);
        minios_set_trap_handler(14, NULL);
        return;
    }
    lpf_count++;
    lpf_cr2 = f->cr2;
    lpf_err = f->error_code;
    f->rip = (unsigned long)ldt_load_es_end;
}

__attribute__((noinline)) static unsigned long load_es(unsigned long sel)
{
    __asm__ volatile(".globl ldt_load_es, ldt_load_es_end\n"
                     "ldt_load_es:\n\t"
                     "movl %k0, %%es\n"
                     "ldt_load_es_end:"
                     : : "r"(sel) : "memory");
    return sel_now(1);
}

static long set_ldt(unsigned long base, unsigned long ents)
{
    struct mmuext_op op = { .cmd = MMUEXT_SET_LDT };
    op.arg1.linear_addr = base;
    op.arg2.nr_ents = (unsigned)ents;
    return _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
}

static void test_ldt_lazy(void)
{
    unsigned long *pg = minios_alloc_pages(1);
    if (!pg) {
        test_error("out of pages");
        return;
    }
    memset(pg, 0, 4096);
    pg[1] = data_desc(0);
    unsigned long m = mfn_of(pg), va = (unsigned long)pg;
    long busy = on_keel ? -XEN_EINVAL : -XEN_EBUSY;
    minios_set_trap_handler(14, ldt_pf);
    CHECK_EQ(set_ldt(va, 2), 0);                 /* still writable: taken at first use */
    unsigned long es0 = sel_now(1);
    unsigned long es1 = load_es(0x0f);
    printf("LDT page writable at first use: #PF %lu cr2 %#lx error %#lx, es %#lx\n", lpf_count,
           lpf_cr2, lpf_err, es1);
    CHECK_EQ(lpf_count, 1);
    CHECK_EQ(lpf_cr2, va + 8);
    CHECK_EQ(lpf_err, 0);
    CHECK_EQ(es1, es0);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, pg, m << 12 | PTE_P | PTE_A,
                         UVMF_INVLPG), 0);
    unsigned long es2 = load_es(0x0f);
    printf("LDT page read-only: es %#lx\n", es2);
    CHECK_EQ(es2, 0x0f);
    CHECK_EQ(lpf_count, 1);
    /* Now a descriptor page: no writable mapping while it is the LDT. */
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, pg, m << 12 | PTE_P | PTE_W | PTE_A |
                         PTE_D, UVMF_INVLPG), busy);
    /* NEW_BASEPTR lets the LDT's pages go (taken again through the new
     * tables at their next use): vCPU 0 blocks with %es from the LDT on
     * a copy of its L4 and comes back with it, no failsafe callback. */
    const unsigned long *k4 = (const unsigned long *)minios_start_info->pt_base;
    unsigned long *c4 = minios_alloc_pages(1);
    if (!c4) {
        test_error("out of pages");
        return;
    }
    memset(c4, 0, 4096);
    for (unsigned i = 0; i < 512; i++)
        if (i < 256 || i > 271)
            c4[i] = k4[i];
    unsigned long km = mfn_of(k4), cm = mfn_of(c4);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, c4, cm << 12 | PTE_P | PTE_A,
                         UVMF_INVLPG), 0);
    struct mmuext_op op = { .cmd = MMUEXT_PIN_L4_TABLE };
    op.arg1.mfn = cm;
    CHECK_EQ(_hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF), 0);
    op.cmd = MMUEXT_NEW_BASEPTR;
    struct vcpu_runstate_info before, after;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0, &before), 0);
    CHECK_EQ(_hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF), 0);
    /* The page is free of its descriptor-page hold until its next use.
     * A switch away and back in between is such a use (the switch-in
     * loads %es from the LDT again, on Xen as on Keel): seen on Xen under
     * a loaded host, when -EBUSY is right.  The runstate tells. */
    long rw = _hypercall3(__HYPERVISOR_update_va_mapping, pg, m << 12 | PTE_P | PTE_W | PTE_A |
                          PTE_D, UVMF_INVLPG);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0, &after), 0);
    if (rw == busy && after.state_entry_time != before.state_entry_time)
        printf("LDT page: switched away and back before the writable mapping: taken again, %ld\n",
               rw);
    else
        CHECK_EQ(rw, 0);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, pg, m << 12 | PTE_P | PTE_A,
                         UVMF_INVLPG), 0);
    unsigned long was = fs_count;
    uint64_t t0 = minios_monotonic_ns();
    while (minios_monotonic_ns() < t0 + 100000000ULL) {
        evtchn_port_t p = idle_port;
        struct sched_poll sp = { .nr_ports = 1, .timeout = minios_monotonic_ns() + 20000000ULL };
        set_xen_guest_handle(sp.ports, &p);
        HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
    }
    unsigned long es3 = sel_now(1);
    printf("after NEW_BASEPTR and switches: es %#lx, failsafe callbacks %lu\n", es3,
           fs_count - was);
    CHECK_EQ(es3, 0x0f);
    CHECK_EQ(fs_count, was);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, pg, m << 12 | PTE_P | PTE_W | PTE_A |
                         PTE_D, UVMF_INVLPG), busy);      /* taken again */
    op.arg1.mfn = km;
    CHECK_EQ(_hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF), 0);
    op.cmd = MMUEXT_UNPIN_TABLE;
    op.arg1.mfn = cm;
    CHECK_EQ(_hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF), 0);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, c4, cm << 12 | PTE_P | PTE_W | PTE_A |
                         PTE_D, UVMF_INVLPG), 0);
    minios_free_pages(c4, 1);
    load_es(0);
    CHECK_EQ(set_ldt(0, 0), 0);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, pg, m << 12 | PTE_P | PTE_W | PTE_A |
                         PTE_D, UVMF_INVLPG), 0);
    minios_set_trap_handler(14, NULL);
    minios_free_pages(pg, 1);
}

int main(void)
{
    xen_extraversion_t ev;
    CHECK_EQ(HYPERVISOR_xen_version(XENVER_extraversion, ev), 0);
    on_keel = strstr(ev, "keel") != NULL;
    printf("xen-seg on %s\n", on_keel ? "Keel" : "Xen");
    if (!minios_traps_available() || !minios_events_available()) {
        test_error("no traps or events");
        return test_finish();
    }
    if (HYPERVISOR_vcpu_op(VCPUOP_is_up, 3, NULL) < 0) {
        test_error("needs four vCPUs (vcpus=4)");
        return test_finish();
    }
    CHECK_EQ(minios_evtchn_alloc_unbound(minios_domid(), &idle_port), 0);
    gdt_page = minios_alloc_pages(1);
    if (!gdt_page) {
        test_error("out of pages");
        return test_finish();
    }
    memset(gdt_page, 0, 4096);
    gdt_page[1] = 0x00209a0000000000UL;                     /* 64-bit code */
    gdt_page[2] = data_desc(0);
    gdt_page[3] = data_desc(0) & ~(1UL << 47);              /* not present */
    unsigned long g = mfn_of(gdt_page);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, gdt_page, g << 12 | PTE_P | PTE_A,
                         UVMF_INVLPG), 0);
    CHECK_EQ(_hypercall2(__HYPERVISOR_set_gdt, &g, 4), 0);

    struct vcpu_guest_context c;
    vcpu_ctx_init(&c, vcpu1_spin, v1_stack, sizeof(v1_stack));
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &c), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    uint64_t t0 = minios_monotonic_ns();
    while (!v1_running && minios_monotonic_ns() < t0 + 3000000000ULL) {
        struct sched_poll sp = { .nr_ports = 1, .timeout = minios_monotonic_ns() + 20000000ULL };
        evtchn_port_t p = idle_port;
        set_xen_guest_handle(sp.ports, &p);
        HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
    }
    if (!v1_running) {
        test_error("vCPU 1 never ran");
        return test_finish();
    }

    test_new_vcpus();
    test_ldt_lazy();
    /* 1: CALLBACKOP_register with CALLBACKF_mask_events. */
    struct callback_register cb = { .type = CALLBACKTYPE_failsafe,
                                    .flags = CALLBACKF_mask_events,
                                    .address = (unsigned long)fs_entry };
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);
    round("callback_op, mask_events", true, false);
    /* 2: registered without the flag: events stay unmasked. */
    cb.flags = 0;
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);
    round("callback_op, no mask", false, false);
    /* 3: none: the vCPU runs at address 0. */
    unsigned char *zp = zero_page_make();
    if (!zp) {
        test_error("no page for address 0");
        return test_finish();
    }
    unsigned long m0 = mfn_of(NULL);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, 0, mfn_of(zp) << 12 | PTE_P | PTE_A,
                         UVMF_INVLPG), 0);
    cb.address = 0;
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);
    round("no failsafe callback", false, true);
    CHECK_EQ(_hypercall3(__HYPERVISOR_update_va_mapping, 0, m0 << 12 | PTE_P | PTE_A,
                         UVMF_INVLPG), 0);
    cb.address = (unsigned long)fs_entry;
    CHECK_EQ(HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);
    CHECK_EQ(_hypercall2(__HYPERVISOR_set_gdt, NULL, 0), 0);
    printf("xen-seg: %lu failsafe callbacks\n", fs_count);
    return test_finish();
}
