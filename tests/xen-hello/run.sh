#!/usr/bin/env bash
# run.sh: conformance test: apps/hello boots as dom0 of real Xen 4.17, prints its arguments and powers off cleanly.
#
# Run from the top directory after `make build/apps/hello.elf`. Prints
# exactly one line "Test result: SUCCESS|SKIP|FAILURE|ERROR" (last).
set -uo pipefail

app=build/apps/hello.elf
out=build/tests/xen-hello
mkdir -p "$out"

result() {
    echo "Test result: $1"
    exit 0
}

if [ ! -f /boot/xen-4.17-amd64.gz ]; then
    echo "xen-hello: /boot/xen-4.17-amd64.gz is not installed"
    result SKIP
fi
if [ ! -f "$app" ]; then
    echo "xen-hello: $app is missing (run: make $app)"
    result ERROR
fi

bash ci/xen-conformance.sh -t 45 -l "$out/xen.log" "$app" name=xen-hello greeting=hi \
    >"$out/guest.out" 2>"$out/runner.err"
rc=$?
cat "$out/guest.out"

case $rc in
0) ;;
1)  echo "xen-hello: dom0 crashed instead of powering off (log: $out/xen.log)"
    result FAILURE ;;
77) cat "$out/runner.err"; result SKIP ;;
*)  cat "$out/runner.err"
    echo "xen-hello: Xen did not report dom0's end (log: $out/xen.log)"
    result ERROR ;;
esac

expected=$'Hello, world\nargv[1] = name=xen-hello\nargv[2] = greeting=hi'
if [ "$(cat "$out/guest.out")" != "$expected" ]; then
    echo "xen-hello: guest output differs from what was expected:"
    diff <(echo "$expected") "$out/guest.out"
    result FAILURE
fi
result SUCCESS
