#!/usr/bin/env bash
# The module's size the guest read is the ramdisk file's.
log=$1
want=$(printf '0x%x' "$(stat -c %s tests/pvh/pvh.lds)")
got=$(grep -o 'pvh-hello: module 0 of size 0x[0-9a-f]*' "$log" | head -1 | awk '{print $NF}')
[ "$got" = "$want" ] || { echo "module size $got, file size $want"; exit 1; }
