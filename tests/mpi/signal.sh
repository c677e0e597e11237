#!/usr/bin/env bash
# A signal that reaches one rank of a 2-rank training stops both ranks after
# the same step (docs/distributed.md, "Stopping"): rank 0 writes the
# checkpoint, every process exits with 128 + the signal's number, and the
# run resumed on 2 ranks ends with the model of an uninterrupted 2-rank run
# byte for byte. Three cases:
#   - SIGTERM to rank 1 of a char-LSTM run (8 streams, 336 batches per epoch);
#   - SIGINT to rank 0 of an MLP run (per-rank batch norm, dropout);
#   - SIGUSR1 to mpirun, which forwards it to every rank, of the MLP run.
# usage: signal.sh BUILD_DIR SOURCE_DIR   (MPIEXEC, MPIEXEC_FLAGS from ctest)
set -u
src=$(cd "$2" && pwd)
. "$src/tests/lib/mpi.sh"
fashion_subset fm 3000 500 || exit 1
moby_lstm 4 || exit 1
cat >mlp.net <<'EOF2'
input 1x28x28
flatten
dense 64
batchnorm
relu
dropout 0.2
dense 10
loss softmax_xent
[train]
optimizer sgd lr=0.05 momentum=0.9
batch 20
epochs 6
val_split 0.1
seed 3
EOF2
# each rank's exit status into status.RANK; the signals are scratchnet's
# (mpirun forwards them to the process group; when one rank exits non-zero
# it ends the others' with SIGTERM, which must not stop this record)
cat >rank.sh <<'EOF2'
#!/usr/bin/env bash
trap '' INT TERM USR1
"$@"
rc=$?
echo $rc >"status.$OMPI_COMM_WORLD_RANK"
exit $rc
EOF2
chmod +x rank.sh

# case NAME SPEC SIGNAL TARGET STATUS OPTIONS...: TARGET is 0 or 1 (that rank)
# or mpirun
case_() {
    local name=$1 spec=$2 sig=$3 target=$4 want=$5
    shift 5
    local opts=("$@")
    mkdir "$name" && cd "$name" || return
    timeout 300 "$mpiexec" "${flags[@]}" -np 2 "$sn" train "../$spec" "${opts[@]}" --out whole \
        >whole.out 2>&1
    check "$name: uninterrupted 2-rank run" test $? -eq 0
    # slowed down (rank 0 pauses 100 ms in each checkpoint write, every 20
    # steps), signalled once the first checkpoint exists: mid-training
    SN_CHECKPOINT_TEST_DELAY_MS=100 timeout 300 "$mpiexec" "${flags[@]}" \
        -x SN_CHECKPOINT_TEST_DELAY_MS -np 2 ../rank.sh "$sn" train "../$spec" "${opts[@]}" \
        --out stopped >stopped.out 2>&1 &
    local job=$! victim="" i
    for i in $(seq 1200); do
        [ -f stopped/checkpoint.safetensors ] && break
        sleep 0.05
    done
    if [ "$target" = mpirun ]; then
        victim=$(pgrep -P $job -x "$(basename "$mpiexec")") # the job is timeout's
    else
        victim=$(rank_pid "$target" "../$spec")
    fi
    check "$name: found the process to signal" test -n "$victim"
    [ -n "$victim" ] && kill "-$sig" "$victim"
    wait $job
    local rc=$?
    check "$name: mpirun's status is $want (got $rc)" test $rc -eq "$want"
    check "$name: rank 0 exits with $want ($(cat status.0 2>/dev/null))" \
        test "$(cat status.0 2>/dev/null)" = "$want"
    check "$name: rank 1 exits with $want ($(cat status.1 2>/dev/null))" \
        test "$(cat status.1 2>/dev/null)" = "$want"
    check "$name: rank 0 says where it stopped" grep -q "stopped at epoch .* checkpoint: " stopped.out
    "$sn" checkpoint stopped >where.out 2>&1
    check "$name: a checkpoint ($(cat where.out))" grep -q ": ok" where.out
    timeout 300 "$mpiexec" "${flags[@]}" -np 2 "$sn" train --resume stopped >resumed.out 2>&1
    check "$name: resumed on 2 ranks" test $? -eq 0
    check "$name: stopped, resumed run = uninterrupted run, byte for byte" \
        cmp stopped/model.safetensors whole/model.safetensors
    if [ $fail -ne 0 ]; then
        for f in *.out; do
            echo "== $name/$f"
            tail -5 "$f"
        done
    fi
    cd ..
}

case_ text lstm.net TERM 1 143 --text "$T/moby.txt" --threads 1 --quiet --checkpoint-steps 20
case_ mlp mlp.net INT 0 130 --data "$T/fm" --threads 1 --quiet --checkpoint-steps 20
case_ mlp-mpirun mlp.net USR1 mpirun 138 --data "$T/fm" --threads 1 --quiet --checkpoint-steps 20
finish
