#!/usr/bin/env bash
# The training guard on the command line: a CSV whose huge values overflow
# the forward pass, and an exploding learning rate, stop `scratchnet train`
# with exit status 1 and one line naming epoch, batch and step; with
# --skip-nonfinite (or `skip_nonfinite yes` in [train]) training completes
# and history.csv's `skipped` column counts the bad batches. Text training
# the same.
# usage: test_guard_cli.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
. "$(dirname "$0")/lib/harness.sh"

# check CODE REGEX -- command...: exit status; stderr is exactly one line
# matching REGEX (extended).
check() {
    local code=$1 regex=$2
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$got" -ne "$code" ]; then
        bad "$* exited $got, expected $code; stderr: $(head -c 400 "$tmp/err")"
    elif [ "$lines" -ne 1 ] || ! grep -Eq -- "$regex" "$tmp/err"; then
        bad "$*: stderr is not one line matching '$regex': $(head -c 400 "$tmp/err")"
    else
        ok
    fi
}

# column NAME FILE: the values of a CSV column, space-separated.
column() {
    awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
        { printf "%s ", $c }' "$2"
}

# 20 rows y = x1 + x2; rows 5, 11 and 17 have x1 = 1e30 (a valid float32:
# the prediction w·x and its gradient overflow float).
{
    echo "x1,x2,y"
    for i in $(seq 1 20); do
        case $i in
        5 | 11 | 17) echo "1e30,0.$i,1" ;;
        *) echo "0.$((i * 3 % 10)),0.$((i * 7 % 10)),0.$(((i * 3 + i * 7) % 10))" ;;
        esac
    done
} >"$tmp/bad.csv"
printf 'input 2\ndense 1\nloss mse\n[train]\noptimizer sgd lr=0.05\nepochs 3\n' >"$tmp/lin.net"

# Every batch (batch 20: one per epoch) holds a bad row: the first step stops.
check 1 "^scratchnet train: epoch 1, batch 1 \(step 1\): non-finite (loss|gradient)" -- \
    "$sn" train "$tmp/lin.net" --data "$tmp/bad.csv" --target-cols 2 --batch 20 \
    --out "$tmp/r1" --quiet
[ ! -f "$tmp/r1/model.safetensors" ] && ok || bad "a stopped training wrote a model"

# Batches of one row: three bad batches per epoch, whatever the shuffle.
expect_skip() {
    local run=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    [ "$got" -eq 0 ] && ok || bad "$*: exit $got: $(head -c 400 "$tmp/err")"
    [ "$(column skipped "$tmp/$run/history.csv")" = "3 3 3 " ] && ok ||
        bad "$run: skipped column: $(column skipped "$tmp/$run/history.csv")"
    # 17 applied steps per epoch
    [ "$(column step "$tmp/$run/history.csv")" = "17 34 51 " ] && ok ||
        bad "$run: step column: $(column step "$tmp/$run/history.csv")"
    [ "$(grep -c 'skipped 3' "$tmp/err")" -eq 3 ] && ok || bad "$run: epoch lines: $(cat "$tmp/err")"
    [ -f "$tmp/$run/model.safetensors" ] && ok || bad "$run: no model"
}
expect_skip r2 "$sn" train "$tmp/lin.net" --data "$tmp/bad.csv" --target-cols 2 --batch 1 \
    --out "$tmp/r2" --skip-nonfinite
sed 's/^epochs 3$/epochs 3\nskip_nonfinite yes/' "$tmp/lin.net" >"$tmp/lin-skip.net"
expect_skip r3 "$sn" train "$tmp/lin-skip.net" --data "$tmp/bad.csv" --target-cols 2 --batch 1 \
    --out "$tmp/r3"
# Without bad rows nothing is skipped and the epoch line does not mention it.
grep -v '^1e30' "$tmp/bad.csv" >"$tmp/good.csv"
"$sn" train "$tmp/lin.net" --data "$tmp/good.csv" --target-cols 2 --batch 1 --out "$tmp/r4" \
    --skip-nonfinite >"$tmp/out" 2>"$tmp/err" && ok || bad "good data: $(cat "$tmp/err")"
[ "$(column skipped "$tmp/r4/history.csv")" = "0 0 0 " ] && ok || bad "good data skipped some"
grep -q "skipped" "$tmp/err" && bad "good data: epoch lines mention skipped" || ok

# An exploding learning rate, one batch per epoch: step 1 is finite, step 2
# (epoch 2) explodes; the history keeps epoch 1.
check 1 "^scratchnet train: epoch 2, batch 1 \(step 2\): " -- \
    "$sn" train "$tmp/lin.net" --data "$tmp/good.csv" --target-cols 2 --batch 17 --lr 1e6 \
    --out "$tmp/r5" --quiet
[ "$(column epoch "$tmp/r5/history.csv")" = "1 " ] && ok || bad "r5 history: $(cat "$tmp/r5/history.csv")"

# Text: lr 1e30 makes step 2 overflow. Stopping names it; skipping skips the
# rest of epoch 1 (9 of 10 batches), then stops in epoch 2 where nothing is
# left to learn.
for i in $(seq 1 10); do printf 'abcab cabba cbacb abcca bacab cbaab cab\n'; done | head -c 401 \
    >"$tmp/corpus.txt"
printf 'input 1\nembedding vocab 4\nrnn 8\ndense vocab\nloss softmax_xent\n[train]\n' >"$tmp/t.net"
printf 'optimizer sgd lr=1e30\nbatch 4\nepochs 3\n[text]\nseq 10\nval 0\nsample_every 0\n' \
    >>"$tmp/t.net"
check 1 "^scratchnet train: epoch 1, batch 2 \(step 2\): " -- \
    "$sn" train "$tmp/t.net" --text "$tmp/corpus.txt" --out "$tmp/t1" --quiet
check 1 "^scratchnet train: epoch 2: all 10 batches were skipped, nothing is learning" -- \
    "$sn" train "$tmp/t.net" --text "$tmp/corpus.txt" --out "$tmp/t2" --quiet --skip-nonfinite
[ "$(column skipped "$tmp/t2/history.csv")" = "9 " ] && ok ||
    bad "text history: $(cat "$tmp/t2/history.csv")"

finish
