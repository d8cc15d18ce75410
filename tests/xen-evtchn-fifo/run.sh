#!/usr/bin/env bash
# conformance test: tests/evtchn-fifo (FIFO event channels: init_control, expand_array, set_priority, delivery by priority, reset to 2-level; Xen's exact results) as dom0 of real Xen 4.17.
exec bash ci/xen-guest-test.sh --as xen-evtchn-fifo evtchn-fifo
