# make run and make bench.
$(eval $(call minios_elf,$(B)/bench/null.elf,bench/null_hypercall.c))
$(eval $(call minios_elf,$(B)/bench/pv.elf,bench/pv_bench.c))
$(eval $(call minios_elf,$(B)/bench/mm.elf,bench/mm_bench.c))
$(eval $(call minios_elf,$(B)/bench/xs.elf,bench/xs_bench.c))
$(eval $(call minios_elf,$(B)/bench/stall.elf,bench/stall_bench.c))

# The demo set: the xenstore stub domain (store and consoles; it powers off
# once the appliances have, exit=idle) and three appliances.
RUN_MODULES := $(B)/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M exit=idle,$(B)/apps/hello.elf name=alpha mem=2M hello from alpha,$(B)/apps/netdemo.elf name=netdemo mem=16M,$(B)/apps/hello.elf name=gamma mem=2M third appliance

# The net demo that make run boots (docs/boot-config.md, "The net demo"):
# the xenstore stub; netback, the network driver domain, owning the
# virtio-net NIC at 00:03.0 behind QEMU's VT-d (restarted if it crashes);
# httpd and kv with a vif each on netback's switch, static addresses on
# QEMU's user network.  QEMU forwards 127.0.0.1:8080 to httpd's port 80 and
# 127.0.0.1:6379 to kv's (RUN_HTTP_PORT=, RUN_KV_PORT= to change them).
RUN_NET_MODULES := $(B)/stubdoms/xenstore.elf name=xenstore role=xenstore mem=16M,$(B)/stubdoms/netback.elf name=netback role=hardware pci=00:03.0 mem=32M restart=crash,$(B)/apps/httpd.elf name=web mem=32M vif=netback ip=10.0.2.15/24 gw=10.0.2.2,$(B)/apps/kv.elf name=kv mem=64M vif=netback ip=10.0.2.16/24 gw=10.0.2.2
RUN_NET_QEMU := -M q35 -device intel-iommu,intremap=on -device virtio-net-pci,netdev=n0,addr=3,iommu_platform=on,disable-legacy=on
RUN_HTTP_PORT ?= 8080
RUN_KV_PORT ?= 6379
# make run adds the management agent (docs/agent.md): the XenAPI over HTTPS
# at 10.0.2.17:443, forwarded from 127.0.0.1:8443 (RUN_API_TLS_PORT=), and
# over plain HTTP (http=1) at :80, from 127.0.0.1:8081 (RUN_API_PORT=); the
# demo's first-boot credentials are root / keel-demo (stored hashed).
# Its VM records persist on its own disk, /agent.img on the store that the
# tapdisk domain serves (QEMU's virtio-blk at 00:04.0): build/run/store.img,
# made once (mkfs.ext4, an empty 16 MiB agent.img inside) and kept, so VMs
# defined in one make run are there in the next (docs/agent.md).
RUN_AGENT_MODULE := $(B)/stubdoms/tapdisk.elf name=tapdisk mem=8M role=hardware pci=00:04.0,$(B)/stubdoms/agent.elf name=agent role=control mem=32M vif=netback ip=10.0.2.17/24 gw=10.0.2.2 user=root password=keel-demo disk=xvda:/agent.img restart=crash http=1
RUN_API_PORT ?= 8081
# Its HTTPS port (443: a certificate it made on first boot, kept on its disk).
RUN_API_TLS_PORT ?= 8443
RUN_STORE := $(B)/run/store.img
RUN_STORE_QEMU := -drive file=$(RUN_STORE),if=none,id=d0,format=raw,cache=writeback \
                  -device virtio-blk-pci,drive=d0,addr=4,iommu_platform=on,disable-legacy=on
$(RUN_STORE):
	$(call msg,GEN,$@)
	$(Q)rm -rf $(@D)/tree && mkdir -p $(@D)/tree && mkfs.ext4 -q -F $(@D)/tree/agent.img 16M && \
		mkfs.ext4 -q -F -d $(@D)/tree $@.tmp 64M && rm -rf $(@D)/tree && mv $@.tmp $@

.PHONY: run-only run-modules run-net-modules run-net-qemu run-demo bench-keel
# The demo set's -initrd string (tests/demo boots exactly this).
run-modules:
	@echo '$(RUN_MODULES)'
# The net demo's -initrd string and QEMU machine and NIC (tests/apps-net
# boots exactly these, with its own host ports).
run-net-modules:
	@echo '$(RUN_NET_MODULES)'
run-net-qemu:
	@echo '$(RUN_NET_QEMU)'

# Builds only what the net demo boots (not mbedTLS, the tests or the benchmarks).
RUN_DEPS := $(B)/host/listen-backlog.so $(B)/hv.elf $(B)/stubdoms/xenstore.elf $(B)/stubdoms/netback.elf $(B)/apps/httpd.elf \
            $(B)/apps/kv.elf

run: deps
	$(Q)$(MAKE) --no-print-directory $(RUN_DEPS) $(B)/stubdoms/agent.elf $(B)/stubdoms/tapdisk.elf
	$(Q)$(MAKE) --no-print-directory run-only

