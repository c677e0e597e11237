#!/usr/bin/env bash
# Data-parallel training from the command line, 2 ranks against 1 process
# (docs/distributed.md), on 1,000 Fashion-MNIST training images and 500 test
# images, and a 60 kB slice of Moby Dick, 3 epochs each:
#   - an MLP with synchronized batch norm and dropout (SGD with momentum),
#     a CNN (Adam) and a char-LSTM with dropout (Adam): the 2-rank weights
#     agree with the 1-process weights to 1e-5 relative to each tensor's
#     norm (compare_weights.py), test accuracy (validation loss) within 0.1
#     points (1e-4);
#   - two 2-rank runs are bitwise identical, and so are the shared-memory
#     all-reduce (the default on one machine) and MPI_Iallreduce's
#     (--allreduce mpi);
#   - a 2-rank run whose rank 1 is killed with SIGKILL mid-epoch ends with a
#     non-zero status (no hang); resumed on 2 ranks, it ends with the model
#     of an uninterrupted 2-rank run byte for byte; resumed on 1 process it
#     says the result is no longer bitwise reproducible;
#   - ranks given different data stop before training, naming the rank and
#     what differs, and write no history.
# usage: train.sh BUILD_DIR SOURCE_DIR   (MPIEXEC, MPIEXEC_FLAGS from ctest)
set -u
src=$(cd "$2" && pwd)
. "$src/tests/lib/mpi.sh"
cmpw="$src/tests/mpi/compare_weights.py"
fashion_subset fm 1000 500 || exit 1

cat >mlp.net <<'EOF2'
input 1x28x28
flatten
dense 64
batchnorm sync=1
relu
dropout 0.2
dense 10
loss softmax_xent
[train]
optimizer sgd lr=0.05 momentum=0.9
batch 50
epochs 3
val_split 0.1
seed 3
EOF2
cat >cnn.net <<'EOF2'
input 1x28x28
conv2d 8 3
relu
maxpool 2
flatten
dense 10
loss softmax_xent
[train]
optimizer adam lr=1e-3
batch 40
epochs 3
seed 5
EOF2
moby_lstm 3 || exit 1

acc() { sed -n 's/^test accuracy: \([0-9.]*\) %$/\1/p' "$1"; }
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; exit !(a != "" && (d < 0 ? -d : d) <= t) }'; }

for model in mlp cnn; do
    "$sn" train $model.net --data fm --threads 1 --quiet --out one-$model >one-$model.out 2>&1
    check "$model: 1 process" test $? -eq 0
    mpi -np 2 "$sn" train $model.net --data fm --threads 1 --quiet --out two-$model >two-$model.out 2>&1
    check "$model: 2 ranks" test $? -eq 0
    check "$model: 2-rank weights within 1e-5 of 1 process" \
        "$py" "$cmpw" two-$model/model.safetensors one-$model/model.safetensors 1e-5
    check "$model: test accuracy within 0.1 points ($(acc one-$model.out) vs $(acc two-$model.out))" \
        close "$(acc one-$model.out)" "$(acc two-$model.out)" 0.1
done
"$sn" train lstm.net --text moby.txt --threads 1 --quiet --out one-lstm >one-lstm.out 2>&1
check "lstm: 1 process" test $? -eq 0
mpi -np 2 "$sn" train lstm.net --text moby.txt --threads 1 --quiet --out two-lstm >two-lstm.out 2>&1
check "lstm: 2 ranks" test $? -eq 0
check "lstm: 2-rank weights within 1e-5 of 1 process" \
    "$py" "$cmpw" two-lstm/model.safetensors one-lstm/model.safetensors 1e-5
vl() { sed -n 's/^validation loss \([0-9.]*\) nats.*/\1/p' "$1"; }
check "lstm: validation loss within 1e-4" close "$(vl one-lstm.out)" "$(vl two-lstm.out)" 1e-4

mpi -np 2 "$sn" train mlp.net --data fm --threads 1 --quiet --out two-mlp-again >/dev/null 2>&1
check "two 2-rank runs are bitwise identical" \
    cmp two-mlp/model.safetensors two-mlp-again/model.safetensors
mpi -np 2 "$sn" train mlp.net --data fm --threads 1 --quiet --allreduce mpi --out two-mlp-mpi \
    >/dev/null 2>&1
check "2 ranks: --allreduce mpi = the default (shm), bitwise" \
    cmp two-mlp/model.safetensors two-mlp-mpi/model.safetensors

# Kill rank 1 mid-epoch, resume, compare with an uninterrupted 2-rank run.
# Per-rank batch norm (its running statistics come from rank 0 after each step).
sed -e 's/batchnorm sync=1/batchnorm/' -e 's/epochs 3/epochs 4/' mlp.net >kill.net
opts=(--data fm --threads 1 --quiet --checkpoint-steps 7)
mpi -np 2 "$sn" train kill.net "${opts[@]}" --out whole >/dev/null 2>&1
check "uninterrupted 2-rank run" test $? -eq 0
SN_CHECKPOINT_TEST_DELAY_MS=150 timeout 120 "$mpiexec" "${flags[@]}" -x SN_CHECKPOINT_TEST_DELAY_MS \
    -np 2 "$sn" train kill.net "${opts[@]}" --out killed >killed.out 2>&1 &
job=$!
victim=$(rank1_at_checkpoint killed kill.net) # mid-epoch: steps 7, 14, ...
check "found rank 1 of the run to kill" test -n "$victim"
[ -n "$victim" ] && kill -9 "$victim"
wait $job
rc=$?
check "the killed run ends with a non-zero status, no hang (status $rc)" \
    test $rc -ne 0 -a $rc -ne 124
mpi -np 2 "$sn" train --resume killed >resumed.out 2>&1
check "resumed on 2 ranks" test $? -eq 0
check "killed, resumed run = uninterrupted run, byte for byte" \
    cmp killed/model.safetensors whole/model.safetensors
"$sn" train --resume whole --epochs 5 >other-p.out 2>&1
check "resume on 1 process of a 2-rank checkpoint" test $? -eq 0
check "a resume on another number of ranks warns" grep -q "no longer bitwise" other-p.out

# Ranks that disagree stop before training.
cp -r fm fm2
printf '\x07' | dd of=fm2/train-images-idx3-ubyte bs=1 seek=5000 conv=notrunc 2>/dev/null
mpi -np 1 "$sn" train mlp.net --data fm --quiet --out bad : -np 1 "$sn" train mlp.net --data fm2 \
    --quiet --out bad >bad.out 2>&1
check "ranks with different data: non-zero status" test $? -ne 0
check "the message names the rank and the difference" \
    grep -q "rank 1 differs from rank 0:.* training data (899 samples of 1x28x28, checksum" bad.out
check "nothing trained" test ! -e bad/history.csv
[ $fail -eq 0 ] || { for f in *.out; do echo "== $f"; tail -5 "$f"; done; }
finish
