#!/usr/bin/env bash
# conformance test: tests/pvtime (PV clock, wallclock, timers, VIRQ_TIMER, SCHEDOP_block and SCHEDOP_poll) as dom0 of real Xen 4.17.
# Guest time is exact only with -icount (TCG timers otherwise lag by
# milliseconds on a loaded host); the test checks 10 ms sleeps to 1 ms.
export XEN_QEMU_EXTRA="-icount shift=0,sleep=off"
exec bash ci/xen-guest-test.sh pvtime
