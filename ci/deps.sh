#!/usr/bin/env bash
# Installs, idempotently and only what is missing, everything Keel builds and
# tests with: the LLVM toolchain, QEMU, Xen's public headers, real Xen 4.17
# for the conformance test, the newlib and lwIP source packages, and Debian's
# kernel and busybox-static for the linux-pv tests (ci/linux-guest.sh), and
# SeaBIOS and GRUB (grub-pc-bin) for the HVM tests.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

pkgs=(clang lld llvm make qemu-system-x86 qemu-utils libxen-dev
      newlib-source xen-hypervisor-4.17-amd64 dpkg-dev xz-utils
      zlib1g-dev libmbedtls-dev bc python3 seabios grub-pc-bin)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done

# lwIP, zlib and mbedTLS (for the unikernel: toolchain/libs.mk) come as
# Debian source packages; apt-get source needs a deb-src entry.
need_src=0
for s in lwip zlib mbedtls; do
    [ -d "$top/build/src/$s" ] || need_src=1
done

updated=0
apt_update() {
    [ $updated -eq 1 ] && return
    $SUDO apt-get update -qq
    updated=1
}

if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ $need_src -eq 1 ]; then
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    srclist=/etc/apt/sources.list.d/keel-deb-src.sources
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ \
       && ! grep -qs '^deb-src' /etc/apt/sources.list; then
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$codename" | $SUDO tee "$srclist" >/dev/null
        updated=0
    fi
    apt_update
    # fetch SRCPKG DIR: unpacks Debian's source package into build/src/DIR.
    fetch() {
        local pkg=$1 dir=$2 d
        [ -d "$top/build/src/$dir" ] && return
        mkdir -p "$top/build/src/$dir-pkg"
        (cd "$top/build/src/$dir-pkg" && apt-get source -qq --skip-patches "$pkg" >/dev/null 2>&1 \
            || apt-get source -qq "$pkg" >/dev/null)
        d=$(find "$top/build/src/$dir-pkg" -maxdepth 1 -mindepth 1 -type d -name "$pkg-*" | head -1)
        [ -n "$d" ] || { echo "deps: apt-get source $pkg produced no tree" >&2; exit 1; }
        rm -rf "$top/build/src/$dir"
        mv "$d" "$top/build/src/$dir"
    }
    fetch lwip lwip
    fetch zlib zlib
    fetch mbedtls mbedtls
