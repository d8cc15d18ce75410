# mbedtls-tls.mk: mbedTLS's crypto, X.509 and TLS libraries for minios,
# configured by toolchain/mbedtls-tls-config.h (the management agent's
# HTTPS, docs/agent.md), as one archive of its own:
#   $(B)/mbedtls-tls-minios/libmbedtls.a
# The sources are Debian's (ci/deps.sh: apt-get source mbedtls into
# $(B)/src/mbedtls), as toolchain/libs.mk's crypto-only build.  Modules the
# configuration leaves out compile to nothing.
ifndef KEEL_MBEDTLS_TLS_MK
KEEL_MBEDTLS_TLS_MK := 1

MBEDTLS_TLS_MINIOS := $(B)/mbedtls-tls-minios/libmbedtls.a
MBEDTLS_TLS_FILES := $(MBEDTLS_FILES) x509 x509_create x509_crt x509write_crt \
    ssl_ciphersuites ssl_msg ssl_srv ssl_tls
MBEDTLS_TLS_FLAGS := -Itoolchain -DMBEDTLS_CONFIG_FILE='"mbedtls-tls-config.h"' \
                     -I$(MBEDTLS_SRC)/include

$(B)/mbedtls-tls-minios/obj/%.o: $(MBEDTLS_SRC)/include/mbedtls/aes.h toolchain/mbedtls-tls-config.h \
		toolchain/mbedtls-tls.mk $(MINIOS_CC) $(NEWLIB_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(LIBS_TARGET_CFLAGS) $(MBEDTLS_TLS_FLAGS) \
		-c -o $@ $(MBEDTLS_SRC)/library/$*.c
$(MBEDTLS_TLS_MINIOS): $(patsubst %,$(B)/mbedtls-tls-minios/obj/%.o,$(MBEDTLS_TLS_FILES))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^

endif
