#!/usr/bin/env bash
# kvm-unit-tests.sh: run kvm-unit-tests' own binaries, unmodified, through
# virtmodel-run, one entry of its unittests.cfg at a time, and decide PASS,
# FAIL or SKIP by the rules of kvm-unit-tests' runner (scripts/runtime.bash,
# scripts/arch-run.bash, scripts/vmm.bash):
#
#   - skipped before running: another architecture (arch=), entries whose
#     accel= is not the run's accelerator (--accel: tcg by default, so
#     accel=kvm entries skip as under QEMU TCG), the "nodefault" group,
#     disabled_if= conditions (evaluated with TARGET=virtmodel), check=
#     files, a missing binary, and qemu_params that need hardware
#     virtmodel does not model (listed in unsupported_param below);
#   - with --accel kvm virtmodel stands where KVM stands: accel=kvm entries
#     run, and a check= on a KVM module parameter or on the host NMI
#     watchdog is answered from virtmodel's own configuration (kvm_param
#     below: enable_pmu is Y when the run gets a PMU model), not from the
#     host's /sys and /proc;
#   - the exit status follows QEMU's convention: a test ends with status
#     (code << 1) | 1 (x86 isa-debug-exit; on arm64 virtmodel-run takes it
#     from the "EXIT: STATUS=n" line kvm-unit-tests prints before PSCI
#     SYSTEM_OFF).  1 means success, 77 (code 38) skipped, 124 a timeout,
#     >128 a signal; 0 (ended without a status) and anything else fail.
#     When the status is 0 or 1 and the console has an "EXIT: STATUS=n"
#     line, n decides, as run_test_status() does for kvmtool.
#
# usage: kvm-unit-tests.sh [options] [BUILD_DIR]
#   BUILD_DIR       a kvm-unit-tests build (configured for x86_64 or arm64),
#                   or a directory holding x86/ and/or arm64/ builds (as
#                   /work/shared/kvm-unit-tests/build.sh OUT makes them).
#                   Default: $VMDL_KUT_DIR, else a build of the pinned source
#                   ($VMDL_KUT_SRC, default /work/shared/kvm-unit-tests) in
#                   ${XDG_CACHE_HOME:-~/.cache}/virtmodel/kvm-unit-tests.
#   --arch A        only x86 or arm64
#   --only NAMES    only these entries (comma or space separated)
#   --accel A       tcg (default: $ACCEL, else tcg) or kvm (see above)
#   --vendor V      x86 CPU vendor, intel (default) or amd, for entries whose
#                   -cpu does not name one (as running on that vendor's host)
#   --run PATH      virtmodel-run binary (default: $VMDL_RUN, else
#                   build/tools/virtmodel-run of this checkout)
#   --logs DIR      keep each entry's console and stderr there
#   --expect FILE   lines "ARCH ENTRY" (# comments): entries that must PASS
#                   when ARCH ran; exit status 1 when one does not (ctest)
#   --ctest         ctest mode: without VMDL_KUT_DIR, print why and exit 77
#   --markdown      print the table as Markdown
#   -v              print each virtmodel-run command line
# environment: MAX_SMP (default 4) for smp = $MAX_SMP entries; TIMEOUT
# overrides every entry's timeout, as in kvm-unit-tests.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
only_arch= only= run=${VMDL_RUN:-} logs= expect= ctest=0 markdown=0 verbose=0
accel=${ACCEL:-tcg} host_vendor=intel
MAX_SMP=${MAX_SMP:-4}

die() { echo "kvm-unit-tests.sh: $*" >&2; exit 2; }

while (($#)); do
    case $1 in
        --arch) only_arch=${2:?}; shift 2 ;;
        --only) only=" ${2//,/ } "; shift 2 ;;
        --accel) accel=${2:?}; shift 2 ;;
        --vendor) host_vendor=${2:?}; shift 2 ;;
        --run) run=${2:?}; shift 2 ;;
        --logs) logs=${2:?}; shift 2 ;;
        --expect) expect=${2:?}; shift 2 ;;
        --ctest) ctest=1; shift ;;
        --markdown) markdown=1; shift ;;
        -v) verbose=1; shift ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (try --help)" ;;
        *) [[ -z ${dir:-} ]] || die "more than one BUILD_DIR"; dir=$1; shift ;;
    esac
