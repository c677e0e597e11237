#!/usr/bin/env bash
# Whole-process benchmark, as users run it: seconds per epoch of
# `scratchnet train` on Fashion-MNIST for examples/fashion-mlp.net, the SGD
# MLP 784-256-128-10 of bench/sgd-mlp.net, examples/fashion-cnn.net and
# examples/fashion-cnn-bn.net (MODELS=fashion-cnn-bn; not run by default),
# against PyTorch twins (bench/cli_torch.py) doing the same work per epoch
# (training, the validation split when the spec has one, the test set).
#
# Per epoch = (time of a 2+EXTRA-epoch run - time of a 2-epoch run) / EXTRA,
# each the best of REPEATS whole-process runs (the two lengths alternate),
# so start-up, data loading and the final evaluation and report cancel out.
# scratchnet runs with nothing set (its default threads) and with
# --threads 1; PyTorch with OMP_WAIT_POLICY=passive on 1 thread
# (OPENBLAS_NUM_THREADS=1), on 1 thread with OPENBLAS_NUM_THREADS=2, and on
# 2 threads, each with OpenBLAS's AVX-512 kernel where the CPU has it
# (bench/peer-env.sh); the ratio is against PyTorch's best of the three.
#
# usage: bench/cli.sh [BUILD_DIR]
#   env: MODELS ("fashion-mlp sgd-mlp fashion-cnn"; also fashion-cnn-bn),
#        EXTRA (3; the CNNs: 2),
#        REPEATS (2), TORCH (1; 0 skips PyTorch), PEER_CONFIGS ("1 1-blas2 2")
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
sn="$build/scratchnet"
[ -x "$sn" ] || {
    echo "cli.sh: $sn not found" >&2
    exit 1
}
models=${MODELS:-fashion-mlp sgd-mlp fashion-cnn}
repeats=${REPEATS:-2}
unset OMP_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT OPENBLAS_NUM_THREADS
. bench/peer-env.sh
echo "== peer OpenBLAS kernel: ${OPENBLAS_CORETYPE:-as detected} (bench/peer-env.sh)"
scripts/fetch-data.sh fashion-mnist >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

spec_of() {
    case $1 in
    fashion-mlp) echo examples/fashion-mlp.net ;;
    sgd-mlp) echo bench/sgd-mlp.net ;;
    fashion-cnn) echo examples/fashion-cnn.net ;;
    fashion-cnn-bn) echo examples/fashion-cnn-bn.net ;;
    *)
        echo "cli.sh: unknown model $1" >&2
        exit 1
        ;;
    esac
}

# seconds CMD...: wall time of one run (its output goes to $tmp/log)
seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$tmp/log" 2>&1 || {
        echo "cli.sh: failed: $*" >&2
        tail -20 "$tmp/log" >&2
        kill $$ # the script, not just this command substitution
        exit 1
    }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

run_sn() { # MODEL EPOCHS CONFIG
    local out="$tmp/sn-$RANDOM$RANDOM"
    local th=()
    [ "$3" = default ] || th=(--threads "$3")
    seconds "$sn" train "$(spec_of "$1")" --data data/fashion-mnist --epochs "$2" --quiet \
        --out "$out" "${th[@]}"
    rm -rf "$out"
}

run_torch() { # MODEL EPOCHS CONFIG
    peer_run "$3" seconds /usr/bin/python3 bench/cli_torch.py "$1" data/fashion-mnist "$2" \
        '{threads}' "$tmp/torch.pt"
}

# per_epoch RUNNER MODEL CONFIG EXTRA: seconds per epoch
per_epoch() {
    local short=() long=() r
    for ((r = 0; r < repeats; r++)); do
        short+=("$("$1" "$2" 2 "$3")")
        long+=("$("$1" "$2" $((2 + $4)) "$3")")
    done
    local s l
    s=$(printf '%s\n' "${short[@]}" | sort -g | head -1)
    l=$(printf '%s\n' "${long[@]}" | sort -g | head -1)
    awk -v l="$l" -v s="$s" -v n="$4" 'BEGIN { printf "%.4f\n", (l - s) / n }'
}

echo "cli.sh: $(nproc) CPUs; load at start: $(uptime | sed 's/.*load average: //')"
summary=()
for model in $models; do
    extra=${EXTRA:-3}
    case $model in fashion-cnn*) extra=${EXTRA:-2} ;; esac
    echo "== $model ($(spec_of "$model")), 2 vs $((2 + extra)) epochs, best of $repeats"
    sn_default=$(per_epoch run_sn "$model" default "$extra")
    sn_one=$(per_epoch run_sn "$model" 1 "$extra")
    printf '  scratchnet default threads: %.3f s/epoch   --threads 1: %.3f s/epoch\n' \
        "$sn_default" "$sn_one"
    line=$(printf '%-12s scratchnet %.3f s/epoch' "$model" "$sn_default")
    if [ "${TORCH:-1}" != 0 ]; then
        peer_best lower '%.3f s/epoch' per_epoch run_torch "$model" '{cfg}' "$extra"
        line+=$(printf ', pytorch best %.3f s/epoch (%s): %.2fx' "$peer_top" "$peer_top_cfg" \
            "$(awk -v b="$peer_top" -v s="$sn_default" 'BEGIN { print b / s }')")
    fi
    echo "  $line"
    summary+=("$line")
done
echo "load at end: $(uptime | sed 's/.*load average: //')"
peer_legend
printf '%s\n' "${summary[@]}"
