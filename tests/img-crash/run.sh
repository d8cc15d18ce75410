#!/usr/bin/env bash
# Crash injection for the image drivers: cut the power after each write of
# a workload; the image must pass qemu-img check and read back every
# acknowledged write (build/tests/img-crash/crash does the work).
#   tests/img-crash/run.sh ["FORMAT OPTION" ...]
# With no arguments: raw and vhd.  The qcow2 and vmdk configurations run
# as their own tests (img-crash-qcow2, img-crash-qcow2-4k, img-crash-vmdk),
# which call this script, so that no single test comes near the runner's
# time limit.
set -u
cd "$(dirname "$0")/../.."
C=build/tests/img-crash/crash
if [ ! -x $C ]; then echo "no $C (make all)"; echo "Test result: ERROR"; exit 0; fi
if ! command -v qemu-img >/dev/null; then echo "no qemu-img"; echo "Test result: SKIP"; exit 0; fi
npass=0 nfail=0
# FORMAT and options (one -o style setting) per configuration.
CONFIGS=("$@")
[ $# -gt 0 ] || CONFIGS=(
    "raw -"
    "vhd subformat=dynamic"
)
for cfg in "${CONFIGS[@]}"; do
    # shellcheck disable=SC2086
    $C $cfg 1 2>&1
    rc=${PIPESTATUS[0]}
    case $rc in
        0) npass=$((npass + 1)) ;;
        77) ;;
        *) nfail=$((nfail + 1)) ;;
    esac
done
echo "$npass passed, $nfail failed"
if [ $nfail -gt 0 ]; then echo "Test result: FAILURE"
elif [ $npass -eq 0 ]; then echo "Test result: SKIP"
else echo "Test result: SUCCESS"; fi
