#!/usr/bin/env bash
# Runs short trainings under valgrind memcheck: an MLP on a small CSV (2
# epochs, with evaluation, checkpoints and the report) and a character-level
# LSTM on a few hundred bytes of text (a few batches, then sampling), and
# fails when valgrind reports an error or a definite or indirect leak.
#
# The build is Debug, not sanitized and not -march=native (valgrind does not
# decode AVX-512), in $MEMCHECK_BUILD (default build-memcheck). Runs use one
# OpenMP thread (OMP_NUM_THREADS=1, --threads 1): libgomp's pool threads keep
# their stacks and team structures until exit, which valgrind would report
# as "possibly lost"; with one thread the pool is never started, so no
# suppression file is needed. Valgrind logs go to $MEMCHECK_BUILD/memcheck/.
#   scripts/memcheck.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MEMCHECK_BUILD:-build-memcheck}
command -v valgrind >/dev/null || {
    echo "memcheck: valgrind not found (scripts/install-deps.sh --memcheck)" >&2
    exit 1
}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSN_NATIVE=OFF -DSN_SANITIZE=OFF \
    -DSN_BENCH=OFF >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target scratchnet >/dev/null
cli="$(pwd)/$build/scratchnet"
work="$build/memcheck"
rm -rf "$work"
mkdir -p "$work"

# 96 rows, 4 features, 3 classes; a deterministic pattern, no random source.
awk 'BEGIN { print "a,b,c,d,label";
             for (i = 0; i < 96; i++) { k = i % 3;
               printf "%.3f,%.3f,%.3f,%.3f,%d\n", k + (i % 7) / 10, (i % 5) / 4 - k,
                      (i * 37 % 11) / 11, k * k / 4, k } }' >"$work/train.csv"
cat >"$work/mlp.net" <<'SPEC'
input     4
dense     16  init=he
batchnorm
relu
dropout   0.1
dense     3
loss      softmax_xent
[train]
optimizer adam lr=1e-2
schedule  cosine
batch     16
epochs    2
SPEC
cat >"$work/text.net" <<'SPEC'
input     1
embedding vocab 8
lstm      16
dense     vocab
loss      softmax_xent
[text]
level     char
seq       8
val       0.1
[train]
optimizer adam lr=1e-2
batch     4
epochs    1
clip      norm=5
SPEC
for i in 1 2 3 4 5 6; do
    echo "Call me Ishmael. Some years ago, never mind how long precisely, having little money."
done >"$work/corpus.txt"

export OMP_NUM_THREADS=1
status=0
run() { # name, then the command
    local name=$1
    shift
    local log="$work/$name.valgrind.log"
    if valgrind --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --log-file="$log" \
        "$@" >"$work/$name.out" 2>&1; then
        result=ok
    else
        result="FAILED (rc $?; see $log)"
        status=1
    fi
    local summary
    summary=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: //p' "$log")
    printf '%-10s %-12s %s\n' "$name" "$result" "$summary"
    grep -E 'definitely lost|indirectly lost|possibly lost|total heap usage' "$log" |
        sed 's/^==[0-9]*== */    /' || true
}
run mlp "$cli" train "$work/mlp.net" --data "$work/train.csv" --test "$work/train.csv" \
    --out "$work/mlp-run" --val-split 0.25 --standardize --checkpoint-every 1 --threads 1 --quiet
run text "$cli" train "$work/text.net" --text "$work/corpus.txt" --out "$work/text-run" \
    --threads 1 --quiet
run generate "$cli" generate "$work/text-run/model.safetensors" --prime "Call " --sample-length 40 \
    --seed 1
exit $status
