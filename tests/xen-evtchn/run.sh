#!/usr/bin/env bash
# conformance test: tests/evtchn (2-level event channels: loopback, upcalls, masking, status, limits, bad arguments) as dom0 of real Xen 4.17.
exec bash ci/xen-guest-test.sh evtchn
