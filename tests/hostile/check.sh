#!/usr/bin/env bash
# Only badtraps may end unclean.
log=$1
n=$(grep -c 'crashed: ' "$log")
[ "$n" -eq 1 ] || { echo "$n domains crashed, expected only badtraps"; exit 1; }
