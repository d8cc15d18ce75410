# httpd.mk: the HTTP/1.1 static file server appliance (apps/httpd), Debian's
# http-parser built for minios and for the host, the host unit test, the
# host server for tests with curl, and the guest test's image.
#
# Outputs (all under $(B)/):
#   http-parser-minios/libhttp_parser.a   http-parser for minios
#   apps/httpd.elf                        the appliance (selftest=1: tests/httpd)
#   apps/httpd/www.S, apps/httpd/www/     the compiled-in site (mkwww.sh)
#   apps/httpd-host                       the same core as a host server
#   tests/unit/test_httpd                 unit test of the core (ASan/UBSan)
#
# http-parser is Debian's source package (with its patches), unpacked by
# ci/deps.sh into $(B)/src/http-parser; nothing of it enters the tree.

ifndef KEEL_HTTPD_MK
KEEL_HTTPD_MK := 1

HTTPP_SRC    := $(B)/src/http-parser
HTTPP_MINIOS := $(B)/http-parser-minios/libhttp_parser.a
# The head limit is the core's HTTPD_MAX_HEAD (apps/httpd/httpd.h).
HTTPP_DEFS   := -DHTTP_PARSER_STRICT=1 -DHTTP_MAX_HEADER_SIZE=8192
HTTPD_WWW    := $(B)/apps/httpd/www.S
HTTPD_CORE   := apps/httpd/httpd.c apps/httpd/httpd_sock.c
HTTPD_HDRS   := apps/httpd/httpd.h apps/httpd/selftest.h $(HTTPP_SRC)/http_parser.h

$(HTTPP_SRC)/http_parser.c $(HTTPP_SRC)/http_parser.h:
	@echo "missing $@: run ci/deps.sh (it unpacks Debian's http-parser source)" >&2; exit 1

# Third-party code: its own warnings are not ours to fix (-w).
$(B)/http-parser-minios/http_parser.o: $(HTTPP_SRC)/http_parser.c $(HTTPP_SRC)/http_parser.h \
		apps/httpd/httpd.mk $(MINIOS_CC) $(NEWLIB_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) -O2 -g -std=gnu11 -w $(HTTPP_DEFS) -c -o $@ $<
$(HTTPP_MINIOS): $(B)/http-parser-minios/http_parser.o
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^

$(HTTPD_WWW): apps/httpd/mkwww.sh ci/bench-page.py $(wildcard apps/httpd/www/*)
	$(call msg,GEN,$@)
	$(Q)bash apps/httpd/mkwww.sh apps/httpd/www $(@D)

# root= (serving from the appliance's own disk) links diskfs (lib/diskfs).
HTTPD_CFLAGS := $(LWIP_CFLAGS) -Iapps/httpd -I$(HTTPP_SRC) -Itests/common $(HTTPP_DEFS) $(DISKFS_CFLAGS)
$(eval $(call minios_app,httpd,$(HTTPD_CORE) apps/httpd/main.c apps/httpd/selftest.c tests/common/report.c $(HTTPD_WWW),$(HTTPD_CFLAGS),$(LWIP_MINIOS) $(HTTPP_MINIOS) $(DISKFS_LINK)))
$(B)/apps/httpd.elf: $(LWIP_MINIOS) $(HTTPP_MINIOS) $(DISKFS_LINK)
$(call minios_src_obj,$(B)/apps/httpd.elf,apps/httpd/main.c): $(E2FS_STAMP) lib/diskfs/include/keel/diskfs.h
$(call minios_src_obj,$(B)/apps/httpd.elf,$(HTTPD_WWW)): $(HTTPD_WWW)
$(foreach s,$(HTTPD_CORE) apps/httpd/main.c apps/httpd/selftest.c,$(call minios_src_obj,$(B)/apps/httpd.elf,$(s))): $(HTTPD_HDRS) apps/httpd/httpd.mk

# The host builds: the core and http-parser with ASan/UBSan.
HTTPD_HOST_FLAGS := $(HOST_CFLAGS) -D_GNU_SOURCE -Iapps/httpd -I$(HTTPP_SRC) $(HTTPP_DEFS)
$(B)/apps/httpd-host: apps/httpd/httpd_host.c $(HTTPD_CORE) $(HTTPD_HDRS) $(HTTPD_WWW) \
		$(HTTPP_SRC)/http_parser.c apps/httpd/httpd.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HTTPD_HOST_FLAGS) -pthread -o $@ \
		apps/httpd/httpd_host.c $(HTTPD_CORE) $(HTTPD_WWW) $(HTTPP_SRC)/http_parser.c
$(B)/tests/unit/test_httpd: apps/httpd/test_httpd.c apps/httpd/httpd.c $(HTTPD_HDRS) \
		$(HTTPD_WWW) $(HTTPP_SRC)/http_parser.c tests/unit/unit.h apps/httpd/httpd.mk
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HTTPD_HOST_FLAGS) -Itests/unit -o $@ \
		apps/httpd/test_httpd.c apps/httpd/httpd.c $(HTTPD_WWW) $(HTTPP_SRC)/http_parser.c

all: $(B)/apps/httpd.elf $(B)/apps/httpd-host $(B)/tests/unit/test_httpd
ALL_UNIT_BINS += $(B)/tests/unit/test_httpd

.PHONY: httpd
httpd: $(B)/apps/httpd.elf $(B)/apps/httpd-host $(B)/tests/unit/test_httpd

endif
