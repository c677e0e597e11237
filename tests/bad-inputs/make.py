"""Writes the malformed inputs of tests/bad-inputs/ (run with /usr/bin/python3
from anywhere; the files are committed, this script says how they were made).

Each file is small and broken in one way; cases.txt says which command reads
it, the exit status expected and a phrase the error message must contain.
Alongside are a few valid files the cases need (tiny models, a spec)."""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)


def floats(n, start=0.0):
    return struct.pack("<%df" % n, *[start + 0.01 * i for i in range(n)])


# ---- safetensors ------------------------------------------------------------


def st_bytes(header, data=b"", pad=True):
    """header: a dict (dumped compactly) or raw bytes/str used as they are."""
    if isinstance(header, dict):
        h = json.dumps(header, separators=(",", ":")).encode()
    elif isinstance(header, str):
        h = header.encode()
    else:
        h = header
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def st_model(tensors, meta):
    """tensors: [(name, shape)], laid out in order with made-up values."""
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        blob = floats(n)
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [off, off + len(blob)]}
        off += len(blob)
        blobs.append(blob)
    return st_bytes(header, b"".join(blobs))


IMG_SPEC = "input 1x2x2\nflatten\ndense 3\nloss softmax_xent\n"
IMG_TENSORS = [("1.weight", (3, 4)), ("1.bias", (3,))]
META = {"format": "scratchnet-1", "spec": IMG_SPEC}

# valid: a 3-class classifier of 2x2 images, for the IDX and class-name cases
write("img.safetensors", st_model(IMG_TENSORS, META))
# valid: a 10-class classifier of grey 32x32 images, for the CIFAR-10 cases
CIFAR_SPEC = "input 1x32x32\navgpool 8\nflatten\ndense 10\nloss softmax_xent\n"
write("cifar.safetensors", st_model([("2.weight", (10, 16)), ("2.bias", (10,))],
                                    {"format": "scratchnet-1", "spec": CIFAR_SPEC}))
# valid: the same network as a spec to train
write("img.net", IMG_SPEC + "[train]\nepochs 1\nbatch 2\n")
# valid: a 2-class spec for CSV data with two features
write("two.net", "input 2\ndense 2\nloss softmax_xent\n[train]\nepochs 1\nbatch 2\n")

one_tensor = floats(2)
ok_entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}

write("st-empty.safetensors", b"")
write("st-short.safetensors", b"\x08\x00\x00")
write("st-header-huge.safetensors", struct.pack("<Q", 1 << 40) + b"{}      ")
write("st-header-past-end.safetensors", struct.pack("<Q", 4096) + b'{"a":1}')
write("st-not-json.safetensors", st_bytes("hello, world", one_tensor))
write("st-not-object.safetensors", st_bytes('[{"dtype":"F32"}]', one_tensor))
write("st-truncated-json.safetensors",
      st_bytes('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,', pad=False))
deep = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":' + "[" * 200 + "]" * 200 + "}}"
write("st-nested-deep.safetensors", st_bytes(deep, one_tensor))
write("st-duplicate-name.safetensors",
      st_bytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
               '"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', one_tensor))
write("st-dtype.safetensors",
      st_bytes({"w": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}}, one_tensor))
write("st-shape-overflow.safetensors",
      st_bytes({"w": {"dtype": "F32", "shape": [2147483647, 2147483647, 2147483647, 8],
                      "data_offsets": [0, 8]}}, one_tensor))
