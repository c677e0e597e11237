#!/usr/bin/env bash
# Text training on 2 ranks resumes exactly from a mid-epoch checkpoint
# (docs/distributed.md): a char-LSTM on a 60 kB slice of Moby Dick (8
# streams, 4 per rank, 336 batches per epoch, a checkpoint every 50 steps):
#   - a 2-rank run whose rank 1 is killed with SIGKILL after a mid-epoch
#     checkpoint ends with a non-zero status; that checkpoint holds the
#     recurrent state of all 8 streams (not only rank 0's 4);
#   - resumed on 2 ranks, it ends with the model of an uninterrupted 2-rank
#     run byte for byte;
#   - resumed on 1 process, it ends within 1e-5 (relative to each tensor's
#     norm) of an uninterrupted 1-process run: every stream's state is where
#     a single process has it;
#   - a 2-rank run with a time budget (--minutes) stops on it with status 0
#     (the ranks agree on the batch).
# usage: text.sh BUILD_DIR SOURCE_DIR   (MPIEXEC, MPIEXEC_FLAGS from ctest)
set -u
src=$(cd "$2" && pwd)
. "$src/tests/lib/mpi.sh"
moby_lstm 2 || exit 1
opts=(--text moby.txt --threads 1 --quiet --checkpoint-steps 50)

mpi -np 2 "$sn" train lstm.net "${opts[@]}" --out whole >whole.out 2>&1
check "uninterrupted 2-rank run" test $? -eq 0
"$sn" train lstm.net "${opts[@]}" --out one >one.out 2>&1
check "uninterrupted 1-process run" test $? -eq 0

SN_CHECKPOINT_TEST_DELAY_MS=100 timeout 120 "$mpiexec" "${flags[@]}" -x SN_CHECKPOINT_TEST_DELAY_MS \
    -np 2 "$sn" train lstm.net "${opts[@]}" --out killed >killed.out 2>&1 &
job=$!
victim=$(rank1_at_checkpoint killed lstm.net) # steps 50, 100, ...: mid-epoch
check "found rank 1 of the run to kill" test -n "$victim"
[ -n "$victim" ] && kill -9 "$victim"
wait $job
rc=$?
check "the killed run ends with a non-zero status, no hang (status $rc)" \
    test $rc -ne 0 -a $rc -ne 124

"$sn" checkpoint killed >where.out 2>&1
midepoch() { # "epoch E, B of N batches done" with 0 < B < N
    sed -n 's/.* epoch [0-9]*, \([0-9]*\) of \([0-9]*\) batches done.*/\1 \2/p' where.out |
        awk '{ exit !($1 > 0 && $1 < $2) }'
}
check "the checkpoint is mid-epoch ($(cat where.out))" midepoch
"$py" - killed/checkpoint.safetensors >streams.out <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
print(" ".join(f"{k}={v['shape']}" for k, v in sorted(h.items()) if k.startswith("rnn.")))
PY
check "the checkpoint holds the state of all 8 streams ($(cat streams.out))" \
    grep -q "rnn.1.c=\[1, 8, 32\] rnn.1.h=\[1, 8, 32\]" streams.out
cp -r killed killed-one

mpi -np 2 "$sn" train --resume killed >resumed.out 2>&1
check "resumed on 2 ranks" test $? -eq 0
check "killed, resumed 2-rank run = uninterrupted 2-rank run, byte for byte" \
    cmp killed/model.safetensors whole/model.safetensors
"$sn" train --resume killed-one >resumed-one.out 2>&1
check "resumed on 1 process" test $? -eq 0
check "resumed on 1 process: within 1e-5 of an uninterrupted 1-process run" \
    "$py" "$src/tests/mpi/compare_weights.py" killed-one/model.safetensors one/model.safetensors 1e-5

# A time budget: every rank stops after the same batch. Each rank reads its
# own clock, and here rank 0 reads it 100 ms later than rank 1 after every
# batch (it writes a checkpoint after each, slowed down): left to their
# clocks, the ranks would stop after different batches and mismatch their
# collectives.
SN_CHECKPOINT_TEST_DELAY_MS=100 timeout 120 "$mpiexec" "${flags[@]}" -x SN_CHECKPOINT_TEST_DELAY_MS \
    -np 2 "$sn" train lstm.net --text moby.txt --threads 1 --epochs 100 --minutes 0.02 \
    --checkpoint-steps 1 --out budget >budget.out 2>&1
rc=$?
check "a 2-rank run with a time budget ends with status 0 (status $rc)" test $rc -eq 0
check "it stopped on the budget" grep -q "time budget reached" budget/history.csv budget.out
[ $fail -eq 0 ] || { for f in *.out; do echo "== $f"; tail -5 "$f"; done; }
finish
