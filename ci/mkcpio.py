#!/usr/bin/env python3
# mkcpio.py: writes a gzip'd cpio (newc) archive of a directory tree, every entry owned by root, with no root privileges.
#   ci/mkcpio.py OUT ROOT   (directories, regular files with their modes, symlinks)
import gzip, os, stat, sys

def entry(name, mode, data=b"", ino=[0]):
    ino[0] += 1
    hdr = "070701" + "".join("%08x" % v for v in (
        ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0))
    out = hdr.encode() + name.encode() + b"\0"
    out += b"\0" * (-len(out) % 4)
    return out + data + b"\0" * (-len(data) % 4)

def main():
    out, root = sys.argv[1:3]
    parts = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            parts.append(entry(rel, stat.S_IFDIR | 0o755))
        for n in sorted(filenames) + sorted(d for d in dirnames if os.path.islink(os.path.join(dirpath, d))):
            p = os.path.join(dirpath, n)
            name = os.path.normpath(os.path.join(rel, n))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                parts.append(entry(name, stat.S_IFLNK | 0o777, os.readlink(p).encode()))
            elif stat.S_ISREG(st.st_mode):
                parts.append(entry(name, stat.S_IFREG | (st.st_mode & 0o777), open(p, "rb").read()))
    for dev, mode, rdev in (("dev/console", 0o020600, (5, 1)), ("dev/null", 0o020666, (1, 3))):
        e = entry(dev, mode)
        # rdev major/minor live at fields 10 and 11 of the header
        hdr = bytearray(e)
        hdr[6 + 8 * 9:6 + 8 * 10] = b"%08x" % rdev[0]
        hdr[6 + 8 * 10:6 + 8 * 11] = b"%08x" % rdev[1]
        parts.append(bytes(hdr))
    parts.append(entry("TRAILER!!!", 0))
    a = b"".join(parts)
    a += b"\0" * (-len(a) % 512)
    with open(out + ".tmp", "wb") as f:
        f.write(gzip.compress(a, 6, mtime=0))
    os.replace(out + ".tmp", out)

main()
