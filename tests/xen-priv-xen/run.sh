#!/usr/bin/env bash
# conformance test: tests/xen-priv (what Xen emulates for a PV kernel: CPUID, MSRs, control registers, I/O ports, int $n) as dom0 of real Xen 4.17.
exec bash ci/xen-guest-test.sh --as xen-priv-xen xen-priv
