"""PyTorch references for convolution and pooling, and a 100-step Adam
trajectory of a small CNN. Writes

  fixtures/cnn_conv.safetensors        conv2d cases          (tests/test_conv.c)
  fixtures/cnn_pool.safetensors        pooling cases         (tests/test_pool.c)
  fixtures/cnn_trajectory_init.safetensors   initial weights: a PyTorch
                                       nn.Sequential state_dict, as a user
                                       would export it
  fixtures/cnn_trajectory.safetensors  batches, labels and PyTorch's loss at
                                       each of 100 Adam steps
                                       (tests/test_cnn_trajectory.c)

    /usr/bin/python3 tests/parity/gen_cnn.py    (or tests/parity/gen.py for all)

The conv and pool files follow the "sn-cases-1" schema, kind "layers", of
gen_core.py: metadata "cases", "<case>.spec", "<case>.bound"; tensors
"<case>.x", "<case>.<i>.<param>", "<case>.y", "<case>.dy" (the upstream
gradient fed to the last layer's backward), "<case>.dx",
"<case>.<i>.<param>.grad"; or, for whole models, "<case>.labels" and
"<case>.loss" instead of "<case>.dy". References are computed in float64
from float32 inputs and rounded to float32 once.

The trajectory is computed by PyTorch in float64 (the exact trajectory for
float32 initial weights and data); the script also runs it in float32 and
prints how far PyTorch's own float32 losses are from it."""
import math
import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F

import st

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
torch.set_num_threads(1)
# PyTorch notes that padding="same" with an even kernel pads unevenly: intended here.
warnings.filterwarnings("ignore", message="Using padding='same'")
nn = torch.nn


def r32(t):
    return t.to(torch.float32).to(torch.float64)


class Cases:
    def __init__(self, path, seed):
        self.path, self.tensors, self.names = path, {}, []
        self.meta = {"schema": "sn-cases-1", "kind": "layers"}
        self.gen = torch.Generator().manual_seed(seed)

    def randn(self, *shape, scale=1.0):
        return r32(torch.randn(*shape, generator=self.gen, dtype=torch.float64) * scale)

    def randint(self, lo, hi, *shape):
        return torch.randint(lo, hi, shape, generator=self.gen).to(torch.float64)

    def add(self, case, spec, bound, tensors):
        assert case not in self.names
        self.names.append(case)
        self.meta[f"{case}.spec"] = spec
        self.meta[f"{case}.bound"] = bound
        for k, v in tensors.items():
            self.tensors[f"{case}.{k}"] = v.detach()

    def save(self):
        self.meta["cases"] = ",".join(self.names)
        self.meta["generator"] = "tests/parity/gen_cnn.py, torch " + torch.__version__
        st.save(self.path, self.tensors, self.meta)
        size = os.path.getsize(self.path)
        print(f"  {os.path.relpath(self.path, HERE)}: {len(self.names)} cases, {size} bytes")


def init_params(c, seq):
    """Float32-representable parameters, about unit-variance outputs."""
    with torch.no_grad():
        for m in seq:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(c.randn(*m.weight.shape, scale=1.0 / math.sqrt(fan_in)))
                m.bias.copy_(c.randn(*m.bias.shape, scale=0.5))
    return seq


def run_case(c, case, spec, seq, x, bound, dy=None, labels=None):
    """Forward in float64; backward from dy, or from the cross-entropy loss."""
    seq = seq.to(torch.float64)
    xg = x.clone().requires_grad_(True)
    y = seq(xg)
    t = {"x": x, "y": y}
    if labels is not None:
        loss = F.cross_entropy(y, labels)
        loss.backward()
        t["labels"] = labels.to(torch.float64)
        t["loss"] = loss.reshape(1)
    else:
        y.backward(dy)
        t["dy"] = dy
    t["dx"] = xg.grad
    for name, p in seq.named_parameters():
        t[name] = p
        t[name + ".grad"] = p.grad
    c.add(case, spec, bound, t)


def shape_str(shape):
    return "x".join(map(str, shape))


class SamePad(nn.Module):
    """TensorFlow's "SAME" zero padding for a stride: output ceil(in / s), the
    total padding max((out - 1)s + k - in, 0), the smaller half first."""

    def __init__(self, k, s):
        super().__init__()
        self.k, self.s = k, s

    def forward(self, x):
        pads = []
        for dim, k, s in ((3, self.k[1], self.s[1]), (2, self.k[0], self.s[0])):
            n = x.shape[dim]
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


