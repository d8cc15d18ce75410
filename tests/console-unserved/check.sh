#!/usr/bin/env bash
# Every line once, in order, though through console_io.
exec python3 tests/console/check.py "$1" lonely:200:io
