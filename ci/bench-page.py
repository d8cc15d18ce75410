#!/usr/bin/env python3
# bench-page.py OUT: the page the HTTP benchmark fetches (ci/bench-net.sh), 612 bytes like nginx's default
# index.html, written the same for Keel's httpd (apps/httpd/mkwww.sh) and Linux's nginx (ci/linux-net.sh).
import sys

body = b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome</title>\n</head>\n<body>\n<h1>Welcome</h1>\n"
tail = b"</p>\n</body>\n</html>\n"
body += b"<p>" + b"x" * (612 - len(body) - 3 - len(tail)) + tail
assert len(body) == 612
open(sys.argv[1], "wb").write(body)
