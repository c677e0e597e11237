"""Writes the from-scratch book's exact spiral draw and initial weights, for
comparing our optimizers with the book's printed runs on identical inputs.

The book calls nnfs.init() (NumPy's generator seeded with 0, randn cast to
float32), draws spiral_data(samples=100, classes=3), then Dense(2, 64) and
Dense(64, 3) weights as 0.01 * randn(in, out) with zero biases, in that
order. This script repeats those draws with NumPy alone and writes

  book_draw.csv            300 rows: x1, x2, label (float32 values, 9 digits)
  book_init.safetensors    "0.weight" [64, 2], "0.bias" [64], "2.weight" [3, 64],
                           "2.bias" [3]: PyTorch's [out, in] layout, the names
                           of our spec's layers (0 dense, 1 relu, 2 dense)

usage: /usr/bin/python3 examples/spiral/book_draw.py   (from the repository root)
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def randn(*shape):
    return np.random.randn(*shape).astype(np.float32)


def spiral_data(samples, classes):
    X = np.zeros((samples * classes, 2), dtype=np.float32)
    y = np.zeros(samples * classes, dtype=np.uint8)
    for c in range(classes):
        ix = range(samples * c, samples * (c + 1))
        r = np.linspace(0.0, 1, samples)
        t = np.linspace(c * 4, (c + 1) * 4, samples) + randn(samples) * 0.2
        X[ix] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[ix] = c
    return X, y


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    np.random.seed(0)
    X, y = spiral_data(100, 3)
    w1 = (0.01 * randn(2, 64)).astype(np.float32)
    w2 = (0.01 * randn(64, 3)).astype(np.float32)
    with open(os.path.join(HERE, "book_draw.csv"), "w") as f:
        f.write("x1,x2,label\n")
        for (a, b), c in zip(X, y):
            f.write(f"{a:.9g},{b:.9g},{c}\n")
    save_safetensors(os.path.join(HERE, "book_init.safetensors"),
                     {"0.weight": w1.T, "0.bias": np.zeros(64, np.float32),
                      "2.weight": w2.T, "2.bias": np.zeros(3, np.float32)})


if __name__ == "__main__":
    main()
