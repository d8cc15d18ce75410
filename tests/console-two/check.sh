#!/usr/bin/env bash
# Both bursts complete and unmixed; the bad ring reported exactly once.
n=$(grep -c 'bad ring indices' "$1")
[ "$n" = 1 ] || { echo "bad ring reported $n times"; exit 1; }
exec python3 tests/console/check.py "$1" alpha:10000 beta:10000
