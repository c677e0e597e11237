#!/usr/bin/env bash
# Compares two folders written by tests/golden/record.sh: every CSV byte for
# byte, every safetensors file by its tensors' bytes and its metadata, leaving
# out the "checksums" metadata entry (absent from files of older builds).
#   tests/golden/compare.sh OUT_A OUT_B      (exit 1 and names each difference)
set -euo pipefail
/usr/bin/python3 - "$1" "$2" <<'PY'
import json, os, struct, sys
a, b = sys.argv[1], sys.argv[2]

def tensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    meta = head.pop("__metadata__", {})
    meta.pop("checksums", None)
    data = raw[8 + n:]
    t = {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
         for k, v in head.items()}
    return meta, t

bad = 0
names = sorted(set(os.listdir(a)) | set(os.listdir(b)))
for f in names:
    pa, pb = os.path.join(a, f), os.path.join(b, f)
    if not (os.path.exists(pa) and os.path.exists(pb)):
        print(f"{f}: only in {'the first' if os.path.exists(pa) else 'the second'}"); bad = 1
        continue
    if f.endswith(".safetensors"):
        ma, ta = tensors(pa)
        mb, tb = tensors(pb)
        for k in sorted(set(ma) | set(mb)):
            if ma.get(k) != mb.get(k):
                print(f"{f}: metadata '{k}' differs"); bad = 1
        for k in sorted(set(ta) | set(tb)):
            if ta.get(k) != tb.get(k):
                print(f"{f}: tensor '{k}' differs"); bad = 1
    elif open(pa, "rb").read() != open(pb, "rb").read():
        print(f"{f}: differs"); bad = 1
print("identical" if not bad else "DIFFERENT", f"({len(names)} files)")
sys.exit(bad)
PY
