#!/usr/bin/env bash
# Neither hostile guest got past its fault.
log=$1
if grep -q 'pvh-hello: FAIL' "$log"; then
    echo "a PVH guest survived its fault: $(grep 'pvh-hello: FAIL' "$log" | head -1)"
    exit 1
fi
exit 0
