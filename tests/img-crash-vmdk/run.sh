#!/usr/bin/env bash
# Crash injection for vmdk (tests/img-crash/run.sh does the work); its own
# test so that raw, vhd and vmdk together do not come near the runner's
# time limit on a loaded machine.
exec bash "$(dirname "$0")/../img-crash/run.sh" "vmdk -"
