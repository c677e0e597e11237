#!/usr/bin/env bash
# Runs the benchmarks and prints ratios against the peers measured in the
# same run: bench_gemm against OpenBLAS, bench_mlp against PyTorch.
# usage: bench/run.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export OMP_WAIT_POLICY=passive
scripts/fetch-data.sh fashion-mnist >/dev/null

if [ -x "$build/bench_gemm" ]; then
    echo "== GEMM: scratchnet vs OpenBLAS cblas_sgemm"
    "$build/bench_gemm"
fi

echo "== MLP 784-256-128-10, batch 128, one epoch of Fashion-MNIST (best of 2)"
ours=$("$build/bench_mlp" data/fashion-mnist 2)
echo "$ours"
theirs=$(/usr/bin/python3 bench/mlp_torch.py data/fashion-mnist 2)
echo "$theirs"
for opt in adam sgd; do
    best_ours=$(echo "$ours" | awk -v o=$opt '$2==o {split($4,a,"="); print a[2]}' | sort -g | head -1)
    best_torch=$(echo "$theirs" | awk -v o=$opt '$2==o {split($4,a,"="); print a[2]}' | sort -g | head -1)
    ours2=$(echo "$ours" | awk -v o=$opt '$2==o && $3=="threads=2" {split($4,a,"="); print a[2]}')
    awk -v o="$opt" -v a="$ours2" -v b="$best_torch" -v c="$best_ours" 'BEGIN {
        printf "%s: scratchnet 2 threads %.3f s/epoch, PyTorch best %.3f s/epoch: %.2fx faster (scratchnet best %.3f)\n",
            o, a, b, b / a, c }'
done
