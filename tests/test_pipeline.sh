#!/usr/bin/env bash
# The data pipeline travels with the model: a model trained on standardized
# features gives the same answers in `eval` and `predict` as at the end of
# its training, and the verbs refuse data unlike what the model was trained
# on (feature count, shape, value range).
# usage: test_pipeline.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
src=$2
. "$(dirname "$0")/lib/harness.sh"

# Two features far from 0 and on very different scales; the class is whether
# the first lies above its mean. Without standardization the network sees
# ~1000 and ~0.001 and cannot learn this in a few epochs; with it, it can.
gen() { # gen SEED N FILE
    awk -v seed="$1" -v n="$2" 'BEGIN {
        srand(seed); print "a,b,y"
        for (i = 0; i < n; i++) {
            a = 1000 + 2 * (rand() - 0.5); b = 0.001 * rand()
            printf "%.6f,%.8f,%d\n", a, b, (a > 1000 ? 1 : 0)
        }
    }' >"$3"
}
gen 1 600 "$tmp/train.csv"
gen 2 300 "$tmp/test.csv"
cat >"$tmp/std.net" <<'EOF'
input 2
dense 16 init=he
relu
dense 2 init=xavier
loss softmax_xent
[train]
optimizer adam lr=1e-2
batch 32
epochs 20
seed 3
EOF

"$sn" train "$tmp/std.net" --data "$tmp/train.csv" --test "$tmp/test.csv" --standardize \
    --out "$tmp/run" --quiet >"$tmp/train.out" 2>"$tmp/err"
[ $? -eq 0 ] && ok || bad "train --standardize: $(cat "$tmp/err")"
trained=$(sed -n 's/^test accuracy: //p' "$tmp/train.out")
case $trained in 9[0-9].*|100.00*) ok ;; *) bad "training reached only '$trained'" ;; esac

# eval on the raw test file: the model standardizes it as in training.
expect 0 "" -- "$sn" eval "$tmp/run/model.safetensors" --data "$tmp/test.csv"
got=$(sed -n 's/^test accuracy: //p' "$tmp/out")
[ -n "$trained" ] && [ "$got" = "$trained" ] && ok ||
    bad "eval after --standardize: '$got', training said '$trained'"

# predict agrees with the labels as often as eval says (its rows: a header,
# then input, index, class, name, prob).
expect 0 "" -- "$sn" predict "$tmp/run/model.safetensors" "$tmp/test.csv" --label-col 2
right=$(paste <(tail -n +2 "$tmp/out" | cut -f3) <(tail -n +2 "$tmp/test.csv" | cut -d, -f3) |
    awk '$1 == $2 {k++} END {printf "%.2f %%", 100 * k / NR}')
[ "$right" = "$trained" ] && ok || bad "predict after --standardize: $right right, eval $trained"

# The same with the spec's [train] key instead of the flag, and a validation
# split done by the library: same numbers as the flag gives.
sed 's/^seed 3$/seed 3\nstandardize yes\nval_split 0.2/' "$tmp/std.net" >"$tmp/std2.net"
"$sn" train "$tmp/std2.net" --data "$tmp/train.csv" --test "$tmp/test.csv" --out "$tmp/run2" \
    --quiet >"$tmp/a.out" 2>"$tmp/err" || bad "standardize yes: $(cat "$tmp/err")"
"$sn" train "$tmp/std.net" --data "$tmp/train.csv" --test "$tmp/test.csv" --out "$tmp/run3" \
    --standardize --val-split 0.2 --quiet >"$tmp/b.out" 2>"$tmp/err" || bad "$(cat "$tmp/err")"
# (history.csv without its timing column)
cut -d, -f1-9 "$tmp/run2/history.csv" >"$tmp/h2"
cut -d, -f1-9 "$tmp/run3/history.csv" >"$tmp/h3"
[ -s "$tmp/h2" ] && cmp -s "$tmp/h2" "$tmp/h3" && ok ||
    bad "[train] standardize yes differs from --standardize: $(diff "$tmp/h2" "$tmp/h3" | head -4)"
