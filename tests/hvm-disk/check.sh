#!/usr/bin/env bash
# The boot code failed none of its reads.
log=$1
if grep -q 'hvm-disk: FAIL' "$log"; then
    echo "the boot code failed: $(grep 'hvm-disk: FAIL' "$log" | head -1)"
    exit 1
fi
exit 0
