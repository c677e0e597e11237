"""PyTorch references for the core layers, activations, losses and the SGD and
Adam optimizers: writes fixtures/core_layers.safetensors,
fixtures/core_losses.safetensors and fixtures/core_optim.safetensors, read by
tests/test_parity.c.

Every reference is computed by PyTorch in float64 from float32 inputs (the
values the C test feeds in are exactly those inputs) and rounded to float32
once, so it is as exact as a float32 file can hold. Hyper-parameters (lr,
betas, slopes) are the float32 values the library holds.

Fixture schema (metadata "schema" = "sn-cases-1"). tests/test_parity.c runs
every fixture file with this schema, whichever script wrote it, by its
metadata "kind": "layers", "losses" or "optim" (the three files below).

  metadata  "cases"          comma-separated case names
            "<case>.spec"    a model spec (input line, layers, loss line,
                             optionally a [train] section)
            "<case>.bound"   "elem": outputs and gradients compared element by
                             element (|a - r| <= 1e-6 max(|r|, rms(r)));
                             "norm": as reductions / GEMM
                             (||a - r|| <= 1e-5 ||r||)
            "<case>.train"   "1" to run the forward in training mode (optional)
  kind "layers" (core_layers):
    "<case>.x"                  [N, input shape]     the input
    "<case>.<i>.<param>"        layer i's parameter, e.g. "c.0.weight"
    "<case>.y"                  [N, ...]             the last layer's output
    "<case>.dy"                 upstream gradient dL/dy fed to backward, or
    "<case>.labels"/".targets"  with "<case>.loss" [1]: the model's loss is
                                used instead (labels stored as float32)
    "<case>.dx"                 dL/dx
    "<case>.<i>.<param>.grad"   dL/d parameter
  kind "losses" (core_losses): "<case>.pred", "<case>.labels" or
    "<case>.targets", "<case>.loss" [1], "<case>.dpred"; metadata
    "<case>.loss" names the loss.
  kind "optim" (core_optim): "<case>.<i>.<param>" initial values,
    "<case>.<i>.<param>.grad" [k, ...] the gradient given at each step,
    "<case>.<i>.<param>.after" [k, ...] the value after each step,
    "<case>.state.<p>.<name>" the optimizer state after k steps by PyTorch's
    names (momentum_buffer, exp_avg, exp_avg_sq), p counting the trained
    parameters: the names sn_optimizer_state gives.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

import st

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
torch.set_num_threads(1)


def f32(v):
    """The float32 value nearest v (a Python float), as a Python float."""
    return float(np.float32(v))


def r32(t):
    """t rounded to float32 and widened back to float64."""
    return t.to(torch.float32).to(torch.float64)


class Cases:
    """Collects tensors and metadata of named cases into one fixture file."""

    def __init__(self, path, kind, seed):
        self.path, self.tensors, self.names = path, {}, []
        self.meta = {"schema": "sn-cases-1", "kind": kind}
        self.gen = torch.Generator().manual_seed(seed)

    def randn(self, *shape, scale=1.0):
        return r32(torch.randn(*shape, generator=self.gen, dtype=torch.float64) * scale)

    def rand(self, *shape, lo=0.0, hi=1.0):
        return r32(lo + (hi - lo) * torch.rand(*shape, generator=self.gen, dtype=torch.float64))

    def labels(self, n, k):
        return torch.randint(0, k, (n,), generator=self.gen)

    def add(self, case, meta=None, **tensors):
        if case not in self.names:
            self.names.append(case)
        for k, v in (meta or {}).items():
            self.meta[f"{case}.{k}"] = v
        for k, v in tensors.items():
            self.tensors[f"{case}.{k}"] = v.detach()

    def save(self):
        self.meta["cases"] = ",".join(self.names)
        self.meta["generator"] = "tests/parity/gen_core.py, torch " + torch.__version__
        st.save(self.path, self.tensors, self.meta)
        size = os.path.getsize(self.path)
        print(f"  {os.path.relpath(self.path, HERE)}: {len(self.names)} cases, {size} bytes")


# ---- layers ----------------------------------------------------------------


def param_tensors(seq):
    """{"<i>.<name>": float64 parameter} of a Sequential, PyTorch's names."""
    return dict(seq.named_parameters())


