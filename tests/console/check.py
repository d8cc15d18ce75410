#!/usr/bin/env python3
"""Checks a console test's serial log: check.py LOG NAME:LINES[:io] ...

For each bursting domain NAME: its LINES numbered lines appear exactly once each, in order,
each whole on one line "[stamp] (NAME) burst NAME nnnnn the quick brown fox"; its long lines
come back whole from their pieces (each piece named, none longer than a console line); its
control characters are cleaned; its final line comes before its shutdown.  ":io": the lines
went through console_io (the hypervisor cuts at 200 bytes of text, not counting the name)."""
import re
import sys

STAMP = r'^\[ *[0-9]+\.[0-9]{6}\] '
LINE_MAX = 200          # XSC_LINE_MAX: "(name) " and text


def fail(msg):
    print(msg)
    sys.exit(1)


def long_text(k, n):
    return 'LONG%d:%s:END%d' % (k, ''.join(chr(ord('a') + i % 26) for i in range(n)), k)


def big_text():
    s = [chr(ord('A') + i % 26) for i in range(8999)]
    s[:6] = 'LONG3:'
    return ''.join(s)


def check(log, name, count, via_ring=True):
    named = re.compile(STAMP + re.escape('(%s) ' % name) + '(.*)$')
    texts, where = [], []
    for i, line in enumerate(log):
        m = named.match(line)
        if m:
            texts.append(m.group(1))
            where.append(i)
        if 'burst %s ' % name in line and not re.match(
                STAMP + r'\(%s\) burst %s [0-9]{5} the quick brown fox$' % (re.escape(name),
                                                                         re.escape(name)), line):
            fail('%s: mixed or unnamed line: %r' % (name, line[:120]))
    for t in texts if via_ring else ():
        if len('(%s) ' % name) + len(t) > LINE_MAX:
            fail('%s: a line longer than %d bytes' % (name, LINE_MAX))
    nums = [int(t.split()[2]) for t in texts if t.startswith('burst %s ' % name)]
    if nums != list(range(1, count + 1)):
        bad = next((i for i, (a, b) in enumerate(zip(nums, range(1, count + 1))) if a != b),
                   min(len(nums), count))
        fail('%s: %d numbered lines, expected %d; first difference at index %d' %
             (name, len(nums), count, bad))
    for k, want in ((1, long_text(1, 300)), (2, long_text(2, 5000)), (3, big_text())):
        start = next((i for i, t in enumerate(texts) if t.startswith('LONG%d:' % k)), None)
        if start is None:
            fail('%s: no LONG%d line' % (name, k))
        got, i = '', start
        while len(got) < len(want) and i < len(texts):
            got += texts[i]
            i += 1
        if got != want:
            fail('%s: LONG%d came back as %d bytes, not the %d written' %
                 (name, k, len(got), len(want)))
    ctl = 'ctl: ab?c\td?[31me?f' if via_ring else 'ctl: ab?c\td?[31me\x7ff'   # the hv keeps DEL
    for want in (ctl, 'crlf line', 'stderr then stdout: from stderr',
                 'printk line 42', 'final line of %s' % name, 'Test result: SUCCESS',
                 'tail without a newline'):
        if texts.count(want) != 1:
            fail('%s: %r appears %d times' % (name, want, texts.count(want)))
    final = where[texts.index('final line of %s' % name)]
    down = next((i for i, line in enumerate(log)
                 if re.search(r'\] d[0-9]+ \(%s\) shut down: poweroff$' % re.escape(name), line)),
                None)
    if down is None or final > down:
        fail('%s: the final line is not before the shutdown' % name)


def main():
    with open(sys.argv[1], errors='replace') as f:
        log = f.read().split('\n')
    for arg in sys.argv[2:]:
        name, count, *how = arg.split(':')
        check(log, name, int(count), how != ['io'])


main()
