#!/usr/bin/env bash
# Run-folder integrity: one training per folder at a time (the second is
# refused at once, naming the first's PID); SIGTERM and SIGHUP stop as Ctrl-C
# does (checkpoint, resume command, status 143 / 129); temporary files of dead
# writers are removed by the next run; a folder holding another run is
# refused unless --force, which removes the old run's files (no stale
# robustness.csv or checkpoint); a finished run's checkpoint has nothing to
# resume unless --epochs asks for more; a resume refuses an edited spec or
# changed data unless --resume-changed-inputs (then run.txt says so); a
# damaged checkpoint is refused naming the tensor; --out too long is refused;
# a --force run whose model write fails puts the previous run's files back;
# a model over --max-memory is refused before its folder is made; --threads
# 1000 is capped with a message; --text DIR says it is a directory; samples
# and generate write every byte of byte-level text, NULs included.
# Usage: bash test_runfolder.sh SCRATCHNET_BINARY SOURCE_DIR
set -u
SN=$(realpath "$1")
. "$(dirname "$0")/lib/harness.sh"
T=$tmp
cd "$T" || exit 1

spiral 600 3 >spiral.csv
cat >spec.net <<'EOF'
input 2
dense 16
relu
dense 2
loss softmax_xent
[train]
optimizer adam lr=3e-3
batch 16
epochs 3
EOF
OPTS=(--data spiral.csv --threads 1 --quiet)

# ---- one writer per folder; SIGTERM ----
export SN_CHECKPOINT_TEST_DELAY_MS=200 # slow checkpoints keep the first run going
"$SN" train spec.net "${OPTS[@]}" --epochs 1000 --checkpoint-steps 5 --out busy >/dev/null \
    2>busy.log &
pid=$!
for _ in $(seq 100); do [ -s busy/checkpoint.safetensors ] && break; sleep 0.1; done
start=$(date +%s)
"$SN" train spec.net "${OPTS[@]}" --out busy >/dev/null 2>second.log
rc=$?
check "second run into a busy folder fails with 1 (got $rc)" test $rc -eq 1
check "at once" test $(($(date +%s) - start)) -le 5
check "names the holder's PID $pid" grep -q "process $pid" second.log
"$SN" train spec.net "${OPTS[@]}" --out busy --force >/dev/null 2>forced.log
check "--force does not break a lock either" test $? -eq 1
kill -TERM $pid
wait $pid
rc=$?
unset SN_CHECKPOINT_TEST_DELAY_MS
check "SIGTERM exits with 143 (got $rc)" test $rc -eq 143
check "SIGTERM prints the resume command" grep -q "resume with: scratchnet train --resume busy" \
    busy.log
check "SIGTERM leaves a checkpoint that verifies" "$SN" checkpoint busy >/dev/null

# ---- SIGHUP ----
SN_CHECKPOINT_TEST_DELAY_MS=200 "$SN" train spec.net "${OPTS[@]}" --epochs 1000 \
    --checkpoint-steps 5 --out hup >/dev/null 2>hup.log &
pid=$!
for _ in $(seq 100); do [ -s hup/checkpoint.safetensors ] && break; sleep 0.1; done
kill -HUP $pid
wait $pid
rc=$?
check "SIGHUP exits with 129 (got $rc)" test $rc -eq 129
check "SIGHUP: checkpoint" "$SN" checkpoint hup >/dev/null

# ---- stale temporary files of dead writers go at the next run ----
sleep 30 &
alive=$!
dead=$(
    sh -c 'echo $$'
) # a PID that has exited
printf x >busy/model.safetensors.tmp.$dead
printf x >busy/history.csv.tmp
printf x >busy/report.html.tmp.$alive
"$SN" train --resume busy --epochs 1 --quiet >/dev/null 2>resume.log
check "resume after SIGTERM ends epoch 1" test $? -eq 0
check "dead writer's model.safetensors.tmp.PID removed" test ! -e busy/model.safetensors.tmp.$dead
check "history.csv.tmp removed" test ! -e busy/history.csv.tmp
check "a live writer's temporary file kept" test -e busy/report.html.tmp.$alive
kill $alive
wait $alive 2>/dev/null

