#!/usr/bin/env bash
# conformance test: tests/xen-seg (segments at switch-in: the failsafe callback and its frame) as dom0 of real Xen 4.17, with four vCPUs on one pCPU (QEMU's one CPU, Xen dom0_max_vcpus=4).
export XEN_APPEND_EXTRA="dom0_max_vcpus=4"
exec bash ci/xen-guest-test.sh --as xen-seg-xen xen-seg vcpus=4
