#!/usr/bin/env bash
# Long fuzz campaign for one target:
#   fuzz/run-campaign.sh TARGET SECONDS [JOBS]
# TARGET is vmx, lapic, amd_pmu, gicv5, tdx, elf or blobs.  Builds build-fuzz
# if needed, fuzzes a working corpus (build-fuzz/campaign/TARGET/corpus,
# seeded from fuzz/corpus/TARGET and kept between campaigns) with JOBS
# workers (default: the number of CPUs), then prints the total executions
# and exec/s.  Crashes land in build-fuzz/campaign/TARGET/artifacts.
# On a terminal (or with VMDL_PROGRESS=1) a progress line goes to stderr
# once a second.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run-campaign.sh TARGET SECONDS [JOBS]}
seconds=${2:?usage: fuzz/run-campaign.sh TARGET SECONDS [JOBS]}
jobs=${3:-$(nproc 2>/dev/null || echo 2)}
build=build-fuzz
if [[ ! -x $build/fuzz/fuzz_$target ]]; then
    CC=clang cmake -S . -B $build -DVMDL_FUZZ=ON -DVMDL_SANITIZE=ON \
        -DVMDL_BUILD_GUESTS=OFF -DVMDL_BUILD_BENCH=OFF -DVMDL_BUILD_TESTS=OFF >/dev/null
fi
cmake --build $build --target fuzz_$target -j"$jobs" >/dev/null
work=$build/campaign/$target
mkdir -p "$work/corpus" "$work/artifacts" "$work/logs"
cp -n fuzz/corpus/"$target"/* "$work/corpus/" 2>/dev/null || true
# max_malloc_fill_size=0: ASan fills every malloc with 0xBE (up to 4 KiB),
# mostly libFuzzer's own copies of each input; skipping that fill makes a
# campaign 25-40% faster.  Reads of uninitialized heap memory are not what
# ASan detects anyway; the smoke runs in the test suite keep the default.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:max_malloc_fill_size=0}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rm -f "$work"/logs/fuzz-*.log
start=$(date +%s)
status=0
(cd "$work/logs" && "$OLDPWD/$build/fuzz/fuzz_$target" -jobs="$jobs" -workers="$jobs" \
    -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$OLDPWD/$work/artifacts/" "$OLDPWD/$work/corpus" \
    >/dev/null 2>&1) &
fuzzer=$!
# Progress: at most once a second, only when stderr is a terminal (or with
# VMDL_PROGRESS=1): executions so far (each worker's last libFuzzer status
# line, summed), executions per second over the last interval, and the
# campaign's elapsed time against its budget.
progress_line() {
    local now execs cov
    now=$(( $(date +%s) - start ))
    read -r execs cov < <(for f in "$work"/logs/fuzz-*.log; do
            [[ -f $f ]] && grep -ao '^#[0-9]*[^#]*cov: [0-9]*' "$f" | tail -n 1
        done | awk '{sub("#", "", $1); e += $1; for (i = 2; i < NF; i++)
                     if ($i == "cov:" && $(i + 1) > c) c = $(i + 1)}
                    END {print e + 0, c + 0}')
    printf 'run-campaign: %s %d/%s s: %d executions, %d exec/s, coverage %d\n' \
        "$target" "$now" "$seconds" "$execs" $(( execs - last_execs )) "$cov" >&2
    last_execs=$execs
}
last_execs=0
if [[ -t 2 || ${VMDL_PROGRESS:-0} == 1 ]]; then
    while kill -0 "$fuzzer" 2>/dev/null; do
        sleep 1
        kill -0 "$fuzzer" 2>/dev/null && progress_line
    done
fi
wait "$fuzzer" || status=$?
elapsed=$(( $(date +%s) - start ))
execs=$(grep -h "stat::number_of_executed_units" "$work"/logs/fuzz-*.log 2>/dev/null |
        awk '{s += $2} END {print s + 0}')
echo "target=$target seconds=$elapsed jobs=$jobs execs=$execs exec_per_s=$(( execs / (elapsed > 0 ? elapsed : 1) ))"
if [[ $status -ne 0 ]] || ls "$work"/artifacts/crash-* "$work"/artifacts/leak-* \
        "$work"/artifacts/timeout-* >/dev/null 2>&1; then
    echo "findings in $work/artifacts (see $work/logs)" >&2
    exit 1
fi
