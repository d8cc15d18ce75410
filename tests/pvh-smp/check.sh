#!/usr/bin/env bash
# All 34 PVH guests passed their checks and powered off.
log=$1
n=$(grep -c 'pvh-hello: all checks passed$' "$log")
p=$(grep -cE 'd[0-9]+ \(p[0-9]+\) shut down: poweroff' "$log")
[ "$n" -eq 34 ] && [ "$p" -eq 34 ] || { echo "$n of 34 passed, $p of 34 powered off"; exit 1; }
