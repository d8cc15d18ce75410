#!/usr/bin/env bash
# conformance test: tests/evtchn-fifo (FIFO event channels: init_control, expand_array, set_priority, delivery by priority, per-vCPU queues, reset to 2-level; Xen's exact results) as dom0 of real Xen 4.17, with two vCPUs (QEMU -smp 2, Xen dom0_max_vcpus=2).
export XEN_QEMU_EXTRA="-smp 2" XEN_APPEND_EXTRA="dom0_max_vcpus=2"
exec bash ci/xen-guest-test.sh --as xen-evtchn-fifo evtchn-fifo