def layer_case(c, case, spec, seq, x, bound, dy=None, labels=None, targets=None, loss_fn=None,
               backward_from_y=None):
    """Runs seq (float64) on x, backward from dy or from the loss, records it.

    backward_from_y(y32, dy): for layers whose backward PyTorch computes from
    the saved output (sigmoid, tanh, softmax): the reference input gradient is
    that formula applied to the float32-rounded output, in float64; the C
    test hands the same rounded output to the layer's backward."""
    x = x.clone().requires_grad_(True)
    y = seq(x)
    tensors = {"x": x, "y": y}
    for name, p in param_tensors(seq).items():
        tensors[name] = p
    if loss_fn is not None:
        loss = loss_fn(y)
        loss.backward()
        tensors["loss"] = loss.reshape(1)
        if labels is not None:
            tensors["labels"] = labels.to(torch.float64)
        if targets is not None:
            tensors["targets"] = targets
        dx = x.grad
    else:
        tensors["dy"] = dy
        if backward_from_y is not None:
            dx = backward_from_y(r32(y.detach()), dy)
        else:
            y.backward(dy)
            dx = x.grad
    tensors["dx"] = dx
    for name, p in param_tensors(seq).items():
        tensors[name + ".grad"] = p.grad
    c.add(case, {"spec": spec, "bound": bound}, **tensors)


def seq64(*mods):
    return torch.nn.Sequential(*mods).to(torch.float64)


def init_params(c, seq):
    """Float32-representable random parameters, about unit-variance outputs."""
    with torch.no_grad():
        for m in seq:
            if isinstance(m, torch.nn.Linear):
                m.weight.copy_(c.randn(*m.weight.shape, scale=1.0 / np.sqrt(m.in_features)))
                m.bias.copy_(c.randn(*m.bias.shape, scale=0.5))
    return seq


def activation_inputs(c, n, shape):
    """Random values (std 3) with special ones mixed in: 0 (ReLU'(0) = 0),
    tiny, moderate and large magnitudes (saturation, overflow of e^x)."""
    x = c.randn(n, *shape, scale=3.0).reshape(-1)
    special = [0.0, -0.0, 1e-4, -1e-4, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 10.0, -10.0,
               20.0, -20.0, 40.0, -40.0, 90.0, -90.0, 1e-30, -1e-30]
    x[:len(special)] = torch.tensor(special, dtype=torch.float64)
    return r32(x.reshape(n, *shape))


def softmax_backward(dim_shape):
    def back(y, dy):
        n = y.shape[0]
        y2, dy2 = y.reshape(n, -1), dy.reshape(n, -1)
        dx = torch.ops.aten._softmax_backward_data(dy2, y2, 1, torch.float64)
        return dx.reshape(dim_shape)

    return back


