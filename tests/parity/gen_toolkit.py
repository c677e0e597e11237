"""PyTorch references for the training toolkit: optimizers (SGD, Adagrad,
RMSprop, Adam, AdamW, the 1/t decay), LR schedules, batch normalization,
dropout, gradient clipping and L1/L2 penalties. Writes
fixtures/toolkit_*.safetensors, read by tests/test_optim.c,
tests/test_schedule.c, tests/test_batchnorm.c and tests/test_dropout.c.

    /usr/bin/python3 tests/parity/gen_toolkit.py

Inputs are float32 values; references are computed by PyTorch in float64 and
rounded to float32 once. Hyper-parameters are the float32 values the library
holds (f32(...)). Metadata "schema" = "sn-toolkit-1"; each file lists its
cases in metadata "cases", and each case's settings as spec text in
metadata "<case>.spec" (the C tests build the same configuration from it).

toolkit_optim: a dense 3->4 layer, weight [4, 3] and bias [4], updated 6
  times from given gradients (weight_decay on the weight only: two PyTorch
  parameter groups, the bias's with weight_decay=0):
    "<case>.0.weight", "<case>.0.bias"          initial values
    "<case>.0.weight.grad" [6, 4, 3], ".0.bias.grad" [6, 4]   gradient per step
    "<case>.0.weight.after" [6, 4, 3], ".0.bias.after" [6, 4] value after each step
    "<case>.state.<p>.<name>"                   state after 6 steps, PyTorch's
                                                names (p: 0 weight, 1 bias)
  The 1/t decay is LambdaLR(lr / (1 + decay·t)) stepped after every step.
toolkit_schedule: the LR of every optimizer step over 25 epochs of 3 steps:
    "<case>.lr" [75]; plateau cases also "<case>.metric" [25], the value
    reported after each epoch. Per-epoch schedulers step after each epoch,
    the warm-up (LinearLR) after each optimizer step.
toolkit_batchnorm: "<case>.x", ".weight", ".bias", ".running_mean",
  ".running_var" (before), ".y", ".running_mean.after", ".running_var.after",
  ".dy", ".dx", ".weight.grad", ".bias.grad"; metadata "<case>.train" "1"/"0",
  "<case>.spec" the layer line.
toolkit_dropout: "<case>.x" and, for p: ".scale" [1], the value PyTorch
  gives a kept 1 in training; ".eval" = dropout(x) in evaluation;
  ".drop_fraction" [1], the fraction PyTorch zeroes among 2^20 values.
toolkit_clip: "g.<i>" four gradient tensors (shapes of a 5-4-2 MLP's
  parameters); "value.<i>" after clip_grad_value_(0.3); "norm.<i>" after
  clip_grad_norm_(2.0) and "norm.total" [1] its returned norm; "big.<i>"
  after clip_grad_norm_(100.0) (unchanged), "big.total" [1].
toolkit_reg: "p.<i>" the parameters of that MLP, "g.<i>" gradients before the
  penalty, "after.<i>" after adding the penalty's gradient, "penalty" [1];
  metadata "spec" the model with its l1= / l2= keys.
"""
import math
import os

import numpy as np
import torch

import gen_core
import st

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
torch.set_num_threads(1)


def f32(v):
    return float(np.float32(v))


def r32(t):
    return t.to(torch.float32).to(torch.float64)


