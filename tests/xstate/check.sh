#!/usr/bin/env bash
# Both domains' rounds interleave: each one prints a round while the other
# is still between its first and last round.
log=$1
first_a=$(grep -n '(a) name=a round 0$' "$log" | head -1 | cut -d: -f1)
last_a=$(grep -n '(a) name=a round 7$' "$log" | head -1 | cut -d: -f1)
first_b=$(grep -n '(b) name=b round 0$' "$log" | head -1 | cut -d: -f1)
last_b=$(grep -n '(b) name=b round 7$' "$log" | head -1 | cut -d: -f1)
[ -n "$first_a" ] && [ -n "$last_a" ] && [ -n "$first_b" ] && [ -n "$last_b" ] \
    || { echo "missing rounds"; exit 1; }
[ "$first_b" -lt "$last_a" ] && [ "$first_a" -lt "$last_b" ] \
    || { echo "no interleaving: a $first_a..$last_a, b $first_b..$last_b"; exit 1; }
exit 0
