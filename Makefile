# Keel: one non-recursive build of everything into build/.
#   make          build the hypervisor, minios, apps, stub domains and tests
#   make run      install what is missing, build, boot the net demo in QEMU (docs/boot-config.md)
#   make test     host unit tests + guest tests under QEMU, "N passed, N failed, N skipped"
#   make bench    deterministic benchmarks under QEMU -icount
# V=1 shows full commands.

B      := build
TOP    := $(CURDIR)
.DEFAULT_GOAL := all
SHELL  := /bin/bash

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

CLANG    ?= clang
LLD      ?= ld.lld
OBJCOPY  ?= llvm-objcopy
AR       := llvm-ar
HOSTCC   ?= clang
WARN     := -Wall -Wextra -Werror
CLANG_RES := $(shell $(CLANG) -print-resource-dir)

# The Xen ABI comes only from Debian's libxen-dev; expose just <xen/...>
# (not the host's libc) through a directory that holds one symlink.
XENINC   := $(B)/include
$(XENINC)/xen:
	$(Q)mkdir -p $(XENINC) && ln -sfn /usr/include/xen $@

.PHONY: all run test bench unit clean deps
all:

include toolchain/toolchain.mk
include minios/minios.mk
include lib/dombuild/dombuild.mk
include hv/hv.mk
include tests/tests.mk
include tests/iommu-dma/iommu.mk
include tests/pci-intx/intx.mk
include tests/pvh/pvh.mk
include tests/hvm-fw/fw.mk
include tests/hvm-disk/disk.mk
include tests/hvm-grub/grub.mk
include tests/disk-64m/disk-64m.mk
include tests/disk-powercut/disk-powercut.mk
include bench/disk/bench-disk.mk
include ci/ci.mk
# The disk image library and host tools (portable C, built for the host),
# then the same library and its dependencies built for minios.
include stubdoms/tapdisk/tapdisk.mk
include stubdoms/xenstore/xenstore.mk
include tools/tools.mk
include toolchain/libs.mk
include toolchain/mbedtls-tls.mk
include toolchain/ext2fs.mk
include stubdoms/tapdisk/blkback/blkback.mk
include stubdoms/tapdisk/store/journal.mk
include tests/disk-restart/disk-restart.mk
include lib/diskfs/diskfs.mk
include toolchain/lwip.mk
include minios/drivers/drivers.mk
include stubdoms/netback/netback.mk
include stubdoms/dm/dm.mk
include apps/apps.mk
include stubdoms/agent/agent.mk
include tests/unit/grant.mk
include tests/unit/xenstore.mk
include tests/unit/x86_emul.mk

deps:
	$(Q)bash ci/deps.sh

# Everything built, including the third-party libraries built for minios;
# only the fetched source packages (build/src) and the unpacked Xen
# hypervisor (build/xen) stay, since they are downloads, not builds.
clean:
	rm -rf $(filter-out $(B)/src $(B)/xen,$(wildcard $(B)/*))