class Cases:
    def __init__(self, name, seed):
        self.path = os.path.join(OUT, name)
        self.tensors, self.names = {}, []
        self.meta = {"schema": "sn-toolkit-1",
                     "generator": "tests/parity/gen_toolkit.py, torch " + torch.__version__}
        self.gen = torch.Generator().manual_seed(seed)

    def randn(self, *shape, scale=1.0):
        return r32(torch.randn(*shape, generator=self.gen, dtype=torch.float64) * scale)

    def rand(self, *shape, lo=0.0, hi=1.0):
        return r32(lo + (hi - lo) * torch.rand(*shape, generator=self.gen, dtype=torch.float64))

    def add(self, case, meta=None, **tensors):
        if case and case not in self.names:
            self.names.append(case)
        prefix = case + "." if case else ""
        for k, v in (meta or {}).items():
            self.meta[prefix + k] = v
        for k, v in tensors.items():
            self.tensors[prefix + k] = v.detach().reshape(v.shape)

    def save(self):
        self.meta["cases"] = ",".join(self.names)
        st.save(self.path, self.tensors, self.meta)
        print(f"  {os.path.relpath(self.path, HERE)}: {len(self.names)} cases, "
              f"{os.path.getsize(self.path)} bytes")


def scalar(v):
    return torch.tensor([float(v)], dtype=torch.float64)


# ---- optimizers --------------------------------------------------------------


def optim_case(c, case, line, make_opt, steps=6, decay=0.0):
    gen_core.optim_case(c, case, line, make_opt, steps, decay, meta={})


def groups(params, wd):
    """Weight decay on the weight, none on the bias (the library's rule)."""
    w, b = params
    return [{"params": [w], "weight_decay": f32(wd)}, {"params": [b], "weight_decay": 0.0}]


def gen_optim():
    c = Cases("toolkit_optim.safetensors", 31)
    sgd, ada, rms = torch.optim.SGD, torch.optim.Adagrad, torch.optim.RMSprop
    adam, adamw = torch.optim.Adam, torch.optim.AdamW
    optim_case(c, "sgd_dampening", "optimizer sgd lr=0.1 momentum=0.9 dampening=0.3",
               lambda p: sgd(p, lr=f32(0.1), momentum=f32(0.9), dampening=f32(0.3)))
    optim_case(c, "sgd_nesterov_wd",
               "optimizer sgd lr=0.05 momentum=0.8 nesterov=1 weight_decay=0.1 decay=0.2",
               lambda p: sgd(groups(p, 0.1), lr=f32(0.05), momentum=f32(0.8), nesterov=True),
               decay=0.2)
    optim_case(c, "adagrad", "optimizer adagrad lr=0.1",
               lambda p: ada(p, lr=f32(0.1), eps=f32(1e-10)))
    optim_case(c, "adagrad_full",
               "optimizer adagrad lr=0.2 lr_decay=0.05 weight_decay=0.1 "
               "initial_accumulator_value=0.3 eps=1e-7",
               lambda p: ada(groups(p, 0.1), lr=f32(0.2), lr_decay=f32(0.05),
                             initial_accumulator_value=f32(0.3), eps=f32(1e-7)))
    optim_case(c, "adagrad_book", "optimizer adagrad lr=1 decay=1e-1 eps=1e-7",
               lambda p: ada(p, lr=f32(1.0), eps=f32(1e-7)), decay=0.1)
    optim_case(c, "rmsprop", "optimizer rmsprop",
               lambda p: rms(p, lr=f32(0.01), alpha=f32(0.99), eps=f32(1e-8)))
    optim_case(c, "rmsprop_momentum",
               "optimizer rmsprop lr=0.02 alpha=0.9 eps=1e-6 momentum=0.7 weight_decay=0.05",
               lambda p: rms(groups(p, 0.05), lr=f32(0.02), alpha=f32(0.9), eps=f32(1e-6),
                             momentum=f32(0.7)))
    optim_case(c, "rmsprop_centered",
               "optimizer rmsprop lr=0.01 rho=0.95 momentum=0.5 centered=1",
               lambda p: rms(p, lr=f32(0.01), alpha=f32(0.95), eps=f32(1e-8),
                             momentum=f32(0.5), centered=True))
    optim_case(c, "rmsprop_book", "optimizer rmsprop lr=0.02 decay=1e-2 rho=0.999 eps=1e-7",
               lambda p: rms(p, lr=f32(0.02), alpha=f32(0.999), eps=f32(1e-7)), decay=1e-2)
    optim_case(c, "adam_default", "optimizer adam",
               lambda p: adam(p, lr=f32(1e-3), betas=(f32(0.9), f32(0.999)), eps=f32(1e-8)))
    optim_case(c, "adam_book", "optimizer adam lr=0.05 decay=5e-2 eps=1e-7",
               lambda p: adam(p, lr=f32(0.05), betas=(f32(0.9), f32(0.999)), eps=f32(1e-7)),
               decay=5e-2)
    optim_case(c, "adamw_default", "optimizer adamw",
               lambda p: adamw(groups(p, 1e-2), lr=f32(1e-3), betas=(f32(0.9), f32(0.999)),
                               eps=f32(1e-8)))
    optim_case(c, "adamw_full",
               "optimizer adamw lr=0.05 beta1=0.85 beta2=0.99 eps=1e-7 weight_decay=0.2 "
               "decay=0.1",
               lambda p: adamw(groups(p, 0.2), lr=f32(0.05), betas=(f32(0.85), f32(0.99)),
                               eps=f32(1e-7)), decay=0.1)
    c.save()


