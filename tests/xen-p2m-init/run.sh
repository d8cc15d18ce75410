#!/usr/bin/env bash
# conformance test: tests/p2m-init (a guest with XEN_ELFNOTE_INIT_P2M below its VIRT_BASE: the p2m list at that address, outside the initial mapping) as dom0 of real Xen 4.17, whose dom0 builder maps it there too.
exec bash ci/xen-guest-test.sh --as xen-p2m-init p2m-init
