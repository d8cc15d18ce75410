#!/usr/bin/env bash
# conformance test: tests/xen-user (guest user mode: user base table, iret to user mode, syscalls, user-mode exceptions and upcalls, descriptor tables; Xen's exact frames and results) as dom0 of real Xen 4.17, with two vCPUs (QEMU -smp 2, Xen dom0_max_vcpus=2).
export XEN_QEMU_EXTRA="-smp 2" XEN_APPEND_EXTRA="dom0_max_vcpus=2"
exec bash ci/xen-guest-test.sh --as xen-user-xen xen-user vcpus=2
