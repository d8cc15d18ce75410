#!/usr/bin/env bash
# linux-guest.sh: Debian 12's stock kernel and a busybox initramfs, as a PV guest for Keel and Xen.
#
#   ci/linux-guest.sh fetch   download (once) Debian's linux-image-6.1.*-amd64 and
#                             busybox-static .debs into build/linux/deb (apt-get download)
#   ci/linux-guest.sh build   from those: build/linux/vmlinux and build/linux/initrd.img
#                             (exit 77 when the .debs are not there: run fetch)
#   ci/linux-guest.sh         both
#
# The kernel is used unmodified.  Debian ships it as a bzImage
# (/boot/vmlinuz-*), whose protected-mode part carries the kernel ELF
# compressed (XZ for Debian's) at the offset and length the boot header
# gives (payload_offset, payload_length at 0x248/0x24c, counted from the
# end of the setup sectors).  Xen's libelf and libxc find the same payload
# and decompress it in the loader; Keel's loader takes ELF images only,
# so the payload is decompressed here with xz, as the kernel's own
# scripts/extract-vmlinux does: build/linux/vmlinux is byte for byte the
# ELF that Xen would boot from the bzImage.  Nothing here is committed.
#
# The initramfs (cpio newc, gzip) holds Debian's busybox-static and
# tests/linux-pv/init, /bin/tsc and /bin/procbench (tests/linux-pv/*.c, built with clang),
# written by ci/mkinitramfs.py without root.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/linux
deb=$out/deb

fetch() {
    mkdir -p "$deb"
    if ! ls "$deb"/linux-image-6.1.*-amd64_*.deb >/dev/null 2>&1; then
        # The metapackage names the current ABI's image package.
        local pkg
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
              awk '/Depends: linux-image-6\.1\.[0-9.-]*-amd64$/ { print $2; exit }')
        if [ -z "$pkg" ]; then
            echo "linux-guest: apt-cache knows no linux-image-6.1.*-amd64 (apt-get update?)" >&2
            exit 1
        fi
        echo "linux-guest: apt-get download $pkg"
        (cd "$deb" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
        ls "$deb"/linux-image-6.1.*-amd64_*.deb >/dev/null 2>&1 || { echo "linux-guest: download of $pkg failed" >&2; exit 1; }
    fi
    if ! ls "$deb"/busybox-static_*.deb >/dev/null 2>&1; then
        echo "linux-guest: apt-get download busybox-static"
        (cd "$deb" && apt-get download -q busybox-static 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
        ls "$deb"/busybox-static_*.deb >/dev/null 2>&1 || { echo "linux-guest: download of busybox-static failed" >&2; exit 1; }
    fi
}

build() {
    local kdeb bdeb
    kdeb=$(ls "$deb"/linux-image-6.1.*-amd64_*.deb 2>/dev/null | sort -V | tail -1) || true
    bdeb=$(ls "$deb"/busybox-static_*.deb 2>/dev/null | tail -1) || true
    if [ -z "$kdeb" ] || [ -z "$bdeb" ]; then
        echo "linux-guest: no kernel or busybox .deb in $deb (run: bash ci/linux-guest.sh fetch)" >&2
        exit 77
    fi
    if [ ! -f "$out/vmlinux" ] || [ "$kdeb" -nt "$out/vmlinux" ]; then
        dpkg-deb --fsys-tarfile "$kdeb" | tar -xO --wildcards './boot/vmlinuz-*' >"$out/vmlinuz"
        # The bzImage's payload: setup sectors (0x1f1, 0 means 4) + the
        # boot sector, then payload_offset; payload_length bytes.
        python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[0x202:0x206] == b"HdrS", "not a bzImage"
setup = d[0x1f1] or 4
off, length = struct.unpack_from("<II", d, 0x248)
start = (setup + 1) * 512 + off
sys.stdout.buffer.write(d[start:start + length])' "$out/vmlinuz" | xz -dc --single-stream >"$out/vmlinux.tmp"
        head -c 4 "$out/vmlinux.tmp" | grep -q 'ELF' || { echo "linux-guest: the payload is not an XZ'd ELF" >&2; exit 1; }
        mv "$out/vmlinux.tmp" "$out/vmlinux"
        echo "linux-guest: $out/vmlinux from $(basename "$kdeb")"
    fi
    if [ ! -f "$out/busybox" ] || [ "$bdeb" -nt "$out/busybox" ]; then
        dpkg-deb --fsys-tarfile "$bdeb" | tar -xO ./bin/busybox >"$out/busybox"
        chmod +x "$out/busybox"
    fi
    # tsc: prints the time-stamp counter (the bench's "machine start ->
    # /init" figure); a static program without libc.
    # procbench: getpid and fork+exec+wait round trips (the bench's
    # process figures; /init runs it when the command line says procbench).
    local p
    for p in tsc procbench; do
        if [ ! -f "$out/$p" ] || [ tests/linux-pv/$p.c -nt "$out/$p" ]; then
            clang --target=x86_64-linux-gnu -O2 -static -nostdlib -ffreestanding \
                -fno-stack-protector -fno-pic -fuse-ld=lld -Wall -Wextra -Werror \
                -o "$out/$p" tests/linux-pv/$p.c
        fi
    done
    if [ ! -f "$out/initrd.img" ] || [ tests/linux-pv/init -nt "$out/initrd.img" ] ||
       [ "$out/tsc" -nt "$out/initrd.img" ] || [ "$out/procbench" -nt "$out/initrd.img" ] ||
       [ ci/mkinitramfs.py -nt "$out/initrd.img" ] || [ "$out/busybox" -nt "$out/initrd.img" ]; then
        python3 ci/mkinitramfs.py "$out/initrd.img" "$out/busybox" tests/linux-pv/init "$out/tsc" "$out/procbench"
        echo "linux-guest: $out/initrd.img"
    fi
}

case ${1:-all} in
fetch) fetch ;;
build) build ;;
all) fetch; build ;;
*) echo "usage: $0 [fetch|build]" >&2; exit 3 ;;
esac
