#!/usr/bin/env bash
# Crash injection for qcow2 with the default cluster size, eager and lazy
# refcounts (tests/img-crash/run.sh does the work).
exec bash "$(dirname "$0")/../img-crash/run.sh" "qcow2 -" "qcow2 lazy"
