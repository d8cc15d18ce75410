#!/usr/bin/env bash
# Neither hostile guest got past its fault.
log=$1
if grep -q 'pvh-hello: FAIL' "$log"; then
    echo "a PVH guest survived its fault: $(grep 'pvh-hello: FAIL' "$log" | head -1)"
    exit 1
fi
# The storm was cut: fewer of its 2000 lines than it sent reached the log.
n=$(grep -c '(d6) pvh-hello: storm line' "$log")
if [ "$n" -ge 2000 ] || [ "$n" -lt 1 ]; then
    echo "$n storm lines in the log (expected some, fewer than 2000)"
    exit 1
fi
exit 0