grep -q "^samples 480 train, 120 validation, 300 test" "$tmp/run2/run.txt" && ok ||
    bad "val_split 0.2 of 600: $(grep samples "$tmp/run2/run.txt")"
expect 0 "" -- "$sn" eval "$tmp/run2/model.safetensors" --data "$tmp/test.csv"
got=$(sed -n 's/^test accuracy: //p' "$tmp/out")
want=$(sed -n 's/^test accuracy: //p' "$tmp/a.out")
[ "$got" = "$want" ] && ok || bad "eval of the spec-standardized model: '$got', training '$want'"

# Input unlike the training data is refused, with what differs.
awk -F, 'NR == 1 {print "a,b,c,y"; next} {print $1 "," $2 ",0," $3}' "$tmp/test.csv" >"$tmp/three.csv"
expect 1 "samples have 3 values, the model's input takes 2" -- \
    "$sn" eval "$tmp/run/model.safetensors" --data "$tmp/three.csv"
expect 1 "samples have 3 values, the model's input takes 2" -- \
    "$sn" predict "$tmp/run/model.safetensors" "$tmp/three.csv" --label-col 3
# values a thousand times larger than in training (another unit)
awk -F, 'NR == 1 {print; next} {printf "%.6f,%s,%s\n", $1 * 1000, $2, $3}' "$tmp/test.csv" >"$tmp/big.csv"
expect 1 "outside the range the model was trained on" -- \
    "$sn" eval "$tmp/run/model.safetensors" --data "$tmp/big.csv"
expect 1 "outside the range the model was trained on" -- \
    "$sn" predict "$tmp/run/model.safetensors" "$tmp/big.csv" --label-col 2

# Pixels: a model trained on IDX images (scaled to [0, 1]) refuses a CSV of
# raw 0-255 pixels, and accepts the same pixels scaled.
mkdir -p "$tmp/idx"
/usr/bin/python3 - "$tmp/idx" "$tmp" <<'PY'
import os, random, struct, sys
d, t = sys.argv[1], sys.argv[2]
random.seed(5)
def write(prefix, n):
    imgs, labs = bytearray(), bytearray()
    for i in range(n):
        c = i % 2
        imgs += bytes((200 if (c and p < 8) or (not c and p >= 8) else 20) + random.randrange(30)
                      for p in range(16))
        labs.append(c)
    open(os.path.join(d, prefix + "-images-idx3-ubyte"), "wb").write(
        struct.pack(">IIII", 0x803, n, 4, 4) + imgs)
    open(os.path.join(d, prefix + "-labels-idx1-ubyte"), "wb").write(
        struct.pack(">II", 0x801, n) + labs)
    return imgs, labs
write("train", 200)
imgs, labs = write("t10k", 40)
with open(os.path.join(t, "raw.csv"), "w") as raw, open(os.path.join(t, "scaled.csv"), "w") as sc:
    for i in range(40):
        px = imgs[16 * i:16 * i + 16]
        raw.write(",".join(str(p) for p in px) + ",%d\n" % labs[i])
        sc.write(",".join(repr(p / 255.0) for p in px) + ",%d\n" % labs[i])
PY
printf 'input 1x4x4\nflatten\ndense 2\nloss softmax_xent\n[train]\noptimizer adam\nepochs 3\n' \
    >"$tmp/img.net"
"$sn" train "$tmp/img.net" --data "$tmp/idx" --out "$tmp/img" --quiet >/dev/null 2>"$tmp/err" ||
    bad "idx training: $(cat "$tmp/err")"
expect 1 "pixels" -- "$sn" eval "$tmp/img/model.safetensors" --data "$tmp/raw.csv" --header no
expect 1 "pixels" -- "$sn" predict "$tmp/img/model.safetensors" "$tmp/raw.csv" --header no \
    --label-col 16
expect 0 "" -- "$sn" eval "$tmp/img/model.safetensors" --data "$tmp/scaled.csv" --header no
expect 0 "" -- "$sn" eval "$tmp/img/model.safetensors" --data "$tmp/idx"

finish
