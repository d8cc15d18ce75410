#!/usr/bin/env bash
# Exactly the four hostile domains end crashed.
log=$1
n=$(grep -c 'crashed: ' "$log")
[ "$n" -eq 4 ] || { echo "$n domains crashed, expected 4"; exit 1; }
