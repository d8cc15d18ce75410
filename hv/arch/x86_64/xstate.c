/*
 * The host's XSAVE support (xstate.h): found on the boot CPU, enabled on
 * every CPU, and the clean save area each vCPU starts with.
 */
#include "lib.h"
#include "x86.h"
#include "xstate.h"

bool xstate_on;
uint64_t xstate_host_xcr0;
uint32_t xstate_mxcsr_mask = 0xffbf;     /* what a CPU reporting 0 accepts */

void xstate_cpu_init(void)
{
    static uint8_t img[512] __attribute__((aligned(16)));
    uint32_t a, b, c, d, mask;
    __asm__ volatile("fxsave64 %0" : "=m"(img));
    memcpy(&mask, &img[28], 4);
    if (mask)
        xstate_mxcsr_mask = mask;        /* every CPU the same */
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 26))) {
        if (xstate_on)
            panic("xstate: CPU without XSAVE, the boot CPU has it");
        return;
    }
    cpuid(0, 0, &a, &b, &c, &d);
    if (a < 0xd)
        return;
    write_cr4(read_cr4() | X86_CR4_OSXSAVE);
    xsetbv0(XSTATE_FP_SSE);
    cpuid(0xd, 0, &a, &b, &c, &d);
    uint64_t host = ((uint64_t)d << 32) | a;
    if (!xstate_on) {                    /* the boot CPU, first */
        xstate_host_xcr0 = host;
        xstate_on = true;
    } else if (host != xstate_host_xcr0) {
        panic("xstate: CPUs differ in XCR0 support (%#lx, %#lx)", host, xstate_host_xcr0);
    }
}

void xstate_component(unsigned i, uint32_t *offset, uint32_t *size)
{
    uint32_t a, b, c, d;
    *offset = *size = 0;
    if (i < 2) {                         /* the legacy area */
        *offset = i ? 160 : 0;
        *size = i ? 256 : 160;
        return;
    }
    if (i >= 63 || !(xstate_host_xcr0 & (1UL << i)))
        return;
    cpuid(0xd, i, &a, &b, &c, &d);
    *size = a;
    *offset = b;
}

void xstate_area_init(uint8_t *area)
{
    memset(area, 0, XSTATE_AREA_SIZE);
    xstate_area_init_zeroed(area);
}

void xstate_area_init_zeroed(uint8_t *area)
{
    area[0] = 0x7f;                      /* FCW 0x37f */
    area[1] = 0x03;
    uint32_t mxcsr = 0x1f80;
    memcpy(&area[24], &mxcsr, 4);
    /* XSTATE_BV 0: XRSTOR loads x87 and vector registers at their
     * reset values (MXCSR from the image). */
}