# ---- another run's files: refused, or replaced with --force ----
"$SN" train spec.net "${OPTS[@]}" --checkpoint-every 1 --out done >/dev/null 2>&1
check "a run with checkpoints" test -e done/checkpoint.safetensors -a -e done/model.safetensors
printf 'std,accuracy\n0,0.99\n' >done/robustness.csv
cp done/model.safetensors old-model.safetensors
"$SN" train spec.net "${OPTS[@]}" --out done >/dev/null 2>again.log
rc=$?
check "a new run into a run folder fails with 1 (got $rc)" test $rc -eq 1
check "names the files and --force" grep -q "model.safetensors.*--force" again.log
check "the old run is untouched" cmp -s done/model.safetensors old-model.safetensors
check "its checkpoint too" test -e done/checkpoint.safetensors
"$SN" train spec.net "${OPTS[@]}" --seed 9 --out done --force >/dev/null 2>forced.log
check "--force replaces it" test $? -eq 0
check "no stale robustness.csv" test ! -e done/robustness.csv
check "no stale checkpoint" test ! -e done/checkpoint.safetensors
check "a new model" test -e done/model.safetensors -a "$(cmp -s done/model.safetensors \
    old-model.safetensors && echo same)" != same

# ---- a failed final write (a file size limit standing in for a full disk) ----
sed 's/^dense 16$/dense 300\nrelu\ndense 300/' spec.net >big.net
"$SN" train big.net "${OPTS[@]}" --epochs 1 --out full >/dev/null 2>&1
check "a run to replace" test -e full/model.safetensors
for f in model.safetensors run.txt history.csv spec.net; do cp full/$f prev.$f; done
(
    ulimit -f 200 # KiB: the 700 KiB model cannot be written, the rest can
    trap '' XFSZ
    exec "$SN" train big.net "${OPTS[@]}" --epochs 2 --seed 5 --force --out full
) >/dev/null 2>full.log
rc=$?
check "a failed model write fails with 1 (got $rc)" test $rc -eq 1
check "says which file" grep -q "model.safetensors" full.log
for f in model.safetensors run.txt history.csv spec.net; do
    check "the previous run's $f is back" cmp -s full/$f prev.$f
done
check "nothing moved aside is left" test ! -e full/.replaced
check "no temporary file is left" test -z "$(ls full | grep tmp)"
(
    ulimit -f 200
    trap '' XFSZ
    exec "$SN" train big.net "${OPTS[@]}" --epochs 1 --out full2
) >/dev/null 2>full2.log
check "into a new folder: fails with 1" test $? -eq 1
check "no model" test ! -e full2/model.safetensors
check "run.txt does not say finished" test -z "$(grep '^finished' full2/run.txt)"
"$SN" train big.net "${OPTS[@]}" --epochs 1 --out full2 >/dev/null 2>&1
check "a failed run's folder is reused without --force" test $? -eq 0

# ---- a finished run's checkpoint ----
"$SN" train spec.net "${OPTS[@]}" --checkpoint-every 1 --out fin >/dev/null 2>&1
"$SN" checkpoint fin >ck.out 2>&1
check "checkpoint says finished" grep -q "finished" ck.out
cp fin/model.safetensors fin-model.safetensors
"$SN" train --resume fin >/dev/null 2>fin.log
rc=$?
check "resuming a finished run fails with 1 (got $rc)" test $rc -eq 1
check "says there is nothing to resume" grep -q "nothing to resume.*--epochs" fin.log
check "model untouched" cmp -s fin/model.safetensors fin-model.safetensors
"$SN" train --resume fin --epochs 5 >/dev/null 2>fin5.log
check "--epochs 5 extends it" test $? -eq 0
check "history has 5 epochs" test "$(tail -n +2 fin/history.csv | wc -l)" -eq 5

# ---- a resume checks its inputs ----
SN_CHECKPOINT_TEST_DELAY_MS=200 "$SN" train spec.net "${OPTS[@]}" --epochs 1000 \
    --checkpoint-steps 5 --out chg >/dev/null 2>/dev/null &
pid=$!
for _ in $(seq 100); do [ -s chg/checkpoint.safetensors ] && break; sleep 0.1; done
kill -INT $pid
wait $pid
check "SIGINT exits with 130" test $? -eq 130
cp chg/spec.net spec.orig
sed -i 's/^relu$/tanh/' chg/spec.net
"$SN" train --resume chg --epochs 3 >/dev/null 2>spec.log
check "edited spec refused" test $? -eq 1
check "names the line" grep -q "line 3: 'tanh' was 'relu'" spec.log
cp spec.orig chg/spec.net
cp spiral.csv spiral.orig
sed -i '5s/^\(.\)/9/' spiral.csv # same size, one value changed
cmp -s spiral.csv spiral.orig && echo "FAIL: the data edit changed nothing"
check "same size" test "$(stat -c %s spiral.csv)" -eq "$(stat -c %s spiral.orig)"
"$SN" train --resume chg --epochs 3 >/dev/null 2>data.log
check "changed data refused" test $? -eq 1
check "says the data differs" grep -q "the data differs" data.log
"$SN" train --resume chg --epochs 3 --resume-changed-inputs >/dev/null 2>data2.log
check "--resume-changed-inputs resumes" test $? -eq 0
check "run.txt records it" grep -q "^resumed_on_changed_inputs data$" chg/run.txt
cp spiral.orig spiral.csv

