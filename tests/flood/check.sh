#!/usr/bin/env bash
# Far less than the 1 MiB flood reached the console: it was dropped, not
# queued, and what arrived is whole lines in order.
log=$1
n=$(grep -c '(flood) flood line' "$log")
[ "$n" -gt 1000 ] && [ "$n" -lt 20000 ] || { echo "flood lines on console: $n"; exit 1; }
bad=$(grep '] (flood) ' "$log" | grep -Ev '\(flood\) (flood line [0-9]{5}|Test result: SUCCESS)$' | head -1)
[ -z "$bad" ] || { echo "partial line: $bad"; exit 1; }
grep -Eq 'd1 \(flood\): [0-9]+ bytes of console output dropped' "$log" || { echo "no drop count"; exit 1; }
exit 0
