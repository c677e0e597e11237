"""Minimal safetensors reader and writer for the parity fixtures (the Python
`safetensors` package is not needed): 8-byte little-endian header length, a
JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then
the raw little-endian float32 data."""
import json
import struct

import torch


def save(path, tensors, metadata=None):
    """tensors: {name: torch.Tensor}; metadata: {str: str}."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load(path):
    """Returns ({name: torch.Tensor}, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]),
                                     dtype=torch.float32).reshape(e["shape"])
    return out, meta
