#!/usr/bin/env bash
# The main job: build virtmodel, then step every bundled example guest
# (examples/guests.list) through the virtmodel-run harness and show what
# happened.  Installs missing Debian packages first.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
vmdl_install_deps || exit 1

jobs=$(nproc 2>/dev/null || echo 2)
echo "=== building (build/) ==="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build build -j"$jobs" >/dev/null || { cmake --build build -j1; exit 1; }

run=build/tools/virtmodel-run
pass=0 fail=0
summary=()
while IFS='|' read -r guest args expect what; do
    guest=$(echo "$guest" | xargs)
    [[ -z "$guest" || "$guest" == \#* ]] && continue
    args=$(echo "$args" | xargs)
    expect=$(echo "$expect" | xargs)
    what=$(echo "$what" | xargs)
    image=build/examples/guests/$guest.elf
    echo
    echo "=== $guest ${args:+($args) }- $what"
    echo "\$ virtmodel-run $image $args"
    # shellcheck disable=SC2086
    timeout 120 "$run" "$image" $args --timeout 60 --stats 2>&1 | sed 's/^/  | /'
    status=${PIPESTATUS[0]}
    if [[ "$status" == "$expect" ]]; then
        verdict="ok"
        pass=$((pass + 1))
    else
        verdict="UNEXPECTED (wanted $expect)"
        fail=$((fail + 1))
    fi
    echo "  exit status $status: $verdict"
    summary+=("$(printf '%-24s %-52s %3s  %s' "$guest" "${args:--}" "$status" "$verdict")")
done < examples/guests.list

echo
echo "=== summary ==="
printf '%s\n' "${summary[@]}"
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
