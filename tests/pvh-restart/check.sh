#!/usr/bin/env bash
# Six lives, each crashed by its nested page fault (a jump to MMIO above its RAM).
log=$1
n=$(grep -c 'd1 (again) crashed: instruction fetch from GPA 3ff00000 (not RAM)' "$log")
[ "$n" -eq 6 ] || { echo "$n nested-page-fault crashes of d1, expected 6"; exit 1; }
