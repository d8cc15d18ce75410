# xenstore.mk: the xenstore stub domain, $(B)/stubdoms/xenstore.elf: the store core
# (xs_*.c, also unit-tested on the host), the ring glue (main.c) and the console
# backend (console.c), linked with minios.

XENSTORE_ELF  := $(B)/stubdoms/xenstore.elf
XENSTORE_SRCS := stubdoms/xenstore/main.c stubdoms/xenstore/console.c stubdoms/xenstore/vif.c \
                 stubdoms/xenstore/vbd.c \
                 $(sort $(wildcard stubdoms/xenstore/xs_*.c))

$(eval $(call minios_elf,$(XENSTORE_ELF),$(XENSTORE_SRCS),-Istubdoms/xenstore))

# The console backend's guest test links the backend alone.
$(eval $(call minios_elf,$(B)/tests/console.elf,tests/console/main.c tests/common/report.c \
	stubdoms/xenstore/console.c,-Itests/common -Istubdoms/xenstore))
all: $(B)/tests/console.elf

.PHONY: xenstore
xenstore: $(XENSTORE_ELF)
all: $(XENSTORE_ELF)