fi
# --- appliances (apps/httpd, apps/kv) ---
# Host clients for their tests and benchmarks (curl, redis-cli,
# redis-benchmark, wrk), and Debian's http-parser source, which httpd's
# request parser is built from (apps/httpd/httpd.mk) into build/src/http-parser.
app_pkgs=()
for p in curl redis-tools wrk; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || app_pkgs+=("$p")
done
if [ ${#app_pkgs[@]} -gt 0 ]; then
    echo "deps: installing ${app_pkgs[*]}"
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends "${app_pkgs[@]}" >/dev/null
fi
if [ ! -f "$top/build/src/http-parser/http_parser.c" ]; then
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ \
       && ! grep -qs '^deb-src' /etc/apt/sources.list; then
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$(. /etc/os-release && echo "$VERSION_CODENAME")" \
            | $SUDO tee /etc/apt/sources.list.d/keel-deb-src.sources >/dev/null
        updated=0
    fi
    apt_update
    rm -rf "$top/build/src/http-parser-pkg"
    mkdir -p "$top/build/src/http-parser-pkg"
    (cd "$top/build/src/http-parser-pkg" && apt-get source -qq http-parser >/dev/null)
    d=$(find "$top/build/src/http-parser-pkg" -maxdepth 1 -mindepth 1 -type d -name 'http-parser-*' | head -1)
    [ -n "$d" ] || { echo "deps: apt-get source http-parser produced no tree" >&2; exit 1; }
    rm -rf "$top/build/src/http-parser"
    mv "$d" "$top/build/src/http-parser"
fi
# --- end appliances ---
# --- disk path (toolchain/ext2fs.mk, tests/store-ext4) ---
# Debian's e2fsprogs source, which libext2fs for minios is built from, into
# build/src/e2fsprogs; the host's e2fsprogs (mkfs.ext4 -d, debugfs, e2fsck)
# makes and checks the test stores.
if ! dpkg-query -W -f='${Status}' e2fsprogs 2>/dev/null | grep -q 'install ok installed'; then
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends e2fsprogs >/dev/null
fi
if [ ! -f "$top/build/src/e2fsprogs/lib/ext2fs/ext2fs.h" ]; then
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ \
       && ! grep -qs '^deb-src' /etc/apt/sources.list; then
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$(. /etc/os-release && echo "$VERSION_CODENAME")" \
            | $SUDO tee /etc/apt/sources.list.d/keel-deb-src.sources >/dev/null
        updated=0
    fi
    apt_update
    rm -rf "$top/build/src/e2fsprogs-pkg"
    mkdir -p "$top/build/src/e2fsprogs-pkg"
    (cd "$top/build/src/e2fsprogs-pkg" && apt-get source -qq e2fsprogs >/dev/null)
    d=$(find "$top/build/src/e2fsprogs-pkg" -maxdepth 1 -mindepth 1 -type d -name 'e2fsprogs-*' | head -1)
    [ -n "$d" ] || { echo "deps: apt-get source e2fsprogs produced no tree" >&2; exit 1; }
    rm -rf "$top/build/src/e2fsprogs"
    mv "$d" "$top/build/src/e2fsprogs"
fi
# --- end disk path ---
# --- management agent (stubdoms/agent) ---
# Debian's jansson (JSON-RPC) and expat (XML-RPC) sources, built for minios
# and for the host unit test by stubdoms/agent/agent.mk, into build/src/jansson
# and build/src/expat; the npm xen-api client for tests/agent-api, into
# build/npm (npm's registry).  Not fatal for npm: without it that check SKIPs.
# jq reads the JSON-RPC answers in tests/agent-api; XenAPI.py (from
# python3-os-xenapi) is one of its clients.
for p in jq python3-os-xenapi; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        apt_update
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null \
            || echo "deps: $p could not be installed (agent-api skips what needs it)" >&2
    fi
done
for s in jansson expat; do
    [ -d "$top/build/src/$s" ] && continue
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ \
       && ! grep -qs '^deb-src' /etc/apt/sources.list; then
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$(. /etc/os-release && echo "$VERSION_CODENAME")" \
            | $SUDO tee /etc/apt/sources.list.d/keel-deb-src.sources >/dev/null
        updated=0
    fi
    apt_update
    rm -rf "$top/build/src/$s-pkg"
    mkdir -p "$top/build/src/$s-pkg"
    (cd "$top/build/src/$s-pkg" && apt-get source -qq "$s" >/dev/null)
    d=$(find "$top/build/src/$s-pkg" -maxdepth 1 -mindepth 1 -type d -name "$s-*" | head -1)
    [ -n "$d" ] || { echo "deps: apt-get source $s produced no tree" >&2; exit 1; }
    mv "$d" "$top/build/src/$s"
done
if command -v npm >/dev/null 2>&1 || { apt_update && DEBIAN_FRONTEND=noninteractive \
        $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }; then
    [ -f "$top/build/npm/node_modules/xen-api/package.json" ] \
        || npm install --silent --no-audit --no-fund --prefix "$top/build/npm" xen-api >/dev/null \
        || echo "deps: npm install xen-api failed (agent-api will SKIP its npm check)" >&2
fi
# --- end management agent ---
# --- agent HTTPS (tests/agent-https) ---
# The openssl command line fetches and checks the agent's certificate.
if ! command -v openssl >/dev/null; then
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi
# --- end agent HTTPS ---
# Debian 12's stock kernel and busybox-static for the linux-pv tests
# (apt-get download into build/linux/deb once; vmlinux and the initramfs
# built from them).  Not fatal: without them those tests SKIP.
apt_update_for_linux() {
    apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt_update
}
if ! ls "$top"/build/linux/deb/linux-image-6.1.*-amd64_*.deb >/dev/null 2>&1 ||
   ! ls "$top"/build/linux/deb/busybox-static_*.deb >/dev/null 2>&1; then
    apt_update_for_linux
fi
bash "$top/ci/linux-guest.sh" || echo "deps: the Linux guest could not be fetched (the linux-pv tests will SKIP)" >&2
echo "deps: ok"
