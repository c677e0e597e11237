#!/usr/bin/env bash
# Trains the OR (or, with an argument, XOR) network and reports the first
# epoch at which all four points were classified correctly.
# usage: examples/or/run.sh [or|xor] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:-or}
build=${2:-build}
out=runs/$name
"$build/scratchnet" train "examples/$name/$name.net" --data "examples/$name/$name.csv" \
    --test "examples/$name/$name.csv" --out "$out" --quiet
# history.csv: epoch,step,train_loss,train_acc,... (train_acc measured during the epoch)
awk -F, 'NR > 1 && $4 == 1 { print "100 % accuracy first reached at epoch " $1 " (loss " $3 ")"; found = 1; exit }
         END { if (!found) { print "never reached 100 % accuracy"; exit 1 } }' "$out/history.csv"
"$build/scratchnet" predict "$out/model.safetensors" "examples/$name/$name.csv" --label-col 2
