#!/usr/bin/env bash
# Threading that holds: three measurements of the default thread count, with
# no OpenMP or scratchnet variable set, on four training benchmarks (char
# LSTM-256 and RNN-256 of bench/lstm.c, the Adam MLP 784-256-128-10 of
# bench/mlp.c, the CNN of bench/cnn.c). Each run is a fresh process.
#
#   1. scaling: best of REPEATS runs on 2 threads over best of REPEATS on 1
#      thread (runs alternate); the aim is >= 1.6 on a quiet 2-core machine;
#   2. steadiness: max/min of RUNS back-to-back runs of the default, alone
#      and then beside a busy loop pinned to CPU BUSY_CPU; aim <= 1.15 both;
#   3. a busy neighbour: the median run of the default beside the busy loop
#      against the median 1-thread run alone (how much slower the default
#      gets when another process takes a core); aim <= 1.3.
#
# Rates are higher-is-better: tokens/s, samples/s, images/s.
#
# First, the machine's own steadiness: the spread of RUNS back-to-back runs of
# bench_steady, alone and beside the busy loop: one thread of register-only
# multiply-adds (fma), two threads streaming through memory (stream), and two
# threads of multiply-adds in lock step, waiting for each other every 20 us as
# a training step does (sync). No benchmark can be steadier than the machine
# under it; on a virtual machine this floor can be above 1.15. The machine can
# also change under a benchmark (a virtual machine's two CPUs moved onto one
# core's two hardware threads, say), so a 0.3 s 2-thread multiply-add run
# before each default run alone gives the spread of the floor in those minutes.
# The LSTM and RNN keep their recurrent weights (1 MiB) in each core's L2 and
# run on them for the whole pass, so before each of their default runs also
# 0.3 s of two threads reading a private 1 MiB buffer each (bench_steady l2):
# its spread is that of the L2 under them (a neighbour on the host evicting it).
# Last of the machine, what sharing data between the two cores costs there
# (bench_steady share: a cache line's round trip, and rewriting 1 MiB that the
# other core has just read): the 2-thread over 1-thread speed of a model whose
# threads pass it data each step falls as these grow.
# usage: bench/threads.sh [BUILD_DIR]
#   env: RUNS (5), REPEATS (3), BUSY_CPU (1), BENCHES ("lstm rnn mlp cnn"),
#        LSTM_STEPS (20), RNN_STEPS (LSTM_STEPS), MLP_EPOCHS (1), CNN_BATCHES (60)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${RUNS:-5}
repeats=${REPEATS:-3}
busy_cpu=${BUSY_CPU:-1}
benches=${BENCHES:-lstm rnn mlp cnn}
unset OMP_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT OMP_PROC_BIND OMP_PLACES OMP_DYNAMIC
scripts/fetch-data.sh fashion-mnist >/dev/null
scripts/fetch-data.sh moby-dick >/dev/null

prog() {
    local p="$build/$1"
    [ -x "$p" ] || p="$build/bench/$1"
    [ -x "$p" ] || {
        echo "threads.sh: $1 not found under $build" >&2
        exit 1
    }
    echo "$p"
}
steady=$(prog bench_steady)
lstm=$(prog bench_lstm)
mlp=$(prog bench_mlp)
cnn=$(prog bench_cnn)

# rate BENCH THREADS: one run in a fresh process; prints its rate.
rate() {
    local out
    case $1 in
    lstm | rnn)
        local steps=${LSTM_STEPS:-20}
        [ "$1" = rnn ] && steps=${RNN_STEPS:-$steps}
        out=$("$lstm" data/moby-dick.txt "$steps" "$1" --threads "$2")
        echo "$out" | awk '/^scratchnet/ { split($4, a, "="); print a[2] }'
        ;;
    mlp)
        out=$("$mlp" data/fashion-mnist "${MLP_EPOCHS:-1}" adam --threads "$2")
        echo "$out" | awk '/^scratchnet/ { split($4, a, "="); printf "%.0f\n", 60000 / a[2] }'
        ;;
    cnn)
        out=$("$cnn" data/fashion-mnist "${CNN_BATCHES:-60}" 1 --threads "$2")
        echo "$out" | awk '/^scratchnet/ { split($3, a, "="); print a[2] }'
        ;;
    esac
}

busy_pid=
start_busy() {
    taskset -c "$busy_cpu" sh -c 'while :; do :; done' &
    busy_pid=$!
}
stop_busy() {
    if [ -n "$busy_pid" ]; then
        kill "$busy_pid" 2>/dev/null || true
        wait "$busy_pid" 2>/dev/null || true
        busy_pid=
    fi
}
trap stop_busy EXIT

