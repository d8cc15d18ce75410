#!/usr/bin/env bash
# TIMEOUT=600
# run.sh: tests/disk-powercut with IMAGES=full (docs/disk-tests.md): the
# same 20 power cuts on images whose every sector was written before, so
# that the guest's writes allocate nothing in the images or in the store
# and only data changes.  Every check stays: e2fsck -fn clean, qemu-img
# check, every flushed write there.  This separates the durability of
# flushed data (which must hold here) from the store's crash
# consistency while image files grow (disk-powercut, open).
IMAGES=full exec bash tests/disk-powercut/run.sh
