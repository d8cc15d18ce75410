#!/usr/bin/env bash
# Installs, idempotently and only what is missing, everything Keel builds and
# tests with: the LLVM toolchain, QEMU, Xen's public headers, real Xen 4.17
# for the conformance test, and the newlib and lwIP source packages.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

pkgs=(clang lld llvm make qemu-system-x86 qemu-utils libxen-dev
      newlib-source xen-hypervisor-4.17-amd64 dpkg-dev xz-utils
      zlib1g-dev libmbedtls-dev bc python3)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done

# lwIP comes as a Debian source package; apt-get source needs a deb-src entry.
need_src=0
[ -d "$top/build/src/lwip" ] || need_src=1

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
    mkdir -p "$top/build/src/lwip-pkg"
    (cd "$top/build/src/lwip-pkg" && apt-get source -qq --skip-patches lwip >/dev/null 2>&1 \
        || apt-get source -qq lwip >/dev/null)
    d=$(find "$top/build/src/lwip-pkg" -maxdepth 1 -mindepth 1 -type d -name 'lwip-*' | head -1)
    [ -n "$d" ] || { echo "deps: apt-get source lwip produced no tree" >&2; exit 1; }
    rm -rf "$top/build/src/lwip"
    mv "$d" "$top/build/src/lwip"
fi
echo "deps: ok"
