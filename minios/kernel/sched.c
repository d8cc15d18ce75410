/* sched.c: minios's scheduling requests to the hypervisor: yield and shutdown. */
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/sched.h>

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
