#!/usr/bin/env bash
# Text models on the command line: `train SPEC --text FILE` (char and word
# level, the [text] section, `vocab` in the spec, the run folder) and
# `generate` (deterministic for a seed, temperature 0, unknown characters),
# with their exit codes and error messages.
# usage: test_text_cli.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
. "$(dirname "$0")/lib/harness.sh"

for i in $(seq 1 40); do
    echo "The white whale swam in the deep sea. Ahab saw the whale, and the crew cried: \"There she blows!\""
    echo
done >"$tmp/corpus.txt"
cat >"$tmp/char.net" <<'EOF'
input     1
embedding vocab 8
lstm      24
dense     vocab
loss      softmax_xent
[text]
level     char
seq       20
val       0.1
sample_length 30
prime     The
[train]
optimizer adam lr=0.01
batch     4
epochs    2
clip      value=5
EOF

# Usage errors: exit 2.
expect 2 "missing SPEC" -- "$sn" train --text "$tmp/corpus.txt"
expect 2 "unknown option '--colour'" -- "$sn" train "$tmp/char.net" --text x --colour red
expect 2 "not a number" -- "$sn" train "$tmp/char.net" --text x --val lots
expect 2 "missing MODEL" -- "$sn" generate
expect 2 "not an integer" -- "$sn" generate m --length 1.5
expect 0 "" -- "$sn" train --text x --help
grep -q -- "--sample-every" "$tmp/out" && ok || bad "train --text --help lacks --sample-every"
expect 0 "" -- "$sn" generate --help
grep -q -- "--top-k" "$tmp/out" && ok || bad "generate --help lacks --top-k"

# Runtime errors: exit 1 with a message that says what is wrong.
expect 1 "cannot open" -- "$sn" train "$tmp/char.net" --text "$tmp/missing.txt" --out "$tmp/r0"
: >"$tmp/empty.txt"
expect 1 "the text is empty" -- "$sn" train "$tmp/char.net" --text "$tmp/empty.txt" --out "$tmp/r0"
printf 'abab' >"$tmp/tiny.txt"
expect 1 "too few for 4 streams" -- "$sn" train "$tmp/char.net" --text "$tmp/tiny.txt" --out "$tmp/r0"
printf 'ok\xff\xfe' >"$tmp/binary.txt"
expect 1 "byte 2: invalid UTF-8" -- "$sn" train "$tmp/char.net" --text "$tmp/binary.txt" --out "$tmp/r0"
sed 's/^seq .*/seq many/' "$tmp/char.net" >"$tmp/bad.net"
expect 1 "bad.net:8: [text]: seq: expected a number" -- "$sn" train "$tmp/bad.net" --text "$tmp/corpus.txt" --out "$tmp/r0"
sed 's/^level .*/level letters/' "$tmp/char.net" >"$tmp/bad.net"
expect 1 "unknown text level 'letters'" -- "$sn" train "$tmp/bad.net" --text "$tmp/corpus.txt" --out "$tmp/r0"
sed 's/^lstm .*/lstm vocab2/' "$tmp/char.net" >"$tmp/bad.net"
expect 1 "bad.net:3: lstm: number of hidden units must be a positive integer, got 'vocab2'" -- "$sn" train "$tmp/bad.net" --text "$tmp/corpus.txt" --out "$tmp/r0"

# A char-level training run and its folder.
expect 0 "epoch 2/2" -- "$sn" train "$tmp/char.net" --text "$tmp/corpus.txt" --out "$tmp/run" --seed 3
grep -q "^validation loss [0-9.]* nats/token" "$tmp/out" && ok || bad "no validation loss line: $(cat "$tmp/out")"
grep -q "sample after epoch 2" "$tmp/out" && ok || bad "no sample printed"
for f in model.safetensors history.csv samples.txt summary.txt spec.net; do
    [ -s "$tmp/run/$f" ] && ok || bad "run folder lacks $f"
