#!/usr/bin/env bash
# The guest failed none of its checks.
log=$1
if grep -q 'pvh-hello: FAIL' "$log"; then
    echo "the guest failed: $(grep 'pvh-hello: FAIL' "$log" | head -1)"
    exit 1
fi
exit 0
