# grant.mk: the host unit test of the grant-table state machine (hv/common/grant_state.c),
# built like test_page_alloc: host clang, ASan/UBSan, host shims for the hypervisor's page helpers.
# Included by the top Makefile (after tests/tests.mk); alone: make -f Makefile -f tests/unit/grant.mk unit-grant

UNIT_GRANT_BIN := $(B)/tests/unit/test_grant

$(UNIT_GRANT_BIN): tests/unit/test_grant.c hv/common/grant_state.c tests/unit/hostlib.c \
		tests/unit/unit.h hv/include/*.h tests/unit/grant.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -Ihv/include -Itests/unit \
		-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ \
		-o $@ tests/unit/test_grant.c hv/common/grant_state.c tests/unit/hostlib.c

all: $(UNIT_GRANT_BIN)
ALL_UNIT_BINS += $(UNIT_GRANT_BIN)

.PHONY: unit-grant
unit-grant: $(UNIT_GRANT_BIN)
	$(Q)$(UNIT_GRANT_BIN)
