#!/usr/bin/env bash
# Every one of the 1,000 appliances greeted exactly once, through the
# console backend (its lines carry the name, nothing else in between).
log=$1
n=$(grep -cE '^\[ *[0-9.]+\] \(h[0-9]+\) Hello, world$' "$log")
u=$(grep -oE '^\[ *[0-9.]+\] \(h[0-9]+\) Hello, world$' "$log" | grep -oE 'h[0-9]+' | sort -u | wc -l)
echo "xs-scale: $n greetings from $u appliances"
[ "$n" -eq 1000 ] && [ "$u" -eq 1000 ]
