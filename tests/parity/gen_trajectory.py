"""Training trajectories of PyTorch for tests/test_trajectory.c: a 20-32-16-4
ReLU MLP with softmax cross-entropy trained for 300 steps of SGD with
momentum and 300 steps of Adam, from the same initial weights, on the same
fixed sequence of mini-batches.

  fixtures/traj_init.safetensors  the initial weights (PyTorch's default
                                  init, seed 0), exactly as a Sequential's
                                  state_dict ("0.weight", ..., "4.bias"); the
                                  C test loads them with sn_model_load_weights
  fixtures/traj_run.safetensors   x [512, 20], labels [512], order [300, 32]
                                  (the sample indices of each step's batch:
                                  a fresh permutation every 16 steps), and for
                                  each optimizer "<opt>.loss" [300], the mean
                                  loss of each step's batch before the update,
                                  and "<opt>.<param>" the weights after 300
                                  steps; metadata: the spec and each
                                  optimizer's [train] line

The references are trained in float64 from the float32 initial weights (so
the rounding of our float32 training is the only difference the test sees);
the script also trains in float32 and prints how far PyTorch's own float32
trajectory strays from its float64 one, the scale the test's 1e-4 bound is
to be read against.
"""
import os

import torch
import torch.nn.functional as F

import st

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
N, D, K, B, STEPS = 512, 20, 4, 32, 300


def f32(v):
    """The float32 value the library holds for a hyper-parameter."""
    return float(torch.tensor(v, dtype=torch.float32))


SPEC = "input 20\ndense 32\nrelu\ndense 16\nrelu\ndense 4\nloss softmax_xent\n"
OPTS = {
    "sgd": ("optimizer sgd lr=0.05 momentum=0.9",
            lambda p: torch.optim.SGD(p, lr=f32(0.05), momentum=f32(0.9))),
    "adam": ("optimizer adam lr=0.003",
             lambda p: torch.optim.Adam(p, lr=f32(0.003), betas=(f32(0.9), f32(0.999)),
                                        eps=f32(1e-8))),
}


def data():
    """Labels from a random teacher network, sampled from its softmax so that
    the loss cannot reach 0 (it would make relative errors meaningless)."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(N, D, generator=g, dtype=torch.float64).float()
    a = torch.randn(D, 12, generator=g, dtype=torch.float64) / D ** 0.5
    b = torch.randn(12, K, generator=g, dtype=torch.float64) * 1.5
    logits = torch.tanh(x.double() @ a) @ b
    labels = torch.multinomial(torch.softmax(logits, 1), 1, generator=g).reshape(N)
    order = torch.cat([torch.randperm(N, generator=g) for _ in range(STEPS * B // N + 1)])
    return x, labels, order[:STEPS * B].reshape(STEPS, B)


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(D, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16),
                               torch.nn.ReLU(), torch.nn.Linear(16, K))


def train(init, make_opt, x, labels, order, dtype):
    m = model().to(dtype)
    m.load_state_dict({k: v.to(dtype) for k, v in init.items()})
    opt = make_opt(m.parameters())
    xs = x.to(dtype)
    losses = []
    for s in range(STEPS):
        idx = order[s]
        opt.zero_grad()
        loss = F.cross_entropy(m(xs[idx]), labels[idx])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64), m.state_dict()


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    x, labels, order = data()
    init = {k: v.detach().clone() for k, v in model().state_dict().items()}
    st.save(os.path.join(OUT, "traj_init.safetensors"), init, {"spec": SPEC})
    tensors = {"x": x, "labels": labels.double(), "order": order.double()}
    meta = {"spec": SPEC, "generator": "tests/parity/gen_trajectory.py, torch " + torch.__version__}
    for name, (line, make) in OPTS.items():
        ref, final = train(init, make, x, labels, order, torch.float64)
        single, _ = train(init, make, x, labels, order, torch.float32)
        rel = ((single - ref).abs() / ref.abs()).max().item()
        print(f"  {name}: loss {ref[0]:.4f} -> {ref[-1]:.4f}; PyTorch float32 vs float64: "
              f"largest relative loss difference over {STEPS} steps {rel:.2e}")
        tensors[f"{name}.loss"] = ref
        for k, v in final.items():
            tensors[f"{name}.{k}"] = v
        meta[f"{name}.train"] = line
    path = os.path.join(OUT, "traj_run.safetensors")
    st.save(path, tensors, meta)
    for p in ("traj_init.safetensors", "traj_run.safetensors"):
        print(f"  fixtures/{p}: {os.path.getsize(os.path.join(OUT, p))} bytes")


if __name__ == "__main__":
    main()
