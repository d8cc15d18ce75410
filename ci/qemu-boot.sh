#!/usr/bin/env bash
# Boots build/hv.elf (or $HV) under QEMU TCG with the given modules (a -initrd
# string) and writes the serial console to LOG.  Exits with QEMU's status
# ((v<<1)|1 from isa-debug-exit), or 124 on timeout.
#   ci/qemu-boot.sh LOG TIMEOUT MEM "MODULES" [extra qemu args...]
# SMP=n in the environment gives the host n CPUs (multi-threaded TCG, or
# one thread with TCG_SINGLE=1, which -icount needs).
set -u
log=$1 timeout_s=$2 mem=$3 modules=$4
shift 4
smp=${SMP:-1}
accel=tcg
[ "$smp" -gt 1 ] && [ -z "${TCG_SINGLE:-}" ] && accel=tcg,thread=multi
exec timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 \
    -accel "$accel" -cpu max -m "$mem" -smp "$smp" \
    -nodefaults -display none -no-reboot \
    -serial "file:$log" \
    -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -kernel "${HV:-build/hv.elf}" -initrd "$modules" "$@" </dev/null >/dev/null 2>>"$log.qemu"
