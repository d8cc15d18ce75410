#!/usr/bin/env bash
# The guest failed none of its checks, and every one of the 1,000 lines was
# either printed by the device model or counted as dropped by it.
log=$1
if grep -q 'pvh-hello: FAIL' "$log"; then
    echo "the guest failed: $(grep 'pvh-hello: FAIL' "$log" | head -1)"
    exit 1
fi
printed=$(tr -d '\r' < "$log" | grep -c 'dm: d1 serial: pvh-hello: storm line 0123456789abcdef0123456789abcdef$')
dropped=$(tr -d '\r' < "$log" | grep -o 'dm: d1 is gone: [0-9]* lines dropped' | grep -o '[0-9]* lines' | cut -d' ' -f1)
if [ "$((printed + ${dropped:-0}))" -ne 1000 ]; then
    echo "lines printed ($printed) and dropped (${dropped:-none}) do not add up to 1000"
    exit 1
fi
exit 0
