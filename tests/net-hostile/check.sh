#!/usr/bin/env bash
# Every one of alpha's and beta's 12 checks passed, and some of them after
# the last hostile frontend was cut off (the switch kept serving).
log=$1
for g in alpha beta; do
    n=$(grep -c "($g) check .*: passed as expected" "$log")
    [ "$n" -eq 12 ] || { echo "$g: $n of 12 checks passed"; exit 1; }
done
last_cut=$(grep -n '(netback) vif [4-9]/0: cut off' "$log" | tail -1 | cut -d: -f1)
last_ok=$(grep -n '(alpha) check .*: passed as expected' "$log" | tail -1 | cut -d: -f1)
[ -n "$last_cut" ] && [ -n "$last_ok" ] && [ "$last_ok" -gt "$last_cut" ] ||
    { echo "no check passed after the last cut-off"; exit 1; }
