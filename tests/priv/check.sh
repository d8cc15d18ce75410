#!/usr/bin/env bash
# The witness keeps running after every other domain has crashed.
log=$1
last_crash=$(grep -n 'crashed: #' "$log" | tail -1 | cut -d: -f1)
last_alive=$(grep -n '(witness) witness alive, round 3' "$log" | tail -1 | cut -d: -f1)
n=$(grep -c 'crashed: #' "$log")
[ "$n" -eq 10 ] || { echo "expected 10 crashed domains, saw $n"; exit 1; }
[ -n "$last_alive" ] && [ "$last_crash" -lt "$last_alive" ] \
    || { echo "witness did not run after the crashes"; exit 1; }
exit 0
