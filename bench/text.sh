#!/usr/bin/env bash
# The text model users run, as they run it: training tokens per second of
# `scratchnet train examples/text/char-lstm-512.net --text data/moby-dick.txt`
# (the `tokens_per_s` column of history.csv: training steps only, measured by
# the training loop's clock; the run is cut after MINUTES by --minutes),
# against its PyTorch twin (bench/text_torch.py: the same network, windows,
# streams, optimizer and clipping, STEPS windows on the clock after 2 warm-up
# windows). Each figure is the best of REPEATS runs.
# scratchnet runs with nothing set (its default threads) and with
# --threads 1; PyTorch with OMP_WAIT_POLICY=passive on 1 thread
# (OPENBLAS_NUM_THREADS=1), on 1 thread with OPENBLAS_NUM_THREADS=2, and on
# 2 threads, each with OpenBLAS's AVX-512 kernel where the CPU has it
# (bench/peer-env.sh); the ratio is against PyTorch's best of the three.
#
# usage: bench/text.sh [BUILD_DIR]
#   env: MINUTES (0.3), STEPS (12), REPEATS (2), TORCH (1; 0 skips PyTorch),
#        PEER_CONFIGS ("1 1-blas2 2"; bench/peer-env.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
sn="$build/scratchnet"
[ -x "$sn" ] || {
    echo "text.sh: $sn not found" >&2
    exit 1
}
minutes=${MINUTES:-0.3}
steps=${STEPS:-12}
repeats=${REPEATS:-2}
spec=examples/text/char-lstm-512.net
unset OMP_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT OPENBLAS_NUM_THREADS
. bench/peer-env.sh
echo "== peer OpenBLAS kernel: ${OPENBLAS_CORETYPE:-as detected} (bench/peer-env.sh)"
scripts/fetch-data.sh moby-dick >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "text.sh: failed: $1" >&2
    tail -20 "$tmp/log" >&2
    exit 1
}

# sn_rate CONFIG: tokens/s of one CLI run (history.csv, first epoch)
sn_rate() {
    local out="$tmp/sn-$RANDOM$RANDOM" th=()
    [ "$1" = default ] || th=(--threads "$1")
    "$sn" train "$spec" --text data/moby-dick.txt --minutes "$minutes" --quiet --out "$out" \
        "${th[@]}" >"$tmp/log" 2>&1 || fail "scratchnet train $spec ${th[*]}"
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "tokens_per_s") c = i }
             NR == 2 { print $c }' "$out/history.csv"
    rm -rf "$out"
}

# torch_rate CONFIG: tokens/s of one run of the twin
torch_rate() {
    peer_run "$1" /usr/bin/python3 bench/text_torch.py data/moby-dick.txt "$steps" '{threads}' \
        >"$tmp/log" 2>&1 || fail "bench/text_torch.py ($1)"
    sed -n 's/.*tokens_per_s=\([0-9]*\).*/\1/p' "$tmp/log"
}

# best RUNNER CONFIG: the highest rate of REPEATS runs
best() {
    local r rates=()
    for ((r = 0; r < repeats; r++)); do rates+=("$("$1" "$2")"); done
    printf '%s\n' "${rates[@]}" | sort -g | tail -1
}

echo "text.sh: $(nproc) CPUs; load at start: $(uptime | sed 's/.*load average: //')"
echo "== $spec: training tokens/s, best of $repeats (scratchnet: --minutes $minutes;" \
    "pytorch: $steps windows)"
sn_default=$(best sn_rate default)
sn_one=$(best sn_rate 1)
printf '  scratchnet default threads: %.0f tokens/s   --threads 1: %.0f tokens/s\n' \
    "$sn_default" "$sn_one"
line=$(printf 'char-lstm-512 scratchnet %.0f tokens/s' "$sn_default")
if [ "${TORCH:-1}" != 0 ]; then
    peer_best higher '%.0f tokens/s' best torch_rate '{cfg}'
    line+=$(printf ', pytorch best %.0f tokens/s (%s): %.2fx' "$peer_top" "$peer_top_cfg" \
        "$(awk -v b="$peer_top" -v s="$sn_default" 'BEGIN { print s / b }')")
fi
echo "load at end: $(uptime | sed 's/.*load average: //')"
peer_legend
echo "$line"
