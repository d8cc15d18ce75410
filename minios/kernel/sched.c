/* sched.c: minios's scheduling requests to the hypervisor: yield, shutdown, blocking. */
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include <minios/events.h>
#include "kernel.h"

void minios_shutdown(unsigned int reason)
{
    struct sched_shutdown sd = { .reason = reason };

    /* The last lines must reach the console before the domain dies. */
    minios_console_shutdown();
    for (;;) {
        long rc = HYPERVISOR_sched_op(SCHEDOP_shutdown, &sd);

        /* Only reached if the hypervisor refused: say so once, then crash. */
        if (sd.reason != SHUTDOWN_crash) {
            minios_printk("minios: SCHEDOP_shutdown(%u) failed: %ld\n", reason, rc);
            sd.reason = SHUTDOWN_crash;
        }
    }
}

void minios_yield(void)
{
    HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

void minios_block(uint64_t deadline)
{
#ifdef MINIOS_PVH
    /*
     * Xen's HVM timer is the vCPU's single-shot one (set_timer_op is PV
     * only). Events are the interrupt flag here: STI's one-instruction
     * shadow makes STI; HLT atomic, so an event pending before HLT ends
     * it at once (the hypervisor does not block a vCPU whose upcall is
     * pending), and the callback runs after HLT, before CLI.
     */
    if (deadline) {
        struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = deadline };
        HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &t);
    } else {
        HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL);
    }
    __asm__ __volatile__("sti; hlt; cli" : : : "memory");
#else
    /* SCHEDOP_block enables event delivery and returns at once if an
     * event is already pending, so no wake-up is lost. */
    HYPERVISOR_set_timer_op(deadline);
    HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    minios_events_disable();
#endif
}
