#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DSN_FUZZ=ON) in $FUZZ_BUILD
# (default build-fuzz) and runs each for SECONDS (default 60), starting from
# its seeds in fuzz/corpus/<target>/ (read only; new inputs go to
# $FUZZ_BUILD/fuzz/work/<target>/, crashes to $FUZZ_BUILD/fuzz/artifacts/).
# Prints per target the seconds run, executions and whether it crashed;
# exits 1 when any target crashed, leaked or timed out.
#   fuzz/run.sh [SECONDS] [TARGET...]      e.g. fuzz/run.sh 300 csv text
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(idx cifar csv text spec safetensors vocab classes checkpoint)
build=${FUZZ_BUILD:-build-fuzz}

# Longest input per target: a few records or a few KiB of text.
max_len() {
    case $1 in
    cifar) echo 9300 ;; # 3 records of 3073 bytes and the options byte
    idx | safetensors) echo 8192 ;;
    checkpoint) echo 16384 ;; # the seeds are 2.4 to 9.6 KiB
    classes) echo 2048 ;;
    *) echo 4096 ;;
    esac
}

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DSN_FUZZ=ON -DSN_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]/#/fuzz_}" >/dev/null || exit 1

mkdir -p "$build/fuzz/artifacts"
failed=0
printf '%-12s %8s %12s  %s\n' target seconds executions result
for t in "${targets[@]}"; do
    work="$build/fuzz/work/$t"
    log="$build/fuzz/$t.log"
    mkdir -p "$work"
    start=$(date +%s)
    # -malloc_limit_mb: a small input must not make a reader allocate 256 MiB.
# An out-of-memory stop (-rss_limit_mb, -malloc_limit_mb) fails the target.
    "$build/fuzz/fuzz_$t" "$work" "fuzz/corpus/$t" -max_total_time="$secs" \
        -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -artifact_prefix="$build/fuzz/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    ran=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        result=ok
    else
        failed=1
        result="CRASHED (rc $rc): $(grep -m1 -E 'ERROR|SUMMARY|deadly' "$log") -- see $log"
    fi
    printf '%-12s %8s %12s  %s\n' "$t" "$ran" "${execs:-?}" "$result"
done
exit $failed
