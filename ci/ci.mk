# make run and make bench.
$(eval $(call minios_elf,$(B)/bench/null.elf,bench/null_hypercall.c))
$(eval $(call minios_elf,$(B)/bench/pv.elf,bench/pv_bench.c))
$(eval $(call minios_elf,$(B)/bench/mm.elf,bench/mm_bench.c))
$(eval $(call minios_elf,$(B)/bench/xs.elf,bench/xs_bench.c))
$(eval $(call minios_elf,$(B)/bench/stall.elf,bench/stall_bench.c))

# The demo set: the xenstore stub domain (store and consoles; it powers off
# once the appliances have, exit=idle) and three appliances.
RUN_MODULES := $(B)/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle,$(B)/apps/hello.elf name=alpha mem=2M hello from alpha,$(B)/apps/netdemo.elf name=netdemo mem=16M,$(B)/apps/hello.elf name=gamma mem=2M third appliance

.PHONY: run-only run-modules bench-keel
# The demo set's -initrd string (tests/demo boots exactly this).
run-modules:
	@echo '$(RUN_MODULES)'

# Builds only what the demo boots (not mbedTLS, the tests or the benchmarks).
RUN_DEPS := $(B)/hv.elf $(B)/stubdoms/xenstore.elf $(B)/apps/hello.elf $(B)/apps/netdemo.elf

run: deps
	$(Q)$(MAKE) --no-print-directory $(RUN_DEPS)
	$(Q)$(MAKE) --no-print-directory run-only

run-only:
	@echo "Booting Keel with the xenstore stub domain and three appliances (QEMU exits when they have all shut down)"
	$(Q)qemu-system-x86_64 -accel tcg -cpu max -m 256M -nodefaults -display none \
		-serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel $(B)/hv.elf -initrd "$(RUN_MODULES)"; \
	rc=$$?; [ $$rc -eq 33 ] && echo "Keel: all domains powered off (QEMU status 33)" \
		|| { echo "Keel: QEMU status $$rc"; exit 1; }

all: $(B)/bench/null.elf $(B)/bench/pv.elf $(B)/bench/mm.elf $(B)/bench/xs.elf $(B)/bench/stall.elf

bench: bench-keel
bench-keel: $(B)/hv.elf $(B)/bench/null.elf $(B)/bench/pv.elf $(B)/bench/mm.elf $(B)/bench/xs.elf \
		$(B)/bench/stall.elf $(RTBUILD_ELF) \
		$(B)/apps/hello.elf $(XENSTORE_ELF)
	$(Q)bash ci/bench.sh

# make fuzz runs the hypercall fuzzer for 10 million calls (ci/fuzz.sh) before the image
# fuzzers (stubdoms/tapdisk/tapdisk.mk); make fuzz-hypercalls runs it alone.  Not in make test.
.PHONY: fuzz fuzz-hypercalls
fuzz: fuzz-hypercalls
fuzz-hypercalls: $(B)/hv.elf $(B)/tests/hcfuzz.elf
	$(Q)bash ci/fuzz.sh
