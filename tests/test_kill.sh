#!/usr/bin/env bash
# Crash safety of checkpoints: a training killed with SIGKILL at random
# moments (some of them inside a checkpoint write, between the temporary
# file and the rename) and resumed each time ends with a model file byte for
# byte that of an uninterrupted run, and the same history but for the timing
# column; a SIGINT stops with status 130 after writing a checkpoint, and
# resuming from it also ends identically.
# Usage: bash test_kill.sh SCRATCHNET_BINARY SOURCE_DIR
set -u
SN=$(realpath "$1")
. "$(dirname "$0")/lib/harness.sh"
T=$tmp
cd "$T" || exit 1

spiral 2000 7 >spiral.csv
cat >spec.net <<'EOF'
input 2
dense 32
batchnorm
relu
dropout 0.1
dense 32
tanh
dense 2
loss softmax_xent
[train]
optimizer adam lr=3e-3
batch 16
epochs 30
schedule cosine
warmup steps=50
val_split 0.2
early_stop patience=20
EOF
OPTS=(--data spiral.csv --threads 1 --quiet)

"$SN" train spec.net "${OPTS[@]}" --out ref >/dev/null 2>ref.log || { cat ref.log; exit 1; }

# ---- SIGKILL at random moments, resuming after each ----
export SN_CHECKPOINT_TEST_DELAY_MS=25
CK=(--checkpoint-every 1 --checkpoint-steps 10)
RANDOM=12345
kills=0 in_write=0 round=0 seen=""
# the temporary files there are, with their modification times
tmp_files() { compgen -G 'run/checkpoint.safetensors.tmp*' | xargs -r stat -c '%n %y'; }
"$SN" train spec.net "${OPTS[@]}" "${CK[@]}" --out run >/dev/null 2>run.log &
pid=$!
while [ "$kills" -lt 12 ] && [ "$round" -lt 40 ]; do
    round=$((round + 1))
    # wait for a first checkpoint, so that there is something to resume
    for _ in $(seq 1000); do [ -e run/checkpoint.safetensors ] && break; sleep 0.01; done
    if [ $((round % 3)) -eq 0 ]; then
        # inside a write: as soon as a temporary file shows up
        for _ in $(seq 400); do
            compgen -G 'run/checkpoint.safetensors.tmp*' >/dev/null && break
            sleep 0.002
        done
    else
        sleep "0.$((RANDOM % 30 + 5))"
    fi
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    status=$?
    if [ "$status" -eq 0 ]; then break; fi # it finished first
    if [ "$status" -ne 137 ]; then cat run.log; fi
    check "killed training: status $status (expected 137)" test "$status" -eq 137
    kills=$((kills + 1))
    # a temporary file the killed process made or rewrote: it died inside a write
    now=$(tmp_files)
    [ -n "$now" ] && [ "$now" != "$seen" ] && in_write=$((in_write + 1))
    seen=$now
    check "checkpoint after kill $kills loads" "$SN" checkpoint run >/dev/null
    # The slowed-down checkpoints give the kills something to hit; there is
    # enough work (3000 steps, a checkpoint every 10) that even a fast machine
    # cannot finish within 12 rounds. The last resume runs at full speed.
    if [ "$kills" -lt 12 ]; then
        "$SN" train --resume run >/dev/null 2>>run.log &
    else
        env -u SN_CHECKPOINT_TEST_DELAY_MS "$SN" train --resume run >/dev/null 2>>run.log &
    fi
    pid=$!
done
if kill -0 "$pid" 2>/dev/null || [ "$status" -ne 0 ]; then
    wait "$pid"
    status=$?
fi
check "resumed training finishes (status $status)" test "$status" -eq 0
echo "SIGKILL: $kills kills, $in_write during a checkpoint write"
check "at least 10 kills" test "$kills" -ge 10
check "at least 2 kills during a checkpoint write" test "$in_write" -ge 2
check "model after kills is byte-identical" cmp ref/model.safetensors run/model.safetensors
check "history after kills" diff <(cut -d, -f1-9,11- ref/history.csv) \
    <(cut -d, -f1-9,11- run/history.csv)
check "no temporary files left" test -z "$(compgen -G 'run/*.tmp*')"

# ---- SIGINT: stop, checkpoint, status 130, resume ----
"$SN" train spec.net "${OPTS[@]}" "${CK[@]}" --out int >/dev/null 2>int.log &
pid=$!
for _ in $(seq 1000); do [ -e int/checkpoint.safetensors ] && break; sleep 0.01; done
sleep 0.1
kill -INT "$pid"
wait "$pid"
status=$?
check "SIGINT: status $status (expected 130)" test "$status" -eq 130
check "SIGINT: says where the checkpoint is" grep -q "checkpoint: int/checkpoint.safetensors" int.log
check "SIGINT: says how to resume" grep -q "scratchnet train --resume int" int.log
check "SIGINT: the checkpoint loads" "$SN" checkpoint int >/dev/null
check "SIGINT: no model written" test ! -e int/model.safetensors
unset SN_CHECKPOINT_TEST_DELAY_MS
check "SIGINT: resume" "$SN" train --resume int >/dev/null 2>>int.log
check "SIGINT: model byte-identical" cmp ref/model.safetensors int/model.safetensors
check "SIGINT: history" diff <(cut -d, -f1-9,11- ref/history.csv) \
    <(cut -d, -f1-9,11- int/history.csv)

# ---- errors: no checkpoint, another spec's checkpoint ----
mkdir -p empty
"$SN" train --resume empty >/dev/null 2>err.log
check "resume without checkpoint fails with 1" test $? -eq 1
check "names the missing file" grep -q "checkpoint.safetensors" err.log
sed 's/^dense 32$/dense 24/' spec.net >int/spec.net
"$SN" train --resume int >/dev/null 2>err.log
check "resume with other shapes fails with 1" test $? -eq 1
check "names the changed spec line" grep -q "line 2: 'dense 24' was 'dense 32'" err.log

if [ "$fail" -ne 0 ]; then
    echo "--- logs"
    tail -n 5 run.log int.log err.log
fi
finish