# floor: the machine's 2-thread multiply-add rate right now (bench_steady);
# l2floor: its 2-thread rate of reads from a 1 MiB buffer per thread.
floor() { "$steady" fma 0.3 2 | awk '{ print $2 }'; }
l2floor() { "$steady" l2 0.3 2 | awk '{ print $2 }'; }

stats() { # numbers on stdin -> "min median max max/min"
    sort -g | awk '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.0f %.0f %.0f %.3f\n", v[1], m, v[NR], v[NR] / v[1] }'
}

echo "threads.sh: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load at start: $(uptime | sed 's/.*load average: //')"
summary=()
echo "== machine (bench_steady)"
for kind in "fma 0.5 1" "stream 0.5 2" "sync 0.5 2" "l2 0.5 2"; do
    alone=() busy=()
    for ((r = 0; r < runs; r++)); do alone+=("$("$steady" $kind | awk '{ print $2 }')"); done
    start_busy
    for ((r = 0; r < runs; r++)); do busy+=("$("$steady" $kind | awk '{ print $2 }')"); done
    stop_busy
    read -r _ _ _ spread_alone < <(printf '%s\n' "${alone[@]}" | stats)
    read -r _ _ _ spread_busy < <(printf '%s\n' "${busy[@]}" | stats)
    kind=${kind%% *}
    echo "  $kind alone: ${alone[*]}"
    echo "  $kind beside busy loop: ${busy[*]}"
    summary+=("$(printf 'machine %-6s spread alone %.2f, busy %.2f (the floor for the spreads below)' \
        "$kind" "$spread_alone" "$spread_busy")")
done
share=$("$steady" share)
echo "  $share"
summary+=("machine $share")
for b in $benches; do
    echo "== $b"
    one=() two=()
    for ((r = 0; r < repeats; r++)); do
        one+=("$(rate "$b" 1)")
        two+=("$(rate "$b" 2)")
    done
    read -r _ med1 best1 _ < <(printf '%s\n' "${one[@]}" | stats)
    read -r _ _ best2 _ < <(printf '%s\n' "${two[@]}" | stats)
    echo "  1 thread:  ${one[*]}"
    echo "  2 threads: ${two[*]}"
    alone=()
    ref=()
    l2ref=()
    for ((r = 0; r < runs; r++)); do
        ref+=("$(floor)")
        case $b in lstm | rnn) l2ref+=("$(l2floor)") ;; esac
        alone+=("$(rate "$b" default)")
    done
    read -r _ _ _ spread_alone < <(printf '%s\n' "${alone[@]}" | stats)
    echo "  default, alone:          ${alone[*]}"
    read -r _ _ _ spread_ref < <(printf '%s\n' "${ref[@]}" | stats)
    echo "  machine just before each: ${ref[*]} GFLOP/s (2-thread fma), spread $spread_ref"
    l2note=
    if [ ${#l2ref[@]} -gt 0 ]; then
        read -r _ _ _ spread_l2 < <(printf '%s\n' "${l2ref[@]}" | stats)
        echo "  L2 just before each:      ${l2ref[*]} GB/s (2-thread l2), spread $spread_l2"
        l2note=", l2 $spread_l2"
    fi
    start_busy
    busy=()
    for ((r = 0; r < runs; r++)); do busy+=("$(rate "$b" default)"); done
    busy1=$(rate "$b" 1)
    stop_busy
    read -r _ med_busy _ spread_busy < <(printf '%s\n' "${busy[@]}" | stats)
    echo "  default, beside busy loop: ${busy[*]}  (1 thread beside it: $busy1)"
    line=$(awk -v b="$b" -v b1="$best1" -v b2="$best2" -v sa="$spread_alone" -v sb="$spread_busy" \
        -v m1="$med1" -v mb="$med_busy" -v sr="$spread_ref" -v l2="$l2note" 'BEGIN {
        printf "%-5s 2t/1t %.2f (>=1.6)   spread alone %.2f (machine %.2f%s), busy %.2f (<=1.15)   busy slowdown %.2f (<=1.3)",
            b, b2 / b1, sa, sr, l2, sb, m1 / mb }')
    echo "  $line"
    summary+=("$line")
done
echo "load at end: $(uptime | sed 's/.*load average: //')"
echo "== summary (aims in parentheses; scaling needs a quiet machine)"
printf '%s\n' "${summary[@]}"