done
[ "$(wc -l <"$tmp/run/history.csv")" -eq 3 ] && ok || bad "history.csv: $(cat "$tmp/run/history.csv")"
head -1 "$tmp/run/history.csv" | grep -q "val_perplexity" && ok || bad "history header"
cmp -s "$tmp/char.net" "$tmp/run/spec.net" && ok || bad "spec.net is not the spec given"
grep -q "vocabulary" "$tmp/err" && ok || bad "no corpus summary"
# The loss went down from the first epoch to the second.
awk -F, 'NR==2 {a=$3} NR==3 {b=$3} END {exit !(b < a)}' "$tmp/run/history.csv" && ok || bad "training loss did not fall"
# report.html: the best validation loss of history.csv, its bits and
# perplexity (computed here from the CSV), and both epochs' samples, newest
# first.
report=$tmp/run/report.html
[ -s "$report" ] && ok || bad "run folder lacks report.html"
want=$(awk -F, 'NR > 1 && (best == "" || $5 < best) {best = $5}
    END {printf "%.4f nats|%.4f|%.2f", best, best / log(2), exp(best)}' "$tmp/run/history.csv")
IFS='|' read -r w_nats w_bits w_ppl <<<"$want"
for v in "$w_nats" "$w_bits" "$w_ppl"; do
    grep -q ">$v<" "$report" && ok || bad "report.html lacks the value $v"
done
grep -q "Samples during training" "$report" && ok || bad "report.html has no samples"
e2=$(grep -n "<h3>epoch 2</h3>" "$report" | cut -d: -f1)
e1=$(grep -n "<h3>epoch 1</h3>" "$report" | cut -d: -f1)
[ -n "$e1" ] && [ -n "$e2" ] && [ "$e2" -lt "$e1" ] && ok || bad "samples not newest first"
# report on a text run: exit 0, nothing that looks like an error; summary.txt
# starts with its first line; generate takes the run folder.
expect 0 "" -- "$sn" report "$tmp/run"
[ -s "$tmp/err" ] && bad "report on a text run printed: $(cat "$tmp/err")" || ok
[ -n "$(head -1 "$tmp/run/summary.txt")" ] && ok || bad "summary.txt starts with a blank line"
kept=$(sed -n 's/^kept_epoch //p' "$tmp/run/run.txt")
grep -q "weights of epoch $kept$" "$tmp/run/summary.txt" && grep -q "kept: epoch $kept<" "$tmp/run/report.html" &&
    ok || bad "text run: run.txt's kept_epoch '$kept', summary: $(grep weights "$tmp/run/summary.txt")"
expect 0 "" -- "$sn" generate "$tmp/run" --sample-length 20 --seed 5
[ -s "$tmp/out" ] && ok || bad "generate RUN_DIR printed nothing"

# generate: the same seed gives the same text, temperature 0 ignores the seed.
model=$tmp/run/model.safetensors
expect 0 "" -- "$sn" generate "$model" --prime "The whale" --length 60 --seed 5
cp "$tmp/out" "$tmp/g1"
expect 0 "" -- "$sn" generate "$model" --prime "The whale" --length 60 --seed 5
cmp -s "$tmp/out" "$tmp/g1" && ok || bad "generate is not deterministic"
head -c 9 "$tmp/g1" | grep -q "^The whale" && ok || bad "output does not start with the prime"
[ "$(head -1 "$tmp/g1" | wc -m)" -ge 60 ] && ok || bad "output shorter than asked: $(cat "$tmp/g1")"
expect 0 "" -- "$sn" generate "$model" --prime "The whale" --length 60 --seed 6
cmp -s "$tmp/out" "$tmp/g1" && bad "different seeds gave the same text" || ok
expect 0 "" -- "$sn" generate "$model" --length 40 --temperature 0 --seed 1
cp "$tmp/out" "$tmp/g0"
expect 0 "" -- "$sn" generate "$model" --length 40 --temperature 0 --seed 2 --top-k 3
cmp -s "$tmp/out" "$tmp/g0" && ok || bad "temperature 0 depends on the seed"
expect 1 "'Z' (U+005A) is not in the model's vocabulary" -- "$sn" generate "$model" --prime "Zebra"
expect 1 "history.csv" -- "$sn" generate "$tmp/run/history.csv"
expect 0 "" -- "$sn" train "$2/examples/xor/xor.net" --data "$2/examples/xor/xor.csv" --out "$tmp/xor" --quiet
expect 1 "not a text model" -- "$sn" generate "$tmp/xor/model.safetensors"

# Word level, options from the command line.
expect 0 "" -- "$sn" train "$tmp/char.net" --text "$tmp/corpus.txt" --level word \
    --words 10 --seq 5 --epochs 1 --sample-every 0 --prime "the" --out "$tmp/wrun" --quiet
grep -q "sample" "$tmp/out" && bad "--sample-every 0 still printed samples" || ok
grep -q "vocabulary 11" "$tmp/wrun/summary.txt" && ok || bad "word vocabulary: $(cat "$tmp/wrun/summary.txt")"
expect 0 "" -- "$sn" generate "$tmp/wrun/model.safetensors" --prime "the whale" --length 12
grep -q "<unk>" "$tmp/out" && bad "sampled <unk>: $(cat "$tmp/out")" || ok
expect 0 "" -- "$sn" generate "$tmp/wrun/model.safetensors" --prime "Moby the" --length 3
head -c 11 "$tmp/out" | grep -q "^<unk> the" && ok || bad "unknown prime word: $(cat "$tmp/out")"

# Early stopping with min_delta > 0 (no later epoch improves by 100): the
# kept epoch is the first; summary.txt says so, and model.safetensors holds
# that epoch's weights, those of a run of one epoch.
sed 's/^epochs .*/epochs 3\nearly_stop patience=5 min_delta=100/' "$tmp/char.net" >"$tmp/md.net"
expect 0 "" -- "$sn" train "$tmp/md.net" --text "$tmp/corpus.txt" --out "$tmp/md3" --seed 3 --quiet
[ "$(wc -l <"$tmp/md3/history.csv")" -eq 4 ] && ok || bad "min_delta run: $(cat "$tmp/md3/history.csv")"
grep -q "weights of epoch 1$" "$tmp/md3/summary.txt" && ok || bad "summary.txt: $(cat "$tmp/md3/summary.txt")"
expect 0 "" -- "$sn" train "$tmp/md.net" --text "$tmp/corpus.txt" --out "$tmp/md1" --seed 3 --quiet --epochs 1
cmp -s "$tmp/md1/model.safetensors" "$tmp/md3/model.safetensors" && ok || bad "the model is not epoch 1's"
# ... and patience: stops 2 epochs after the best (the first)
sed 's/^epochs .*/epochs 5\nearly_stop patience=2 min_delta=100/' "$tmp/char.net" >"$tmp/md.net"
expect 0 "" -- "$sn" train "$tmp/md.net" --text "$tmp/corpus.txt" --out "$tmp/md5" --seed 3 --quiet
[ "$(wc -l <"$tmp/md5/history.csv")" -eq 4 ] && ok || bad "early stop: $(cat "$tmp/md5/history.csv")"
expect 0 "" -- "$sn" train "$tmp/md.net" --text "$tmp/corpus.txt" --out "$tmp/md1b" --seed 3 --quiet --epochs 1
cmp -s "$tmp/md1b/model.safetensors" "$tmp/md5/model.safetensors" && ok || bad "early stop: not epoch 1's weights"
# the text history ends with reg_loss
head -1 "$tmp/md5/history.csv" | grep -q ",skipped,reg_loss$" && ok || bad "history header: $(head -1 "$tmp/md5/history.csv")"

finish