def gen_layers():
    c = Cases(os.path.join(OUT, "core_layers.safetensors"), "layers", 1)

    # Dense: GEMM forward and backward, compared as reductions. Odd sizes
    # reach the edges of the GEMM's blocking; a 3-d input is flattened.
    for case, n, in_shape, out in (("dense_small", 3, (5,), 4), ("dense_odd", 13, (37,), 19),
                                   ("dense_wide", 6, (130,), 70), ("dense_3d", 4, (2, 3, 4), 7)):
        fan_in = int(np.prod(in_shape))
        seq = init_params(c, seq64(torch.nn.Flatten(), torch.nn.Linear(fan_in, out)))
        # Flatten is layer 0 in PyTorch; the spec's dense takes the input as
        # its flattened vector itself, so the dense is layer 0 there.
        shape = "x".join(map(str, in_shape))
        x = c.randn(n, *in_shape)
        dy = c.randn(n, out)
        xg = x.clone().requires_grad_(True)
        y = seq(xg)
        y.backward(dy)
        lin = seq[1]
        c.add(case, {"spec": f"input {shape}\ndense {out}\nloss mse\n", "bound": "norm"},
              **{"x": x, "y": y, "dy": dy, "dx": xg.grad, "0.weight": lin.weight,
                 "0.bias": lin.bias, "0.weight.grad": lin.weight.grad,
                 "0.bias.grad": lin.bias.grad})

    # Flatten: a copy both ways.
    x = c.randn(3, 3, 4, 5)
    layer_case(c, "flatten", "input 3x4x5\nflatten\nloss mse\n", seq64(torch.nn.Flatten()), x,
               "elem", dy=c.randn(3, 60))

    # Elementwise activations (the loss needs a vector per sample, so the
    # shape is 1-d; the kernels see a flat array in any case).
    shape = (24,)
    a = f32(0.01)
    acts = [
        ("sigmoid", "sigmoid", torch.nn.Sigmoid(),
         lambda y, dy: torch.ops.aten.sigmoid_backward(dy, y)),
        ("tanh", "tanh", torch.nn.Tanh(), lambda y, dy: torch.ops.aten.tanh_backward(dy, y)),
        ("relu", "relu", torch.nn.ReLU(), None),
        ("leaky_relu", "leaky_relu", torch.nn.LeakyReLU(a), None),
        ("leaky_relu_0.2", "leaky_relu 0.2", torch.nn.LeakyReLU(f32(0.2)), None),
        ("leaky_relu_alpha", "leaky_relu alpha=0.3", torch.nn.LeakyReLU(f32(0.3)), None),
        ("silu", "silu", torch.nn.SiLU(), None),
        ("gelu", "gelu", torch.nn.GELU(), None),
        ("gelu_approx_tanh", "gelu approx=tanh", torch.nn.GELU(approximate="tanh"), None),
        ("gelu_tanh", "gelu_tanh", torch.nn.GELU(approximate="tanh"), None),
    ]
    for case, line, mod, back in acts:
        x = activation_inputs(c, 4, shape)
        layer_case(c, case, f"input 24\n{line}\nloss mse\n", seq64(mod), x, "elem",
                   dy=c.randn(4, *shape), backward_from_y=back)

    # Softmax over each sample's values: a reduction per row. One row with
    # large logits (no overflow), one with a masked (-inf) entry.
    x = c.randn(5, 7, scale=2.0)
    x[1] = torch.tensor([1000.0, 999.0, 998.5, 1001.0, 990.0, 1000.25, 0.0])
    x[2, 3] = -float("inf")
    layer_case(c, "softmax", "input 7\nsoftmax\nloss mse\n", seq64(torch.nn.Softmax(dim=1)), x,
               "norm", dy=c.randn(5, 7), backward_from_y=softmax_backward((5, 7)))
    # Over a 2x3 sample: one softmax over all 6 values; flatten after it
    # gives the loss its vector (its backward hands our own y to softmax's).
    x = c.randn(3, 2, 3, scale=2.0)
    sm = seq64(torch.nn.Flatten(), torch.nn.Softmax(dim=1))
    layer_case(c, "softmax_2d", "input 2x3\nsoftmax\nflatten\nloss mse\n", sm, x, "norm",
               dy=c.randn(3, 6))

    # Whole models through their loss: every parameter gradient and dL/dx.
    n = 5
    seq = init_params(c, seq64(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)))
    lab = c.labels(n, 3)
    layer_case(c, "mlp_xent",
               "input 1x4x4\nflatten\ndense 8\ntanh\ndense 6\nrelu\ndense 3\nloss softmax_xent\n",
               seq, c.randn(n, 1, 4, 4), "norm", labels=lab,
               loss_fn=lambda y: F.cross_entropy(y, lab))
    seq = init_params(c, seq64(torch.nn.Linear(6, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 3)))
    tgt = c.randn(n, 3)
    layer_case(c, "mlp_mse", "input 6\ndense 5\nsigmoid\ndense 3\nloss mse\n", seq, c.randn(n, 6),
               "norm", targets=tgt, loss_fn=lambda y: F.mse_loss(y, tgt))
    seq = init_params(c, seq64(torch.nn.Linear(6, 5), torch.nn.GELU(), torch.nn.Linear(5, 2)))
    tgt = c.rand(n, 2)
    layer_case(c, "mlp_bce_logits", "input 6\ndense 5\ngelu\ndense 2\nloss bce_logits\n", seq,
               c.randn(n, 6), "norm", targets=tgt,
               loss_fn=lambda y: F.binary_cross_entropy_with_logits(y, tgt))
    seq = init_params(c, seq64(torch.nn.Linear(5, 4), torch.nn.SiLU(), torch.nn.Linear(4, 1),
                               torch.nn.Sigmoid()))
    lab = c.labels(n, 2)
    layer_case(c, "mlp_bce", "input 5\ndense 4\nsilu\ndense 1\nsigmoid\nloss bce\n", seq,
               c.randn(n, 5), "norm", labels=lab,
               loss_fn=lambda y: F.binary_cross_entropy(y, lab.to(torch.float64).reshape(n, 1)))
    seq = init_params(c, seq64(torch.nn.Linear(4, 6), torch.nn.LeakyReLU(a), torch.nn.Linear(6, 5),
                               torch.nn.Softmax(dim=1)))
    tgt = c.rand(n, 5)
    layer_case(c, "mlp_softmax_mse",
               "input 4\ndense 6\nleaky_relu\ndense 5\nsoftmax\nloss mse\n", seq, c.randn(n, 4),
               "norm", targets=tgt, loss_fn=lambda y: F.mse_loss(y, tgt))
    c.save()


