# Shared by the tests of tests/mpi/ (kept out of tests/mpi/, whose *.sh files
# are the tests): the harness (tests/lib/harness.sh), the test's settings,
# small data sets, the char-LSTM spec, and finding a rank's process.
#   src=$(cd "$2" && pwd); . "$src/tests/lib/mpi.sh"   (in a test run as
#   NAME.sh BUILD_DIR SOURCE_DIR; MPIEXEC, MPIEXEC_FLAGS from ctest)
# The test then runs in its temporary folder, $T. The data sets are fetched
# into $src/data on first use (a clean clone has none).
. "$src/tests/lib/harness.sh"
build=$(cd "$1" && pwd)
sn="$build/scratchnet"
mpiexec=${MPIEXEC:-mpirun}
read -r -a flags <<<"${MPIEXEC_FLAGS:---allow-run-as-root --oversubscribe}"
mpi() { timeout 300 "$mpiexec" "${flags[@]}" "$@"; }
py=/usr/bin/python3
T=$tmp
cd "$T" || exit 1

# rank_pid RANK SPEC: the pid of rank RANK's scratchnet process training
# SPEC (empty when none).
rank_pid() {
    local p
    for p in $(pgrep -f "$sn train $2"); do
        [ "$(cat /proc/$p/comm 2>/dev/null)" = scratchnet ] || continue
        grep -qz "^OMPI_COMM_WORLD_RANK=$1\$" /proc/$p/environ 2>/dev/null && echo $p
    done
}

# rank1_at_checkpoint DIR SPEC: the pid of rank 1 of the run training SPEC
# into DIR, once DIR holds a checkpoint (waits up to 30 s; empty if none).
rank1_at_checkpoint() {
    local victim="" i
    for i in $(seq 600); do
        if [ -f "$1/checkpoint.safetensors" ]; then
            victim=$(rank_pid 1 "$2")
            [ -n "$victim" ] && break
        fi
        sleep 0.05
    done
    echo "$victim"
}

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
