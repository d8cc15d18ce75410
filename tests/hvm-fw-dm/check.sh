#!/usr/bin/env bash
# The firmware failed none of its checks.
log=$1
if grep -q 'hvm-fw: FAIL' "$log"; then
    echo "the firmware failed: $(grep 'hvm-fw: FAIL' "$log" | head -1)"
    exit 1
fi
exit 0
