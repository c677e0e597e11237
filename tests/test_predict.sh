#!/usr/bin/env bash
# predict for scripts and pipes: a header, tsv/csv/json, class names, top-k
# and every probability, several inputs, - for the standard input, PNG (through
# libpng) and PGM images read as the same pixels a CSV gives (scaled to [0, 1],
# channel by channel). The images are written here by Python, not by our code.
# usage: test_predict.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
src=$2
. "$(dirname "$0")/lib/harness.sh"
py=/usr/bin/python3

# Two tiny image models: 1x2x2 grey and 3x2x2 colour, 3 classes.
for c in 1 3; do
    printf 'input %sx2x2\nflatten\ndense 3\nloss softmax_xent\n[train]\noptimizer sgd lr=0.5\nbatch 3\nepochs 20\n' \
        "$c" >"$tmp/m$c.net"
done
"$py" - "$tmp" <<'PY'
import os, random, struct, sys, zlib
t = sys.argv[1]
random.seed(3)
def png(path, w, h, mode, px):  # mode 0 grey, 2 RGB; px: rows of bytes
    raw = b"".join(b"\0" + bytes(r) for r in px)
    def chunk(k, d): return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, mode, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for c in (1, 3):  # training sets: pixels in [0, 1], a label per row
    with open(f"{t}/train{c}.csv", "w") as f:
        for i in range(30):
            f.write(",".join(str(random.randint(0, 255) / 255) for _ in range(4 * c)) + f",{i % 3}\n")
g = [[0, 255], [128, 64]]                      # a grey 2x2 image
png(f"{t}/g.png", 2, 2, 0, g)
open(f"{t}/g.pgm", "wb").write(b"P5\n# a comment\n2 2\n255\n" + bytes([0, 255, 128, 64]))
open(f"{t}/g2.pgm", "w").write("P2\n2 2\n255\n0 255\n128 64\n")
open(f"{t}/g16.pgm", "wb").write(b"P5 2 2 65535\n" + b"".join(struct.pack(">H", v * 257) for v in (0, 255, 128, 64)))
open(f"{t}/g.csv", "w").write(",".join(str(v / 255) for v in (0, 255, 128, 64)) + "\n")
rgb = [[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (10, 20, 30)]]
png(f"{t}/c.png", 2, 2, 2, [[v for p in r for v in p] for r in rgb])
flat = [p for r in rgb for p in r]
open(f"{t}/c.csv", "w").write(",".join(str(p[ch] / 255) for ch in range(3) for p in flat) + "\n")
# grey of the colour image (ITU-R BT.601 in float32, as CIFAR-10's --grey),
# and the grey image repeated into three channels
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
grey = [f32(f32(f32(f32(0.299) * r) + f32(f32(0.587) * g)) + f32(f32(0.114) * b)) for r, g, b in flat]
open(f"{t}/c_grey.csv", "w").write(",".join(repr(f32(v / 255)) for v in grey) + "\n")
open(f"{t}/g_rgb.csv", "w").write(",".join(str(v / 255) for v in (0, 255, 128, 64) * 3) + "\n")
open(f"{t}/bad.png", "wb").write(b"\x89PNG\r\n\x1a\nnot really")
png(f"{t}/big.png", 3, 3, 0, [[1, 2, 3]] * 3)
PY
for c in 1 3; do
    "$sn" train "$tmp/m$c.net" --data "$tmp/train$c.csv" -o "$tmp/r$c" --quiet >/dev/null 2>"$tmp/err" ||
        bad "training m$c: $(cat "$tmp/err")"
done

# the probabilities of a sample (all of them, tsv), for comparing inputs
probs() { "$sn" predict "$1" "$2" --probs 2>"$tmp/err" | tail -n +2 | cut -f6-; }
want=$(probs "$tmp/r1" "$tmp/g.csv")
[ -n "$want" ] && ok || bad "predict on a CSV: $(cat "$tmp/err")"
for img in g.png g.pgm g2.pgm g16.pgm; do
    got=$(probs "$tmp/r1" "$tmp/$img")
    [ "$got" = "$want" ] && ok || bad "$img: probabilities '$got', the same pixels as CSV give '$want' $(cat "$tmp/err")"