# ---- losses ----------------------------------------------------------------


def loss_case(c, case, kind, pred, fn, bound, labels=None, targets=None):
    p = pred.clone().requires_grad_(True)
    loss = fn(p)
    loss.backward()
    t = {"pred": pred, "loss": loss.reshape(1), "dpred": p.grad}
    if labels is not None:
        t["labels"] = labels.to(torch.float64)
    if targets is not None:
        t["targets"] = targets
    c.add(case, {"loss": kind, "bound": bound}, **t)


def gen_losses():
    c = Cases(os.path.join(OUT, "core_losses.safetensors"), "losses", 2)
    # MSE: mean over N·K; labels mean one-hot (K > 1) or the 0/1 label (K = 1).
    p, t = c.randn(4, 3), c.randn(4, 3)
    loss_case(c, "mse_targets", "mse", p, lambda q: F.mse_loss(q, t), "elem", targets=t)
    lab = c.labels(6, 3)
    p = c.randn(6, 3)
    loss_case(c, "mse_labels", "mse", p, lambda q: F.mse_loss(q, F.one_hot(lab, 3).double()),
              "elem", labels=lab)
    lab = c.labels(5, 2)
    p = c.rand(5, 1)
    loss_case(c, "mse_binary", "mse", p,
              lambda q: F.mse_loss(q, lab.double().reshape(5, 1)), "elem", labels=lab)

    # BCE on probabilities, including p = 0 and 1 (log clamped to -100,
    # gradient denominator clamped to 1e-12, as PyTorch).
    p, t = c.rand(4, 3, lo=0.02, hi=0.98), c.rand(4, 3)
    loss_case(c, "bce_targets", "bce", p, lambda q: F.binary_cross_entropy(q, t), "elem",
              targets=t)
    p = torch.tensor([[0.0], [1.0], [1e-30], [0.3], [0.999], [1e-4]], dtype=torch.float64)
    p = r32(p)
    lab = torch.tensor([0, 1, 0, 1, 0, 1])
    loss_case(c, "bce_edges", "bce", p,
              lambda q: F.binary_cross_entropy(q, lab.double().reshape(6, 1)), "elem", labels=lab)
    lab = c.labels(4, 3)
    p = c.rand(4, 3, lo=0.05, hi=0.95)
    loss_case(c, "bce_onehot", "bce", p,
              lambda q: F.binary_cross_entropy(q, F.one_hot(lab, 3).double()), "elem", labels=lab)

    # BCE on logits, with large |z|.
    z, t = c.randn(5, 2, scale=3.0), c.rand(5, 2)
    z[0] = torch.tensor([50.0, -50.0])
    z[1] = torch.tensor([200.0, -200.0])
    loss_case(c, "bce_logits_targets", "bce_logits", z,
              lambda q: F.binary_cross_entropy_with_logits(q, t), "elem", targets=t)
    lab = c.labels(7, 2)
    z = c.randn(7, 1, scale=2.0)
    loss_case(c, "bce_logits_labels", "bce_logits", z,
              lambda q: F.binary_cross_entropy_with_logits(q, lab.double().reshape(7, 1)), "elem",
              labels=lab)

    # Softmax cross-entropy: labels, soft targets (rows summing to 1 and not),
    # huge logits.
    lab = c.labels(6, 5)
    z = c.randn(6, 5, scale=2.0)
    z[0] = torch.tensor([1000.0, 1001.0, 999.0, -1000.0, 1000.5])
    loss_case(c, "xent_labels", "softmax_xent", z, lambda q: F.cross_entropy(q, lab), "norm",
              labels=lab)
    z = c.randn(4, 3, scale=2.0)
    t = c.rand(4, 3)
    t = r32(t / t.sum(1, keepdim=True))
    loss_case(c, "xent_soft", "softmax_xent", z, lambda q: F.cross_entropy(q, t), "norm",
              targets=t)
    z, t = c.randn(3, 4), c.rand(3, 4)  # rows of t do not sum to 1
    loss_case(c, "xent_unnormalized", "softmax_xent", z, lambda q: F.cross_entropy(q, t), "norm",
              targets=t)
    lab = c.labels(1, 2)
    z = c.randn(1, 2)
    loss_case(c, "xent_single", "softmax_xent", z, lambda q: F.cross_entropy(q, lab), "norm",
              labels=lab)
    c.save()