done
case $only_arch in ''|x86|arm64) ;; *) die "--arch must be x86 or arm64" ;; esac
case $accel in tcg|kvm) ;; *) die "--accel must be tcg or kvm" ;; esac
case $host_vendor in intel|amd) ;; *) die "--vendor must be intel or amd" ;; esac
[[ $MAX_SMP =~ ^[1-9][0-9]*$ ]] || die "MAX_SMP must be a positive number"

# ---------------------------------------------------------------- the build
if [[ -z ${dir:-} ]]; then
    dir=${VMDL_KUT_DIR:-}
fi
if [[ -z $dir ]]; then
    if ((ctest)); then
        echo "SKIP: no kvm-unit-tests build: set VMDL_KUT_DIR to one (e.g. made by" \
             "/work/shared/kvm-unit-tests/build.sh DIR) to run this conformance check"
        exit 77
    fi
    src=${VMDL_KUT_SRC:-/work/shared/kvm-unit-tests}
    [[ -x $src/build.sh && -n $(ls "$src"/kvm-unit-tests-*.tar.gz 2>/dev/null) ]] ||
        die "no BUILD_DIR given, VMDL_KUT_DIR unset and no kvm-unit-tests source in $src"
    dir=${XDG_CACHE_HOME:-$HOME/.cache}/virtmodel/kvm-unit-tests
    echo "kvm-unit-tests.sh: building $src into $dir (once)" >&2
    "$src/build.sh" "$dir" ${only_arch:+"$only_arch"} >"$dir.build.log" 2>&1 ||
        die "build failed, see $dir.build.log"
fi
[[ -d $dir ]] || die "$dir: no such directory"
dir=$(cd "$dir" && pwd)

if [[ -z $run ]]; then
    run=$top/build/tools/virtmodel-run
fi
[[ -x $run ]] || die "virtmodel-run not found at $run (build it, or pass --run / VMDL_RUN)"

# Which architecture a configured kvm-unit-tests tree was built for.
build_arch() {
    local a
    a=$(sed -n 's/^ARCH=//p' "$1/config.mak" 2>/dev/null | head -n1)
    case $a in x86_64) echo x86 ;; arm64) echo arm64 ;; *) echo "" ;; esac
}

builds=()
if [[ -n $(build_arch "$dir") ]]; then
    builds=("$dir")
else
    for a in x86 arm64; do
        [[ -n $(build_arch "$dir/$a") ]] && builds+=("$dir/$a")
    done
fi
((${#builds[@]})) || die "$dir holds no configured kvm-unit-tests build (no config.mak)"

# ---------------------------------------------------------------- parameters
# Parameters virtmodel cannot honour because they ask for hardware it does
# not model: the entry is skipped, with the reason.
unsupported_param() {
    case $1 in
        -machine\ *gic-version=2*) echo "needs a GICv2 (virtmodel models GICv5)" ;;
        -machine\ *gic-version=3*) echo "needs a GICv3 (virtmodel models GICv5)" ;;
        -machine\ *mte=on*) echo "needs MTE" ;;
        -machine\ *virtualization=on*) echo "needs EL2" ;;
        -device\ edu|-device\ intel-iommu|-device\ intel-iommu,*) echo "" ;;  # --device
        -device\ *) echo "needs device ${1#-device }" ;;
        *) echo "" ;;
    esac
}

