#!/usr/bin/env bash
# Six lives, each finding the device status the reset left (0).
log=$1
n=$(grep -c '(owner) device status at start' "$log")
[ "$n" = 6 ] || { echo "$n lives, expected 6"; exit 1; }
bad=$(grep '(owner) device status at start' "$log" | grep -vc 'at start 0,')
[ "$bad" = 0 ] || { echo "$bad lives found the device not reset"; exit 1; }
