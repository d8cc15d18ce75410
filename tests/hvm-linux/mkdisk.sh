#!/usr/bin/env bash
# mkdisk.sh KERNEL INITRD OUT [CMDLINE]: a disk that boots Debian's kernel
# through Debian's GRUB 2 (grub-pc-bin), laid out as grub-install and a
# Debian installer would: boot.img in the MBR, core.img from sector 1 on
# (its block list as in tests/hvm-grub/mkdisk.sh), and one partition from
# sector 2048 (type 0x83, active) holding an ext2 file system, made by
# mke2fs -d without root, with the kernel (/vmlinuz, the bzImage as
# Debian ships it) and the initramfs (/initrd.img).  core.img carries an
# embedded config: COM1 as GRUB's console, then linux, initrd and boot.
# No root, no loop devices.
set -eu
kernel=$1 initrd=$2 out=$3
cmdline=${4:-console=ttyS0}
g=/usr/lib/grub/i386-pc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/early.cfg" <<CFG
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
echo "hvm-linux: GRUB 2 loading Linux from (hd0,msdos1)"
linux (hd0,msdos1)/vmlinuz $cmdline
initrd (hd0,msdos1)/initrd.img
echo "hvm-linux: booting it"
boot
CFG
grub-mkimage -O i386-pc -o "$tmp/core.img" -c "$tmp/early.cfg" -p '(hd0,msdos1)/boot/grub' \
    biosdisk part_msdos ext2 linux boot serial terminal echo
size=$(stat -c %s "$tmp/core.img")
sectors=$(( (size + 511) / 512 ))
if [ "$sectors" -ge 2047 ]; then
    echo "mkdisk: core.img is $sectors sectors: no room before the partition" >&2
    exit 1
fi
mkdir "$tmp/root"
cp "$kernel" "$tmp/root/vmlinuz"
cp "$initrd" "$tmp/root/initrd.img"
kib=$(( ($(du -sk "$tmp/root" | cut -f1) * 11 / 10) + 1024 ))
mke2fs -q -t ext2 -b 1024 -d "$tmp/root" -F "$tmp/part" "${kib}k" >/dev/null
psec=$(( $(stat -c %s "$tmp/part") / 512 ))
truncate -s $(( (2048 + psec) * 512 )) "$tmp/disk"
dd if="$g/boot.img" of="$tmp/disk" bs=512 count=1 conv=notrunc status=none
dd if="$tmp/core.img" of="$tmp/disk" bs=512 seek=1 conv=notrunc status=none
rest=$((sectors - 1))
le16() { printf "$(printf '\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16)); }
le16 $rest | dd of="$tmp/disk" bs=1 seek=$((512 + 508)) conv=notrunc status=none
# The partition table (MBR bytes 446-509, where boot.img has floppy code
# that grub-bios-setup replaces with the disk's table): one entry, active,
# CHS fields past the BIOS's reach (LBA rules), type 0x83, first sector
# 2048, its length; the other three empty.
{ printf '\200\376\377\377\203\376\377\377'; le32 2048; le32 $psec; head -c 48 /dev/zero; } |
    dd of="$tmp/disk" bs=1 seek=446 conv=notrunc status=none
dd if="$tmp/part" of="$tmp/disk" bs=512 seek=2048 conv=notrunc status=none
mv "$tmp/disk" "$out"