# With --accel kvm: what a check= file reads on a host whose KVM is
# virtmodel.  Prints the value, or nothing for files that are the host's
# own (checked on the host as before).  vendor is the run's x86 vendor.
kvm_param() {
    local file=$1 vendor=$2
    case $file in
        /sys/module/kvm/parameters/enable_pmu)
            # The x86 PMU model is AMD's (amd_pmu, attached with --vendor
            # amd); an Intel vCPU has no PMU, as KVM with enable_pmu=N.
            if [[ $vendor == amd ]] && "$run" --help 2>/dev/null | grep -q '^  amd_pmu '; then
                echo Y
            else
                echo N
            fi ;;
        /proc/sys/kernel/nmi_watchdog)
            echo 0 ;;    # no host watchdog holds a counter the guest could want
        /sys/module/kvm/parameters/ignore_msrs)
            echo N ;;    # unknown MSRs #GP, KVM's default
        /sys/module/kvm*/parameters/*)
            echo "not modelled" ;;   # enable_vmware_backdoor, allow_smaller_maxphyaddr, ...
        *) echo "" ;;
    esac
}

# Split a qemu_params string into words, honouring '...' and "...".
split_words() {
    local s=$1 w q c i
    words=()
    w= q= ; local have=0
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [[ -n $q ]]; then
            if [[ $c == "$q" ]]; then q=; else w+=$c; fi
        elif [[ $c == "'" || $c == '"' ]]; then
            q=$c; have=1
        elif [[ $c == ' ' || $c == $'\t' ]]; then
            ((have)) && words+=("$w"); w= ; have=0
        else
            w+=$c; have=1
        fi
    done
    ((have)) && words+=("$w")
    return 0
}

# smp = N, $MAX_SMP or a $((...)) expression over it.
eval_smp() {
    local e=${1//\$MAX_SMP/$MAX_SMP}
    e=${e#\$\(\(}; e=${e%\)\)}
    [[ $e =~ ^[0-9\ \(\)\<\>\?:+*/-]+$ ]] || { echo ""; return; }
    echo $((e))
}

# "90s", "2m", "90" -> seconds.
timeout_secs() {
    local t=$1
    case $t in
        *s) echo "${t%s}" ;;
        *m) echo $(( ${t%m} * 60 )) ;;
        *h) echo $(( ${t%h} * 3600 )) ;;
        *) echo "$t" ;;
    esac
}

strip_quotes() {
    local v=$1
    if [[ $v =~ ^\'(.*)\'$ || $v =~ ^\"(.*)\"$ ]]; then v=${BASH_REMATCH[1]}; fi
    echo "$v"
}

# ---------------------------------------------------------------- one entry
declare -A result detail
order=() ran_archs=" "
npass=0 nfail=0 nskip=0

record() { # name PASS|FAIL|SKIP detail
    order+=("$1"); result[$1]=$2; detail[$1]=$3
    case $2 in PASS) ((npass++)) ;; FAIL) ((nfail++)) ;; SKIP) ((nskip++)) ;; esac
    if ((!markdown)); then printf '%-4s %s %s\n' "$2" "$1" "${3:+($3)}"; fi
}

