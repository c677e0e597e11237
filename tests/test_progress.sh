#!/usr/bin/env bash
# Progress output: on a terminal (SN_PROGRESS_TTY=1 stands for one) a bar with
# the run's elapsed time and the ETA of the whole run, for table and text
# training alike (text: tokens/s and the time budget), marked while the
# evaluation passes run; the text bar is cleared before a sample is printed.
# Not on a terminal: one plain line per epoch and nothing in between.
# usage: test_progress.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
src=$2
. "$(dirname "$0")/lib/harness.sh"
xor="$src/examples/xor"
esc=$(printf '\033')

SN_PROGRESS_TTY=1 "$sn" train "$xor/xor.net" --data "$xor/xor.csv" --epochs 4 -o "$tmp/a" \
    >/dev/null 2>"$tmp/err"
grep -q "epoch 1/4 \[.*\] 1/1 .*samples/s [0-9]*:[0-9][0-9] elapsed, ETA [0-9]*:[0-9][0-9]" "$tmp/err" &&
    ok || bad "table bar: $(head -c 600 "$tmp/err" | cat -v)"
grep -q "evaluating" "$tmp/err" && ok || bad "no mark of the evaluation pass"

"$sn" train "$xor/xor.net" --data "$xor/xor.csv" --epochs 4 -o "$tmp/b" >/dev/null 2>"$tmp/err"
[ "$(grep -c "^epoch [0-9]/4 " "$tmp/err")" -eq 4 ] && ok || bad "not one line per epoch: $(cat "$tmp/err")"
grep -q "$esc\|ETA" "$tmp/err" && bad "a bar in a log: $(cat -v "$tmp/err")" || ok

for i in $(seq 1 30); do echo "The white whale swam in the deep sea, and Ahab saw it."; done >"$tmp/c.txt"
printf 'input 1\nembedding vocab 8\nlstm 16\ndense vocab\nloss softmax_xent\n[text]\nseq 10\nsample_length 20\n[train]\noptimizer adam lr=0.01\nbatch 4\nepochs 2\n' \
    >"$tmp/t.net"
SN_PROGRESS_TTY=1 "$sn" train "$tmp/t.net" --text "$tmp/c.txt" --minutes 5 -o "$tmp/t" >"$tmp/all" 2>&1
grep -q "epoch 1/2 \[.*\] .*tokens/s .* elapsed, ETA .*(time budget)" "$tmp/all" && ok ||
    bad "text bar: $(head -c 800 "$tmp/all" | cat -v)"
# every sample header starts a line, or follows the bar's clearing
n=$(grep -c -- "---- sample after epoch" "$tmp/all")
m=$(grep -c -- "^---- sample after epoch\|$esc\[K---- sample after epoch" "$tmp/all")
[ "$n" -ge 1 ] && [ "$n" -eq "$m" ] && ok || bad "a sample printed on the bar's line: $(grep -- "---- sample" "$tmp/all" | cat -v)"
"$sn" train "$tmp/t.net" --text "$tmp/c.txt" -o "$tmp/t2" >/dev/null 2>"$tmp/err"
grep -q "$esc\|ETA" "$tmp/err" && bad "a text bar in a log: $(cat -v "$tmp/err")" || ok
[ "$(grep -c "^epoch [0-9]/2 " "$tmp/err")" -eq 2 ] && ok || bad "text: not one line per epoch: $(cat "$tmp/err")"
finish