# ---- a damaged checkpoint is named ----
cp fin/checkpoint.safetensors bad.safetensors
size=$(stat -c %s bad.safetensors)
printf '\x55' | dd of=bad.safetensors bs=1 seek=$((size - 3)) conv=notrunc 2>/dev/null
"$SN" checkpoint bad.safetensors >/dev/null 2>bad.log
check "damaged checkpoint refused" test $? -eq 1
check "names a tensor" grep -q "tensor \".*\" fails its checksum" bad.log

# ---- --out longer than the limit ----
long=$(printf 'd%.0s' $(seq 1100))
"$SN" train spec.net "${OPTS[@]}" --out "$long" >/dev/null 2>long.log
check "a too long --out is refused" test $? -eq 1
check "says so" grep -q "at most 1000" long.log
check "nothing created" test ! -e "${long:0:200}"

# ---- memory weighed before it is taken ----
"$SN" train spec.net "${OPTS[@]}" --max-memory 1K --out mem >/dev/null 2>mem.log
check "over --max-memory: fails with 1" test $? -eq 1
check "gives the figure and the limit" grep -q "needs .* more than the 1.0 KiB allowed" mem.log
check "before the run folder is made" test ! -e mem
printf 'input 1x871x11\nconv2d 2 36x92 pad=same stride=2x1\nrelu\nflatten\ndense 10\nloss softmax_xent\n[train]\nbatch 2\n' >tall.net
"$SN" summary tall.net >tall.txt
check "summary counts the im2col scratch" grep -Eq "scratch [0-9.]+ MiB" tall.txt
check "--max-memory 1.5M is a size" "$SN" train spec.net "${OPTS[@]}" --max-memory 1.5M --epochs 1 \
    --out mem2
"$SN" train spec.net "${OPTS[@]}" --max-memory lots --out mem3 >/dev/null 2>&1
check "--max-memory lots is a usage error" test $? -eq 2

# ---- small ones: --threads 1000, --text DIR ----
"$SN" train spec.net "${OPTS[@]}" --threads 1000 --epochs 1 --out thr 2>thr.log >/dev/null
check "--threads 1000 runs" test $? -eq 0
check "capped, and says so" grep -q "threads 1000: using [0-9]*, 4 per core" thr.log
check "run.txt records the capped count" test "$(sed -n 's/^threads //p' thr/run.txt)" -le \
    $((4 * $(getconf _NPROCESSORS_ONLN)))
mkdir -p adir
"$SN" train spec.net --text adir --out tdir >/dev/null 2>tdir.log
check "--text DIR fails with 1" test $? -eq 1
check "says it is a directory" grep -q "adir: is a directory" tdir.log

# ---- bytes, not C strings: a byte-level model of text with NUL bytes ----
for i in $(seq 200); do printf 'a\0\0b\0'; done >nul.txt
printf 'input 1\nembedding vocab 4\nrnn 8\ndense vocab\nloss softmax_xent\n[train]\noptimizer adam lr=1e-2\nbatch 4\nepochs 1\n[text]\nseq 8\n' >nul.net
"$SN" train nul.net --text nul.txt --level byte --val 0 --sample-length 40 --threads 1 \
    --quiet --out nul >/dev/null 2>nul.log
check "byte-level training on NULs" test $? -eq 0
# samples.txt: "---- epoch 1 ----\n", 40 sampled bytes (no prime), "\n\n"
check "samples.txt holds the whole sample ($(stat -c %s nul/samples.txt) bytes)" \
    test "$(stat -c %s nul/samples.txt)" -eq $((18 + 40 + 2))
check "with its NUL bytes" test "$(tr -d '\000' <nul/samples.txt | wc -c)" -lt 61
"$SN" generate nul/model.safetensors --length 30 --threads 1 >gen.out
check "generate writes every byte ($(wc -c <gen.out))" test "$(wc -c <gen.out)" -eq $((30 + 1))

if [ $fail -ne 0 ]; then
    for f in *.log; do echo "==> $f"; tail -5 "$f"; done
fi
finish
