#!/usr/bin/env bash
# conformance test: tests/vcpu (VCPUOPs, a second vCPU brought up and down) as dom0 of real Xen 4.17.
# dom0 gets two vCPUs (QEMU -smp 2, Xen dom0_max_vcpus=2).
export XEN_QEMU_EXTRA="-smp 2" XEN_APPEND_EXTRA="dom0_max_vcpus=2"
exec bash ci/xen-guest-test.sh vcpu vcpus=2