run-only: $(RUN_STORE)
	@echo "Booting Keel: the xenstore stub, netback (owning QEMU's virtio-net behind VT-d), httpd, kv and the management agent."
	@echo "From the host, once they are up (a minute or so under TCG):"
	@echo "    curl http://127.0.0.1:$(RUN_HTTP_PORT)/"
	@echo "    redis-cli -p $(RUN_KV_PORT) ping"
	@echo "    node tools/keel/keel.mjs --url http://127.0.0.1:$(RUN_API_PORT) --password keel-demo vm-list   (XenAPI, user root)"
	@echo "    curl -k https://127.0.0.1:$(RUN_API_TLS_PORT)/   (XenAPI over HTTPS: the agent's self-signed certificate)"
	@echo "Ctrl-A X stops QEMU."
	$(Q)LD_PRELOAD=$(abspath $(LISTEN_BACKLOG_SO)) qemu-system-x86_64 -accel tcg -cpu max -m 512M -nodefaults -display none \
		-serial mon:stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-netdev user,id=n0,hostfwd=tcp:127.0.0.1:$(RUN_HTTP_PORT)-10.0.2.15:80,hostfwd=tcp:127.0.0.1:$(RUN_KV_PORT)-10.0.2.16:6379,hostfwd=tcp:127.0.0.1:$(RUN_API_PORT)-10.0.2.17:80,hostfwd=tcp:127.0.0.1:$(RUN_API_TLS_PORT)-10.0.2.17:443 \
		$(RUN_NET_QEMU) $(RUN_STORE_QEMU) -kernel $(B)/hv.elf -initrd "$(RUN_NET_MODULES),$(RUN_AGENT_MODULE)"; \
	rc=$$?; [ $$rc -eq 33 ] || [ $$rc -eq 0 ] && echo "Keel: QEMU ended (status $$rc)" \
		|| { echo "Keel: QEMU status $$rc"; exit 1; }

# The earlier demo, which ends by itself: the xenstore stub and three
# appliances that print and power off.
run-demo: $(B)/hv.elf $(B)/stubdoms/xenstore.elf $(B)/apps/hello.elf $(B)/apps/netdemo.elf
	@echo "Booting Keel with the xenstore stub domain and three appliances (QEMU exits when they have all shut down)"
	$(Q)qemu-system-x86_64 -accel tcg -cpu max -m 256M -nodefaults -display none \
		-serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel $(B)/hv.elf -initrd "$(RUN_MODULES)"; \
	rc=$$?; [ $$rc -eq 33 ] && echo "Keel: all domains powered off (QEMU status 33)" \
		|| { echo "Keel: QEMU status $$rc"; exit 1; }

# QEMU's hostfwd listens with a backlog of 1 (ci/listen-backlog.c).
LISTEN_BACKLOG_SO := $(B)/host/listen-backlog.so
$(LISTEN_BACKLOG_SO): ci/listen-backlog.c
	$(call msg,HOSTCC,$@)
	$(Q)mkdir -p $(@D) && $(HOSTCC) -shared -fPIC -O2 $(WARN) -o $@ $< -ldl
all: $(LISTEN_BACKLOG_SO)

all: $(B)/bench/null.elf $(B)/bench/pv.elf $(B)/bench/mm.elf $(B)/bench/xs.elf $(B)/bench/stall.elf

bench: bench-keel bench-net bench-disk bench-agent
# The management agent's figures (ci/bench-agent.sh, docs/agent.md
# "Figures"): written to bench/agent-results.json.
.PHONY: bench-agent
bench-agent: $(B)/hv.elf $(B)/stubdoms/xenstore.elf $(B)/stubdoms/netback.elf $(B)/stubdoms/agent.elf
	$(Q)bash ci/bench-agent.sh && cp $(B)/bench/agent.json bench/agent-results.json
# The network figures (issue 11): guest to guest under -icount, and the net
# demo against Debian's Linux with nginx and redis-server side by side in
# plain TCG (ci/bench-net.sh); written to bench/net-results.json.
.PHONY: bench-net
bench-net: $(RUN_DEPS) $(B)/apps/iperf.elf
	$(Q)bash ci/bench-net.sh "$(RUN_NET_MODULES)" && cp $(B)/bench/net.json bench/net-results.json
bench-keel: $(B)/hv.elf $(B)/bench/null.elf $(B)/bench/pv.elf $(B)/bench/mm.elf $(B)/bench/xs.elf \
		$(B)/bench/stall.elf $(RTBUILD_ELF) \
		$(B)/apps/hello.elf $(XENSTORE_ELF)
	$(Q)bash ci/bench.sh

# make fuzz runs the hypercall fuzzer for 10 million calls (ci/fuzz.sh) before the image
# fuzzers (stubdoms/tapdisk/tapdisk.mk); make fuzz-hypercalls runs it alone.  Not in make test.
.PHONY: fuzz fuzz-hypercalls
fuzz: fuzz-hypercalls
fuzz-hypercalls: $(B)/hv.elf $(B)/tests/hcfuzz.elf
	$(Q)bash ci/fuzz.sh
