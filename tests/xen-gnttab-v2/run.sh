#!/usr/bin/env bash
# conformance test: tests/gnttab-v2 (grant tables v2: set_version, status frames, full-page and sub-page grants, transitive refused; Xen's exact results) as dom0 of real Xen 4.17.
exec bash ci/xen-guest-test.sh --as xen-gnttab-v2 gnttab-v2
