#!/usr/bin/env bash
# Six lives each for crasher and bouncer (the first and five restarts),
# each introduced with its first life's store port; quitter one life.
log=$1
for n in crasher bouncer; do
    c=$(grep -c "($n) life: name=$n " "$log")
    [ "$c" = 6 ] || { echo "$n lived $c times, expected 6"; exit 1; }
    p=$(grep "($n) life: name=$n " "$log" | sed 's/.*store port //' | sort -u | wc -l)
    [ "$p" = 1 ] || { echo "$n's store port changed between lives"; exit 1; }
done
c=$(grep -c "(quitter) life: name=quitter " "$log")
[ "$c" = 1 ] || { echo "quitter lived $c times, expected 1"; exit 1; }
! grep -q 'd4 (quitter): restarted' "$log" || { echo "quitter was restarted"; exit 1; }
