#!/usr/bin/env bash
# `scratchnet gradcheck`: exit codes, the per-layer table, usage errors.
# usage: test_gradcheck_cli.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
. "$(dirname "$0")/lib/harness.sh"

# run CODE ARGS...: the exit status must be CODE; stdout in $tmp/out, stderr in $tmp/err
run() {
    local code=$1
    shift
    "$sn" gradcheck "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" -eq "$code" ]; then ok; else bad "gradcheck $* exited $got, expected $code: $(head -c 300 "$tmp/err")"; fi
}
has() { if grep -q -- "$1" "$tmp/$2"; then ok; else bad "$2 lacks '$1': $(head -c 400 "$tmp/$2")"; fi; }

cat >"$tmp/mlp.net" <<'EOF'
input 2x3
flatten
dense 5
tanh
dense 4
gelu
dense 3
loss softmax_xent
EOF
cat >"$tmp/cnn.net" <<'EOF'
input 1x6x6
conv2d 3 3 pad=1
relu
maxpool 2
flatten
dense 8
batchnorm
silu
dropout 0.3
dense 3
loss mse
EOF
cat >"$tmp/bce.net" <<'EOF'
input 4
dense 1
loss bce_logits
EOF

run 0 "$tmp/mlp.net"
has "ok: worst error" out
for l in "0 *flatten" "1 *dense 6->5" "2 *tanh" "4 *gelu" "loss *softmax_xent"; do has "^$l" out; done
run 0 "$tmp/mlp.net" --seed 7 --batch 2 --samples 8 --step 5e-3 --tol 0.05
has "2 samples, seed 7" out
run 0 "$tmp/cnn.net" --train --batch 5
has "training mode" out
run 0 "$tmp/cnn.net" --batch 3
run 0 "$tmp/bce.net" --batch 6

# An impossible tolerance fails with exit 1 and names a layer.
run 1 "$tmp/mlp.net" --tol 1e-12
has "FAILED: worst error" out
has " !!" out

# Usage errors: exit 2; a spec that cannot be built: exit 1.
run 2
run 2 "$tmp/mlp.net" --tol
run 2 "$tmp/mlp.net" --tol abc
run 2 "$tmp/mlp.net" --samples 0
run 2 "$tmp/mlp.net" --samples 2.5
run 2 "$tmp/mlp.net" --colour red
run 1 "$tmp/missing.net"
has "cannot open" err
printf 'input 3\ndense ten\nloss mse\n' >"$tmp/bad.net"
run 1 "$tmp/bad.net"
has "bad.net:2" err
run 0 --help
has "usage: scratchnet gradcheck" out

finish
