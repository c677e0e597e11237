#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/<target>/: small valid files and
slightly broken ones, per reader. Run from anywhere with /usr/bin/python3.

Inputs of the targets with options carry them in a leading byte (cifar,
text, classes) or two (csv); see each fuzz/fuzz_*.c. Two model files come
from training runs rather than from this script (kept as they were written):
  safetensors/xor-model.safetensors   scratchnet train examples/xor/xor.net
                                      --data examples/xor/xor.csv --epochs 1
  safetensors/text-model.safetensors  a char-level embedding 4 / rnn 6 model
                                      trained one epoch on one sentence
Files that once crashed a target are kept under the name crash-<what>."""
import gzip
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(dims, body):
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + body


def gz(b):
    return gzip.compress(b, mtime=0)


# ---- idx ----
labels = idx([6], bytes([0, 1, 2, 9, 3, 1]))
images = idx([2, 3, 4], bytes(range(24)))
put("idx", "labels", labels)
put("idx", "images", images)
put("idx", "labels.gz", gz(labels))
put("idx", "images.gz", gz(images))
put("idx", "images-truncated", images[:-5])
put("idx", "images-trailing", images + b"\x00\x01")
put("idx", "images-gz-truncated", gz(images)[:-9])
put("idx", "header-only", images[:16])
put("idx", "zero-dim", idx([0, 3, 4], b""))
put("idx", "huge-dims", idx([60000, 1000, 1000], bytes(16)))
put("idx", "float-type", struct.pack(">BBBB", 0, 0, 0x0D, 1) + struct.pack(">I", 2) + bytes(8))
put("idx", "short", b"\x00\x00\x08")

# ---- cifar: byte 0 = options (bit 0 grey, bits 1..3 limit) ----
rec = lambda label, v: bytes([label]) + bytes([v]) * 3072
put("cifar", "one", b"\x00" + rec(3, 128))
put("cifar", "two-grey", b"\x01" + rec(0, 0) + rec(9, 255))
put("cifar", "three-limit2", b"\x04" + rec(1, 1) + rec(2, 2) + rec(3, 3))
put("cifar", "partial", b"\x00" + rec(1, 7) + rec(2, 7)[:100])
put("cifar", "bad-label", b"\x00" + rec(10, 0))
put("cifar", "cifar100-like", b"\x00" + bytes(3074))
put("cifar", "empty", b"\x00")

# ---- csv: byte 0 (header, features_only, delimiter), byte 1 (label / targets) ----
put("csv", "header-label", b"\x00\x00" + b"a,b,label\n0.5,1,0\n-2,3e2,1\n1,1,2\n4,5,1\n")
put("csv", "noheader-label0", b"\x01\x01" + b"1,0.1,0.2\n0,0.3,0.4\r\n\n1,5,6\n")
put("csv", "targets", b"\x02\x81" + b"x,y,t1,t2\n1,2,3,4\n5,6,7,8\n")
put("csv", "semicolon", b"\x08\x00" + b"1;2;0\n3;4;1\n")
put("csv", "tab-features", b"\x14\x00" + b"1\t2\t3\n4\t5\t6\n")
put("csv", "bom-crlf", b"\x00\x00" + b"\xef\xbb\xbfa,b\r\n1,0\r\n2,1\r\n")
put("csv", "ragged", b"\x00\x00" + b"1,2,0\n3,4\n")
put("csv", "nan", b"\x00\x00" + b"1,nan,0\n1,inf,1\n")
put("csv", "big-label", b"\x00\x00" + b"1,2,99999999999\n")
put("csv", "neg-label", b"\x00\x00" + b"1,2,-1\n1,2,1.5\n")
put("csv", "empty-field", b"\x00\x00" + b"1,,0\n")
put("csv", "header-only", b"\x02\x00" + b"a,b,c\n")

# ---- text: byte 0 = max_words - 1 ----
put("text", "english", b"\x10" + b"Call me Ishmael. Some years ago -- never mind how long...\n\n"
    b"\"Don't,\" he said; the whale's tail (a fin) rose!\n")
put("text", "utf8", b"\xff" + "Ça va? «Oui» — très bien… naïve café 日本語 ‘quote’\n".encode())
put("text", "bytes", b"\x02" + bytes(range(1, 256)))
put("text", "invalid-utf8", b"\x05" + b"abc\xc3(def\xed\xa0\x80 \xf4\x90\x80\x80")
put("text", "one-char", b"\x05" + b"aaaa")
put("text", "crash-word-nul", b"\x0e" + b"\x00")
put("text", "nul-words", b"\x0e" + b"a\x00b\x00\x00c a")
put("text", "long-word", b"\x03" + b"x" * 200 + b" y " + b"!" * 100)

# ---- vocab ----
put("vocab", "char", "scratchnet-vocab-1 char 4\n\\x0A\n \na\nb\n")
put("vocab", "char2", "scratchnet-vocab-1 char 3\na\nb\né\n")
put("vocab", "byte", "scratchnet-vocab-1 byte 3\n\\x00\nA\n\\xFF\n")
put("vocab", "word", "scratchnet-vocab-1 word 5\n<unk>\nthe\n\\x0A\\x0A\n.\ndon't\n")
put("vocab", "backslash", "scratchnet-vocab-1 word 3\n<unk>\n\\\\\nx\n")
put("vocab", "unsorted", "scratchnet-vocab-1 char 2\nb\na\n")
put("vocab", "repeat", "scratchnet-vocab-1 word 3\n<unk>\na\na\n")
put("vocab", "short", "scratchnet-vocab-1 char 5\na\nb\n")
put("vocab", "huge-count", "scratchnet-vocab-1 word 16777216\n<unk>\n")
put("vocab", "bad-escape", "scratchnet-vocab-1 byte 2\n\\x4\n\\q\n")
put("vocab", "trailing", "scratchnet-vocab-1 char 2\na\nb\nc\n")

# ---- classes: byte 0 = K - 1 ----
cifar = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
put("classes", "cifar", b"\x09" + cifar.encode())
put("classes", "blank-lines", b"\x02" + b"\n  one \r\ntwo\n\nthree\n\n\n")
put("classes", "too-few", b"\x04" + b"a\nb\n")
put("classes", "too-long", b"\x00" + b"n" * 1100 + b"\n")
put("classes", "long-name", b"\x09" + cifar.replace("truck", "t" * 40).encode())
put("classes", "nul", b"\x01" + b"a\x00b\nc\n")

# ---- spec ----
put("spec", "mlp", "input 1x8x8\nflatten\ndense 16 init=he l2=1e-4\nbatchnorm\nsilu\ndropout 0.2\n"
    "dense 4\nloss softmax_xent\n[train]\noptimizer adam lr=1e-3\nschedule cosine t_max=5\n"
    "warmup epochs=1\nclip norm=1\nearly_stop patience=2 monitor=val_acc\nbatch 8\nepochs 2\n")
put("spec", "cnn", "input 1x12x12\nconv2d 4 3 pad=1 stride=1\nrelu\nmaxpool 2\nconv2d 6 3x2 pad=same stride=2x1\n"
    "avgpool 2\nflatten\ndense 3\nloss softmax_xent\n")
put("spec", "gap", "input 3x8x8\nconv2d 4 3\nbatchnorm\nrelu\nglobal_avgpool\ndense 2\nloss bce_logits\n")
put("spec", "lstm", "input 1\nembedding 7 5\nlstm 6\ndropout 0.1\ndense 7\nloss softmax_xent\n")
put("spec", "gru", "input 1\nonehot 5\ngru 4\nrnn 3\ndense 5\nloss softmax_xent\n[train]\n"
    "optimizer rmsprop\nclip value=5\n")
put("spec", "xor", "input 2\ndense 2 init=xavier\nsigmoid\ndense 1\nsigmoid\nloss mse\n[train]\n"
    "optimizer sgd lr=2 momentum=0.9 nesterov=1\nbatch 4\nepochs 3\nseed 1\n")
put("spec", "no-loss", "input 4\ndense 3\n")
put("spec", "bad-shape", "input 1x0x28\ndense 3\nloss mse\n")
put("spec", "unknown-layer", "input 4\nfoo 3\ndense 2\nloss mse\n")
put("spec", "after-loss", "input 4\ndense 2\nloss mse\nrelu\n")
put("spec", "bad-train", "input 4\ndense 2\nloss mse\n[train]\noptimizer adam lr=-1\nbatch 0\n")
put("spec", "no-input", "dense 3\nloss mse\n")


# ---- safetensors (synthetic; see the docstring for the two trained ones) ----
def st(tensors, meta=None, pad=True, header=None):
    h = {}
    if meta is not None:
        h["__metadata__"] = meta
    data = b""
    for name, shape, values in tensors:
        b = struct.pack("<%df" % len(values), *values)
        h[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    hb = header if header is not None else json.dumps(h).encode()
    if pad:
        hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + data


small = [("0.weight", [3, 4], [0.1 * i for i in range(12)]), ("0.bias", [3], [0, 1, 2]),
         ("2.weight", [2, 3], [1, 2, 3, 4, 5, 6]), ("2.bias", [2], [0.5, -0.5])]
spec = "input 4\ndense 3\nrelu\ndense 2\nloss softmax_xent\n"
put("safetensors", "small-weights", st(small))
put("safetensors", "small-model", st(small, {"format": "scratchnet-1", "spec": spec}))
put("safetensors", "wrong-shape", st([("0.weight", [4, 3], [0] * 12)] + small[1:]))
put("safetensors", "scalar-and-empty", st([("s", [], [1.5]), ("e", [0, 3], [])]))
put("safetensors", "meta-escapes", st([("a", [1], [1])], {"k\\u00e9y": "v\\n\\\"q\\\"\\ud83d\\ude00"}))
put("safetensors", "bad-json", st([], header=b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]'))
put("safetensors", "overlap", st([], header=json.dumps(
    {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
     "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()) + bytes(4))
put("safetensors", "f16", st([], header=json.dumps(
    {"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}).encode()) + bytes(4))
put("safetensors", "huge-header-len", struct.pack("<Q", 1 << 62) + b"{}")
put("safetensors", "truncated", st(small)[:-7])
put("safetensors", "text-model-bad-vocab", st(small, {"format": "scratchnet-1", "spec": spec,
                                                      "vocab": "scratchnet-vocab-1 char 2\na\n"}))


# ---- checkpoint: variants of two checkpoints written by training runs ----
#   checkpoint/xor-checkpoint.safetensors   scratchnet train examples/xor/xor.net
#       --data examples/xor/xor.csv --epochs 1 --checkpoint-every 1 --threads 1
#   checkpoint/text-checkpoint.safetensors  embedding vocab 4 / lstm 6 / dense vocab,
#       [text] seq 4, batch 2, one epoch on one line, --checkpoint-every 1
# Without their "checksums" (as an older or foreign writer leaves them) the
# fuzzer can change the rest and reach the checks behind the checksums.
def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def write_st(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


for base in ("xor", "text"):
    header, data = read_st(os.path.join(ROOT, "checkpoint", base + "-checkpoint.safetensors"))
    plain = dict(header)
    plain["__metadata__"] = {k: v for k, v in header["__metadata__"].items() if k != "checksums"}
    put("checkpoint", base + "-no-checksums", write_st(plain, data))
    moved = json.loads(json.dumps(plain))
    pos = moved["__metadata__"]["position"].split(" ")
    pos[0] = "1" if pos[0] != "1" else "3"
    moved["__metadata__"]["position"] = " ".join(pos)
    put("checkpoint", base + "-position-edited", write_st(moved, data))
    first = min(header[k]["data_offsets"][0] for k in header if k != "__metadata__")
    put("checkpoint", base + "-nan-weight",
        write_st(plain, data[:first] + struct.pack("<f", float("nan")) + data[first + 4:]))
    put("checkpoint", base + "-truncated", write_st(header, data)[:-13])
