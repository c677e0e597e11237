#!/usr/bin/env bash
# The guard and checkpoints on the command line: a training the guard stops
# (a row of 1e30 overflows the gradient), resumed from its last checkpoint
# with --skip-nonfinite, ends with byte for byte the model and, timing aside,
# the history of a training that skipped from the start; a resume with
# another max_grad_norm is refused naming it; run.txt records the guard's
# settings (table and text training).
# usage: test_guard_resume.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
. "$(dirname "$0")/lib/harness.sh"

# 40 rows y = x1 + x2; rows 13 and 29 have x1 = 1e30.
{
    echo "x1,x2,y"
    for i in $(seq 1 40); do
        case $i in
        13 | 29) echo "1e30,0.$i,1" ;;
        *) echo "0.$((i * 3 % 10)),0.$((i * 7 % 10)),0.$(((i * 3 + i * 7) % 10))" ;;
        esac
    done
} >"$tmp/bad.csv"
printf 'input 2\ndense 1\nloss mse\n[train]\noptimizer sgd lr=0.05 momentum=0.9\nepochs 3\n' \
    >"$tmp/lin.net"
train=("$sn" train "$tmp/lin.net" --data "$tmp/bad.csv" --target-cols 2 --batch 1 --quiet)

expect 0 "" -- "${train[@]}" --out "$tmp/skip" --skip-nonfinite
expect 1 "non-finite gradient in layer 0" -- "${train[@]}" --out "$tmp/stop" --checkpoint-steps 1
expect 0 "" -- "$sn" checkpoint "$tmp/stop"
expect 0 "" -- "$sn" train --resume "$tmp/stop" --skip-nonfinite --quiet
cmp -s "$tmp/skip/model.safetensors" "$tmp/stop/model.safetensors" && ok ||
    bad "stopped, then resumed with --skip-nonfinite: another model"
# history without the seconds column (10)
cut -d, -f1-9,11- "$tmp/skip/history.csv" >"$tmp/h1"
cut -d, -f1-9,11- "$tmp/stop/history.csv" >"$tmp/h2"
cmp -s "$tmp/h1" "$tmp/h2" && ok || bad "histories differ: $(diff "$tmp/h1" "$tmp/h2")"
# two bad rows an epoch, skipped
[ "$(awk -F, 'NR > 1 { printf "%s ", $NF }' "$tmp/h2")" = "2 2 2 " ] && ok ||
    bad "skipped column: $(cat "$tmp/h2")"
for k in "skip_nonfinite yes" "max_grad_norm 1e+06" "max_loss_ratio 10000"; do
    grep -qx "$k" "$tmp/stop/run.txt" && ok || bad "run.txt lacks '$k': $(cat "$tmp/stop/run.txt")"
done

# Another max_grad_norm on resume: refused, naming both values.
"${train[@]}" --out "$tmp/r2" --skip-nonfinite --checkpoint-every 1 --epochs 2 >/dev/null 2>&1
printf 'max_grad_norm 100\n' >>"$tmp/r2/spec.net"
expect 1 "max_grad_norm=1000000, this training has max_grad_norm=100" -- \
    "$sn" train --resume "$tmp/r2" --epochs 3 --quiet

# Text training writes run.txt with the guard's settings.
for i in $(seq 1 10); do printf 'abcab cabba cbacb abcca bacab cbaab cab\n'; done >"$tmp/corpus.txt"
printf 'input 1\nembedding vocab 4\nrnn 8\ndense vocab\nloss softmax_xent\n[train]\n' >"$tmp/t.net"
printf 'optimizer adam lr=1e-2\nbatch 4\nepochs 1\nmax_loss_ratio 50\n' >>"$tmp/t.net"
printf '[text]\nseq 10\nval 0\nsample_every 0\n' >>"$tmp/t.net"
expect 0 "" -- "$sn" train "$tmp/t.net" --text "$tmp/corpus.txt" --out "$tmp/t1" --quiet
for k in "skip_nonfinite no" "max_grad_norm 1e+06" "max_loss_ratio 50" "seq 10"; do
    grep -qx "$k" "$tmp/t1/run.txt" && ok || bad "text run.txt lacks '$k': $(cat "$tmp/t1/run.txt")"
done

finish
