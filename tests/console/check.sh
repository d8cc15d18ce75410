#!/usr/bin/env bash
# Every numbered line once, in order, named; long lines whole; the final line before shutdown.
exec python3 "$(dirname "$0")/check.py" "$1" burst:20000
