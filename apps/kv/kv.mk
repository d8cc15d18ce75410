# kv.mk: the Redis-protocol key-value store appliance (apps/kv): the minios
# image, the host unit test of its core, and the core as a host server for
# tests with redis-cli and redis-benchmark.
#
# Outputs (all under $(B)/):
#   apps/kv.elf            the appliance (selftest=1: tests/kv)
#   apps/kv-host           the same core as a host server (tests/kv-host)
#   tests/unit/test_kv     unit test of the core (ASan/UBSan)

ifndef KEEL_KV_MK
KEEL_KV_MK := 1

KV_LIB  := apps/kv/store.c apps/kv/resp.c apps/kv/commands.c
KV_CORE := $(KV_LIB) apps/kv/kv_sock.c
KV_HDRS := apps/kv/kv.h apps/kv/kv_impl.h apps/kv/kv_script.h apps/kv/selftest.h

KV_CFLAGS := $(LWIP_CFLAGS) -Iapps/kv -Itests/common
KV_SRCS := $(KV_CORE) apps/kv/main.c apps/kv/selftest.c apps/kv/kv_script.c tests/common/report.c
$(eval $(call minios_app,kv,$(KV_SRCS),$(KV_CFLAGS),$(LWIP_MINIOS)))
$(B)/apps/kv.elf: $(LWIP_MINIOS)
$(foreach s,$(KV_SRCS),$(call minios_src_obj,$(B)/apps/kv.elf,$(s))): $(KV_HDRS) apps/kv/kv.mk

KV_HOST_FLAGS := $(HOST_CFLAGS) -D_GNU_SOURCE -Iapps/kv
$(B)/apps/kv-host: apps/kv/kv_host.c $(KV_CORE) $(KV_HDRS) apps/kv/kv.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(KV_HOST_FLAGS) -pthread -o $@ apps/kv/kv_host.c $(KV_CORE)
$(B)/tests/unit/test_kv: apps/kv/test_kv.c $(KV_LIB) apps/kv/kv_script.c $(KV_HDRS) \
		tests/unit/unit.h apps/kv/kv.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(KV_HOST_FLAGS) -Itests/unit -o $@ \
		apps/kv/test_kv.c $(KV_LIB) apps/kv/kv_script.c

all: $(B)/apps/kv.elf $(B)/apps/kv-host $(B)/tests/unit/test_kv
ALL_UNIT_BINS += $(B)/tests/unit/test_kv

.PHONY: kv
kv: $(B)/apps/kv.elf $(B)/apps/kv-host $(B)/tests/unit/test_kv

endif
