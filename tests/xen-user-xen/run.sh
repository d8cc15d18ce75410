#!/usr/bin/env bash
# conformance test: tests/xen-user (guest user mode: user base table, iret to user mode, syscalls, user-mode exceptions and upcalls; Xen's exact frames and results) as dom0 of real Xen 4.17.
exec bash ci/xen-guest-test.sh --as xen-user-xen xen-user
