#!/usr/bin/env bash
# Convolutional networks and CIFAR-10 folders through the command line: a
# small fake CIFAR-10 binary folder (the exact format, images whose
# brightness gives the class) trained with examples/cifar-single-conv.net in
# grey scale and with a colour CNN, evaluated, and the errors a user meets.
# usage: test_cnn_cli.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
src=$2
. "$(dirname "$0")/lib/harness.sh"

# One CIFAR-10 record: label byte, then 3072 pixel bytes of value 20 + 20·label.
record() {
    local label=$1
    printf "\\$(printf %03o "$label")"
    head -c 3072 /dev/zero | tr '\0' "\\$(printf %03o $((20 + 20 * label)))"
}

# write_batch FILE RECORDS FIRST_LABEL
write_batch() {
    local r
    for ((r = 0; r < $2; r++)); do record $((($3 + r) % 10)); done >"$1"
}

data=$tmp/cifar-10-batches-bin
mkdir -p "$data"
for i in 1 2 3 4 5; do write_batch "$data/data_batch_$i.bin" 12 "$i"; done
write_batch "$data/test_batch.bin" 10 0
printf 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n' \
    >"$data/batches.meta.txt"
[ "$(stat -c %s "$data/data_batch_1.bin")" -eq $((12 * 3073)) ] && ok || bad "record size"

# The original project's CNN, grey scale, 10 images per file; the parent
# folder works as well as cifar-10-batches-bin itself.
expect 0 "" -- "$sn" train "$src/examples/cifar-single-conv.net" --data "$tmp" --grey \
    --cifar-per-file 10 --epochs 3 --out "$tmp/grey" --quiet
grep -q "test accuracy" "$tmp/out" && ok || bad "no test accuracy: $(cat "$tmp/out")"
[ -f "$tmp/grey/model.safetensors" ] && ok || bad "no model.safetensors"
expect 0 "" -- "$sn" eval "$tmp/grey/model.safetensors" --data "$data" --grey --quiet

# A colour CNN (3x32x32) with padding, strides and every pooling kind.
cat >"$tmp/colour.net" <<'EOF'
input     3x32x32
conv2d    4 3 pad=same stride=2
relu
maxpool   2
conv2d    6 3x2 pad=1
avgpool   2
global_avgpool
flatten
dense     10
loss      softmax_xent
[train]
optimizer adam lr=1e-2
batch     8
epochs    12
EOF
expect 0 "" -- "$sn" train "$tmp/colour.net" --data "$data" --out "$tmp/colour" --quiet
acc=$(sed -n 's/^test accuracy: \([0-9.]*\) %$/\1/p' "$tmp/out")
# 10 classes told apart by brightness alone: far above chance (10 %).
awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 50) }' && ok || bad "colour CNN test accuracy '$acc' < 50"

# Errors.
expect 1 "samples have 3072 values, the model's input takes 1024" -- \
    "$sn" train "$src/examples/cifar-single-conv.net" --data "$data" --epochs 1 --quiet
expect 2 "not an integer" -- "$sn" train "$tmp/colour.net" --data "$data" --cifar-per-file 0
printf '1,2,3\n4,5,6\n' >"$tmp/t.csv"
expect 1 "apply to CIFAR-10 folders" -- "$sn" train "$tmp/colour.net" --data "$tmp/t.csv" --grey
head -c 5000 "$data/data_batch_2.bin" >"$tmp/short" && mv "$tmp/short" "$data/data_batch_2.bin"
expect 1 "data_batch_2.bin: 5000 bytes is not a whole number of 3073-byte CIFAR-10 records" -- \
    "$sn" train "$tmp/colour.net" --data "$data" --epochs 1
rm "$data/data_batch_2.bin"
expect 1 "data_batch_2.bin: missing" -- "$sn" train "$tmp/colour.net" --data "$data" --epochs 1
printf 'input 784\nconv2d 8 3\nflatten\ndense 10\nloss softmax_xent\n' >"$tmp/flat.net"
expect 1 "flat.net:2: conv2d needs a CxHxW input (e.g. 'input 1x28x28'), got 784" -- \
    "$sn" train "$tmp/flat.net" --data "$data" --epochs 1

finish
