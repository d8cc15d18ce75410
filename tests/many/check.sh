#!/usr/bin/env bash
# All 50 said hello and powered off.
log=$1
h=$(grep -c ') Hello, world$' "$log")
p=$(grep -c 'shut down: poweroff' "$log")
[ "$h" -eq 50 ] && [ "$p" -eq 50 ] || { echo "hello $h, poweroff $p (want 50)"; exit 1; }
