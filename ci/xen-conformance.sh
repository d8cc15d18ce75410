#!/usr/bin/env bash
# xen-conformance.sh: boots a minios guest as dom0 of Debian's real Xen 4.17 under QEMU TCG and prints its output.
#
#   ci/xen-conformance.sh [-t SECONDS] [-l LOG] [-r RAMDISK] APP.elf [ARGS...]
#
# Run from the top directory. Decompresses /boot/xen-4.17-amd64.gz into
# build/xen/xen once, boots it with APP.elf as the dom0 module (its command
# line "APP.elf ARGS...": Xen hands dom0 the words after the path), with
# -r RAMDISK as the next module (dom0's initrd), and waits until Xen
# reports that dom0 halted, powered off (ACPI S5) or crashed, or the timeout (default 60 s)
# passes; then ends QEMU.
#
# stdout: the guest's console lines (Xen's lines, "(XEN) ...", and its boot
# banner are left out; all of it is in the log, default build/xen/last.log).
# Environment: XEN_QEMU_EXTRA adds QEMU options (e.g. "-smp 2"),
# XEN_APPEND_EXTRA adds words to Xen's command line (e.g. "dom0_max_vcpus=2").
# Exit status: 0 dom0 halted (clean poweroff), 1 dom0 crashed,
#              2 timeout or QEMU failed, 3 usage error, 77 Xen not installed.
set -euo pipefail

XEN_GZ=/boot/xen-4.17-amd64.gz
XEN_DIR=build/xen
XEN=$XEN_DIR/xen
timeout=60
log=$XEN_DIR/last.log
ramdisk=

while getopts "t:l:r:" o; do
    case $o in
    t) timeout=$OPTARG ;;
    l) log=$OPTARG ;;
    r) ramdisk=$OPTARG ;;
    *) exit 3 ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ]; then
    echo "usage: $0 [-t SECONDS] [-l LOG] [-r RAMDISK] APP.elf [ARGS...]" >&2
    exit 3
fi
app=$1; shift
[ -f "$app" ] || { echo "xen-conformance: no such guest image: $app" >&2; exit 3; }
[ -f "$XEN_GZ" ] || { echo "xen-conformance: $XEN_GZ is not installed" >&2; exit 77; }
command -v qemu-system-x86_64 >/dev/null \
    || { echo "xen-conformance: qemu-system-x86_64 is not installed" >&2; exit 77; }

mkdir -p "$XEN_DIR" "$(dirname "$log")"
if [ ! -f "$XEN" ] || [ "$XEN_GZ" -nt "$XEN" ]; then
    gunzip -c "$XEN_GZ" >"$XEN.tmp.$$" && mv "$XEN.tmp.$$" "$XEN"
fi

# QEMU's multiboot module list is comma separated: double any comma.
module="$app${*:+ $*}"
module=${module//,/,,}
[ -z "$ramdisk" ] || module+=",${ramdisk//,/,,}"

: >"$log"
qemu-system-x86_64 -accel tcg -cpu max -m 512 -display none -monitor none ${XEN_QEMU_EXTRA:-} \
    -no-reboot -serial "file:$log" -kernel "$XEN" \
    -append "console=com1 com1=115200,8n1 dom0_mem=64M noreboot${XEN_APPEND_EXTRA:+ $XEN_APPEND_EXTRA}" \
    -initrd "$module" </dev/null >"$log.qemu" 2>&1 &
qemu=$!

result=2
deadline=$((SECONDS + timeout))
while :; do
    if grep -q 'Hardware Dom0 halted' "$log"; then result=0; break; fi
    if grep -q 'Hardware Dom0 crashed' "$log"; then result=1; break; fi
    # A dom0 that powers off (Linux's poweroff) has Xen enter ACPI S5,
    # which ends QEMU: as clean as a halt.
    if grep -q 'Entering ACPI S5 state' "$log"; then result=0; break; fi
    if ! kill -0 "$qemu" 2>/dev/null; then
        if grep -q 'Entering ACPI S5 state' "$log"; then result=0; break; fi
        echo "xen-conformance: QEMU exited early:" >&2
        cat "$log.qemu" >&2
        break
    fi
    if [ $SECONDS -ge $deadline ]; then
        echo "xen-conformance: timeout after ${timeout}s" >&2
        break
    fi
    sleep 0.2
done
kill "$qemu" 2>/dev/null || true
wait "$qemu" 2>/dev/null || true

# Guest lines: everything after Xen hands over the console to dom0 that is
# not one of Xen's own "(XEN)" lines.
tr -d '\r' <"$log" | awk '
    /^\(XEN\)/ { if (/Guest Loglevel|Std. Loglevel|Freed .* init memory/) go = 1; next }
    go { print }'

case $result in
0) echo "xen-conformance: dom0 halted" >&2 ;;
1) echo "xen-conformance: dom0 crashed" >&2 ;;
esac
exit $result
