#!/usr/bin/env bash
# conformance test: tests/xen-m2p (the read-only M2P slot of user and kernel base tables, with and without VMASST_TYPE_m2p_strict) as dom0 of real Xen 4.17.
exec bash ci/xen-guest-test.sh --as xen-m2p-xen xen-m2p
