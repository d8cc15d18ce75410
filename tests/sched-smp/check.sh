#!/usr/bin/env bash
log=$1
for p in p0 p1 p2 p3; do
    a=$(grep -o "share $p [0-9]*" "$log" | awk '{print $3}')
    [ -n "$a" ] && [ "$a" -ge 800 ] || { echo "$p got ${a:-no} permille"; exit 1; }
done
