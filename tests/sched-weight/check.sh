#!/usr/bin/env bash
# w512's share is twice w256's, within 10%.
log=$1
a=$(grep -o 'share w256 [0-9]*' "$log" | awk '{print $3}')
b=$(grep -o 'share w512 [0-9]*' "$log" | awk '{print $3}')
[ -n "$a" ] && [ -n "$b" ] && [ "$a" -gt 0 ] || { echo "no shares"; exit 1; }
r=$((b * 1000 / a))
echo "w256 $a, w512 $b permille: ratio $r/1000"
[ "$r" -ge 1800 ] && [ "$r" -le 2200 ] || { echo "ratio $r/1000 not 2 +-10%"; exit 1; }
