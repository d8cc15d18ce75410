/* Guest test: a control domain builds a PV domain at run time, as a
 * toolstack does: createdomain, max_mem, populate_physmap for the new
 * domain, its image and page tables written through foreign mappings
 * (mmu_update with the new domain as foreigndom), setvcpucontext (the
 * hypervisor validates the tables), unpause.  The new domain prints a line
 * and powers off; its frames all come back (the runner checks). */
#include "../domctl/ctl.h"
#include <minios/startinfo.h>
#include <stdio.h>
#include <xen/memory.h>
#include "report.h"
#include "ptwalk.h"

_Static_assert(__HYPERVISOR_console_io == 18, "child code uses 18");
_Static_assert(__HYPERVISOR_sched_op == 29, "child code uses 29");
_Static_assert(SCHEDOP_shutdown == 2 && CONSOLEIO_write == 0 && SHUTDOWN_poweroff == 0,
               "child code uses these values");

/* The new domain's whole program: position-independent, copied into its
 * first frame.  console_io(write, len, msg); sched_op(shutdown, &reason). */
__asm__(
    ".pushsection .rodata\n"
    ".globl child_start, child_end\n"
    "child_start:\n"
    "  leaq child_msg(%rip), %rdx\n"
    "  movl $(child_msg_end - child_msg), %esi\n"
    "  xorl %edi, %edi\n"
    "  movl $18, %eax\n"
    "  syscall\n"
    "  leaq child_reason(%rip), %rsi\n"
    "  movl $2, %edi\n"
    "  movl $29, %eax\n"
    "  syscall\n"
    "1: jmp 1b\n"
    "child_msg: .ascii \"hello from a domain built at run time\\n\"\n"
    "child_msg_end:\n"
    "  .balign 4\n"
    "child_reason: .long 0\n"
    "child_end:\n"
    ".popsection\n");
extern const char child_start[], child_end[];

#define P 1UL
#define W 2UL
#define U 4UL
#define CHILD_VA 0x400000UL
enum { F_CODE, F_STACK, F_L4, F_L3, F_L2, F_L1, NR_FRAMES };

static char window[4096] __attribute__((aligned(4096)));

/* Shows frame mfn of domain dom at `window` (or our own frame back). */
static long show(unsigned long mfn, domid_t dom)
{
    struct mmu_update u = { .ptr = l1e_maddr((unsigned long)window) | MMU_NORMAL_PT_UPDATE,
                            .val = mfn << 12 | P | W | U | 0x60 };
    long rc = mmu_update_foreign(&u, 1, dom);
    /* As on Xen, mmu_update does not flush: drop the old translation. */
    struct mmuext_op f = { .cmd = MMUEXT_INVLPG_LOCAL };
    f.arg1.linear_addr = (unsigned long)window;
    if (!rc)
        rc = HYPERVISOR_mmuext_op(&f, 1, NULL, DOMID_SELF);
    return rc;
}

int main(void)
{
    unsigned long own = ((unsigned long *)minios_start_info->mfn_list)[(unsigned long)window >> 12];
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_createdomain, 0);
    op.u.createdomain.max_vcpus = 1;
    op.u.createdomain.max_evtchn_port = 1023;
    op.u.createdomain.grant_opts = XEN_DOMCTL_GRANT_version(1);
    long rc = do_domctl(&op);
    if (rc) {
        test_error("createdomain: %ld", rc);
        return test_finish();
    }
    domid_t d = op.domain;
    domctl_init(&op, XEN_DOMCTL_max_mem, d);
    op.u.max_mem.max_memkb = NR_FRAMES * 4;
    CHECK_EQ(do_domctl(&op), 0);

    xen_pfn_t f[NR_FRAMES + 1];
    for (unsigned i = 0; i <= NR_FRAMES; i++)
        f[i] = i;
    struct xen_memory_reservation r = { .nr_extents = NR_FRAMES + 1, .domid = d };
    set_xen_guest_handle(r.extent_start, f);
    /* One more than max_mem allows: exactly NR_FRAMES are given. */
    CHECK_EQ(_hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r), NR_FRAMES);

    /* Write the program, then the page tables (plain data until the
     * hypervisor validates them). */
    CHECK_EQ(show(f[F_CODE], d), 0);
    memcpy(window, child_start, (size_t)(child_end - child_start));
    unsigned long e[NR_FRAMES][2] = {
        [F_L4] = { 0, f[F_L3] << 12 | P | W | U },
        [F_L3] = { 0, f[F_L2] << 12 | P | W | U },
        [F_L2] = { (CHILD_VA >> 21) & 511, f[F_L1] << 12 | P | W | U },
        [F_L1] = { 0, f[F_CODE] << 12 | P | U },
    };
    for (unsigned k = F_L4; k <= F_L1; k++) {
        CHECK_EQ(show(f[k], d), 0);
        memset(window, 0, sizeof(window));
        ((unsigned long *)window)[e[k][0]] = e[k][1];
        if (k == F_L1)
            ((unsigned long *)window)[1] = f[F_STACK] << 12 | P | W | U;
    }
    /* Back to our own frame (foreign mappings need the control role; the
     * xsm test shows them refused without it). */
    CHECK_EQ(show(own, DOMID_SELF), 0);

    /* While we still mapped a table writable, it could not be validated:
     * prove it, then drop the mapping and start the domain. */
    struct vcpu_guest_context ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.flags = VGCF_in_kernel | VGCF_online;
    ctx.user_regs.rip = CHILD_VA;
    ctx.user_regs.rsp = CHILD_VA + 2 * 4096;
    ctx.user_regs.cs = FLAT_KERNEL_CS;
    ctx.user_regs.ss = FLAT_KERNEL_SS;
    ctx.user_regs.rflags = 0x200;
    ctx.kernel_ss = FLAT_KERNEL_SS;
    ctx.kernel_sp = ctx.user_regs.rsp;
    ctx.ctrlreg[3] = xen_pfn_to_cr3(f[F_L4]);
    CHECK_EQ(show(f[F_L1], d), 0);
    domctl_init(&op, XEN_DOMCTL_setvcpucontext, d);
    op.u.vcpucontext.vcpu = 0;
    set_xen_guest_handle(op.u.vcpucontext.ctxt, &ctx);
    CHECK_EQ(do_domctl(&op), -XEN_EINVAL);
    CHECK_EQ(show(own, DOMID_SELF), 0);
    CHECK_EQ(do_domctl(&op), 0);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, d), 0);
    printf("built d%u at run time from %u frames; started it\n", d, NR_FRAMES);

    /* It runs, says hello and powers off; the hypervisor reaps it. */
    for (int i = 0; i < 100000; i++) {
        struct xen_domctl_getdomaininfo info;
        if (getdomaininfo(d, &info) || info.domain != d) {
            printf("d%u has gone\n", d);
            return test_finish();
        }
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    test_fail("d%u never went away", d);
    return test_finish();
}
