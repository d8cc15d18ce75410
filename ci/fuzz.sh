#!/usr/bin/env bash
# make fuzz: the hypercall fuzzer (tests/hcfuzz) for 10 million calls in all, not part of
# make test.  Each seed runs the three configurations, with calls shared so that the
# unprivileged one-pCPU run (the fastest) gets most: per seed HCFUZZ_FUZZ_CALLS (default
# 2,500,000) as 60% hcfuzz, 30% hcfuzz-ctl, 10% hcfuzz-smp.  Four seeds by default.
#   FUZZ_SEEDS='1 2 3 4'  FUZZ_CALLS=2500000  bash ci/fuzz.sh
# Logs: build/fuzz/<seed>/<test>.log.  A failure names its (seed, index); replay it with
# HCFUZZ_SEED=<seed> HCFUZZ_CALLS=<n> HCFUZZ_ARGS='trace=<index>' ONLY=<test> bash ci/run-tests.sh
set -u
cd "$(dirname "$0")/.."
seeds=${FUZZ_SEEDS:-0x5eed0101 0x5eed0102 0x5eed0103 0x5eed0104}
per_seed=${FUZZ_CALLS:-2500000}
fails=0 total=0
for seed in $seeds; do
    out=build/fuzz/$seed
    mkdir -p "$out"
    for spec in "hcfuzz 60" "hcfuzz-ctl 30" "hcfuzz-smp 10"; do
        set -- $spec
        t=$1 calls=$((per_seed * $2 / 100))
        # Allow for a slow, loaded host: 1,000 calls/s at worst with two vCPUs, 10,000 without.
        if [ "$t" = hcfuzz-smp ]; then tmo=$((calls / 1000 + 120)); else tmo=$((calls / 10000 + 120)); fi
        start=$SECONDS
        RESULTS=$out HCFUZZ_SEED=$seed HCFUZZ_CALLS=$calls HCFUZZ_TIMEOUT=$tmo \
            bash ci/run-tests.sh --one guest "$t"
        read -r st detail < "$out/$t.res"
        rate=$(grep -ao 'hcfuzz: [0-9]* calls/s' "$out/$t.log" | awk '{print $2}')
        printf '%-4s %-11s seed %s %9d calls %6ds %8s calls/s %s\n' "$st" "$t" "$seed" "$calls" \
            $((SECONDS - start)) "${rate:-?}" "$detail"
        total=$((total + calls))
        [ "$st" = PASS ] || fails=$((fails + 1))
    done
done
echo "fuzz: $total calls, $fails failed runs"
[ "$fails" -eq 0 ]
