"""Compares the tensors of two safetensors files: for each, ||a - b|| over
||b||, or over 1 % of the norm of all of B's tensors where that is larger
(the bias of a layer before batch norm has a gradient of 0 up to round-off:
its value is round-off, which no bound relative to itself accepts). Prints
the worst and exits 1 when it exceeds TOL.

usage: compare_weights.py A.safetensors B.safetensors TOL"""
import json
import math
import struct
import sys


def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        lo, hi = v["data_offsets"]
        raw = b[8 + n + lo:8 + n + hi]
        out[k] = struct.unpack(f"<{len(raw) // 4}f", raw)
    return out


def main():
    a, b, tol = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
    if sorted(a) != sorted(b):
        print("different tensors:", sorted(a), sorted(b))
        return 1
    worst, name = 0.0, ""
    floor = 0.01 * math.sqrt(sum(y * y for k in b for y in b[k]))
    for k in a:
        d = math.sqrt(sum((x - y) ** 2 for x, y in zip(a[k], b[k])))
        nb = max(math.sqrt(sum(y * y for y in b[k])), floor)
        e = d / nb if nb > 0 else d
        if e > worst:
            worst, name = e, k
    print(f"worst relative difference {worst:.3g} ({name}), tolerance {tol:g}")
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
