# The qcow2 driver: its files are in tapdisk.mk's wildcards (drivers/*.c,
# tests/unit/test_img_*.c); this adds `make qcow2-check`, which runs just
# the qcow2 unit test and the qcow2 interop cases.
.PHONY: qcow2-check
qcow2-check: $(B)/tests/unit/test_img_qcow2 $(B)/tools/keel-img
	$(Q)$(B)/tests/unit/test_img_qcow2
	$(Q)sed -e 's/^for f in raw qcow2 vhd vmdk; do/for f in qcow2; do/' \
		-e 's/^    generic_cases \$$f$$/    :/' -e 's/^    \[ \$$f = qcow2 \] && luks_cases$$/    :/' \
		tests/img-interop/run.sh > $(B)/tests/qcow2-interop.sh
	$(Q)bash $(B)/tests/qcow2-interop.sh
