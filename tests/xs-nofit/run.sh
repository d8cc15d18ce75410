#!/usr/bin/env bash
# run.sh: the xenstore domain's boot-domain list counts against its mem=.  A first boot learns
# how much memory the test image and its start-of-day structures need (the builder's refusal
# says); a second gives a xenstore domain exactly that: the list no longer fits, so it is
# refused with that reason, and the other domain runs as if there were no xenstore domain
# (nothing offered: op=alone checks store and console channels 0, grant entries empty).
#
# Run from the top directory after `make build/hv.elf build/tests/xs-boot.elf`.  Prints
# exactly one line "Test result: SUCCESS|FAILURE|ERROR" (last).
set -uo pipefail

X=build/tests/xs-boot.elf
out=build/tests/xs-nofit
mkdir -p "$out"

result() {
    echo "Test result: $1"
    exit 0
}

[ -f "$X" ] && [ -f build/hv.elf ] || { echo "xs-nofit: build $X and build/hv.elf first"; result ERROR; }

rm -f "$out"/probe.log* "$out"/nofit.log*
bash ci/qemu-boot.sh "$out/probe.log" 60 128M "$X name=probe mem=16K op=alone" -append ""
need=$(sed -n "s/.*module 'probe' refused: mem=16K is too small: image and start-of-day structures need \([0-9]*\)K.*/\1/p" "$out/probe.log")
if [ -z "$need" ]; then
    echo "xs-nofit: the probe was not refused as expected (see $out/probe.log)"
    result ERROR
fi
echo "xs-nofit: the image and start-of-day structures need ${need}K"

bash ci/qemu-boot.sh "$out/nofit.log" 60 128M \
    "$X name=xenstore role=xenstore mem=${need}K op=xs peers=solo:-,$X name=solo op=alone" -append ""
rc=$?
sed -i 's/\r$//' "$out/nofit.log"
fail=0
check() {
    grep -Eq -- "$1" "$out/nofit.log" || { echo "xs-nofit: no line matches: $1"; fail=1; }
}
check "boot: module 'xenstore' refused: mem=${need}K is too small: image, boot-domain list \([0-9]+ bytes\) and start-of-day structures need [0-9]+K"
check '\(solo\) alone: no store or console channel'
check '\(solo\) Test result: SUCCESS'
check 'd2 +solo +poweroff'
check 'all returned'
if grep -q 'PANIC\|hypervisor fault\|LEAK\|FAILURE' "$out/nofit.log"; then
    echo "xs-nofit: failure in $out/nofit.log"
    fail=1
fi
if [ "$rc" -ne 35 ]; then
    echo "xs-nofit: QEMU exit $rc, expected 35 (a module refused)"
    fail=1
fi
[ $fail -eq 0 ] && result SUCCESS
result FAILURE
