#!/usr/bin/env bash
# Install what virtmodel needs, if anything is missing.
# Sourced by run-examples.sh and test.sh; safe to run on its own.
#
# 1. Debian packages, with apt-get.
# 2. Unicorn >= 2.1.  Debian 12 ships 2.0.1, which looks guest memory up by
#    virtual address before translating it (Unicorn issue #1718), so guests
#    with paging or the arm64 MMU cannot use non-identity mappings.  When the
#    system has no Unicorn >= 2.1, this fetches Debian 13's libunicorn-dev and
#    libunicorn2t64 2.1.1 (they depend only on libc6 >= 2.34), checks their
#    SHA-256 and unpacks them under .deps/unicorn, without touching the
#    system's package state.  CMake looks there first (see CMakeLists.txt).

VMDL_PACKAGES=(build-essential cmake pkg-config libcapstone-dev libcmocka-dev
               binutils-aarch64-linux-gnu libfdt-dev curl ca-certificates xz-utils)
if [[ "${VMDL_WITH_FUZZ:-0}" == 1 ]]; then
    VMDL_PACKAGES+=(clang libclang-rt-14-dev)
fi

VMDL_UNICORN_VERSION=2.1.1-2+b2
VMDL_UNICORN_MIRROR=${VMDL_UNICORN_MIRROR:-http://deb.debian.org/debian}
VMDL_UNICORN_DEBS=(
    "pool/main/u/unicorn-engine/libunicorn-dev_2.1.1-2+b2_amd64.deb 479613e244a6023c03708951a5f0e00fc96c83a4b74b4d74c9fe7d3a9050208b"
    "pool/main/u/unicorn-engine/libunicorn2t64_2.1.1-2+b2_amd64.deb 3f760a28c65a93662edbcb21fceb2e0a1c0ab0e8277564fc572e6532949e3e3f"
)

vmdl_sudo() {
    if [[ $(id -u) == 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "virtmodel: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

vmdl_install_packages() {
    local missing=()
    for p in "${VMDL_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    echo "virtmodel: installing Debian packages: ${missing[*]}"
    vmdl_sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive vmdl_sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Unicorn >= 2.1: the system's if it has one, else Debian 13's under .deps/.
vmdl_install_unicorn() {
    local top dest stamp
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    dest="$top/.deps/unicorn"
    stamp="$dest/.version"
    if pkg-config --atleast-version=2.1 unicorn 2>/dev/null; then
        return 0
    fi
    if [[ -f "$stamp" && $(cat "$stamp") == "$VMDL_UNICORN_VERSION" ]]; then
        return 0
    fi
    if [[ $(dpkg --print-architecture 2>/dev/null) != amd64 ]]; then
        echo "virtmodel: no Unicorn >= 2.1 on this system and no prebuilt package for" \
             "$(dpkg --print-architecture 2>/dev/null || uname -m); install libunicorn-dev >= 2.1" >&2
        return 1
    fi
    echo "virtmodel: fetching Unicorn $VMDL_UNICORN_VERSION (Debian 13) into .deps/unicorn"
    local dl="$top/.deps/dl" entry path sum file
    mkdir -p "$dl"
    rm -rf "$dest.tmp"
    mkdir -p "$dest.tmp"
    for entry in "${VMDL_UNICORN_DEBS[@]}"; do
        read -r path sum <<<"$entry"
        file="$dl/$(basename "$path")"
        if [[ ! -f "$file" ]] || ! echo "$sum  $file" | sha256sum -c --quiet - 2>/dev/null; then
            curl -fsSL --retry 3 -o "$file.part" "$VMDL_UNICORN_MIRROR/$path" || {
                echo "virtmodel: cannot download $VMDL_UNICORN_MIRROR/$path" >&2; return 1; }
            mv "$file.part" "$file"
        fi
        if ! echo "$sum  $file" | sha256sum -c --quiet -; then
            echo "virtmodel: checksum mismatch for $file (expected $sum)" >&2
            rm -f "$file"
            return 1
        fi
        dpkg-deb -x "$file" "$dest.tmp"
    done
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    echo "$VMDL_UNICORN_VERSION" > "$stamp"
}

vmdl_install_deps() {
    vmdl_install_packages && vmdl_install_unicorn
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    vmdl_install_deps
fi
