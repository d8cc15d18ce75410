#!/usr/bin/env bash
# conformance test: tests/traps (exceptions bounced to minios's handlers and the trap hypercalls) as dom0 of real Xen 4.17.
exec bash ci/xen-guest-test.sh traps
