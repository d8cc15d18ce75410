# libs.mk: zlib and mbedTLS (crypto) for minios from Debian source packages, the image library for minios, and its guest test.
#
# Outputs (all under $(B)/):
#   zlib-minios/libz.a                 zlib (no gz* file functions)
#   mbedtls-minios/libmbedcrypto.a     mbedTLS's crypto library, configured by
#                                      toolchain/mbedtls-config.h
#   tapdisk/minios/libkeelimg.a        stubdoms/tapdisk/{lib,drivers} for minios
#   tests/img-minios.elf               the guest test tests/img-minios/
#
# The sources are Debian's, unpacked by ci/deps.sh into $(B)/src/zlib and
# $(B)/src/mbedtls (apt-get source zlib / mbedtls); nothing enters the tree.
# Everything is compiled with x86_64-minios-cc (newlib's headers).

ifndef KEEL_LIBS_MK
KEEL_LIBS_MK := 1

ZLIB_SRC    := $(B)/src/zlib
MBEDTLS_SRC := $(B)/src/mbedtls
ZLIB_MINIOS    := $(B)/zlib-minios/libz.a
MBEDTLS_MINIOS := $(B)/mbedtls-minios/libmbedcrypto.a
TD_MINIOS      := $(B)/tapdisk/minios/libkeelimg.a

# Third-party code: its own warnings are not ours to fix (-w).
LIBS_TARGET_CFLAGS := -O2 -g -std=gnu11 -w

ZLIB_FILES := adler32 compress crc32 deflate infback inffast inflate inftrees \
              trees uncompr zutil
ZLIB_OBJS  := $(patsubst %,$(B)/zlib-minios/obj/%.o,$(ZLIB_FILES))

# mbedTLS's crypto library as its Makefile lists it (OBJS_CRYPTO); the
# modules the configuration leaves out compile to nothing.
MBEDTLS_FILES := aes aesni arc4 aria asn1parse asn1write base64 bignum blowfish \
    camellia ccm chacha20 chachapoly cipher cipher_wrap cmac constant_time \
    ctr_drbg des dhm ecdh ecdsa ecjpake ecp ecp_curves entropy entropy_poll \
    error gcm havege hkdf hmac_drbg md md2 md4 md5 memory_buffer_alloc \
    mps_reader mps_trace nist_kw oid padlock pem pk pk_wrap pkcs12 pkcs5 \
    pkparse pkwrite platform platform_util poly1305 psa_crypto \
    psa_crypto_aead psa_crypto_cipher psa_crypto_client \
    psa_crypto_driver_wrappers psa_crypto_ecp psa_crypto_hash psa_crypto_mac \
    psa_crypto_rsa psa_crypto_se psa_crypto_slot_management \
    psa_crypto_storage psa_its_file ripemd160 rsa rsa_internal sha1 sha256 \
    sha512 threading timing version version_features xtea
MBEDTLS_OBJS  := $(patsubst %,$(B)/mbedtls-minios/obj/%.o,$(MBEDTLS_FILES))
MBEDTLS_CONFIG_FLAGS := -Itoolchain -DMBEDTLS_CONFIG_FILE='"mbedtls-config.h"' \
                        -I$(MBEDTLS_SRC)/include

$(ZLIB_SRC)/zlib.h $(MBEDTLS_SRC)/include/mbedtls/aes.h:
	@echo "missing $@: run ci/deps.sh (it unpacks Debian's zlib and mbedtls sources)" >&2; exit 1

$(B)/zlib-minios/obj/%.o: $(ZLIB_SRC)/zlib.h $(MINIOS_CC) $(NEWLIB_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(LIBS_TARGET_CFLAGS) -I$(ZLIB_SRC) -c -o $@ $(ZLIB_SRC)/$*.c

$(B)/mbedtls-minios/obj/%.o: $(MBEDTLS_SRC)/include/mbedtls/aes.h toolchain/mbedtls-config.h \
		$(MINIOS_CC) $(NEWLIB_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(LIBS_TARGET_CFLAGS) $(MBEDTLS_CONFIG_FLAGS) \
		-c -o $@ $(MBEDTLS_SRC)/library/$*.c

$(ZLIB_MINIOS): $(ZLIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^
$(MBEDTLS_MINIOS): $(MBEDTLS_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^

# The image library: our code, so our warnings (-Werror).  The driver table
# is the host build's (TD_HAVE_DEFS, stubdoms/tapdisk/tapdisk.mk).
TD_MINIOS_OBJS := $(patsubst %.c,$(B)/tapdisk/minios/%.o,$(TD_SRCS))
$(B)/tapdisk/minios/%.o: %.c $(MINIOS_CC) $(NEWLIB_STAMP) $(ZLIB_SRC)/zlib.h \
		$(MBEDTLS_SRC)/include/mbedtls/aes.h toolchain/mbedtls-config.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(MINIOS_CC) $(MINIOS_APP_CFLAGS) -MMD -MP -I$(TD)/include \
		-I$(ZLIB_SRC) $(MBEDTLS_CONFIG_FLAGS) $(TD_HAVE_DEFS) -c -o $@ $<
$(B)/tapdisk/minios/$(TD)/lib/drivers.o: $(TD_HAVE_FILE)
-include $(TD_MINIOS_OBJS:.o=.d)

$(TD_MINIOS): $(TD_MINIOS_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(TARGET_AR) rcs $@ $^

# The guest test: a qcow2 image in memory, compressed and encrypted.
IMG_MINIOS_LIBS := $(TD_MINIOS) $(ZLIB_MINIOS) $(MBEDTLS_MINIOS)
$(eval $(call minios_elf,$(B)/tests/img-minios.elf,tests/img-minios/main.c tests/img-minios/memio.c tests/common/report.c,-Itests/common -Istubdoms/tapdisk/include,$(IMG_MINIOS_LIBS)))
$(B)/tests/img-minios.elf: $(IMG_MINIOS_LIBS)

.PHONY: minios-libs
minios-libs: $(ZLIB_MINIOS) $(MBEDTLS_MINIOS) $(TD_MINIOS) $(B)/tests/img-minios.elf
all: minios-libs

endif
