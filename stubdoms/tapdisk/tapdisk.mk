# Builds the disk image library (lib/ + drivers/) for the host: a sanitized
# archive for tests and keel-img, an -O2 copy for benchmarks, the host I/O
# archive (file and memory img_io), the image unit tests, the crash harness
# and the libFuzzer targets (`make fuzz`, not part of all/test).

TD      := stubdoms/tapdisk
TD_B    := $(B)/tapdisk
TD_INC  := -I$(TD)/include -Itools/keel-img
# Host libraries the drivers may use (zlib: compressed clusters; mbedTLS:
# LUKS).  Debian: zlib1g-dev, libmbedtls-dev.
TD_LDLIBS := -lz -lmbedcrypto

TD_SRCS     := $(wildcard $(TD)/lib/*.c) $(wildcard $(TD)/drivers/*.c)
TD_HOSTSRCS := tools/keel-img/io_file.c tools/keel-img/io_mem.c

TD_LIB      := $(TD_B)/libkeelimg.a
TD_LIB_OPT  := $(TD_B)/libkeelimg-opt.a
TD_LIB_HOST := $(TD_B)/libkeelimg-host.a
TD_LIB_HOST_OPT := $(TD_B)/libkeelimg-host-opt.a

TD_LINK     = $(TD_LIB) $(TD_LIB_HOST) $(TD_LDLIBS)
TD_LINK_OPT = $(TD_LIB_OPT) $(TD_LIB_HOST_OPT) $(TD_LDLIBS)

# The driver table (lib/drivers.c) lists the drivers whose main file
# drivers/<fmt>.c exists: -DIMG_HAVE_<FMT>.  The list is kept in a file
# rewritten only when it changes, so drivers.o rebuilds when a driver
# appears.  (Helper files such as drivers/qcow2_*.c are linked only
# through their driver.)
TD_HAVE := $(filter qcow2 vhd vmdk,$(patsubst $(TD)/drivers/%.c,%,$(wildcard $(TD)/drivers/*.c)))
TD_HAVE_DEFS := $(foreach d,$(TD_HAVE),-DIMG_HAVE_$(shell echo $(d) | tr a-z A-Z))
TD_HAVE_FILE := $(TD_B)/drivers.list
$(shell mkdir -p $(TD_B); [ -f $(TD_HAVE_FILE) ] && [ "$$(cat $(TD_HAVE_FILE))" = "$(TD_HAVE)" ] || echo "$(TD_HAVE)" > $(TD_HAVE_FILE))
$(TD_B)/san/$(TD)/lib/drivers.o $(TD_B)/opt/$(TD)/lib/drivers.o: $(TD_HAVE_FILE)
$(TD_B)/san/$(TD)/lib/drivers.o $(TD_B)/opt/$(TD)/lib/drivers.o: HOST_CFLAGS += $(TD_HAVE_DEFS)
$(TD_B)/opt/$(TD)/lib/drivers.o: TD_OPT_CFLAGS += $(TD_HAVE_DEFS)

TD_OBJS     := $(patsubst %.c,$(TD_B)/san/%.o,$(TD_SRCS))
TD_OPTOBJS  := $(patsubst %.c,$(TD_B)/opt/%.o,$(TD_SRCS))
TD_HOSTOBJS := $(patsubst %.c,$(TD_B)/san/%.o,$(TD_HOSTSRCS))
TD_HOSTOPTOBJS := $(patsubst %.c,$(TD_B)/opt/%.o,$(TD_HOSTSRCS))
TD_OPT_CFLAGS := -g -O2 -std=gnu11 $(WARN)

# The library itself must not use the OS: no _GNU_SOURCE, no POSIX headers.
$(TD_B)/san/$(TD)/%.o: $(TD)/%.c
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -MMD -MP -I$(TD)/include -c -o $@ $<
$(TD_B)/opt/$(TD)/%.o: $(TD)/%.c
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(TD_OPT_CFLAGS) -MMD -MP -I$(TD)/include -c -o $@ $<
$(TD_B)/san/tools/%.o: tools/%.c
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE -MMD -MP $(TD_INC) -c -o $@ $<
$(TD_B)/opt/tools/%.o: tools/%.c
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(TD_OPT_CFLAGS) -D_GNU_SOURCE -MMD -MP $(TD_INC) -c -o $@ $<

$(TD_LIB): $(TD_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(TD_LIB_OPT): $(TD_OPTOBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(TD_LIB_HOST): $(TD_HOSTOBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(TD_LIB_HOST_OPT): $(TD_HOSTOPTOBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# Image unit tests: every tests/unit/test_img_*.c becomes
# build/tests/unit/test_img_* linked with the library and the host I/O.
# (This pattern has a shorter stem than the generic test_% rule, so wins.)
TD_UNIT_SRCS := $(wildcard tests/unit/test_img_*.c)
TD_UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(TD_UNIT_SRCS))
$(B)/tests/unit/test_img_%: tests/unit/test_img_%.c tests/unit/unit.h $(TD_LIB) $(TD_LIB_HOST)
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE $(TD_INC) -Itests/unit \
		-o $@ $< $(TD_LINK)

# The crash-injection harness (tests/img-crash/run.sh drives it).
TD_CRASH := $(B)/tests/img-crash/crash
$(TD_CRASH): tests/img-crash/crash.c $(TD_LIB) $(TD_LIB_HOST)
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(HOST_CFLAGS) -D_GNU_SOURCE $(TD_INC) \
		-o $@ $< $(TD_LINK)

ALL_UNIT_BINS += $(TD_UNIT_BINS)
TD_ALL := $(TD_LIB) $(TD_LIB_HOST) $(TD_UNIT_BINS) \
	$(if $(wildcard tests/img-crash/crash.c),$(TD_CRASH))
all: $(TD_ALL)

# libFuzzer: one target per driver, each feeding the input to that driver
# from a memory img_io.  make fuzz [FUZZ_TIME=seconds] [FUZZ_DRIVERS=...]
FUZZ_TIME    ?= 60
FUZZ_DRIVERS ?= raw $(TD_HAVE)
FUZZ_CFLAGS  := -g -O1 -std=gnu11 $(WARN) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
$(TD_B)/fuzz/fuzz_%: tests/img-fuzz/fuzz.c $(TD_SRCS) $(TD_HOSTSRCS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(FUZZ_CFLAGS) -D_GNU_SOURCE $(TD_INC) -DFUZZ_DRIVER='"$*"' $(TD_HAVE_DEFS) \
		-o $@ $< $(TD_SRCS) $(TD_HOSTSRCS) $(TD_LDLIBS)
.PHONY: fuzz
fuzz: $(patsubst %,$(TD_B)/fuzz/fuzz_%,$(FUZZ_DRIVERS))
	$(Q)for d in $(FUZZ_DRIVERS); do \
		mkdir -p $(TD_B)/fuzz/corpus-$$d; \
		[ -d $(TD_B)/fuzz/seeds-$$d ] || { mkdir -p $(TD_B)/fuzz/seeds-$$d; \
		  qemu-img create -q -f $$([ $$d = vhd ] && echo vpc || echo $$d) $(TD_B)/fuzz/seeds-$$d/seed 1M 2>/dev/null; \
		  [ -f $(TD_B)/fuzz/seeds-$$d/seed ] && qemu-io -f $$([ $$d = vhd ] && echo vpc || echo $$d) \
		    -c "write -P 0x5a 4k 8k" $(TD_B)/fuzz/seeds-$$d/seed >/dev/null 2>&1; true; }; \
		echo "fuzz: $$d for $(FUZZ_TIME)s"; \
		$(TD_B)/fuzz/fuzz_$$d -max_total_time=$(FUZZ_TIME) -max_len=262144 -artifact_prefix=$(TD_B)/fuzz/$$d- \
			$(TD_B)/fuzz/corpus-$$d $(TD_B)/fuzz/seeds-$$d || exit 1; \
	done

-include $(TD_OBJS:.o=.d) $(TD_OPTOBJS:.o=.d) $(TD_HOSTOBJS:.o=.d) $(TD_HOSTOPTOBJS:.o=.d)

# Host image benchmarks (the -O2 unsanitized library): make bench-img.
$(TD_B)/bench-img: bench/img/bench.c $(TD_LIB_OPT) $(TD_LIB_HOST_OPT)
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) $(TD_OPT_CFLAGS) -D_GNU_SOURCE $(TD_INC) -o $@ $< $(TD_LINK_OPT)
.PHONY: bench-img
bench-img: $(TD_B)/bench-img $(B)/tools/keel-img-opt
	$(Q)bash bench/img/run.sh
bench: bench-img
