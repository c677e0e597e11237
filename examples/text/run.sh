#!/usr/bin/env bash
# Trains one of the text examples on Moby Dick (fetched on first use), then
# prints a 500-token sample from the trained model.
#
#   examples/text/run.sh [NAME] [BUILD_DIR]
#
# NAME: char-rnn, char-lstm, word-rnn, word-lstm (the original project's
# settings: 128 units, windows of 50, Adagrad lr 0.01, clip ±5, one stream)
# or char-lstm-512 (the stronger configuration, 30 minutes); default
# char-lstm. The run folder is runs/text-NAME.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:-char-lstm}
build=${2:-build}
[ -f "examples/text/$name.net" ] || { echo "no examples/text/$name.net" >&2; exit 2; }
scripts/fetch-data.sh moby-dick
"$build/scratchnet" train "examples/text/$name.net" --text data/moby-dick.txt --out "runs/text-$name"
prime="Call me Ishmael."
"$build/scratchnet" generate "runs/text-$name/model.safetensors" --prime "$prime" --sample-length 500 --seed 1
