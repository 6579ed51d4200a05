#!/usr/bin/env bash
# Drive gdb-multiarch in batch mode against `virtmodel-run --gdb`:
#   gdb_batch.sh RUNNER IMAGE ARCH EXPECT_FILE COMMANDS_FILE [harness args...]
# GDB reads symbols from IMAGE, or from $GDB_SYMBOLS when the image has none
# (a raw kernel).  The harness must exit with $GDB_EXPECT_STATUS (default 0).
# Starts the harness on a free loopback port (it prints the port), runs the
# commands, and checks that every line of EXPECT_FILE (an extended regex)
# appears in gdb's output and that the guest exited with status 0.  Every
# step has a timeout; "SKIPPED:" when no gdb is installed.
set -uo pipefail
runner=$1 image=$2 arch=$3 expect=$4 commands=$5
shift 5
gdb=$(command -v gdb-multiarch || command -v gdb || true)
if [[ -z $gdb ]]; then
    echo "SKIPPED: gdb-multiarch not installed (Debian: gdb-multiarch)"
    exit 0
fi
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
timeout 120 "$runner" "$image" --gdb 127.0.0.1:0 --gdb-wait "$@" \
    >"$work/console" 2>"$work/stderr" &
pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*gdb stub listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/stderr")
    [[ -n $port ]] && break
    sleep 0.1
done
if [[ -z $port ]]; then
    echo "the harness did not start listening:"; cat "$work/stderr"; exit 1
fi
sed "s/@PORT@/$port/" "$commands" >"$work/cmds"
timeout 90 "$gdb" -nx -batch -ex "set architecture $arch" "${GDB_SYMBOLS:-$image}" \
    -x "$work/cmds" \
    >"$work/gdb" 2>&1
gdb_status=$?
wait "$pid"
status=$?
echo "--- gdb output (status $gdb_status) ---"; cat "$work/gdb"
echo "--- harness stderr (status $status) ---"; cat "$work/stderr"
echo "--- guest console ---"; cat "$work/console"
fail=0
while IFS= read -r re; do
    [[ -z $re ]] && continue
    if ! grep -Eq -- "$re" "$work/gdb"; then
        echo "MISSING in gdb output: $re"; fail=1
    fi
done <"$expect"
if [[ $status -ne ${GDB_EXPECT_STATUS:-0} ]]; then
    echo "the harness exited with $status, expected ${GDB_EXPECT_STATUS:-0}"; fail=1
fi
exit $fail
