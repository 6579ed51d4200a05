#!/bin/bash
# SPDX-License-Identifier: MIT
# Host instructions per operation of one vs_qemu row, counted by callgrind:
# the whole process's instruction count at two iteration counts, the
# difference divided by the operations between them (start-up cancels).
# Unlike CPU time it does not move with the load of a shared machine
# (docs/performance.md, third round).
#   insns_per_op.sh VS_QEMU ROW N PER_ITER S1 S2 [vs_qemu options...]
# N and PER_ITER as in the row's table entry (library N, operations per
# iteration); S1 < S2 two --scale values (small: callgrind is ~50x slower).
set -euo pipefail
if (($# < 6)); then
    sed -n '2,10p' "$0" >&2
    exit 2
fi
bin=$1 row=$2 n=$3 per=$4 s1=$5 s2=$6
shift 6
extra=("$@")
count() {
    valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/dev/null \
        "$bin" --no-qemu --rounds 1 --row "$row" --scale "$1" "${extra[@]}" 2>&1 |
        sed -n 's/.*Collected : //p'
}
a=$(count "$s1")
b=$(count "$s2")
awk -v a="$a" -v b="$b" -v n="$n" -v p="$per" -v s1="$s1" -v s2="$s2" 'BEGIN {
    ops = (int(n * s2) - int(n * s1)) * p
    printf "%.1f host instructions per operation\n", (b - a) / ops }'
