#!/usr/bin/env bash
# Every slow line exactly once, in order, named, whichever way it went.
got=$(grep -oE '^\[ *[0-9]+\.[0-9]+\] \(slow\) slow line [0-9]+$' "$1" | awk '{print $NF}' | tr '\n' ' ')
want=$(seq -f '%02g' 0 39 | tr '\n' ' ')
[ "$got" = "$want" ] || { echo "slow lines: $got"; exit 1; }
grep -q "(late) minios: console:" "$1" && { echo "late: the backend was connected, yet console_io"; exit 1; }
grep -q 'crash: still alive' "$1" && { echo "the crash domain ran on"; exit 1; }
exit 0
