#!/usr/bin/env bash
# Install the Debian packages virtmodel needs, if any are missing.
# Sourced by run-examples.sh and test.sh; safe to run on its own.

VMDL_PACKAGES=(build-essential cmake pkg-config libunicorn-dev libcapstone-dev
               libcmocka-dev binutils-aarch64-linux-gnu)
if [[ "${VMDL_WITH_FUZZ:-0}" == 1 ]]; then
    VMDL_PACKAGES+=(clang libclang-rt-14-dev)
fi

vmdl_install_deps() {
    local missing=()
    for p in "${VMDL_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    echo "virtmodel: installing Debian packages: ${missing[*]}"
    local sudo=()
    if [[ $(id -u) != 0 ]]; then
        if command -v sudo >/dev/null; then
            sudo=(sudo)
        else
            echo "virtmodel: need root (or sudo) to install: ${missing[*]}" >&2
            return 1
        fi
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    vmdl_install_deps
fi
