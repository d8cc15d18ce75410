# agent.mk: the management agent stub domain $(B)/stubdoms/agent.elf
# (docs/agent.md), Debian's jansson and expat built for minios, and the host
# unit test of its HTTP and RPC layers.
#
# Outputs (all under $(B)/):
#   jansson-minios/libjansson.a   jansson (JSON-RPC), config in stubdoms/agent/config
#   expat-minios/libexpat.a       expat (XML-RPC), config in stubdoms/agent/config
#   stubdoms/agent.elf            the agent (role=control)
#   tests/unit/test_agent         unit test of http.c, rpc.c, api.c (ASan/UBSan)
#
# jansson and expat are Debian's source packages, unpacked by ci/deps.sh into
# $(B)/src/jansson and $(B)/src/expat; nothing of them enters the tree.

ifndef KEEL_AGENT_MK
KEEL_AGENT_MK := 1

AGENT_ELF     := $(B)/stubdoms/agent.elf
JANSSON_SRC   := $(B)/src/jansson/src
EXPAT_SRC     := $(B)/src/expat/expat/lib
JANSSON_MINIOS := $(B)/jansson-minios/libjansson.a
EXPAT_MINIOS   := $(B)/expat-minios/libexpat.a
AGENT_CONF    := stubdoms/agent/config
JANSSON_FILES := dump error hashtable hashtable_seed load memory pack_unpack strbuffer \
                 strconv utf value version
EXPAT_FILES   := xmlparse xmlrole xmltok
JANSSON_DEFS  := -DHAVE_CONFIG_H -I$(AGENT_CONF) -I$(JANSSON_SRC)
EXPAT_DEFS    := -DHAVE_EXPAT_CONFIG_H -I$(AGENT_CONF) -I$(EXPAT_SRC)
AGENT_LIB_CFLAGS := -I$(AGENT_CONF) -I$(JANSSON_SRC) -I$(EXPAT_SRC)

$(JANSSON_SRC)/jansson.h $(EXPAT_SRC)/expat.h:
	@echo "missing $@: run ci/deps.sh (it unpacks Debian's jansson and expat sources)" >&2; exit 1

