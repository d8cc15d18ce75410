#!/usr/bin/env bash
# conformance test: tests/xen-abi (multicall, vm_assist, machphys, PTE bits, xen_version, the hypercall table: Xen's exact results) as dom0 of real Xen 4.17.
exec bash ci/xen-guest-test.sh --as xen-abi-xen xen-abi
