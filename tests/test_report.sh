#!/usr/bin/env bash
# Reports end to end: a small real training on an IDX data set written here
# (28x28 images, ten classes, in a folder named like Fashion-MNIST's), then
# `scratchnet eval --noise`, `scratchnet report`, `scratchnet plot` and
# `scratchnet summary`. Checks the run folder's files, that report.html is
# self-contained, that every <svg> in it parses as XML and that the embedded
# PNGs decode; with Chromium installed (scripts/install-deps.sh --report), it
# renders a screenshot and checks it is not blank and that every chart's
# colours are on it.
# usage: test_report.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
src=$2
. "$(dirname "$0")/lib/harness.sh"
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "test_report: skipped: python3 writes the data set and parses the SVGs" \
        "(scripts/install-deps.sh --report)"
    exit 0
fi

# A learnable data set: class c is a bright vertical bar at columns 2c+4..2c+5
# on uniform noise; 10 % of the test labels are random, so there are mistakes.
data="$tmp/fashion-tiny"
mkdir -p "$data"
"$py" - "$data" <<'EOF'
import random, struct, sys
d = sys.argv[1]
rng = random.Random(3)
def write(split, n, label_noise):
    imgs, labels = bytearray(), bytearray()
    for i in range(n):
        c = i % 10
        for r in range(28):
            for col in range(28):
                v = rng.random() * 0.5
                if 2 * c + 4 <= col < 2 * c + 6 and 4 <= r < 24:
                    v += 0.5
                imgs.append(min(255, int(v * 255)))
        labels.append(rng.randrange(10) if rng.random() < label_noise else c)
    with open(f"{d}/{split}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(imgs))
    with open(f"{d}/{split}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(labels))
write("train", 500, 0.0)
write("t10k", 200, 0.1)
EOF
cat >"$tmp/mlp.net" <<'EOF'
input 1x28x28
flatten
dense 32 init=he
relu
dense 10
loss softmax_xent
[train]
optimizer adam lr=3e-3
batch 50
epochs 4
val_split 0.2
seed 1
EOF

run="$tmp/run"
"$sn" train "$tmp/mlp.net" --data "$data" --out "$run" --quiet >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && ok || bad "train: $(cat "$tmp/err")"
grep -q "test macro F1: 0\.[0-9]" "$tmp/out" && ok || bad "train prints no macro F1: $(cat "$tmp/out")"
for f in report.html history.csv run.txt metrics.csv per_class.csv confusion.csv classes.txt \
    misclassified.safetensors summary.txt spec.net model.safetensors; do
    [ -s "$run/$f" ] && ok || bad "run folder lacks $f"
done
# Fashion-MNIST's names for a folder called fashion*, and the confusion
# matrix adds up to the test set.
[ "$(sed -n 10p "$run/classes.txt")" = "Ankle boot" ] && ok || bad "classes.txt: $(cat "$run/classes.txt")"
total=$(tail -n +2 "$run/confusion.csv" | awk -F, '{ for (i = 2; i <= NF; i++) s += $i } END { print s }')
[ "$total" = 200 ] && ok || bad "confusion.csv sums to $total"
grep -q "^data $data$" "$run/run.txt" && ok || bad "run.txt lacks the data path"

# The noise study writes robustness.csv into the run folder, 4 levels.
"$sn" eval "$run/model.safetensors" --data "$data" --noise 0,0.1,0.2,0.4 --noise-seed 5 \
    >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] && ok || bad "eval --noise: $(cat "$tmp/err")"
grep -q "clipped to \[0, 1\], noise seed 5" "$tmp/out" && ok || bad "eval --noise does not say it clips"
[ "$(wc -l <"$run/robustness.csv")" -eq 5 ] && ok || bad "robustness.csv: $(cat "$run/robustness.csv")"
acc0=$(grep -m1 "^test accuracy" "$tmp/out" | awk '{print $3}')
grep -q "^       0 *$acc0 %" "$tmp/out" && ok || bad "noise 0 differs from the plain accuracy $acc0"
"$sn" eval "$run/model.safetensors" --data "$data" --noise 0.1,x >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--noise" "$tmp/err" && ok || bad "bad --noise: $(cat "$tmp/err")"

# report rewrites the page; -o writes elsewhere.
rm "$run/report.html"
"$sn" report "$run" >"$tmp/out" 2>"$tmp/err" && [ -s "$run/report.html" ] && ok ||
    bad "report: $(cat "$tmp/err")"
"$sn" report "$run" -o "$tmp/copy.html" >/dev/null 2>&1 && cmp -s "$run/report.html" "$tmp/copy.html" &&
    ok || bad "report -o differs"
"$sn" report "$tmp/nowhere" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "not a folder" "$tmp/err" && ok || bad "report of a missing folder"
# Without its metrics, report recomputes them from the model and run.txt's data.
rm "$run/metrics.csv" "$run/per_class.csv" "$run/confusion.csv"
"$sn" report "$run" >/dev/null 2>"$tmp/err" && [ -s "$run/metrics.csv" ] && ok ||
    bad "report did not recompute the metrics: $(cat "$tmp/err")"

html="$run/report.html"
for s in "Loss per epoch" "Accuracy per epoch" "Learning rate" "Confusion matrix" "Per class" \
    "Accuracy under Gaussian input noise" "Misclassified test samples" "Hyper-parameters" \
    "Model summary" "Ankle boot" "dense 784-&gt;32"; do
    grep -q -- "$s" "$html" && ok || bad "report.html lacks '$s'"
done
# Self-contained: nothing fetched (the SVG namespace is a name, not a fetch).
if grep -o -E '(src|href)="https?:[^"]*"|<link|<script|@import|url\(http' "$html" | grep -q .; then
    bad "report.html refers to the network"
else
    ok
fi

"$py" - "$html" >"$tmp/svgs" 2>&1 <<'EOF'
import base64, re, sys, xml.etree.ElementTree as ET, zlib
text = open(sys.argv[1], encoding="utf-8").read()
svgs = re.findall(r"<svg\b.*?</svg>", text, re.S)
ns = "{http://www.w3.org/2000/svg}"
for s in svgs:
    root = ET.fromstring(s)  # raises on malformed XML
    assert root.tag == ns + "svg", root.tag
    assert root.find(".//" + ns + "text") is not None, "a chart without text"
pngs = re.findall(r'href="data:image/png;base64,([^"]+)"', text)
for p in pngs:
    raw = base64.b64decode(p)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    assert (w, h) == (28, 28), (w, h)
print(len(svgs), len(pngs))
EOF
read -r nsvg npng <"$tmp/svgs"
# loss, accuracy, learning rate, time, confusion matrix, robustness, mistakes
[ "${nsvg:-0}" -eq 7 ] && ok || bad "SVGs: $(cat "$tmp/svgs")"
[ "${npng:-0}" -ge 10 ] && ok || bad "misclassified images: $(cat "$tmp/svgs")"

# plot and summary.
"$sn" plot "$run/history.csv" -o "$tmp/loss.svg" --columns train_loss,val_loss --title "Loss" \
    2>"$tmp/err" && "$py" -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$tmp/loss.svg" &&
    ok || bad "plot: $(cat "$tmp/err")"
grep -q ">val_loss<" "$tmp/loss.svg" && ok || bad "plot lacks the legend"
"$sn" plot "$run/history.csv" --columns nope -o "$tmp/x.svg" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "no column 'nope'" "$tmp/err" && ok || bad "plot of a missing column"
"$sn" summary "$tmp/mlp.net" >"$tmp/out" 2>&1
grep -q "parameters: 25450 " "$tmp/out" && ok || bad "summary: $(cat "$tmp/out")" # 784*32+32 + 32*10+10

# Rendering: a screenshot in headless Chromium must show every chart.
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
    echo "test_report: Chromium not found, skipping the screenshot (scripts/install-deps.sh --report)"
else
    # Pillow decodes the screenshot quickly; without it a decoder written
    # here reads a shorter one (the training charts and the heat map).
    height=4600
    "$py" -c 'import PIL' 2>/dev/null || height=1900
    timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$tmp/chrome" --screenshot="$tmp/shot.png" --window-size=1400,$height \
        "file://$html" >"$tmp/chrome.log" 2>&1
    [ -s "$tmp/shot.png" ] && ok || bad "no screenshot: $(tail -3 "$tmp/chrome.log")"
    "$py" - "$tmp/shot.png" <<'EOF' && ok || bad "the screenshot is blank or lacks a chart"
import struct, sys, zlib

def colours_pil(path):
    from PIL import Image
    im = Image.open(path).convert("RGB")
    return im.size[0] * im.size[1], {c: k for k, c in im.getcolors(1 << 24)}

def pixels_png(path):
    # 8-bit RGB(A) PNG as Chromium writes it (PNG spec: filters 0-4).
    data = open(path, "rb").read()
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 2:
            line = bytearray((x + p) & 255 for x, p in zip(line, prev))
        elif f:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                if f == 1:
                    line[i] = (line[i] + a) & 255
                elif f == 3:
                    line[i] = (line[i] + (a + b) // 2) & 255
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return w, h, bytes(out), bpp

try:
    total, colours = colours_pil(sys.argv[1])
    full = True
except ImportError:
    w, h, px, bpp = pixels_png(sys.argv[1])
    full = False
    total, colours = w * h, {}
    for i in range(0, len(px), bpp):
        c = tuple(px[i:i + 3])
        colours[c] = colours.get(c, 0) + 1
assert max(colours.values()) < 0.9 * total, "almost a single colour"
assert len(colours) > 200, "too few colours"
def seen(rgb, tol=12, least=12):
    return sum(k for c, k in colours.items()
               if all(abs(c[i] - rgb[i]) <= tol for i in range(3))) >= least
charts = {"train line (loss, accuracy)": (0x1f, 0x77, 0xb4), "validation line": (0xff, 0x7f, 0x0e),
          "learning rate": (0x94, 0x67, 0xbd), "confusion heat map": (0x08, 0x30, 0x6b)}
if full:
    charts["robustness macro F1"] = (0xd6, 0x27, 0x28)
    charts["misclassified captions"] = (0xc0, 0x39, 0x2b)
missing = [k for k, rgb in charts.items() if not seen(rgb)]
assert not missing, missing
EOF
fi

# The kept epoch is marked on every training chart and named beside the
# headline accuracy; the charts sit in a grid as wide as the page (two
# columns on a wide screen); the hyper-parameters show the schedule and the
# early-stopping monitor.
"$py" - "$run/report.html" <<'PY' && ok || bad "kept epoch or chart grid in report.html"
import re, sys
html = open(sys.argv[1]).read()
training = html[html.index("<h2>Training</h2>"):]
training = training[:training.index("</section>")]
charts = training.count("<svg")
assert charts >= 3 and training.count("kept: epoch 4<") == charts, (charts, training.count("kept: epoch"))
assert "test accuracy (weights of epoch 4)" in html
assert 'class="charts"' in training and "grid-template-columns" in html and "calc(50%" in html
PY
sed 's/^epochs 4$/epochs 6\nschedule step step_size=2 gamma=0.5\nearly_stop patience=2 monitor=val_acc/' \
    "$tmp/mlp.net" >"$tmp/es.net"
"$sn" train "$tmp/es.net" --data "$data" --out "$tmp/es" --quiet >/dev/null 2>"$tmp/err" || bad "es: $(cat "$tmp/err")"
for k in "schedule step" "step_size 2" "gamma 0.5" "patience 2" "monitor val_acc" "restore_best yes"; do
    grep -qx "$k" "$tmp/es/run.txt" && ok || bad "run.txt lacks '$k': $(cat "$tmp/es/run.txt")"
done
# the kept epoch, as the library reports it, in run.txt and on the charts
kept=$(sed -n 's/^kept_epoch //p' "$tmp/es/run.txt")
[ -n "$kept" ] && grep -q "kept: epoch $kept<" "$tmp/es/report.html" &&
    grep -q "test accuracy (weights of epoch $kept)" "$tmp/es/report.html" && ok ||
    bad "early-stopped run: kept_epoch '$kept' not on the report"
grep -q '>step_size</td><td class="l">2</td>' "$tmp/es/report.html" &&
    grep -q '>monitor</td><td class="l">val_acc</td>' "$tmp/es/report.html" &&
    ok || bad "the hyper-parameter table lacks the schedule or the monitor"
finish