write("st-negative-dim.safetensors",
      st_bytes({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, one_tensor))
write("st-offsets-reversed.safetensors",
      st_bytes({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, one_tensor))
write("st-offsets-overlap.safetensors",
      st_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, floats(3)))
write("st-offsets-past-end.safetensors",
      st_bytes({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, one_tensor))
write("st-offsets-size.safetensors",
      st_bytes({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, one_tensor))
write("st-offsets-gap.safetensors",
      st_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, one_tensor))
write("st-offsets-huge.safetensors",
      st_bytes({"w": {"dtype": "F32", "shape": [2],
                      "data_offsets": [18446744073709551608, 18446744073709551615]}},
               one_tensor))
write("st-trailing.safetensors", st_bytes(json.dumps({"w": ok_entry}) + " {}", one_tensor))
write("st-bad-utf8.safetensors",
      st_bytes(b'{"w\xff":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', one_tensor))
write("st-meta-not-string.safetensors",
      st_bytes({"__metadata__": {"spec": 5}, "w": ok_entry}, one_tensor))
write("st-no-spec.safetensors", st_bytes({"w": ok_entry}, one_tensor))
write("st-bad-spec.safetensors",
      st_model(IMG_TENSORS, {"spec": "input 1x2x2\nflatten\nconvolve 3\nloss softmax_xent\n"}))
write("st-missing-tensor.safetensors", st_model(IMG_TENSORS[:1], META))
write("st-shape-mismatch.safetensors", st_model([("1.weight", (3, 5)), ("1.bias", (3,))], META))
write("st-extra-tensor.safetensors", st_model(IMG_TENSORS + [("9.weight", (2,))], META))

# ---- text models and their vocabularies ---------------------------------------

TEXT_SPEC = "input 1\nonehot 3\ndense 3\nloss softmax_xent\n"
TEXT_TENSORS = [("1.weight", (3, 3)), ("1.bias", (3,))]


def text_model(name, vocab, spec=TEXT_SPEC, tensors=TEXT_TENSORS):
    meta = {"format": "scratchnet-1", "spec": spec}
    if vocab is not None:
        meta["vocab"] = vocab
    write(name, st_model(tensors, meta))


text_model("vocab-missing.safetensors", None)
text_model("vocab-bad-header.safetensors", "scratchnet-vocabulary char 3\na\nb\nc\n")
text_model("vocab-bad-level.safetensors", "scratchnet-vocab-1 syllable 3\na\nb\nc\n")
text_model("vocab-count-huge.safetensors", "scratchnet-vocab-1 char 16000000\na\nb\nc\n")
text_model("vocab-count-short.safetensors", "scratchnet-vocab-1 char 4\na\nb\nc\n")
text_model("vocab-unsorted.safetensors", "scratchnet-vocab-1 char 3\nb\na\nc\n")
text_model("vocab-duplicate-word.safetensors", "scratchnet-vocab-1 word 3\n<unk>\nthe\nthe\n")
text_model("vocab-trailing.safetensors", "scratchnet-vocab-1 char 3\na\nb\nc\nd\n")
text_model("vocab-escape.safetensors", "scratchnet-vocab-1 byte 3\n\\x4\nb\nc\n")
text_model("vocab-size-mismatch.safetensors", "scratchnet-vocab-1 char 4\na\nb\nc\nd\n")

# ---- model specs and sweep files ----------------------------------------------

write("spec-empty.net", "")
write("spec-unknown-layer.net", "input 4\ndense 3\nconvolve 3\nloss softmax_xent\n")
write("spec-no-loss.net", "input 4\ndense 3\n")
write("spec-input-overflow.net",
      "input 16777216x16777216x16777216\nflatten\ndense 10\nloss softmax_xent\n")
write("spec-input-large.net", "input 65536x65536\nflatten\ndense 10\nloss softmax_xent\n")
write("spec-nul.net", b"input 4\ndense 3\x00\nloss softmax_xent\n")
write("spec-bad-number.net", "input 4\ndense 3\nloss softmax_xent\n[train]\nlr fast\n")
write("spec-words.net", "input 4\ndense 3 " + "x=1 " * 40 + "\nloss softmax_xent\n")
write("spec-section.net", "input 4\ndense 3\nloss softmax_xent\n[optimizer]\n")
write("sweep-empty.sweep", "# nothing but a comment\n")
write("sweep-unknown.sweep", "spec two.net\ndata x.csv\nrepeat 3\n")
write("sweep-grid-overflow.sweep",
      "spec two.net\ndata x.csv\n" +
      "".join("grid k%d=%s\n" % (k, ",".join(str(v) for v in range(64))) for k in range(16)))
# (the test runs each case in an empty folder where in/ is this folder)
write("sweep-bad-value.sweep", "spec in/two.net\ndata in/csv-ok.csv\nset lr=fast\n")
write("sweep-bad-data.sweep", "spec in/two.net\ndata in/csv-label-range.csv\nset epochs=1\n")

# ---- CSV ------------------------------------------------------------------------

write("csv-ok.csv", "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
write("csv-empty.csv", "")
write("csv-header-only.csv", "a,b,y\n")
write("csv-ragged.csv", "a,b,y\n0,0,0\n0,1\n")
write("csv-not-number.csv", "a,b,y\n0,0,0\n0,one,1\n")
write("csv-empty-field.csv", "a,b,y\n0,0,0\n0,,1\n")
write("csv-label-negative.csv", "0,0,0\n0,1,-1\n")
write("csv-label-fraction.csv", "0,0,0\n0,1,0.5\n")
write("csv-label-huge.csv", "0,0,0\n0,1,1e12\n")
write("csv-inf.csv", "0,0,0\n0,1e39,1\n")
write("csv-label-range.csv", "0,0,0\n0,1,1\n1,0,12\n1,1,0\n")
write("csv-binary.csv", b"\x00\x01\x02,\xff\xfe\n\x00,1,2\n")

# ---- class names ----------------------------------------------------------------

write("classes-few.txt", "zero\none\n")
write("classes-many.txt", "zero\none\ntwo\nthree\n")
write("classes-gap.txt", "zero\n\none\ntwo\n")
write("classes-long-line.txt", "zero\n" + "x" * 3000 + "\ntwo\n")

# ---- IDX ------------------------------------------------------------------------


def idx(ndim_magic, dims, data, dtype=0x08):
    return bytes([0, 0, dtype, ndim_magic]) + b"".join(struct.pack(">I", d) for d in dims) + data


def images(n, rows=2, cols=2):
    return idx(3, [n, rows, cols], bytes((7 * i) % 256 for i in range(n * rows * cols)))


def labels(values):
    return idx(1, [len(values)], bytes(values))


write("idx-empty", b"")
write("idx-short-header", images(2)[:9])
write("idx-bad-magic", b"\x12\x34" + images(2)[2:])
write("idx-labels-as-images", labels([0, 1, 2]))
write("idx-dtype", idx(3, [2, 2, 2], floats(8), dtype=0x0D))
write("idx-zero-dim", idx(3, [2, 0, 2], b""))
write("idx-overflow", idx(3, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b"\x00" * 16))
write("idx-int-overflow", idx(3, [1, 1 << 31, 1], b"\x00" * 16))
write("idx-too-large", idx(3, [65536, 65536, 65536], b"\x00" * 16))
write("idx-truncated", images(3)[:-5])
write("idx-trailing", images(3) + b"\x00\x00\x00")
gz = gzip.compress(images(40), mtime=0)
write("idx-truncated.gz", gz[:len(gz) // 2])
bad = bytearray(gz)
bad[-6] ^= 0xFF  # the CRC-32 trailer
write("idx-crc.gz", bytes(bad))
write("idx-not-gzip.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 20)


def idx_dir(name, imgs, labs):
    write(name + "/t10k-images-idx3-ubyte", imgs)
    write(name + "/t10k-labels-idx1-ubyte", labs)


idx_dir("idx-ok", images(4), labels([0, 1, 2, 1]))
idx_dir("idx-count", images(4), labels([0, 1, 2]))
idx_dir("idx-label-range", images(4), labels([0, 1, 7, 2]))
write("idx-label-range/train-images-idx3-ubyte", images(4))
write("idx-label-range/train-labels-idx1-ubyte", labels([0, 1, 2, 1]))
idx_dir("idx-bad-labels", images(4), labels([0, 1, 2, 1])[:-2])
write("idx-no-labels/t10k-images-idx3-ubyte", images(2))

# ---- CIFAR-10 binary ------------------------------------------------------------

REC = 3073


def record(label):
    return bytes([label]) + bytes((label * 13 + i) % 256 for i in range(REC - 1))


write("cifar-empty/test_batch.bin", b"")
write("cifar-truncated/test_batch.bin", record(1) + record(2)[:1000])
write("cifar-label/test_batch.bin", record(3) + record(12))
write("cifar-100/test_batch.bin", b"\x01" * (2 * 3074))
write("cifar-meta-few/test_batch.bin", record(0))
write("cifar-meta-few/batches.meta.txt", "airplane\nautomobile\nbird\n")
write("cifar-meta-many/test_batch.bin", record(0))
write("cifar-meta-many/batches.meta.txt",
      "".join(c + "\n" for c in ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                 "horse", "ship", "truck", "unicorn"]))

# ---- text corpora ---------------------------------------------------------------

write("text-ok.txt", "a tiny corpus\n")
write("text-empty.txt", "")
write("text-bad-utf8.txt", b"hello \xc3\x28 world\n")
write("text-one-char.txt", "aaaaaaaaaa")
write("text-no-words.txt", " \n\t\n  \n")
write("text-overlong.txt", b"ok \xc0\xaf\n")
