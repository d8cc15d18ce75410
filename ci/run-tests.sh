#!/usr/bin/env bash
# The test runner: host unit tests, guest tests (tests/<name>/test.cfg,
# each one QEMU run of the hypervisor) and script tests (tests/<name>/run.sh).
# Prints one line per test and ends with "N passed, N failed, N skipped"
# (a skipped test is neither).
#
# test.cfg is sourced by bash and may set:
#   MODULES       the -initrd string (modules separated by commas)
#   MEM           guest RAM for QEMU (default 128M)
#   TIMEOUT       seconds (default 60)
#   EXPECT_EXIT   QEMU's exit status (33: all domains powered off)
#   EXPECT=(...)  extended regexps that must each match a line of the log
#   NO_RESULT_LINE=1  the guests print no "Test result:" line
#   APPEND        the hypervisor's command line
#   SMP           host CPUs (default 1; more use multi-threaded TCG)
#   HV            the hypervisor image (default build/hv.elf; the debug
#                 build with its self-checks is build/hv-debug.elf)
#   ALONE=1       run after the others, one at a time: the test measures
#                 shares of CPU time, which another QEMU competing for the
#                 host's cores would distort
# and tests/<name>/check.sh LOG, if present, must exit 0.  A script test
# (tests/<name>/run.sh) may say "# ALONE=1" and "# TIMEOUT=N" (seconds,
# default 300) in lines of its own.
set -u
cd "$(dirname "$0")/.."
R=${RESULTS:-build/tests/results}
JOBS=${JOBS:-2}
export RESULTS=$R

verdict() {   # name status detail
    printf '%s %s\n' "$2" "$3" > "$R/$1.res"
}

run_guest() {
    local name=$1 dir=tests/$1
    local MODULES="" MEM=128M TIMEOUT=60 EXPECT_EXIT=33 NO_RESULT_LINE=0 APPEND=""
    local PANIC_OK=0 SMP=1 ALONE=0 HV=build/hv.elf QEMU_EXTRA=""
    # DEBUG=1 (make DEBUG=1 test): every test on the debug hypervisor,
    # which checks the lock order and reports long lock holds.
    [ "${DEBUG:-0}" = 1 ] && HV=build/hv-debug.elf
    local -a EXPECT=()
    # shellcheck disable=SC1090
    source "$dir/test.cfg"
    local log=$R/$name.log
    rm -f "$log" "$log.qemu"
    # shellcheck disable=SC2086
    SMP=$SMP HV=$HV bash ci/qemu-boot.sh "$log" "$TIMEOUT" "$MEM" "$MODULES" -append "$APPEND" \
        $QEMU_EXTRA
    local rc=$?
    sed -i 's/\r$//' "$log"
    if [ $rc -eq 124 ]; then verdict "$name" FAIL "timed out after ${TIMEOUT}s"; return; fi
    if [ "$PANIC_OK" != 1 ] && grep -q 'PANIC\|hypervisor fault' "$log"; then verdict "$name" FAIL "hypervisor panic"; return; fi
    if grep -q 'LEAK' "$log"; then verdict "$name" FAIL "frames leaked"; return; fi
    if [ "$rc" -ne "$EXPECT_EXIT" ]; then
        verdict "$name" FAIL "QEMU exit $rc, expected $EXPECT_EXIT"; return
    fi
    local pat
    for pat in "${EXPECT[@]}"; do
        grep -Eq -- "$pat" "$log" || { verdict "$name" FAIL "no line matches: $pat"; return; }
    done
    if [ "$NO_RESULT_LINE" != 1 ]; then
        local res
        res=$(grep -o 'Test result: [A-Z]*' "$log" | awk '{print $3}' | sort -u)
        if [ -z "$res" ]; then verdict "$name" FAIL "no Test result line"; return; fi
        for w in ERROR FAILURE; do
            if grep -qx $w <<<"$res"; then verdict "$name" FAIL "guest reported $w"; return; fi
        done
        if grep -qx SKIP <<<"$res" && ! grep -qx SUCCESS <<<"$res"; then
            verdict "$name" SKIP ""; return
        fi
    fi
    if [ -x "$dir/check.sh" ]; then
        local why
        why=$("$dir/check.sh" "$log" 2>&1) || { verdict "$name" FAIL "check: $why"; return; }
    fi
    verdict "$name" PASS ""
}

