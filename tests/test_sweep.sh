#!/usr/bin/env bash
# Sweeps end to end on the XOR and OR examples: a 2 x 2 grid, a list of
# specs crossed with a grid, the comparison files and their order, and
# sweep files with mistakes (nothing is trained then).
# usage: test_sweep.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
src=$2
. "$(dirname "$0")/lib/harness.sh"
ex="$src/examples"

# A grid: 2 learning rates x 2 epoch counts = 4 runs.
cat >"$tmp/grid.sweep" <<EOF
# XOR: learning rate against training length
name   xor-grid
spec   $ex/xor/xor.net
data   $ex/xor/xor.csv
test   $ex/xor/xor.csv
out    $tmp/grid
grid   lr=0.5,2 epochs=60,400
set    batch=4
EOF
"$sn" sweep "$tmp/grid.sweep" --dry-run >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 4 ] && [ ! -e "$tmp/grid" ] && ok ||
    bad "dry run: $(cat "$tmp/out" "$tmp/err")"
grep -q "02_lr=0.5_epochs=400" "$tmp/out" && ok || bad "dry run names: $(cat "$tmp/out")"

"$sn" sweep "$tmp/grid.sweep" --quiet >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && ok || bad "sweep: $(tail -5 "$tmp/err")"
n=0
for d in "$tmp"/grid/0*_lr=*; do
    [ -s "$d/report.html" ] && [ -s "$d/history.csv" ] && n=$((n + 1))
done
[ "$n" -eq 4 ] && ok || bad "$n run folders with a report, expected 4"
# Each run's spec says what it trained: the file's [train] plus the sweep's lines.
grep -q "^lr 2$" "$tmp/grid/04_lr=2_epochs=400/spec.net" && ok || bad "spec.net lacks 'lr 2'"
[ "$(($(wc -l <"$tmp/grid/01_lr=0.5_epochs=60/history.csv") - 1))" -eq 60 ] && ok ||
    bad "epochs=60 did not train 60 epochs"
csv="$tmp/grid/comparison.csv"
head -1 "$csv" | grep -q "^rank,run,spec,lr,epochs,epochs_run,train_loss" && ok || bad "header: $(head -1 "$csv")"
[ "$(tail -n +2 "$csv" | wc -l)" -eq 4 ] && ok || bad "comparison.csv rows: $(cat "$csv")"
# Sorted by test accuracy, best first (the file names no metric; there is a test set).
col=$(head -1 "$csv" | tr ',' '\n' | grep -n '^test_acc$' | cut -d: -f1)
tail -n +2 "$csv" | cut -d, -f"$col" | awk 'NR > 1 && $1 > prev { bad = 1 } { prev = $1 } END { exit bad }' &&
    ok || bad "not sorted by test_acc: $(cat "$csv")"
[ "$(tail -n +2 "$csv" | cut -d, -f1 | tr '\n' ' ')" = "1 2 3 4 " ] && ok || bad "ranks"
tail -n +2 "$csv" | grep -q ",ok$" && ! tail -n +2 "$csv" | grep -v -q ",ok$" && ok || bad "status column"
html="$tmp/grid/comparison.html"
for s in "Sweep xor-grid" "Test accuracy" "Training loss" "01_lr=0.5_epochs=60/report.html"; do
    grep -q "$s" "$html" && ok || bad "comparison.html lacks '$s'"
done
if command -v python3 >/dev/null; then
    python3 - "$html" <<'EOF' && ok || bad "comparison.html: SVGs do not parse"
import re, sys, xml.etree.ElementTree as ET
svgs = re.findall(r"<svg\b.*?</svg>", open(sys.argv[1], encoding="utf-8").read(), re.S)
assert len(svgs) >= 2
for s in svgs:
    root = ET.fromstring(s)
    # one line per run in every overlaid chart
    paths = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("stroke", "#").startswith("#") and p.get("d", "").count("L") > 10]
    assert len({p.get("stroke") for p in paths}) == 4, len(paths)