run_entry() {
    local b=$1 arch=$2 name=$3
    local file=${e_file:-} smp=${e_smp:-1} args=${e_test_args:-} params=${e_params:-}
    local groups=" ${e_groups:-} " tmo
    [[ -n $only && $only != *" $name "* ]] && return
    if [[ -n ${e_arch:-} && ${e_arch} != "$arch" && !( $arch == x86 && ${e_arch} == x86_64 ) ]]; then
        record "$name" SKIP "${e_arch} only"; return
    fi
    if [[ $groups == *" nodefault "* ]]; then
        record "$name" SKIP "test marked as manual run only"; return
    fi
    if [[ -n ${e_accel:-} && ${e_accel} != "$accel" ]]; then
        record "$name" SKIP "${e_accel} only"; return
    fi
    if [[ -n ${e_disabled_if:-} ]] && (TARGET=virtmodel; eval "${e_disabled_if}") 2>/dev/null; then
        record "$name" SKIP "disabled because: ${e_disabled_if}"; return
    fi
    local p v have from vendor=$host_vendor
    [[ " ${e_params:-} " == *vendor=AuthenticAMD* ]] && vendor=amd
    [[ " ${e_params:-} " == *vendor=GenuineIntel* ]] && vendor=intel
    for p in ${e_check:-}; do
        v=${p#*=}; p=${p%%=*}
        have= from=
        [[ $accel == kvm ]] && have=$(kvm_param "$p" "$vendor") && from=${have:+virtmodel}
        if [[ -z $from && -f $p ]]; then
            have=$(cat "$p")
        fi
        if [[ $have != "$v" ]]; then
            record "$name" SKIP "$p not equal to $v${from:+ ($from: $have)}"; return
        fi
    done
    local image=$b/${file}
    [[ $arch == arm64 ]] && image=$b/arm/$file
    [[ $arch == x86 ]] && image=$b/x86/$file
    if [[ ! -f $image ]]; then
        record "$name" SKIP "Test file '$file' not found"; return
    fi
    smp=$(eval_smp "$smp")
    [[ -n $smp ]] || { record "$name" FAIL "cannot evaluate smp = ${e_smp}"; return; }

    # qemu_params / extra_params -> virtmodel-run options.
    local cmd=("$run" "$image") notes=() ram=128 append=$args why i
    [[ $arch == x86 ]] || vendor=
    [[ $arch == arm64 ]] && cmd+=(--raw arm64)
    split_words "$params"
    for ((i = 0; i < ${#words[@]}; i++)); do
        p=${words[i]} v=${words[i+1]:-}
        why=$(unsupported_param "$p $v")
        if [[ -n $why ]]; then record "$name" SKIP "$why"; return; fi
        case $p in
            -append) append="${append:+$append }$v"; ((i++)) ;;
            -smp) smp=${v%%,*}; ((i++)) ;;
            -m) ram=${v%[Mm]}; [[ $ram == *[Gg] ]] && ram=$(( ${ram%[Gg]} * 1024 )); ((i++)) ;;
            -cpu)
                [[ $v == *vendor=AuthenticAMD* ]] && vendor=amd
                [[ $v == *vendor=GenuineIntel* ]] && vendor=intel
                [[ ,$v, == *,-x2apic,* ]] && cmd+=(--no-x2apic)
                notes+=("-cpu $v"); ((i++)) ;;
            -device) cmd+=(--device "$v"); ((i++)) ;;
            -rtc)
                # base=DATE sets the RTC's start; utc / localtime (the
                # host's clock) and clock= / driftfix= are noted: the RTC
                # runs on virtual time from its fixed default.
                local base=${v#*base=}; base=${base%%,*}
                if [[ $v == *base=* && $base != utc && $base != localtime ]]; then
                    cmd+=(--rtc-base "$base")
                else
                    notes+=("-rtc $v")
                fi
                ((i++)) ;;
            -machine|-M)
                # The machine type (pc, q35) picks the PCI host bridge;
                # properties (kernel-irqchip=split, pit=off, ...) are noted.
                case ${v%%,*} in
                    pc|q35) cmd+=(--machine "${v%%,*}") ;;
                esac
                notes+=("$p $v"); ((i++)) ;;
            -global|-overcommit|-object|-accel) notes+=("$p $v"); ((i++)) ;;
            *) notes+=("$p") ;;
        esac
    done
    # virtmodel-run takes what it can lay out: x86 RAM from 3.5 GiB on is
    # split around the PCI hole as QEMU's pc machine splits it.
    if [[ ! $ram =~ ^[0-9]+$ ]] || ((ram > 261120)); then
        record "$name" SKIP "needs -m ${ram} MiB (virtmodel-run takes 1..261120)"; return
    fi
    cmd+=(--vcpus "$smp" --ram "$ram")
    [[ -n $vendor && $vendor != intel ]] && cmd+=(--vendor "$vendor")
    [[ -n $append ]] && cmd+=(--append "$append")
    tmo=$(timeout_secs "${TIMEOUT:-${e_timeout:-90s}}")
    [[ $tmo =~ ^[0-9]+$ ]] || { record "$name" FAIL "bad timeout ${e_timeout}"; return; }
    cmd+=(--timeout "$tmo")
    ((verbose)) && echo "${cmd[*]}" >&2

    local out err ret status
    out=$(mktemp) err=$(mktemp)
    timeout -k 1 $((tmo + 10)) "${cmd[@]}" </dev/null >"$out" 2>"$err"
    ret=$?
    if [[ -n $logs ]]; then
        mkdir -p "$logs"
        { echo "# ${cmd[*]}"; cat "$out"; echo "# stderr:"; cat "$err"; } >"$logs/$name.log"
    fi
    local summary
    summary=$(tail -n 5 "$out" | tr -d '\r' | sed -n 's/^SUMMARY: //p' | tail -n1)
    if ((ret == 0 || ret == 1)); then
        status=$(grep -a '^EXIT: STATUS=' "$out" | head -n1 | sed 's/^EXIT: STATUS=\([0-9]*\).*/\1/')
        [[ -n $status ]] && ret=$status
        case $ret in 1) ret=0 ;; 0) ret=1; summary=${summary:-"ended without an exit status"} ;; esac
    fi
    local last
    last=$(grep -a 'virtmodel-run' "$err" | tail -n1 | sed 's/^virtmodel-run: //')
    if ((ret == 0)); then
        record "$name" PASS "$summary"
    elif ((ret == 77)); then
        record "$name" SKIP "$summary"
    elif ((ret == 124)); then
        record "$name" FAIL "timeout; duration=${tmo}s"
    elif ((ret > 127)); then
        record "$name" FAIL "terminated on signal $((ret - 128))"
    else
        record "$name" FAIL "${summary:-status $ret${last:+: $last}}"
    fi
    rm -f "$out" "$err"
    [[ ${#notes[@]} -gt 0 && -n $logs ]] && echo "# ignored: ${notes[*]}" >>"$logs/$name.log"
    return 0
}

# Parse a unittests.cfg: [name] then key = value lines.
run_cfg() {
    local b=$1 arch=$2 cfg=$3 name= line key val
    local e_file e_smp e_test_args e_params e_groups e_arch e_accel e_timeout e_disabled_if e_check
    flush() {
        [[ -n $name ]] && run_entry "$b" "$arch" "$name"
        e_file= e_smp= e_test_args= e_params= e_groups= e_arch= e_accel= e_timeout= e_disabled_if= e_check=
    }
    flush
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        if [[ $line =~ ^\[(.*)\]$ ]]; then
            key=${BASH_REMATCH[1]}; flush; name=$key; continue
        fi
        [[ $line =~ ^([a-z_]+)[[:space:]]*=[[:space:]]*(.*)$ ]] || continue
        key=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
        case $key in
            file) e_file=$val ;;
            smp) e_smp=$val ;;
            test_args) e_test_args=$(strip_quotes "$val") ;;
            qemu_params|extra_params) e_params="$e_params $val" ;;
            groups) e_groups=$val ;;
            arch) e_arch=$val ;;
            accel) e_accel=$val ;;
            timeout) e_timeout=$val ;;
            disabled_if) e_disabled_if=$val ;;
            check) e_check=$val ;;
        esac
    done <"$cfg"
    flush
    name=
}

