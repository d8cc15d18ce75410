#!/usr/bin/env bash
# Six lives, each crashed by its nested page fault.
log=$1
n=$(grep -c 'd1 (again) crashed: nested page fault at GPA 3ff00000' "$log")
[ "$n" -eq 6 ] || { echo "$n nested-page-fault crashes of d1, expected 6"; exit 1; }
