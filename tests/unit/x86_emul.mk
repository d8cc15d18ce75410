# The instruction emulator's host tests (hv/hvm/x86_emul.c, docs/hvm.md):
# test_x86_emul (known encodings, ASan/UBSan) and the libFuzzer target,
# which `make unit`/`make test` run for a bounded number of inputs
# through the wrapper script build/tests/unit/fuzz_x86_emul (any crash or
# broken contract fails it).  Included by the top Makefile.

X86EMUL_UNIT := $(B)/tests/unit/test_x86_emul
X86EMUL_FUZZ := $(B)/tests/unit/fuzz_x86_emul
X86EMUL_FUZZ_RUNS ?= 200000
X86EMUL_DEPS := hv/hvm/x86_emul.c hv/hvm/x86_emul.h tests/unit/x86_emul_env.h tests/unit/unit.h \
	tests/unit/x86_emul.mk

$(X86EMUL_UNIT): tests/unit/test_x86_emul.c $(X86EMUL_DEPS)
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Itests/unit -o $@ $< hv/hvm/x86_emul.c

$(X86EMUL_FUZZ).bin: tests/unit/fuzz_x86_emul.c $(X86EMUL_DEPS)
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) -g -O1 -std=gnu11 $(WARN) -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -Itests/unit -o $@ $< hv/hvm/x86_emul.c

# The runner: a fixed seed and run count, so a run is bounded and the
# same inputs come each time.
$(X86EMUL_FUZZ): $(X86EMUL_FUZZ).bin
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec "%s" -seed=1 -runs=%s -max_len=512 -artifact_prefix=%s/ "$$@"\n' \
		"$(abspath $<)" "$(X86EMUL_FUZZ_RUNS)" "$(abspath $(@D))" > $@ && chmod +x $@

# The MMIO dispatcher's range table (hv/hvm/mmio_table.c).
MMIO_TABLE_UNIT := $(B)/tests/unit/test_mmio_table
$(MMIO_TABLE_UNIT): tests/unit/test_mmio_table.c hv/hvm/mmio_table.c hv/hvm/mmio_table.h \
		tests/unit/unit.h tests/unit/x86_emul.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Itests/unit \
		-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ -o $@ $< hv/hvm/mmio_table.c

all: $(X86EMUL_UNIT) $(X86EMUL_FUZZ) $(MMIO_TABLE_UNIT)
ALL_UNIT_BINS += $(X86EMUL_UNIT) $(X86EMUL_FUZZ) $(MMIO_TABLE_UNIT)

.PHONY: unit-x86-emul
unit-x86-emul: $(X86EMUL_UNIT) $(X86EMUL_FUZZ) $(MMIO_TABLE_UNIT)
	$(Q)$(X86EMUL_UNIT) && $(MMIO_TABLE_UNIT) && $(X86EMUL_FUZZ)
