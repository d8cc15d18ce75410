#!/usr/bin/env bash
# conformance test: tests/gnttab's implicit mode (a grant mapping's PTE cleared with update_va_mapping: it succeeds, the grant stays active) as dom0 of real Xen 4.17; test gnt-implicit checks the same on Keel.
exec bash ci/xen-guest-test.sh --as xen-gnt-implicit gnttab implicit
