# The vhd and vmdk drivers: their sources (drivers/vhd.c, vmdk.c,
# vmdk_zlib.c) and unit tests (tests/unit/test_img_vhd.c, test_img_vmdk.c)
# are built by tapdisk.mk's wildcards; vmdk_zlib.c needs -lz (TD_LDLIBS).
# `make unit-vhdvmdk` builds and runs just their unit tests.
.PHONY: unit-vhdvmdk
unit-vhdvmdk: $(B)/tests/unit/test_img_vhd $(B)/tests/unit/test_img_vmdk
	$(Q)for t in $^; do $$t || exit 1; done
