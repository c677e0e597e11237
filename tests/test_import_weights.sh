#!/usr/bin/env bash
# import-weights: a PyTorch nn.Sequential's state_dict (written here in the
# safetensors layout by an independent writer, num_batches_tracked included)
# becomes a model file whose predictions match PyTorch's eval-mode softmax; a
# missing, mis-shaped or non-F32 tensor is an error naming it, with no model
# written. Skipped when torch cannot be imported.
# usage: test_import_weights.sh SCRATCHNET SOURCE_DIR
set -u
sn=$1
. "$(dirname "$0")/lib/harness.sh"
py=/usr/bin/python3
if ! [ -x "$py" ] || ! "$py" -c 'import torch' 2>/dev/null; then
    echo "test_import_weights: skipped: torch is not importable by $py"
    exit 0
fi

printf 'input 4\ndense 8\nbatchnorm\nrelu\ndense 3\nloss softmax_xent\n' >"$tmp/m.net"
"$py" - "$tmp" <<'PY' || { echo "FAIL: the PyTorch side failed" >&2; exit 1; }
import json, struct, sys
import torch
t = sys.argv[1]
torch.manual_seed(5)
net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                          torch.nn.Linear(8, 3))
with torch.no_grad():
    for p in net.parameters():
        p.copy_(torch.randn_like(p))
    net[1].running_mean.copy_(torch.randn(8))
    net[1].running_var.copy_(torch.rand(8) * 2 + 0.2)
    net[1].num_batches_tracked.fill_(37)
net.eval()
x = torch.randn(6, 4)
with torch.no_grad():
    p = torch.softmax(net(x), dim=1)
codes = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.float16: "F16"}

def save(path, tensors):  # the safetensors layout, written independently of scratchnet
    header, data = {}, b""
    for name, v in tensors.items():
        raw = v.contiguous().numpy().tobytes()  # little-endian on this host
        header[name] = {"dtype": codes[v.dtype], "shape": list(v.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)

sd = net.state_dict()
assert sd["1.num_batches_tracked"].dtype == torch.int64
save(f"{t}/w.safetensors", sd)
missing = dict(sd); del missing["3.bias"]
save(f"{t}/missing.safetensors", missing)
shaped = dict(sd); shaped["0.weight"] = torch.zeros(8, 5)
save(f"{t}/shape.safetensors", shaped)
f64 = dict(sd); f64["1.running_var"] = sd["1.running_var"].double()
save(f"{t}/f64.safetensors", f64)
with open(f"{t}/x.csv", "w") as f:
    for r in x.tolist():
        f.write(",".join(repr(v) for v in r) + "\n")
with open(f"{t}/p.json", "w") as f:
    json.dump(p.tolist(), f)
PY

expect 0 "" -- "$sn" import-weights "$tmp/m.net" "$tmp/w.safetensors" -o "$tmp/model.safetensors"
expect 0 "" -- "$sn" predict "$tmp/model.safetensors" "$tmp/x.csv" --probs --format json
"$py" - "$tmp/out" "$tmp/p.json" <<'PY' && ok || bad "predict --probs differs from PyTorch"
import json, sys
got = [row["probs"] for row in json.load(open(sys.argv[1]))]
want = json.load(open(sys.argv[2]))
assert len(got) == len(want) == 6, (len(got), len(want))
worst = max(abs(a - b) for g, w in zip(got, want) for a, b in zip(g, w))
print(f"largest difference from PyTorch: {worst:.2e}")
sys.exit(worst > 1e-5)
PY
# the imported file is a normal model file: summary reads its spec
expect 0 "" -- "$sn" summary "$tmp/model.safetensors"
grep -q "batchnorm" "$tmp/out" && ok || bad "summary of the imported model lacks its batchnorm layer"

# errors: exit 1, the tensor named, no model written
for c in "missing:'3.bias' missing" "shape:'0.weight' has shape" "f64:'1.running_var' has dtype F64"; do
    name=${c%%:*}
    rm -f "$tmp/bad.safetensors"
    expect 1 "${c#*:}" -- "$sn" import-weights "$tmp/m.net" "$tmp/$name.safetensors" -o "$tmp/bad.safetensors"
    [ ! -e "$tmp/bad.safetensors" ] && ok || bad "$name: a model file was written"
    cp "$tmp/err" "$tmp/$name.err"
done
grep -F "'0.weight' has shape [8, 5]" "$tmp/shape.err" | grep -qF "expects [8, 4]" && ok ||
    bad "the mis-shaped tensor's message lacks its shape or the expected one"
# a text spec's size depends on a vocabulary that a state_dict does not hold
printf 'input 1\nembedding vocab 4\nlstm 8\ndense vocab\nloss softmax_xent\n' >"$tmp/t.net"
expect 1 "a text model's spec" -- "$sn" import-weights "$tmp/t.net" "$tmp/w.safetensors" -o "$tmp/bad.safetensors"
expect 2 "-o MODEL is required" -- "$sn" import-weights "$tmp/m.net" "$tmp/w.safetensors"
finish
