# bench-disk.mk: make bench-disk (issue 12's disk figures, docs/disk.md
# "Figures"): the guest bench/disk/guest.c and ci/bench-disk.sh, which
# writes bench/disk-results.json.  Not in make bench's list (ci/ci.mk):
# the lead adds bench-disk there.
$(eval $(call minios_elf,$(B)/bench/disk.elf,bench/disk/guest.c,-Istubdoms/tapdisk/include))
all: $(B)/bench/disk.elf

.PHONY: bench-disk
bench-disk: $(B)/hv.elf $(B)/bench/disk.elf $(B)/stubdoms/tapdisk.elf $(B)/stubdoms/xenstore.elf
	$(Q)bash ci/bench-disk.sh