def gen_conv():
    c = Cases(os.path.join(OUT, "cnn_conv.safetensors"), 5)
    # (case, N, input CxHxW, spec line, nn.Conv2d arguments or None for a
    # SamePad + Conv2d pair built below)
    cases = [
        ("conv_basic", 3, (1, 5, 5), "conv2d 2 3", dict(kernel_size=3)),
        ("conv_stride2_pad1", 3, (3, 7, 6), "conv2d 4 3 stride=2 pad=1",
         dict(kernel_size=3, stride=2, padding=1)),
        ("conv_rect_same", 2, (2, 8, 7), "conv2d 3 3x5 pad=same",
         dict(kernel_size=(3, 5), padding="same")),
        ("conv_even_same", 2, (3, 6, 5), "conv2d 2 2x4 pad=same",
         dict(kernel_size=(2, 4), padding="same")),
        ("conv_mixed_strides", 3, (2, 10, 9), "conv2d 5 4x3 stride=3x2 pad=2x1",
         dict(kernel_size=(4, 3), stride=(3, 2), padding=(2, 1))),
        ("conv_1x1", 3, (4, 5, 6), "conv2d 3 1", dict(kernel_size=1)),
        ("conv_stride_gt_kernel", 2, (2, 9, 9), "conv2d 3 2 stride=3",
         dict(kernel_size=2, stride=3)),
        ("conv_kernel_gt_input_same", 2, (1, 2, 3), "conv2d 2 5 pad=same",
         dict(kernel_size=5, padding="same")),
        ("conv_same_stride2", 3, (3, 9, 8), "conv2d 4 3 stride=2 pad=same", None),
        ("conv_batch7", 7, (3, 12, 11), "conv2d 8 3 pad=1", dict(kernel_size=3, padding=1)),
        ("conv_1x1_stride2", 2, (3, 5, 5), "conv2d 2 1 stride=2",
         dict(kernel_size=1, stride=2)),
    ]
    for case, n, shape, line, args in cases:
        F_out = int(line.split()[1])
        if args is None:  # stride 2 with pad=same: PyTorch pads explicitly
            conv = nn.Conv2d(shape[0], F_out, 3, stride=2)
            mods = [SamePad((3, 3), (2, 2)), conv, nn.Flatten()]
        else:
            conv = nn.Conv2d(shape[0], F_out, **args)
            mods = [conv, nn.Flatten()]
        seq = nn.Sequential(*mods)
        init_params(c, seq)
        if args is None:  # parameters named as in the spec's layer 0
            seq = nn.Sequential(conv, nn.Flatten())
            x = c.randn(n, *shape)
            pad = SamePad((3, 3), (2, 2)).to(torch.float64)
            seq = seq.to(torch.float64)
            full = lambda z: seq(pad(z))  # noqa: E731
            xg = x.clone().requires_grad_(True)
            y = full(xg)
            dy = c.randn(*y.shape)
            y.backward(dy)
            t = {"x": x, "y": y, "dy": dy, "dx": xg.grad}
            for name, p in seq.named_parameters():
                t[name] = p
                t[name + ".grad"] = p.grad
            c.add(case, f"input {shape_str(shape)}\n{line}\nflatten\nloss mse\n", "norm", t)
            continue
        x = c.randn(n, *shape)
        with torch.no_grad():
            out_shape = seq.to(torch.float64)(x).shape
        run_case(c, case, f"input {shape_str(shape)}\n{line}\nflatten\nloss mse\n", seq, x, "norm",
                 dy=c.randn(*out_shape))

    # A whole CNN through softmax cross-entropy.
    seq = init_params(c, nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, (2, 3)),
        nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)))
    lab = torch.randint(0, 5, (4,), generator=c.gen)
    spec = ("input 2x9x8\nconv2d 3 3 pad=1\nrelu\nmaxpool 2\nconv2d 4 2x3\ntanh\n"
            "global_avgpool\nflatten\ndense 5\nloss softmax_xent\n")
    run_case(c, "cnn_xent", spec, seq, c.randn(4, 2, 9, 8), "norm", labels=lab)
    c.save()


