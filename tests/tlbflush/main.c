/* Guest test: TLB flushes reach the domain's vCPUs on other pCPUs.  vCPU 1
 * spins on another pCPU reading a page through a mapping it has cached;
 * vCPU 0 points that mapping at another frame with UVMF_INVLPG|UVMF_ALL;
 * vCPU 1 must see the new frame (QEMU keeps per-CPU TLBs, so without the
 * shootdown it would go on reading the old one). */
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <stdio.h>
#include <string.h>
#include "report.h"
#include "vcpuctx.h"

static volatile int page_a[1024] __attribute__((aligned(4096)));
static volatile int page_b[1024] __attribute__((aligned(4096)));
static char vcpu1_stack[16384] __attribute__((aligned(16)));
static struct vcpu_guest_context ctxt;
static volatile int seen;
static volatile unsigned long spins;

static void vcpu1_main(void)
{
    for (;;) {
        seen = page_a[0];
        spins++;
    }
}

static unsigned long mfn_of(const volatile void *va)
{
    return ((unsigned long *)minios_start_info->mfn_list)[(unsigned long)va >> 12];
}

static int wait_until(volatile int *v, int want, uint64_t ns)
{
    uint64_t end = minios_monotonic_ns() + ns;
    while (minios_monotonic_ns() < end)
        if (*v == want)
            return 1;
    return 0;
}

int main(void)
{
    page_a[0] = 1;
    page_b[0] = 2;
    vcpu_ctx_init(&ctxt, vcpu1_main, vcpu1_stack, sizeof(vcpu1_stack));
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    if (!wait_until(&seen, 1, 2000000000ULL)) {
        test_error("vCPU 1 never ran");
        return test_finish();
    }
    unsigned long before = spins;
    /* page_a's virtual address now shows page_b's frame, everywhere. */
    long rc = _hypercall3(__HYPERVISOR_update_va_mapping, page_a,
                          mfn_of(page_b) << 12 | 0x67, UVMF_INVLPG | UVMF_ALL);
    CHECK_EQ(rc, 0);
    if (!wait_until(&seen, 2, 1000000000ULL))
        test_fail("vCPU 1 still reads the old frame (%lu reads since)", spins - before);
    else
        printf("tlbflush: vCPU 1 sees the new frame after the shootdown\n");
    return test_finish();
}
