#!/usr/bin/env bash
# Records the outputs of short, deterministic training runs into OUT_DIR so
# that two builds of scratchnet can be compared byte for byte:
#
#   tests/golden/record.sh BUILD_DIR OUT_DIR
#   tests/golden/compare.sh OUT_A OUT_B
#
# Runs (2 threads each): fashion-mlp 2 epochs; fashion-cnn-bn 2 epochs on the
# first 6,000 training images; char-lstm and word-lstm 2 epochs on Moby Dick;
# fashion-mlp with --checkpoint-steps, interrupted by SIGINT and resumed; a
# two-configuration sweep. history.csv is kept without its timing columns.
set -euo pipefail
build=$(cd "$1" && pwd)
out=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
sn="$build/scratchnet"
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# history.csv without the columns that hold times or speeds
strip_times() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
drop = {"seconds", "tokens_per_s", "elapsed", "cpu_seconds"}
keep = [i for i, h in enumerate(rows[0]) if h not in drop]
with open(sys.argv[2], "w") as f:
    for r in rows:
        f.write(",".join(r[i] for i in keep) + "\n")
PY
}
keep() { # keep RUN_DIR NAME
    cp "$1/model.safetensors" "$out/$2.model.safetensors"
    strip_times "$1/history.csv" "$out/$2.history.csv"
}

# the first 6,000 training images of Fashion-MNIST, the whole test set
mkdir -p "$tmp/fm6k"
/usr/bin/python3 - data/fashion-mnist "$tmp/fm6k" <<'PY'
import gzip, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
def read(name):
    for n in (name, name + ".gz"):
        p = os.path.join(src, n)
        if os.path.exists(p):
            return (gzip.open if n.endswith(".gz") else open)(p, "rb").read()
    raise SystemExit("missing " + name)
for name, head in (("train-images-idx3-ubyte", 16), ("train-labels-idx1-ubyte", 8)):
    b = read(name)
    per = 784 if head == 16 else 1
    hdr = bytearray(b[:head]); hdr[4:8] = struct.pack(">I", 6000)
    open(os.path.join(dst, name), "wb").write(bytes(hdr) + b[head:head + 6000 * per])
for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
    open(os.path.join(dst, name), "wb").write(read(name))
PY

T="--threads 2 --quiet"
"$sn" train examples/fashion-mlp.net --data data/fashion-mnist --epochs 2 $T --out "$tmp/mlp"
keep "$tmp/mlp" mlp
"$sn" train examples/fashion-cnn-bn.net --data "$tmp/fm6k" --epochs 2 $T --out "$tmp/cnnbn"
keep "$tmp/cnnbn" cnn-bn
"$sn" train examples/text/char-lstm.net --text data/moby-dick.txt --epochs 2 $T --out "$tmp/char"
keep "$tmp/char" char-lstm
"$sn" train examples/text/word-lstm.net --text data/moby-dick.txt --epochs 2 $T --out "$tmp/word"
keep "$tmp/word" word-lstm

# interrupted mid-epoch (SIGINT once the first step checkpoint is there), then resumed
set +e
"$sn" train examples/fashion-mlp.net --data data/fashion-mnist --epochs 2 $T \
    --checkpoint-steps 50 --out "$tmp/ck" &
pid=$!
for _ in $(seq 600); do
    [ -f "$tmp/ck/checkpoint.safetensors" ] && break
    sleep 0.1
done
kill -INT $pid
wait $pid
rc=$?
set -e
[ $rc -eq 130 ] || { echo "record: the interrupted run exited $rc, not 130" >&2; exit 1; }
"$sn" train --resume "$tmp/ck" $T
keep "$tmp/ck" resumed

cat >"$tmp/s.sweep" <<EOS
name  golden
spec  $root/examples/fashion-mlp.net
data  $root/data/fashion-mnist
grid  lr=1e-3,3e-3
set   epochs=1
EOS
"$sn" sweep "$tmp/s.sweep" --out "$tmp/sweep" --threads 2 --quiet >/dev/null
for d in "$tmp"/sweep/*/; do
    [ -f "$d/model.safetensors" ] && keep "$d" "sweep-$(basename "$d")"
done
cut -d, -f1-3 "$tmp/sweep/comparison.csv" >"$out/sweep.comparison-head.csv" || true
ls "$out"