def gen_pool():
    c = Cases(os.path.join(OUT, "cnn_pool.safetensors"), 6)
    cases = [
        ("maxpool_2", 3, (3, 6, 6), "maxpool 2", nn.MaxPool2d(2), "elem", False),
        ("maxpool_3_stride2", 2, (2, 7, 9), "maxpool 3 stride=2", nn.MaxPool2d(3, 2), "elem",
         False),
        ("maxpool_pad", 2, (2, 7, 7), "maxpool 3 stride=2 pad=1", nn.MaxPool2d(3, 2, 1), "elem",
         False),
        ("maxpool_rect", 2, (2, 8, 9), "maxpool 2x3 stride=1x2", nn.MaxPool2d((2, 3), (1, 2)),
         "elem", False),
        ("maxpool_odd", 2, (1, 5, 7), "maxpool 2", nn.MaxPool2d(2), "elem", False),
        # Small integers: many equal maxima in a window; PyTorch routes the
        # gradient to the first in row-major order.
        ("maxpool_ties", 3, (2, 6, 6), "maxpool 2", nn.MaxPool2d(2), "elem", True),
        ("maxpool_ties_overlap", 2, (2, 6, 7), "maxpool 3 stride=1", nn.MaxPool2d(3, 1), "elem",
         True),
        ("avgpool_2", 3, (3, 6, 7), "avgpool 2", nn.AvgPool2d(2), "norm", False),
        ("avgpool_3_stride2_pad1", 2, (2, 7, 8), "avgpool 3 stride=2 pad=1",
         nn.AvgPool2d(3, 2, 1), "norm", False),
        ("avgpool_rect", 2, (2, 5, 7), "avgpool 2x3 stride=1", nn.AvgPool2d((2, 3), 1), "norm",
         False),
        ("global_avgpool", 3, (4, 5, 3), "global_avgpool", nn.AdaptiveAvgPool2d(1), "norm", False),
        ("global_avgpool_1x1", 2, (3, 1, 1), "global_avgpool", nn.AdaptiveAvgPool2d(1), "norm",
         False),
    ]
    for case, n, shape, line, mod, bound, ties in cases:
        seq = nn.Sequential(mod, nn.Flatten())
        x = c.randint(0, 3, n, *shape) if ties else c.randn(n, *shape)
        with torch.no_grad():
            out_shape = seq(x).shape
        run_case(c, case, f"input {shape_str(shape)}\n{line}\nflatten\nloss mse\n", seq, x, bound,
                 dy=c.randn(*out_shape))

    # First-max routing checked here on a window of equal values.
    x = torch.ones(1, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.flatten().tolist() == [1.0, 0.0, 0.0, 0.0], x.grad
    c.save()


TRAJ_SPEC = """input 1x12x12
conv2d 4 3 pad=1
relu
maxpool 2
conv2d 8 3
relu
avgpool 2
flatten
dense 10
loss softmax_xent

[train]
optimizer adam lr=0.003
batch 16
"""


def traj_model():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3), nn.ReLU(),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


def trajectory(init, xs, ys, dtype, steps):
    net = traj_model().to(dtype)
    net.load_state_dict({k: v.to(dtype) for k, v in init.items()})
    opt = torch.optim.Adam(net.parameters(), lr=float(np.float32(0.003)))
    losses = []
    for t in range(steps):
        b = t % xs.shape[0]
        opt.zero_grad()
        loss = F.cross_entropy(net(xs[b].to(dtype)), ys[b])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


def gen_trajectory():
    torch.manual_seed(7)
    init = {k: v.detach().clone() for k, v in traj_model().state_dict().items()}
    st.save(os.path.join(OUT, "cnn_trajectory_init.safetensors"), init)
    g = torch.Generator().manual_seed(8)
    nb, n, steps = 5, 16, 100
    # Images with a class-dependent bright square plus noise: learnable.
    ys = torch.randint(0, 10, (nb, n), generator=g)
    xs = torch.rand(nb, n, 1, 12, 12, generator=g) * 0.5
    for b in range(nb):
        for i in range(n):
            k = int(ys[b, i])
            r, col = 1 + (k // 5) * 5, 1 + (k % 5) * 2
            xs[b, i, 0, r:r + 4, col:col + 3] += 1.0
    xs = xs.to(torch.float32)
    ref = trajectory(init, xs, ys, torch.float64, steps)
    f32 = trajectory(init, xs, ys, torch.float32, steps)
    worst = float(((f32 - ref).abs() / ref.abs()).max())
    print(f"  trajectory: loss {ref[0]:.4f} -> {ref[-1]:.4f}; PyTorch float32 vs float64: "
          f"worst relative difference {worst:.2e}")
    path = os.path.join(OUT, "cnn_trajectory.safetensors")
    st.save(path, {"x": xs.reshape(nb, n, -1), "labels": ys.to(torch.float32), "losses": ref},
            {"schema": "sn-trajectory-1", "spec": TRAJ_SPEC, "steps": str(steps),
             "generator": "tests/parity/gen_cnn.py, torch " + torch.__version__})
    print(f"  {os.path.relpath(path, HERE)}: {os.path.getsize(path)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    gen_conv()
    gen_pool()
    gen_trajectory()


if __name__ == "__main__":
    main()