# ---- schedules ---------------------------------------------------------------

EPOCHS, SPE = 25, 3
LR0 = 0.1


def run_schedule(epoch_sched=None, step_sched=None, metrics=None):
    """LR of each optimizer step: epoch schedulers step after every epoch (with
    the epoch's metric for plateau), step schedulers after every step."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=f32(LR0))
    es = epoch_sched(opt) if epoch_sched else None
    ss = step_sched(opt) if step_sched else None
    lrs = []
    for e in range(EPOCHS):
        for _ in range(SPE):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if ss:
                ss.step()
        if es is not None:
            if metrics is not None:
                es.step(float(metrics[e]))
            else:
                es.step()
    return torch.tensor(lrs, dtype=torch.float64)


def gen_schedule():
    c = Cases("toolkit_schedule.safetensors", 32)
    S = torch.optim.lr_scheduler
    cases = [
        ("step", "schedule step step_size=7 gamma=0.5",
         lambda o: S.StepLR(o, step_size=7, gamma=f32(0.5)), None),
        ("multistep", "schedule multistep milestones=5,12,20 gamma=0.3",
         lambda o: S.MultiStepLR(o, milestones=[5, 12, 20], gamma=f32(0.3)), None),
        ("exponential", "schedule exponential gamma=0.9",
         lambda o: S.ExponentialLR(o, gamma=f32(0.9)), None),
        ("cosine", "schedule cosine t_max=10 eta_min=0.001",
         lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=f32(0.001)), None),
        ("linear_up", "schedule linear start_factor=0.25 end_factor=1 total_iters=8",
         lambda o: S.LinearLR(o, start_factor=f32(0.25), end_factor=1.0, total_iters=8), None),
        ("linear_down", "schedule linear start_factor=1 end_factor=0.05 total_iters=20",
         lambda o: S.LinearLR(o, start_factor=1.0, end_factor=f32(0.05), total_iters=20), None),
        ("warmup_cosine", "schedule cosine t_max=8;warmup steps=7 start_factor=0.1",
         lambda o: S.CosineAnnealingLR(o, T_max=8, eta_min=0.0),
         lambda o: S.LinearLR(o, start_factor=f32(0.1), end_factor=1.0, total_iters=7)),
        ("warmup_step", "schedule step step_size=4 gamma=0.5;warmup epochs=2 start_factor=0.25",
         lambda o: S.StepLR(o, step_size=4, gamma=f32(0.5)),
         lambda o: S.LinearLR(o, start_factor=f32(0.25), end_factor=1.0, total_iters=2 * SPE)),
    ]
    for name, line, es, ss in cases:
        c.add(name, {"spec": line}, lr=run_schedule(es, ss))
    # Reduce-on-plateau: a fixed sequence of monitored values (float32, as the
    # C test reads them back).
    loss = r32(torch.tensor([1.0, 0.9, 0.95, 0.899, 0.92, 0.91, 0.80, 0.81, 0.805, 0.79, 0.85, 0.86,
                         0.87, 0.70, 0.71, 0.72, 0.73, 0.74, 0.75, 0.60, 0.61, 0.62, 0.63, 0.64,
                         0.65], dtype=torch.float64))
    c.add("plateau", {"spec": "schedule plateau factor=0.5 patience=2 threshold=0.01 "
                              "cooldown=1 min_lr=0.02"},
          lr=run_schedule(lambda o: S.ReduceLROnPlateau(o, mode="min", factor=f32(0.5),
                                                        patience=2, threshold=f32(0.01),
                                                        cooldown=1, min_lr=f32(0.02)),
                          metrics=loss),
          metric=loss)
    acc = r32(torch.tensor([0.5, 0.6, 0.62, 0.66, 0.65, 0.7, 0.71, 0.72, 0.8, 0.79, 0.78, 0.81, 0.9,
                        0.9, 0.9, 0.9, 0.93, 0.94, 0.95, 0.951, 0.952, 0.953, 0.96, 0.96, 0.96],
                       dtype=torch.float64))
    c.add("plateau_max_abs", {"spec": "schedule plateau monitor=val_acc factor=0.2 patience=1 "
                                      "threshold=0.02 threshold_mode=abs"},
          lr=run_schedule(lambda o: S.ReduceLROnPlateau(o, mode="max", factor=f32(0.2),
                                                        patience=1, threshold=f32(0.02),
                                                        threshold_mode="abs"),
                          metrics=acc),
          metric=acc)
    c.save()


# ---- batch normalization -------------------------------------------------------


def bn_case(c, case, x, momentum, eps, train, line):
    C = x.shape[1]
    bn = (torch.nn.BatchNorm1d if x.dim() <= 3 else torch.nn.BatchNorm2d)(
        C, eps=f32(eps), momentum=f32(momentum)).to(torch.float64)
    weight, bias = c.randn(C, scale=0.5) + 1.0, c.randn(C, scale=0.5)
    rm, rv = c.randn(C, scale=0.3), c.rand(C, lo=0.5, hi=2.0)
    with torch.no_grad():
        bn.weight.copy_(r32(weight))
        bn.bias.copy_(bias)
        bn.running_mean.copy_(rm)
        bn.running_var.copy_(rv)
    bn.train(train)
    xg = x.clone().requires_grad_(True)
    y = bn(xg)
    dy = c.randn(*x.shape)
    y.backward(dy)
    c.add(case, {"spec": line, "train": "1" if train else "0"},
          x=x, weight=r32(weight), bias=bias, running_mean=rm, running_var=rv, y=y,
          **{"running_mean.after": bn.running_mean, "running_var.after": bn.running_var,
             "weight.grad": bn.weight.grad, "bias.grad": bn.bias.grad},
          dy=dy, dx=xg.grad)


def gen_batchnorm():
    c = Cases("toolkit_batchnorm.safetensors", 33)
    # Features with non-zero means and different scales.
    x2 = r32(c.randn(8, 5) * torch.tensor([1.0, 3.0, 0.1, 2.0, 0.5]) + torch.tensor(
        [0.5, -2.0, 4.0, 0.0, 1.0]))
    bn_case(c, "dense_train", x2, 0.1, 1e-5, True, "batchnorm")
    bn_case(c, "dense_eval", x2, 0.1, 1e-5, False, "batchnorm")
    bn_case(c, "dense_momentum", r32(c.randn(3, 4) * 2 + 1), 0.3, 1e-3, True,
            "batchnorm momentum=0.3 eps=1e-3")
    x4 = r32(c.randn(4, 3, 5, 6) * torch.tensor([1.0, 0.2, 4.0]).reshape(1, 3, 1, 1)
             + torch.tensor([-1.0, 0.3, 2.0]).reshape(1, 3, 1, 1))
    bn_case(c, "conv_train", x4, 0.1, 1e-5, True, "batchnorm")
    bn_case(c, "conv_eval", x4, 0.1, 1e-5, False, "batchnorm")
    bn_case(c, "conv_momentum", r32(c.randn(2, 2, 3, 3) + 0.5), 0.05, 1e-2, True,
            "batchnorm momentum=0.05 eps=1e-2")
    bn_case(c, "seq_train", r32(c.randn(3, 4, 7) * 1.5 - 0.5), 0.1, 1e-5, True, "batchnorm")
    c.save()


# ---- dropout -------------------------------------------------------------------


def gen_dropout():
    c = Cases("toolkit_dropout.safetensors", 34)
    torch.manual_seed(34)
    x = c.randn(64, 10)
    for p in (0.2, 0.5):
        name = f"p{int(p * 10)}"
        ones = torch.ones(1 << 20, dtype=torch.float32)
        y = torch.nn.functional.dropout(ones, p=f32(p), training=True)
        scale = y.max().item()
        frac = (y == 0).double().mean().item()
        ev = torch.nn.functional.dropout(x, p=f32(p), training=False)
        c.add(name, {"spec": f"dropout {p}"}, x=x, eval=ev, scale=scale_t(scale),
              drop_fraction=scalar(frac))
    c.save()


def scale_t(v):
    return torch.tensor([v], dtype=torch.float64)


# ---- clipping and penalties -------------------------------------------------------

MLP = [(4, 5), (4,), (2, 4), (2,)]


def gen_clip():
    c = Cases("toolkit_clip.safetensors", 35)
    gs = [c.randn(*s, scale=0.6) for s in MLP]
    t = {f"g.{i}": g for i, g in enumerate(gs)}
    ps = [torch.nn.Parameter(torch.zeros(*s, dtype=torch.float64)) for s in MLP]

    def load():
        for p, g in zip(ps, gs):
            p.grad = g.clone()

    load()
    torch.nn.utils.clip_grad_value_(ps, f32(0.3))
    t.update({f"value.{i}": p.grad for i, p in enumerate(ps)})
    load()
    total = torch.nn.utils.clip_grad_norm_(ps, f32(2.0))
    t.update({f"norm.{i}": p.grad for i, p in enumerate(ps)})
    t["norm.total"] = total.reshape(1)
    load()
    total = torch.nn.utils.clip_grad_norm_(ps, 100.0)
    t.update({f"big.{i}": p.grad for i, p in enumerate(ps)})
    t["big.total"] = total.reshape(1)
    c.add("", {"spec": "clip value=0.3 / clip norm=2 / clip norm=100"}, **t)
    c.save()


def gen_reg():
    c = Cases("toolkit_reg.safetensors", 36)
    spec = ("input 5\ndense 4 l1=0.01 l2=0.02 l2_bias=0.05\nrelu\n"
            "dense 2 l2=0.1 l1_bias=0.03\nloss mse\n")
    l1 = [0.01, 0.0, 0.0, 0.03]
    l2 = [0.02, 0.05, 0.1, 0.0]
    ps = [torch.nn.Parameter(c.randn(*s)) for s in MLP]
    with torch.no_grad():
        ps[1][0] = 0.0  # sign(0) = 0 in the L1 gradient (no l1 here), and:
        ps[3][1] = 0.0  # an exact zero under l1_bias
    gs = [c.randn(*s) for s in MLP]
    penalty = sum(f32(a) * p.abs().sum() + f32(b) * (p * p).sum() for p, a, b in zip(ps, l1, l2))
    penalty.backward()
    t = {"penalty": penalty.reshape(1)}
    for i, (p, g) in enumerate(zip(ps, gs)):
        t[f"p.{i}"] = p
        t[f"g.{i}"] = g
        t[f"after.{i}"] = g + p.grad
    c.add("", {"spec": spec}, **t)
    c.save()


def main():
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    gen_optim()
    gen_schedule()
    gen_batchnorm()
    gen_dropout()
    gen_clip()
    gen_reg()


if __name__ == "__main__":
    main()
