#!/usr/bin/env bash
# Exactly the five hostile domains end crashed.
log=$1
n=$(grep -c 'crashed: ' "$log")
[ "$n" -eq 5 ] || { echo "$n domains crashed, expected 5"; exit 1; }
