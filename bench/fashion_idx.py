"""Fashion-MNIST (IDX, raw or .gz) for the PyTorch twins of the benchmarks."""
import gzip
import os

import numpy as np
import torch


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(d, split, prog):
    """Images of `split` ("train" or "t10k") in folder d as float32 in [0, 1],
    [n, 1, 28, 28], and their labels as int64 [n]; prog names the caller in
    the error when a file is missing."""
    def find(base):
        for name in (base, base + ".gz"):
            if os.path.exists(os.path.join(d, name)):
                return os.path.join(d, name)
        raise SystemExit(f"{prog}: {base} not found in {d}")

    x = read_idx(find(f"{split}-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = read_idx(find(f"{split}-labels-idx1-ubyte")).astype(np.int64)
    return torch.from_numpy(x.reshape(-1, 1, 28, 28).copy()), torch.from_numpy(y)