run_script() {
    local name=$1 log=$R/$1.log limit
    # A script may ask for more than 300 s with a "# TIMEOUT=N" line.
    limit=$(sed -n 's/^# TIMEOUT=\([0-9]*\).*/\1/p' "tests/$name/run.sh" | head -1)
    limit=${limit:-300}
    timeout -k 5 "$limit" bash "tests/$name/run.sh" > "$log" 2>&1
    if [ $? -eq 124 ]; then verdict "$name" FAIL "timed out after ${limit}s"; return; fi
    local res
    res=$(grep -o 'Test result: [A-Z]*' "$log" | tail -1 | awk '{print $3}')
    case "$res" in
        SUCCESS) verdict "$name" PASS "" ;;
        SKIP) verdict "$name" SKIP "$(grep -v 'Test result' "$log" | tail -1)" ;;
        *) verdict "$name" FAIL "$(grep -v 'Test result' "$log" | tail -1)" ;;
    esac
}

run_unit() {
    local name=$1 log=$R/$1.log
    if [ ! -x "build/tests/unit/$name" ]; then verdict "$name" FAIL "not built"; return; fi
    if "build/tests/unit/$name" > "$log" 2>&1; then verdict "$name" PASS ""
    else verdict "$name" FAIL "$(tail -3 "$log" | tr '\n' ' ')"; fi
}

if [ "${1:-}" = --one ]; then
    "run_$2" "$3"
    exit 0
fi

mkdir -p "$R"
rm -f "$R"/*.res
list=() alone=()
# The unit tests the tree declares (a declared one that was not built
# fails, and a stray binary in build/ is not run).
for u in $(make -s --no-print-directory unit-list); do
    list+=("unit $(basename "$u")")
done
for d in tests/*/; do
    n=$(basename "$d")
    [ -n "${ONLY:-}" ] && ! grep -Eqx "$ONLY" <<<"$n" && continue
    # "# MANUAL=1": a test known to fail on an open problem, run only when
    # ONLY names it (its make target says which; docs/testing.md).
    [ -z "${ONLY:-}" ] && [ -f "$d/run.sh" ] && grep -q '^# MANUAL=1' "$d/run.sh" && continue
    if [ -f "$d/test.cfg" ] && grep -q '^ALONE=1' "$d/test.cfg"; then alone+=("guest $n")
    elif [ -f "$d/test.cfg" ]; then list+=("guest $n")
    elif [ -f "$d/run.sh" ] && grep -q '^# ALONE=1' "$d/run.sh"; then alone+=("script $n")
    elif [ -f "$d/run.sh" ]; then list+=("script $n"); fi
done

printf '%s\n' "${list[@]}" | xargs -P "$JOBS" -L 1 bash ci/run-tests.sh --one
if [ ${#alone[@]} -gt 0 ]; then
    printf '%s\n' "${alone[@]}" | xargs -P 1 -L 1 bash ci/run-tests.sh --one
    list+=("${alone[@]}")
fi

pass=0 fail=0 skip=0
for item in "${list[@]}"; do
    n=${item#* }
    read -r st detail < "$R/$n.res" 2>/dev/null || { st=FAIL; detail="runner error"; }
    printf '%-4s %-24s %s\n' "$st" "$n" "$detail"
    case $st in
        PASS) pass=$((pass + 1)) ;;
        SKIP) skip=$((skip + 1)) ;;
        *) fail=$((fail + 1)) ;;
    esac
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
