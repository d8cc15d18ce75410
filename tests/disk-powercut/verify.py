# verify.py: after one power cut (docs/disk-tests.md), checks each disk's
# image (converted to raw) against the guest's log: every sector a
# round whose flush was acknowledged wrote holds the stamp of the last
# such round, or of a later round that wrote it; every other sector holds
# what it held before this boot, or a later round's stamp.  The extents
# and stamps are drawn as tests/disk-powercut/main.c draws them.
#   python3 verify.py [--selftest] SEED GEN LOG SECTORS FMT0:PREV0:CUR0 ...
# Prints one line per disk; exits 1 (with the first bad sectors) if any
# sector holds anything else.  --selftest: then damages copies of each
# good image three ways (a flushed sector zeroed, a stamp misplaced, an
# old sector changed) and exits 1 unless the check sees each one.
import re
import struct
import sys

M = (1 << 64) - 1
MAGIC = 0x7475636b65656b
EXTENTS, MAX_LEN, LOOKAHEAD = 4, 32, 64


def mix(x):
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & M
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & M
    x ^= x >> 31
    return x


def seed_for(key, i):
    return mix(key ^ (((i + 1) * 0x9e3779b97f4a7c15) & M)) or 1


def nxt(s):
    s ^= (s << 13) & M
    s ^= s >> 7
    s ^= (s << 17) & M
    return s


def stamp(gen, d, rnd, sector):
    k = mix(gen ^ mix(d ^ mix(rnd ^ mix(sector))))
    return struct.pack("<64Q", MAGIC, gen, d, rnd, sector, *(mix((k + i) & M) for i in range(5, 64)))


def extents(key, rnd, sectors):
    s = seed_for(key, rnd)
    for _ in range(EXTENTS):
        s = nxt(s)
        first = s % sectors
        s = nxt(s)
        n = 1 + s % MAX_LEN
        yield first, min(n, sectors - first)


def describe(b):
    if b == bytes(512):
        return "zeros"
    w = struct.unpack_from("<5Q", b)
    if w[0] == MAGIC:
        ok = b == stamp(*w[1:5])
        return "the stamp of gen %d disk %d round %d sector %d%s" % (w[1], w[2], w[3], w[4], "" if ok else " (damaged)")
    return "garbage (%s...)" % b[:16].hex()


def check(seed, gen, d, fmt, F, sectors, prev, cur, quiet=False):
    """The number of sectors of disk d holding what no history allows."""
    key = seed ^ gen << 32 ^ d << 48
    last = {}    # sector -> last acknowledged round that wrote it
    later = {}   # sector -> rounds after F that wrote it
    for r in range(1, F + LOOKAHEAD + 1):
        for first, n in extents(key, r, sectors):
            for s in range(first, first + n):
                if r <= F:
                    last[s] = r
                else:
                    later.setdefault(s, set()).add(r)
    bad = n_flushed = n_later = n_old = 0
    for s in range(sectors):
        b = bytes(cur[s * 512:(s + 1) * 512])
        r0 = last.get(s)
        if r0 is not None and b == stamp(gen, d, r0, s):
            n_flushed += 1
            continue
        if r0 is None and b == prev[s * 512:(s + 1) * 512]:
            n_old += 1
            continue
        if any(b == stamp(gen, d, r, s) for r in later.get(s, ())):
            n_later += 1
            continue
        bad += 1
        if bad <= 10 and not quiet:
            want = ("round %d's stamp (flushed) or a later round's" % r0 if r0 is not None
                    else "its old content or a later round's stamp")
            print("powercut: LOST seed=%d gen=%d %s (disk %d) sector %d: holds %s; expected %s"
                  % (seed, gen, fmt, d, s, describe(b), want))
    if not quiet:
        print("powercut: gen %d %s: %d rounds flushed; %d sectors hold their last flushed round, "
              "%d a later round, %d their old content" % (gen, fmt, F, n_flushed, n_later, n_old))
    return bad, last


def selftest(seed, gen, d, fmt, F, sectors, prev, cur, last):
    """Damage a copy of a good image three ways: the check must see each."""
    s = min(last)    # a sector a flushed round wrote
    o = next(x for x in range(sectors) if x not in last)
    cases = [("sector %d zeroed" % s, s, bytes(512)),
             ("sector %d given sector %d's stamp" % (s, o), s, stamp(gen, d, last[s], o)),
             ("old sector %d given a byte of garbage" % o, o,
              bytes([prev[o * 512] ^ 0xff]) + prev[o * 512 + 1:(o + 1) * 512])]
    for what, x, data in cases:
        m = bytearray(cur)
        m[x * 512:(x + 1) * 512] = data
        if check(seed, gen, d, fmt, F, sectors, prev, m, quiet=True)[0] != 1:
            print("powercut: selftest: %s: %s was not seen" % (fmt, what))
            return 1
    print("powercut: selftest: %s: a flushed sector zeroed, a misplaced stamp and a damaged old "
          "sector are each seen" % fmt)
    return 0


def main():
    args = sys.argv[1:]
    self_test = args[0] == "--selftest"
    if self_test:
        args = args[1:]
    seed, gen, logf, sectors = int(args[0]), int(args[1]), args[2], int(args[3])
    flushed = {}
    for line in open(logf, errors="replace"):
        m = re.search(r"\) flushed d=([0-9]+) round=([0-9]+)$", line.rstrip("\n"))
        if m:
            d, r = int(m.group(1)), int(m.group(2))
            flushed[d] = max(flushed.get(d, 0), r)
    bad = 0
    for d, spec in enumerate(args[4:]):
        fmt, prevf, curf = spec.split(":")
        prev, cur = open(prevf, "rb").read(), open(curf, "rb").read()
        if len(cur) != sectors * 512 or len(prev) != sectors * 512:
            print("powercut: %s: image is %d bytes, not %d" % (fmt, len(cur), sectors * 512))
            return 1
        F = flushed.get(d, 0)
        if F == 0:
            print("powercut: %s: no round flushed before the cut" % fmt)
            bad += 1
            continue
        n, last = check(seed, gen, d, fmt, F, sectors, prev, cur)
        bad += n
        if self_test and not n:
            bad += selftest(seed, gen, d, fmt, F, sectors, prev, cur, last)
    return 1 if bad else 0


sys.exit(main())
