#!/usr/bin/env python3
# mkinitramfs.py: writes a gzip'd cpio (newc) initramfs from busybox and an /init script, as root-owned entries, with no root privileges.
#   ci/mkinitramfs.py OUT BUSYBOX INIT [PROGRAM...]   (each PROGRAM goes to /bin)
import gzip, os, sys

def entry(name, mode, data=b"", rdev=(0, 0), ino=[0]):
    ino[0] += 1
    hdr = "070701" + "".join("%08x" % v for v in (
        ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
        len(name) + 1, 0))
    out = hdr.encode() + name.encode() + b"\0"
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out

def main():
    out, busybox, init = sys.argv[1:4]
    a = b""
    for d in ("bin", "dev", "proc", "sys", "tmp", "sbin", "usr", "usr/bin", "usr/sbin"):
        a += entry(d, 0o040755)
    a += entry("dev/console", 0o020600, rdev=(5, 1))
    a += entry("dev/null", 0o020666, rdev=(1, 3))
    a += entry("bin/busybox", 0o100755, open(busybox, "rb").read())
    a += entry("bin/sh", 0o120777, b"busybox")
    a += entry("init", 0o100755, open(init, "rb").read())
    for prog in sys.argv[4:]:
        a += entry("bin/" + os.path.basename(prog), 0o100755, open(prog, "rb").read())
    a += entry("TRAILER!!!", 0)
    a += b"\0" * (-len(a) % 512)
    with open(out + ".tmp", "wb") as f:
        f.write(gzip.compress(a, 9, mtime=0))
    os.replace(out + ".tmp", out)

main()
