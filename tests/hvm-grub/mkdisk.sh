#!/usr/bin/env bash
# mkdisk.sh OUT: a 4 MiB disk that boots Debian's GRUB 2 (grub-pc-bin) the
# way grub-install lays it out in front of a partition: boot.img in the
# MBR (its kernel sector: 1), core.img from sector 1 on (grub-mkimage puts
# diskboot.img first; its block list, the last 12 bytes of that sector,
# names the rest: from sector 2, so many sectors, as grub-setup writes
# it).  core.img carries an embedded config that takes the serial line
# (COM1) as its console, lists the drives it sees through the BIOS and
# reboots.  No root, no loop devices.
set -eu
out=$1
g=/usr/lib/grub/i386-pc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/early.cfg" <<'CFG'
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
echo "hvm-grub: GRUB 2 from the device model's IDE disk, on Keel"
ls
echo "hvm-grub: rebooting"
reboot
CFG
grub-mkimage -O i386-pc -o "$tmp/core.img" -c "$tmp/early.cfg" -p '(hd0)/boot/grub' \
    biosdisk serial terminal echo ls reboot
size=$(stat -c %s "$tmp/core.img")
sectors=$(( (size + 511) / 512 ))
truncate -s 4M "$tmp/disk"
dd if="$g/boot.img" of="$tmp/disk" bs=512 count=1 conv=notrunc status=none
dd if="$tmp/core.img" of="$tmp/disk" bs=512 seek=1 conv=notrunc status=none
# diskboot's block list: start sector 2 (already), the sectors after
# diskboot (2 bytes, little-endian, at byte 508 of sector 1).
rest=$((sectors - 1))
printf "$(printf '\\%03o\\%03o' $((rest & 255)) $((rest >> 8)))" |
    dd of="$tmp/disk" bs=1 seek=$((512 + 508)) conv=notrunc status=none
mv "$tmp/disk" "$out"
