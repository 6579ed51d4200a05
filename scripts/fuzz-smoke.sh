#!/usr/bin/env bash
# Bounded fuzz run of every libFuzzer target (fixed seed, a few seconds
# each, regression inputs replayed first): what CI runs.  Configures and
# builds build-fuzz with clang, ASan and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
CC=clang cmake -S . -B build-fuzz -DVMDL_FUZZ=ON -DVMDL_SANITIZE=ON \
    -DVMDL_BUILD_GUESTS=OFF -DVMDL_BUILD_BENCH=OFF -DVMDL_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz --target vmdl_fuzz -j"$jobs" >/dev/null
ctest --test-dir build-fuzz/fuzz -j"$jobs" --output-on-failure -L fuzz
