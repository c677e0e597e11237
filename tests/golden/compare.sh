#!/usr/bin/env bash
# Compares two folders written by tests/golden/record.sh, OUT_A from an older
# build, OUT_B from a newer one: every CSV value of the columns both have,
# every safetensors file by its tensors' bytes and the metadata both have
# (leaving out "checksums"). What only OUT_B has (a new column, a new
# metadata entry) is listed as added, not counted as a difference.
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
            if k not in ma:
                print(f"{f}: metadata '{k}' added")
            elif ma.get(k) != mb.get(k):
                print(f"{f}: metadata '{k}' differs"); bad = 1
        for k in sorted(set(ta) | set(tb)):
            if ta.get(k) != tb.get(k):
                print(f"{f}: tensor '{k}' differs"); bad = 1
    else:
        ra = [l.split(",") for l in open(pa).read().splitlines()]
        rb = [l.split(",") for l in open(pb).read().splitlines()]
        added = [h for h in rb[0] if h not in ra[0]] if ra and rb else []
        if added:
            print(f"{f}: column(s) {', '.join(added)} added")
        if len(ra) != len(rb) or any(h not in rb[0] for h in ra[0]):
            print(f"{f}: differs (rows or columns)"); bad = 1
            continue
        pos = [rb[0].index(h) for h in ra[0]]
        if any([r[i] for i in pos] != s for r, s in zip(rb, ra)):
            print(f"{f}: differs"); bad = 1
print("identical where both have it" if not bad else "DIFFERENT", f"({len(names)} files)")
sys.exit(bad)
PY
