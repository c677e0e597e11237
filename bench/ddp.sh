#!/usr/bin/env bash
# Data-parallel training benchmark (docs/distributed.md): the transport's
# all-reduce latency and bandwidth, then images per second of the
# Fashion-MNIST MLP and CNN for 1 rank x 2 threads and 2 ranks x 1 thread
# (and 1 rank x 1 thread, the compute time of the cost model; and 2 ranks
# without the all-reduce, what 2 ranks compute when communication is free), in
# scratchnet over MPI (bench_ddp, built with -DSN_MPI=ON) and in PyTorch DDP
# (gloo), measured in the same run, with the ratios the targets are about.
# usage: bench/ddp.sh [BUILD_DIR] [BATCHES]   (default build-mpi, 100)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-mpi}
batches=${2:-100}
bench="$build/bench/bench_ddp"
[ -x "$bench" ] || bench="$build/bench_ddp"
[ -x "$bench" ] || { echo "ddp.sh: no bench_ddp in $build (make mpi builds it)" >&2; exit 1; }
export OMP_WAIT_POLICY=passive
. bench/peer-env.sh
echo "== peer OpenBLAS kernel: ${OPENBLAS_CORETYPE:-as detected} (bench/peer-env.sh)"
# --bind-to none: for 2 processes or fewer Open MPI binds each to one core,
# which would put the 2 threads of the 1 rank x 2 threads run on one core.
mpi=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
scripts/fetch-data.sh fashion-mnist >/dev/null
echo "== load: $(uptime)"
echo "== all-reduce of floats over the transport, 2 ranks"
"${mpi[@]}" -np 2 "$bench" allreduce
for model in mlp cnn; do
    echo "== $model, global batch 128"
    one=$(OMP_NUM_THREADS=1 "${mpi[@]}" -np 1 -x OMP_NUM_THREADS -x OMP_WAIT_POLICY "$bench" train $model data/fashion-mnist "$batches")
    a=$(OMP_NUM_THREADS=2 "${mpi[@]}" -np 1 -x OMP_NUM_THREADS -x OMP_WAIT_POLICY "$bench" train $model data/fashion-mnist "$batches")
    b=$(OMP_NUM_THREADS=1 "${mpi[@]}" -np 2 -x OMP_NUM_THREADS -x OMP_WAIT_POLICY "$bench" train $model data/fashion-mnist "$batches")
    c=$(OMP_NUM_THREADS=1 "${mpi[@]}" -np 2 -x OMP_NUM_THREADS -x OMP_WAIT_POLICY "$bench" train $model data/fashion-mnist "$batches" --no-overlap)
    d=$(OMP_NUM_THREADS=1 "${mpi[@]}" -np 2 -x OMP_NUM_THREADS -x OMP_WAIT_POLICY "$bench" train $model data/fashion-mnist "$batches" --compute-only)
    p1=$(/usr/bin/python3 bench/ddp_torch.py $model data/fashion-mnist 1 2 "$batches")
    p2=$(/usr/bin/python3 bench/ddp_torch.py $model data/fashion-mnist 2 1 "$batches")
    printf '%s\n' "$one" "$a" "$b" "$c" "$d" "$p1" "$p2"
    ips() { echo "$1" | sed -n 's/.*images_per_s=\([0-9]*\).*/\1/p'; }
    awk -v m=$model -v a="$(ips "$a")" -v b="$(ips "$b")" -v d="$(ips "$d")" -v p="$(ips "$p2")" 'BEGIN {
        printf "%s: 2 ranks x 1 thread / 1 rank x 2 threads = %.2f (target >= 0.85); without the all-reduce (compute only) %.2f; scratchnet / PyTorch DDP at 2 ranks x 1 thread = %.2f (target >= 1.5)\n", m, b / a, d / a, b / p }'
done
echo "== load: $(uptime)"
