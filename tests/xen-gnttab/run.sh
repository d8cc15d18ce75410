#!/usr/bin/env bash
# conformance test: tests/gnttab (grant tables v1 in one domain: setup_table, query_size, versions, copy and self-mapping, over present entries, GNTMAP_contains_pte, unmap_and_replace, exact GNTST_* of bad arguments) as dom0 of real Xen 4.17.
exec bash ci/xen-guest-test.sh gnttab
