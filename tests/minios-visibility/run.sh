#!/usr/bin/env bash
# run.sh: only minios's public API is visible to an application. An appliance
# that calls a public function links; one that calls a minios internal (a global
# of libminios that no public header names) does not; and every global that
# libminios.a defines is either named by a public header or listed in
# minios/exports.txt (newlib's system calls, the entry from start.o).
#
# Run from the top directory after `make`. Prints one "Test result:" line (last).
set -uo pipefail
CC=build/toolchain/bin/x86_64-minios-cc
LIB=build/minios/libminios.a
out=build/tests/minios-visibility
mkdir -p "$out"
result() { echo "Test result: $1"; exit 0; }
[ -x "$CC" ] && [ -f "$LIB" ] || { echo "build minios first (make)"; result ERROR; }
fail=0

cat > "$out/public.c" <<'C'
#include <minios/thread.h>
int main(void) { minios_thread_yield(); return 0; }
C
cat > "$out/internal.c" <<'C'
void minios_threads_init(void);          /* kernel.h: internal */
int main(void) { minios_threads_init(); return 0; }
C
if ! "$CC" -O2 -o "$out/public.elf" "$out/public.c" 2>"$out/public.err"; then
    echo "an appliance using the public API does not link:"; cat "$out/public.err"; fail=1
fi
if "$CC" -O2 -o "$out/internal.elf" "$out/internal.c" 2>"$out/internal.err"; then
    echo "an appliance calling minios_threads_init (internal) linked"; fail=1
elif ! grep -q 'undefined symbol: minios_threads_init' "$out/internal.err"; then
    echo "the internal call failed for another reason:"; cat "$out/internal.err"; fail=1
else
    echo "minios-visibility: the internal call is refused at link time (undefined symbol)"
fi

# Every defined global is public.
{ grep -v '^#' minios/exports.txt; grep -ohE '\bminios_[A-Za-z0-9_]+' minios/include/minios/*.h; } |
    sort -u > "$out/allowed"
llvm-nm -g --defined-only "$LIB" | awk 'NF == 3 { print $3 }' | sort -u > "$out/defined"
extra=$(comm -23 "$out/defined" "$out/allowed")
if [ -n "$extra" ]; then
    echo "globals of libminios.a that no public header names:"; echo "$extra"; fail=1
else
    echo "minios-visibility: $(wc -l < "$out/defined") globals, all public"
fi
[ $fail -eq 0 ] && result SUCCESS || result FAILURE