# ---- optimizers ------------------------------------------------------------


def optim_case(c, case, train_line, make_opt, steps=6, decay=0.0, meta=None):
    """A dense 3->4 layer's weight [4, 3] and bias [4] updated `steps` times
    from random gradients; the values after each step and the final state.
    meta: the case's metadata besides its spec (default: an elementwise
    bound and the step count; gen_toolkit.py passes {})."""
    w0, b0 = c.randn(4, 3), c.randn(4, scale=0.5)
    w = torch.nn.Parameter(w0.clone())
    b = torch.nn.Parameter(b0.clone())
    opt = make_opt([w, b])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1.0 + f32(decay) * t))
    gw, gb, aw, ab = [], [], [], []
    for _ in range(steps):
        gw.append(c.randn(4, 3))
        gb.append(c.randn(4))
        w.grad, b.grad = gw[-1].clone(), gb[-1].clone()
        opt.step()
        sched.step()
        aw.append(w.detach().clone())
        ab.append(b.detach().clone())
    t = {"0.weight": w0, "0.bias": b0, "0.weight.grad": torch.stack(gw),
         "0.bias.grad": torch.stack(gb), "0.weight.after": torch.stack(aw),
         "0.bias.after": torch.stack(ab)}
    for pi, p in enumerate((w, b)):
        for kind, v in opt.state[p].items():
            if torch.is_tensor(v) and v.numel() > 1:
                t[f"state.{pi}.{kind}"] = v
    spec = f"input 3\ndense 4\nloss mse\n[train]\n{train_line}\n"
    if meta is None:
        meta = {"bound": "elem", "steps": str(steps)}
    c.add(case, {"spec": spec, **meta}, **t)


def decay_groups(params, wd):
    """Weight decay on the weight, none on the bias (the library's rule)."""
    w, b = params
    return [{"params": [w], "weight_decay": f32(wd)}, {"params": [b], "weight_decay": 0.0}]


def gen_optim():
    c = Cases(os.path.join(OUT, "core_optim.safetensors"), "optim", 3)
    sgd, adam = torch.optim.SGD, torch.optim.Adam
    optim_case(c, "sgd", "optimizer sgd lr=0.1", lambda p: sgd(p, lr=f32(0.1)))
    optim_case(c, "sgd_momentum", "optimizer sgd lr=0.05 momentum=0.9",
               lambda p: sgd(p, lr=f32(0.05), momentum=f32(0.9)))
    optim_case(c, "sgd_nesterov", "optimizer sgd lr=0.05 momentum=0.9 nesterov=1",
               lambda p: sgd(p, lr=f32(0.05), momentum=f32(0.9), nesterov=True))
    # weight_decay applies to weights only, not to biases: PyTorch with two
    # parameter groups.
    optim_case(c, "sgd_weight_decay", "optimizer sgd lr=0.1 momentum=0.5 weight_decay=0.01",
               lambda p: sgd(decay_groups(p, 0.01), lr=f32(0.1), momentum=f32(0.5)))
    optim_case(c, "sgd_decay", "optimizer sgd lr=0.1 momentum=0.9 decay=0.1",
               lambda p: sgd(p, lr=f32(0.1), momentum=f32(0.9)), decay=0.1)
    optim_case(c, "adam", "optimizer adam lr=1e-3",
               lambda p: adam(p, lr=f32(1e-3), betas=(f32(0.9), f32(0.999)), eps=f32(1e-8)))
    optim_case(c, "adam_custom",
               "optimizer adam lr=0.01 beta1=0.8 beta2=0.99 eps=1e-6 weight_decay=0.05",
               lambda p: adam(decay_groups(p, 0.05), lr=f32(0.01), betas=(f32(0.8), f32(0.99)),
                              eps=f32(1e-6)))
    optim_case(c, "adam_decay", "optimizer adam lr=0.01 decay=0.05",
               lambda p: adam(p, lr=f32(0.01), betas=(f32(0.9), f32(0.999)), eps=f32(1e-8)),
               decay=0.05)
    c.save()


def main():
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    gen_layers()
    gen_losses()
    gen_optim()


if __name__ == "__main__":
    main()
