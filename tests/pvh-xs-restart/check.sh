#!/usr/bin/env bash
# Six lives, each introduced (five of them again) and each talking to the
# store over its rings before its poweroff.
log=$1
n=$(grep -c '(again) pvh-hello: xenstore: wrote and read data/pvh over the store ring' "$log")
[ "$n" -eq 6 ] || { echo "$n lives of d1 used the store ring, expected 6"; exit 1; }
n=$(grep -c '(again) pvh-hello: this line came through the console ring' "$log")
[ "$n" -eq 6 ] || { echo "$n console-ring lines of d1, expected 6"; exit 1; }
n=$(grep -c '(xenstore) d1: back after a restart: introducing it again' "$log")
[ "$n" -eq 5 ] || { echo "$n introductions of d1 after a restart, expected 5"; exit 1; }
