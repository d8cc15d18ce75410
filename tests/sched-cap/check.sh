#!/usr/bin/env bash
log=$1
a=$(grep -o 'share capped [0-9]*' "$log" | awk '{print $3}')
[ -n "$a" ] || { echo "no share"; exit 1; }
[ "$a" -ge 200 ] && [ "$a" -le 300 ] || { echo "capped domain got $a permille"; exit 1; }
