#!/usr/bin/env bash
# Crash injection for qcow2 with 4 KiB clusters, the configuration with
# the most metadata writes (tests/img-crash/run.sh does the work).
exec bash "$(dirname "$0")/../img-crash/run.sh" "qcow2 cluster_size=4096"
