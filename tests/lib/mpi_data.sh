# The small data sets and the char-LSTM spec the tests of tests/mpi/ share
# (kept out of tests/mpi/, whose *.sh files are the tests).
# Source it after setting src (the source tree); run the functions in the
# test's working folder. The data sets are fetched into $src/data on first
# use (a clean clone has none).

# fashion_subset DST NTRAIN NTEST: the first NTRAIN training and NTEST test
# images of Fashion-MNIST, as an IDX folder DST.
fashion_subset() {
    "$src/scripts/fetch-data.sh" fashion-mnist >/dev/null || return 1
    /usr/bin/python3 - "$src/data/fashion-mnist" "$1" "$2" "$3" <<'PY'
import gzip, os, struct, sys
src, dst, ntrain, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(dst, exist_ok=True)
def read(name):
    for n in (name, name + ".gz"):
        p = os.path.join(src, n)
        if os.path.exists(p):
            return (gzip.open if n.endswith(".gz") else open)(p, "rb").read()
    raise SystemExit("missing " + name)
for split, cnt in (("train", ntrain), ("t10k", ntest)):
    for kind, head, per in (("images-idx3-ubyte", 16, 784), ("labels-idx1-ubyte", 8, 1)):
        b = read(f"{split}-{kind}")
        hdr = bytearray(b[:head]); hdr[4:8] = struct.pack(">I", cnt)
        open(os.path.join(dst, f"{split}-{kind}"), "wb").write(bytes(hdr) + b[head:head + cnt * per])
PY
}

# moby_lstm EPOCHS: moby.txt (the first 60,000 characters of Moby Dick) and
# lstm.net, a small char-LSTM that trains for EPOCHS epochs.
moby_lstm() {
    "$src/scripts/fetch-data.sh" moby-dick >/dev/null || return 1
    head -c 60000 "$src/data/moby-dick.txt" >moby.txt
    cat >lstm.net <<EOF2
input 1
onehot vocab
lstm 32
dropout 0.1
dense vocab
loss softmax_xent
[text]
level char
seq 20
val 0.1
sample_every 0
[train]
optimizer adam lr=3e-3
batch 8
epochs $1
seed 1
EOF2
}