for b in "${builds[@]}"; do
    arch=$(build_arch "$b")
    [[ -n $only_arch && $only_arch != "$arch" ]] && continue
    cfg=$b/arm/unittests.cfg
    [[ $arch == x86 ]] && cfg=$b/x86/unittests.cfg
    [[ -f $cfg ]] || die "$cfg: missing"
    ((markdown)) || echo "== $arch: $cfg (MAX_SMP=$MAX_SMP)"
    ran_archs+="$arch "
    run_cfg "$b" "$arch" "$cfg"
done

if ((markdown)); then
    echo "| entry | result | detail |"
    echo "| --- | --- | --- |"
    for n in "${order[@]}"; do
        echo "| $n | ${result[$n]} | ${detail[$n]//|/\\|} |"
    done
    echo
fi
echo "PASS $npass  FAIL $nfail  SKIP $nskip"

status=0
if [[ -n $expect ]]; then
    [[ -f $expect ]] || die "$expect: no such file"
    while read -r a n _; do
        [[ -z $a || $a == \#* ]] && continue
        [[ $ran_archs == *" $a "* ]] || continue
        if [[ -z ${result[$n]:-} ]]; then
            [[ -n $only && $only != *" $n "* ]] && continue
            echo "expected PASS: $n was not run" >&2; status=1
        elif [[ ${result[$n]} != PASS ]]; then
            echo "expected PASS: $n is ${result[$n]} (${detail[$n]})" >&2; status=1
        fi
    done <"$expect"
fi
exit $status