EOF
fi
grep -q "comparison: $tmp/grid/comparison.html" "$tmp/out" && ok || bad "no summary: $(cat "$tmp/out")"

# A list of specs crossed with a grid, sorted by training loss (lowest first).
cat >"$tmp/list.sweep" <<EOF
spec  $ex/or/or.net
spec  $ex/xor/xor.net
data  $ex/xor/xor.csv
grid  lr=1,3
set   epochs=50
sort  train_loss
EOF
"$sn" sweep "$tmp/list.sweep" --out "$tmp/list" --quiet >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && ok || bad "list sweep: $(tail -5 "$tmp/err")"
csv="$tmp/list/comparison.csv"
[ "$(tail -n +2 "$csv" | wc -l)" -eq 4 ] && ok || bad "list: $(cat "$csv")"
[ -d "$tmp/list/03_xor_lr=1" ] && [ -f "$tmp/list/sweep.txt" ] && ok || bad "list folders: $(ls "$tmp/list")"
col=$(head -1 "$csv" | tr ',' '\n' | grep -n '^train_loss$' | cut -d: -f1)
tail -n +2 "$csv" | cut -d, -f"$col" | awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $1 } END { exit bad }' &&
    ok || bad "not sorted by train_loss: $(cat "$csv")"

# Mistakes name the file and line, or the configuration, before training.
printf 'spec %s\ndata %s\ngrdi lr=1\n' "$ex/xor/xor.net" "$ex/xor/xor.csv" >"$tmp/bad1.sweep"
"$sn" sweep "$tmp/bad1.sweep" --out "$tmp/bad1" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "bad1.sweep:3: unknown directive 'grdi'" "$tmp/err" && ok || bad "typo: $(cat "$tmp/err")"
printf 'spec %s\ndata %s\ngrid lr=1,fast\n' "$ex/xor/xor.net" "$ex/xor/xor.csv" >"$tmp/bad2.sweep"
"$sn" sweep "$tmp/bad2.sweep" --out "$tmp/bad2" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "configuration 2: lr=fast" "$tmp/err" && [ ! -e "$tmp/bad2" ] && ok ||
    bad "bad value: $(cat "$tmp/err")"
printf 'data %s\n' "$ex/xor/xor.csv" >"$tmp/bad3.sweep"
"$sn" sweep "$tmp/bad3.sweep" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "no 'spec FILE' line" "$tmp/err" && ok || bad "no spec: $(cat "$tmp/err")"
printf 'spec %s\ndata %s\nsort accuracy\n' "$ex/xor/xor.net" "$ex/xor/xor.csv" >"$tmp/bad4.sweep"
"$sn" sweep "$tmp/bad4.sweep" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "bad4.sweep:3: sort: expected one of" "$tmp/err" && ok || bad "sort: $(cat "$tmp/err")"
"$sn" sweep >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "sweep without a file"

# Paths in a sweep file are relative to its folder, wherever it is run from;
# --out on the command line is relative to the current directory.
mkdir -p "$tmp/rel/specs" "$tmp/rel/d" "$tmp/elsewhere"
cp "$ex/xor/xor.net" "$tmp/rel/specs/x.net"
cp "$ex/xor/xor.csv" "$tmp/rel/d/x.csv"
printf 'spec specs/x.net\ndata d/x.csv\ntest d/x.csv\nout runs-here\nset epochs=5\n' >"$tmp/rel/r.sweep"
(cd "$tmp/elsewhere" && "$sn" sweep ../rel/r.sweep --quiet >"$tmp/out" 2>"$tmp/err")
[ $? -eq 0 ] && [ -s "$tmp/rel/runs-here/comparison.csv" ] && ok ||
    bad "relative paths of a sweep file: $(tail -3 "$tmp/err")"
(cd "$tmp/elsewhere" && "$sn" sweep ../rel/r.sweep --quiet -o cli-out >"$tmp/out" 2>"$tmp/err")
[ $? -eq 0 ] && [ -s "$tmp/elsewhere/cli-out/comparison.csv" ] && ok || bad "--out of a sweep: $(tail -3 "$tmp/err")"

finish
