/* Two guest test domains that step through a shared state word (in a
 * page one grants the other): wait, yielding, until it reaches a value. */
#ifndef KEEL_TEST_PEER_H
#define KEEL_TEST_PEER_H

#include <stdint.h>
#include <stdlib.h>
#include <minios/hypercall.h>
#include "report.h"

/* Waits until *s >= want; after `tries` yields the test ends in error. */
static inline void peer_wait_state(volatile uint32_t *s, uint32_t want, unsigned long tries)
{
    for (unsigned long i = 0; *s < want; i++) {
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        if (i == tries) {
            test_error("timed out waiting for state %u (at %u)", want, *s);
            exit(test_finish());
        }
    }
}

#endif