# Third-party code: its own warnings are not ours to fix (-w).
$(B)/jansson-minios/obj/%.o: $(JANSSON_SRC)/jansson.h $(AGENT_CONF)/jansson_config.h \
		$(AGENT_CONF)/jansson_private_config.h stubdoms/agent/agent.mk $(MINIOS_CC) $(NEWLIB_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(LIBS_TARGET_CFLAGS) $(JANSSON_DEFS) -c -o $@ $(JANSSON_SRC)/$*.c
$(B)/expat-minios/obj/%.o: $(EXPAT_SRC)/expat.h $(AGENT_CONF)/expat_config.h \
		stubdoms/agent/agent.mk $(MINIOS_CC) $(NEWLIB_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(LIBS_TARGET_CFLAGS) $(EXPAT_DEFS) -c -o $@ $(EXPAT_SRC)/$*.c
$(JANSSON_MINIOS): $(patsubst %,$(B)/jansson-minios/obj/%.o,$(JANSSON_FILES))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^
$(EXPAT_MINIOS): $(patsubst %,$(B)/expat-minios/obj/%.o,$(EXPAT_FILES))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^

# The portable core (HTTP, RPC codecs, XenAPI classes, sessions) and the
# minios part (main.c: sockets, domctl, entropy).
AGENT_CORE  := stubdoms/agent/http.c stubdoms/agent/rpc.c stubdoms/agent/api.c stubdoms/agent/persist.c \
               stubdoms/agent/session.c stubdoms/agent/events.c stubdoms/agent/devices.c stubdoms/agent/vifrec.c
AGENT_HDRS  := $(wildcard stubdoms/agent/*.h) $(wildcard $(AGENT_CONF)/*.h)
AGENT_CFLAGS := $(LWIP_CFLAGS) -Istubdoms/agent $(AGENT_LIB_CFLAGS) -I$(HTTPP_SRC) $(HTTPP_DEFS) \
                $(MBEDTLS_TLS_FLAGS) -Itests/domctl -Itests/common $(DOMBUILD_CFLAGS) $(DISKFS_CFLAGS)
# Its own disk (disk=, VM records in /var/vms) is read with diskfs.
# HTTPS (tls.c): mbedTLS with TLS and X.509 (toolchain/mbedtls-tls.mk), whose
# crypto also serves session.c: the crypto-only build is not linked.
AGENT_LIBS  := $(LWIP_MINIOS) $(HTTPP_MINIOS) $(JANSSON_MINIOS) $(EXPAT_MINIOS) $(MBEDTLS_TLS_MINIOS) $(DISKFS_LINK)
# VM.start builds the images embedded by images.S with the shared builder.
AGENT_MINIOS := stubdoms/agent/main.c stubdoms/agent/build.c stubdoms/agent/store.c stubdoms/agent/tls.c stubdoms/agent/devices_xs.c $(DOMBUILD_SRCS)
$(eval $(call minios_elf,$(AGENT_ELF),$(AGENT_CORE) $(AGENT_MINIOS) stubdoms/agent/images.S,$(AGENT_CFLAGS),$(AGENT_LIBS)))
$(AGENT_ELF): $(AGENT_LIBS)
$(call minios_src_obj,$(AGENT_ELF),stubdoms/agent/images.S): $(B)/apps/hello.elf $(B)/stubdoms/agent-httpd.elf
$(B)/stubdoms/agent-httpd.elf: $(B)/apps/httpd.elf
	@mkdir -p $(@D)
	$(OBJCOPY) --strip-all $< $@
$(foreach s,$(AGENT_CORE) $(AGENT_MINIOS),$(call minios_src_obj,$(AGENT_ELF),$(s))): \
	$(AGENT_HDRS) stubdoms/agent/agent.mk $(JANSSON_SRC)/jansson.h $(EXPAT_SRC)/expat.h \
	$(HTTPP_SRC)/http_parser.h $(MBEDTLS_SRC)/include/mbedtls/aes.h $(E2FS_STAMP) lib/diskfs/include/keel/diskfs.h \
	toolchain/mbedtls-tls-config.h

# The host unit test: our core with jansson, expat and http-parser compiled
# from the same sources, and the host's mbedTLS (libmbedtls-dev, 2.28 as
# Debian's source), all under ASan/UBSan.
UNIT_AGENT_BIN := $(B)/tests/unit/test_agent
UNIT_AGENT_3P  := $(patsubst %,$(JANSSON_SRC)/%.c,$(JANSSON_FILES)) $(patsubst %,$(EXPAT_SRC)/%.c,$(EXPAT_FILES)) \
                  $(HTTPP_SRC)/http_parser.c
$(B)/tests/unit/agent-3p/%.o: stubdoms/agent/agent.mk $(JANSSON_SRC)/jansson.h $(EXPAT_SRC)/expat.h
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) -g -O1 -std=gnu11 -w $(HOST_SAN) -DHAVE_CONFIG_H -DHAVE_EXPAT_CONFIG_H \
		-I$(AGENT_CONF) -I$(JANSSON_SRC) -I$(EXPAT_SRC) $(HTTPP_DEFS) -c -o $@ \
		$(filter %/$(notdir $*).c,$(UNIT_AGENT_3P))
UNIT_AGENT_3P_OBJS := $(patsubst %,$(B)/tests/unit/agent-3p/%.o,$(JANSSON_FILES) $(EXPAT_FILES) http_parser)
$(UNIT_AGENT_BIN): stubdoms/agent/test_agent.c $(AGENT_CORE) $(AGENT_HDRS) $(UNIT_AGENT_3P_OBJS) \
		tests/unit/unit.h stubdoms/agent/agent.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE -Istubdoms/agent -Itests/unit \
		$(AGENT_LIB_CFLAGS) -I$(HTTPP_SRC) $(HTTPP_DEFS) -o $@ stubdoms/agent/test_agent.c \
		$(AGENT_CORE) $(UNIT_AGENT_3P_OBJS) -lmbedcrypto
ALL_UNIT_BINS += $(UNIT_AGENT_BIN)

# The record codec and the record files (persist.c) alone.
UNIT_PERSIST_BIN := $(B)/tests/unit/test_persist
UNIT_PERSIST_OBJS := $(patsubst %,$(B)/tests/unit/agent-3p/%.o,$(JANSSON_FILES))
$(UNIT_PERSIST_BIN): stubdoms/agent/test_persist.c stubdoms/agent/persist.c stubdoms/agent/vifrec.c $(AGENT_HDRS) \
		$(UNIT_PERSIST_OBJS) tests/unit/unit.h stubdoms/agent/agent.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE -Istubdoms/agent -Itests/unit \
		$(AGENT_LIB_CFLAGS) -I$(HTTPP_SRC) $(HTTPP_DEFS) -o $@ stubdoms/agent/test_persist.c \
		stubdoms/agent/persist.c stubdoms/agent/vifrec.c $(UNIT_PERSIST_OBJS)
ALL_UNIT_BINS += $(UNIT_PERSIST_BIN)

# The VIFs of a record (vifrec.c through persist.c).
UNIT_VIFREC_BIN := $(B)/tests/unit/test_vifrec
$(UNIT_VIFREC_BIN): stubdoms/agent/test_vifrec.c stubdoms/agent/persist.c stubdoms/agent/vifrec.c \
		$(AGENT_HDRS) $(UNIT_PERSIST_OBJS) tests/unit/unit.h stubdoms/agent/agent.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE -Istubdoms/agent -Itests/unit \
		$(AGENT_LIB_CFLAGS) -I$(HTTPP_SRC) $(HTTPP_DEFS) -o $@ stubdoms/agent/test_vifrec.c \
		stubdoms/agent/persist.c stubdoms/agent/vifrec.c $(UNIT_PERSIST_OBJS)
ALL_UNIT_BINS += $(UNIT_VIFREC_BIN)

# The network and VIF classes (devices.c) on a fake hypervisor.
UNIT_DEVICES_BIN := $(B)/tests/unit/test_devices
$(UNIT_DEVICES_BIN): stubdoms/agent/test_devices.c $(AGENT_CORE) $(AGENT_HDRS) $(UNIT_AGENT_3P_OBJS) \
		tests/unit/unit.h stubdoms/agent/agent.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE -Istubdoms/agent -Itests/unit \
		$(AGENT_LIB_CFLAGS) -I$(HTTPP_SRC) $(HTTPP_DEFS) -o $@ stubdoms/agent/test_devices.c \
		$(AGENT_CORE) $(UNIT_AGENT_3P_OBJS) -lmbedcrypto
ALL_UNIT_BINS += $(UNIT_DEVICES_BIN)

.PHONY: agent
agent: $(AGENT_ELF) $(UNIT_AGENT_BIN) $(UNIT_PERSIST_BIN) $(UNIT_VIFREC_BIN) $(UNIT_DEVICES_BIN)
all: agent

endif
