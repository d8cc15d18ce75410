#!/usr/bin/env bash
log=$1
n=$(grep -c ') Hello, world$' "$log")
[ "$n" -eq 1000 ] || { echo "$n of 1000 said hello"; exit 1; }