done
got=$(probs "$tmp/r3" "$tmp/c.png"); want=$(probs "$tmp/r3" "$tmp/c.csv")
[ -n "$got" ] && [ "$got" = "$want" ] && ok || bad "colour PNG: '$got', CSV '$want' $(cat "$tmp/err")"
got=$(probs "$tmp/r1" "$tmp/c.png"); want=$(probs "$tmp/r1" "$tmp/c_grey.csv")
[ -n "$got" ] && [ "$got" = "$want" ] && ok || bad "colour PNG, grey model: '$got', '$want'"
got=$(probs "$tmp/r3" "$tmp/g.png"); want=$(probs "$tmp/r3" "$tmp/g_rgb.csv")
[ -n "$got" ] && [ "$got" = "$want" ] && ok || bad "grey PNG, colour model: '$got', '$want'"

# the standard input, any format, and several inputs in one call
"$sn" predict "$tmp/r1" - <"$tmp/g.png" >"$tmp/a" 2>"$tmp/err" && ok || bad "stdin PNG: $(cat "$tmp/err")"
"$sn" predict "$tmp/r1" "$tmp/g.png" >"$tmp/b"
[ "$(cut -f2- "$tmp/a")" = "$(cut -f2- "$tmp/b")" ] && ok || bad "stdin and file differ"
[ "$(tail -1 "$tmp/a" | cut -f1)" = "-" ] && ok || bad "stdin not named '-'"
cat "$tmp/g.csv" "$tmp/g.csv" | "$sn" predict "$tmp/r1" - "$tmp/g.pgm" >"$tmp/out" 2>"$tmp/err"
[ "$(cut -f1,2 "$tmp/out" | tr '\t\n' ':,')" = "input:index,-:0,-:1,$tmp/g.pgm:0," ] && ok ||
    bad "stdin CSV then a PGM: $(cat "$tmp/out" "$tmp/err")"
"$sn" predict "$tmp/r1" "$tmp/g.pgm" "$tmp/g.png" "$tmp/g.csv" >"$tmp/out" 2>"$tmp/err"
[ "$(wc -l <"$tmp/out")" -eq 4 ] && ok || bad "three inputs: $(cat "$tmp/out" "$tmp/err")"
head -1 "$tmp/out" | grep -qx "input	index	class	name	prob" && ok || bad "tsv header: $(head -1 "$tmp/out")"

# formats, class names, top-k, all probabilities
printf 'cat\ndog\n"odd", name\n' >"$tmp/names.txt"
"$sn" predict "$tmp/r1" "$tmp/train1.csv" --label-col 4 --format json --top-k 3 --probs \
    --classes "$tmp/names.txt" >"$tmp/j" 2>"$tmp/err" && ok || bad "json: $(cat "$tmp/err")"
"$sn" predict "$tmp/r1" "$tmp/train1.csv" --label-col 4 --format=csv --top-k 2 --probs \
    --classes "$tmp/names.txt" >"$tmp/c" 2>"$tmp/err" && ok || bad "csv: $(cat "$tmp/err")"
"$py" - "$tmp/j" "$tmp/c" <<'PY' && ok || bad "json/csv content"
import csv, json, sys
j = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
names = ["cat", "dog", '"odd", name']
assert len(j) == 30 and len(rows) == 30, (len(j), len(rows))
for o, r in zip(j, rows):
    assert abs(sum(o["probs"]) - 1) < 1e-5
    assert o["class"] == max(range(3), key=lambda k: o["probs"][k])
    assert o["name"] == names[o["class"]] and [t["class"] for t in o["top"]] == sorted(range(3), key=lambda k: -o["probs"][k])
    assert int(r["class"]) == o["class"] and r["name"] == o["name"] and r["name_2"] == o["top"][1]["name"]
    assert abs(float(r["prob"]) - o["prob"]) < 1e-4 and abs(float(r['prob_"odd", name']) - o["probs"][2]) < 1e-4
    assert list(r)[:8] == ["input", "index", "class", "name", "prob", "class_2", "name_2", "prob_2"]
PY
expect 0 "" -- "$sn" predict "$tmp/r1" "$tmp/g.csv" --top-k 99
head -1 "$tmp/out" | grep -q "prob_3" && ok || bad "--top-k above the class count: $(head -1 "$tmp/out")"

# errors name the input
expect 1 "bad.png: not a readable PNG" -- "$sn" predict "$tmp/r1" "$tmp/bad.png"
expect 1 "big.png: samples have 9 values, the model's input takes 4" -- "$sn" predict "$tmp/r1" "$tmp/big.png"
expect 2 "'xml' is not one of tsv|csv|json" -- "$sn" predict "$tmp/r1" "$tmp/g.png" --format xml
printf 'P5\n2 2\n255\n\1' >"$tmp/short.pgm"
expect 1 "short.pgm: pixel 2 of 4" -- "$sn" predict "$tmp/r1" "$tmp/short.pgm"
finish
