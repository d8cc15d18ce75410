#!/usr/bin/env bash
# Exactly the three hostile domains end crashed.
log=$1
n=$(grep -c 'crashed: ' "$log")
[ "$n" -eq 3 ] || { echo "$n domains crashed, expected 3"; exit 1; }
