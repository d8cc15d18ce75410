#!/usr/bin/env bash
# linux-net.sh: the Linux side of the network benchmarks (issue 11): Debian 12's stock
# kernel booted directly on QEMU with a virtio-net NIC, running Debian's nginx and
# redis-server from a busybox initramfs.  Nothing here is committed: the packages
# come from Debian with apt-get download.
#
#   ci/linux-net.sh fetch   download the .debs (once) into build/linux-net/deb
#   ci/linux-net.sh build   stage them into build/linux-net/root and write
#                           build/linux-net/initrd.img (exit 77 without the .debs)
#   ci/linux-net.sh         both
#
# The kernel (build/linux/vmlinuz) and busybox come from ci/linux-guest.sh.  The
# initramfs holds the kernel's virtio modules, nginx (one worker, access log off,
# sendfile, serving /www with bench.html and index.html, the 612-byte page of
# ci/bench-page.py) and
# redis-server (no persistence), each program with exactly the shared libraries
# its ELF headers name, taken from the same Debian packages.  /init configures
# eth0 statically for QEMU's user network (10.0.2.15/24, gateway 10.0.2.2),
# starts both servers and prints "linux-net: ready".
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/linux-net
deb=$out/deb
PKGS="nginx redis-tools libjemalloc2 liblzf1 libpcre2-8-0 libssl3 libsystemd0 libatomic1
      libcrypt1 zlib1g liblz4-1 liblzma5 libzstd1 libcap2 libgcrypt20 libgpg-error0 libc6
      libstdc++6 libgcc-s1"

fetch() {
    mkdir -p "$deb"
    local missing=()
    for p in $PKGS; do
        ls "$deb/${p}_"*.deb >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "linux-net: apt-get download ${missing[*]}"
    (cd "$deb" && apt-get download -q "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
    for p in "${missing[@]}"; do
        ls "$deb/${p}_"*.deb >/dev/null 2>&1 || { echo "linux-net: download of $p failed" >&2; exit 1; }
    done
}

# Copies the shared libraries ELF file $1 needs (recursively) from the staged
# packages into $root/lib.
libs_of() {
    local f=$1 n
    for n in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -e "$root/lib/$n" ] && continue
        local src
        src=$(find "$pkgroot" -name "$n" \( -type f -o -type l \) | head -1)
        [ -n "$src" ] || { echo "linux-net: no package here provides $n (needed by $f)" >&2; exit 1; }
        cp -L "$src" "$root/lib/$n"
        libs_of "$root/lib/$n"
    done
}

build() {
    for p in $PKGS; do
        ls "$deb/${p}_"*.deb >/dev/null 2>&1 || { echo "linux-net: $p not downloaded (run: bash ci/linux-net.sh fetch)" >&2; exit 77; }
    done
    local kdeb
    kdeb=$(ls build/linux/deb/linux-image-6.1.*-amd64_*.deb 2>/dev/null | sort -V | tail -1) || true
    [ -n "$kdeb" ] && [ -f build/linux/busybox ] && [ -f build/linux/vmlinuz ] ||
        { echo "linux-net: no kernel or busybox (run: bash ci/linux-guest.sh)" >&2; exit 77; }
    if [ -f "$out/initrd.img" ] && [ "$out/initrd.img" -nt "$0" ] && [ "$out/initrd.img" -nt ci/bench-page.py ] && [ "$out/initrd.img" -nt "$kdeb" ]; then
        return 0
    fi
    pkgroot=$out/pkgs root=$out/root
    rm -rf "$pkgroot" "$root"
    mkdir -p "$pkgroot" "$root"/{bin,sbin,lib,lib64,etc/nginx,www,proc,sys,dev,tmp,run,var/log/nginx,var/lib/nginx,modules}
    for p in $PKGS; do
        dpkg-deb -x "$(ls "$deb/${p}_"*.deb | tail -1)" "$pkgroot"
    done
    cp build/linux/busybox "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    cp "$pkgroot/usr/sbin/nginx" "$root/bin/nginx"
    cp "$pkgroot/usr/bin/redis-check-rdb" "$root/bin/redis-check-rdb"
    ln -s redis-check-rdb "$root/bin/redis-server"     # redis picks its mode by argv[0]
    cp -L "$pkgroot/lib64/ld-linux-x86-64.so.2" "$root/lib64/ld-linux-x86-64.so.2"
    libs_of "$root/bin/nginx"
    libs_of "$root/bin/redis-check-rdb"
    for m in net/core/failover drivers/net/net_failover drivers/virtio/virtio_ring \
             drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev \
             drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/net/virtio_net; do
        dpkg-deb --fsys-tarfile "$kdeb" | tar -xO --wildcards "./lib/modules/*/kernel/$m.ko" \
            >"$root/modules/$(basename "$m").ko"
    done
    printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    # The page the benchmark fetches: 612 bytes, as nginx's default index.html.
    python3 ci/bench-page.py "$root/www/bench.html"
    cp "$root/www/bench.html" "$root/www/index.html"
    cat >"$root/etc/nginx/nginx.conf" <<'CONF'
user root;
worker_processes 1;
daemon on;
error_log /dev/console warn;
pid /run/nginx.pid;
events { worker_connections 1024; }
http {
    types { text/html html; }
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    server { listen 80; root /www; }
}
CONF
    cat >"$root/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in failover net_failover virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_net; do
    insmod /modules/$m.ko || echo "linux-net: insmod $m failed"
done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
nginx -c /etc/nginx/nginx.conf || echo "linux-net: nginx failed"
redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no \
    --daemonize yes --logfile /dev/null || echo "linux-net: redis-server failed"
echo "linux-net: ready"
while :; do sleep 3600; done
INIT
    chmod +x "$root/init"
    python3 ci/mkcpio.py "$out/initrd.img" "$root"
    echo "linux-net: $out/initrd.img ($(du -k "$out/initrd.img" | cut -f1) KiB)"
}

case "${1:-all}" in
    fetch) fetch ;;
    build) build ;;
    all) fetch; build ;;
    *) echo "usage: $0 [fetch|build]" >&2; exit 2 ;;
esac
