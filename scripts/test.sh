#!/usr/bin/env bash
# Build virtmodel twice (plain, and with AddressSanitizer + UBSan) and run the
# whole ctest suite in each, then a bounded libFuzzer run of every fuzz target
# (clang build).  Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
export VMDL_WITH_FUZZ=1
source scripts/deps.sh
vmdl_install_deps

jobs=$(nproc 2>/dev/null || echo 2)
status=0
for variant in plain sanitize; do
    dir=build
    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMDL_SHARED=ON)
    select=()
    if [[ $variant == sanitize ]]; then
        dir=build-asan
        flags=(-DCMAKE_BUILD_TYPE=Debug -DVMDL_SANITIZE=ON -DVMDL_BUILD_BENCH=OFF)
        # The per-guest checkpoint splits (label "slow": two extra processes
        # per split point) run in the plain build; test_checkpoint covers the
        # same code under the sanitizers.
        select=(-LE slow)
    fi
    echo "=== $variant build ($dir) ==="
    cmake -S . -B "$dir" "${flags[@]}" >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    if ! ctest --test-dir "$dir" -j"$jobs" --output-on-failure "${select[@]}"; then
        status=1
    fi
done
echo "=== fuzz smoke (build-fuzz, clang + libFuzzer) ==="
if ! ./scripts/fuzz-smoke.sh; then
    status=1
fi
exit $status
