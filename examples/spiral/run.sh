#!/usr/bin/env bash
# Builds examples/spiral/spiral.c against the library in BUILD_DIR and prints
# the optimizer table (10,000 full-batch epochs each, a few seconds in all).
# usage: examples/spiral/run.sh [BUILD_DIR] [SPEC.net ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
shift || true
[ -f "$build/libscratchnet.a" ] || cmake --build "$build"
cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Iinclude -o "$build/spiral" examples/spiral/spiral.c \
    "$build/libscratchnet.a" -fopenmp -lz -lm
"$build/spiral" "$@"
