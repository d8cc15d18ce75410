# xenstore.mk: the host unit test of the xenstore core (stubdoms/xenstore/xs_*.c
# except the glue's main.c): store, permissions, watches, transactions, quotas,
# the xs_wire.h protocol and the input framer, under ASan/UBSan.
# Included by the top Makefile; alone: make build/tests/unit/test_xenstore

XS_CORE_SRCS := $(filter-out stubdoms/xenstore/main.c,$(wildcard stubdoms/xenstore/xs_*.c))
UNIT_XENSTORE_BIN := $(B)/tests/unit/test_xenstore

$(UNIT_XENSTORE_BIN): tests/unit/test_xenstore.c $(XS_CORE_SRCS) stubdoms/xenstore/xs_store.h \
		tests/unit/unit.h tests/unit/xenstore.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Istubdoms/xenstore -Itests/unit \
		-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ \
		-o $@ tests/unit/test_xenstore.c $(XS_CORE_SRCS)

all: $(UNIT_XENSTORE_BIN)
ALL_UNIT_BINS += $(UNIT_XENSTORE_BIN)

.PHONY: unit-xenstore
unit-xenstore: $(UNIT_XENSTORE_BIN)
	$(Q)$(UNIT_XENSTORE_BIN)
