#!/usr/bin/env bash
# Runs the benchmarks and prints ratios against the peers measured in the
# same run: bench_gemm against OpenBLAS, bench_mlp against PyTorch.
# usage: bench/run.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export OMP_WAIT_POLICY=passive
. bench/peer-env.sh
echo "== peer OpenBLAS kernel: ${OPENBLAS_CORETYPE:-as detected} (bench/peer-env.sh)"
scripts/fetch-data.sh fashion-mnist >/dev/null

if [ -x "$build/bench_gemm" ]; then
    echo "== GEMM: scratchnet vs OpenBLAS cblas_sgemm"
    "$build/bench_gemm"
fi

echo "== MLP 784-256-128-10, batch 128, one epoch of Fashion-MNIST (best of 2);"
echo "   adam_bn_dropout: Adam with batch norm and dropout 0.2 after each hidden layer"
ours=$("$build/bench_mlp" data/fashion-mnist 2)
echo "$ours"
theirs=$(/usr/bin/python3 bench/mlp_torch.py data/fashion-mnist 2)
echo "$theirs"
for opt in adam sgd adam_bn_dropout; do
    best_ours=$(echo "$ours" | awk -v o=$opt '$2==o {split($4,a,"="); print a[2]}' | sort -g | head -1)
    best_torch=$(echo "$theirs" | awk -v o=$opt '$2==o {split($4,a,"="); print a[2]}' | sort -g | head -1)
    ours2=$(echo "$ours" | awk -v o=$opt '$2==o && $3=="threads=2" {split($4,a,"="); print a[2]}')
    awk -v o="$opt" -v a="$ours2" -v b="$best_torch" -v c="$best_ours" 'BEGIN {
        printf "%s: scratchnet 2 threads %.3f s/epoch, PyTorch best %.3f s/epoch: %.2fx faster (scratchnet best %.3f)\n",
            o, a, b, b / a, c }'
done

# Accuracy parity (long: 3 seeds x 15 epochs in each framework). PARITY_SEEDS
# and PARITY_EPOCHS shorten it; PARITY_SEEDS=none skips it.
if [ "${PARITY_SEEDS:-1,2,3}" != none ]; then
    parity="$build/bench_parity_fashion"
    [ -x "$parity" ] || parity="$build/bench/bench_parity_fashion"
    echo "== Accuracy parity: [400, 240, 120] ReLU MLP, Adam lr 1e-3, batch 512, vs PyTorch"
    "$parity" data/fashion-mnist --epochs "${PARITY_EPOCHS:-15}" --seeds "${PARITY_SEEDS:-1,2,3}"
fi

# CNN training throughput: the Fashion-MNIST CNN of examples/fashion-cnn.net,
# Adam, batch 128, CNN_BATCHES timed batches (default 100), best of 2, on 1
# and 2 threads in each framework.
cnn="$build/bench_cnn"
[ -x "$cnn" ] || cnn="$build/bench/bench_cnn"
echo "== CNN conv3x3x32-pool-conv3x3x64-pool-128-10, Adam, batch 128 (best of 2)"
ours=$("$cnn" data/fashion-mnist "${CNN_BATCHES:-100}" 2)
echo "$ours"
theirs=$(/usr/bin/python3 bench/cnn_torch.py data/fashion-mnist "${CNN_BATCHES:-100}" 2)
echo "$theirs"
ips() { echo "$1" | awk -v t="$2" '$2 ~ t {split($3,a,"="); print a[2]}' | sort -g | tail -1; }
awk -v a="$(ips "$ours" threads=2)" -v b="$(ips "$theirs" threads)" -v c="$(ips "$ours" threads)" \
    'BEGIN { printf "CNN: scratchnet 2 threads %.0f images/s, PyTorch best %.0f images/s: %.2fx faster (scratchnet best %.0f)\n", a, b, a / b, c }'

# Char-level LSTM and vanilla RNN (hidden 256, sequence 64, batch 32, Adam 2e-3,
# clip ±5, one-hot Moby Dick characters): tokens/s here and with PyTorch's
# nn.LSTM / nn.RNN, each on 1 and 2 threads; the ratio is against PyTorch's best.
# LSTM_STEPS sets the number of timed batches (default 30).
scripts/fetch-data.sh moby-dick >/dev/null
lstm="$build/bench_lstm"
[ -x "$lstm" ] || lstm="$build/bench/bench_lstm"
echo "== Char-level LSTM and RNN, hidden 256, sequence 64, batch 32, Adam, clip 5 (tokens/s)"
ours=$("$lstm" data/moby-dick.txt "${LSTM_STEPS:-30}")
echo "$ours"
theirs=$(/usr/bin/python3 bench/lstm_torch.py data/moby-dick.txt "${LSTM_STEPS:-30}")
echo "$theirs"
best() { echo "$1" | awk -v k="$2" -v f="$3" '$2 == k {for (i = 3; i <= NF; i++) if (split($i, a, "=") == 2 && a[1] == f) print a[2]}' | sort -g | tail -1; }
for kind in lstm rnn; do
    awk -v k=$kind -v a="$(best "$ours" $kind tokens_per_s)" -v b="$(best "$theirs" $kind tokens_per_s)" \
        -v c="$(best "$ours" $kind tokens_per_cpu_s)" -v d="$(best "$theirs" $kind tokens_per_cpu_s)" \
        'BEGIN { printf "%s: scratchnet best %.0f tokens/s, PyTorch best %.0f tokens/s: %.2fx (per CPU second: %.0f vs %.0f, %.2fx)\n", k, a, b, a / b, c, d, c / d }'
done
