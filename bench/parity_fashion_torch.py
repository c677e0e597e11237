"""PyTorch half of bench/parity-fashion: initializes the [400, 240, 120] ReLU
MLP with PyTorch's default init (seeded), writes those initial weights as
safetensors (a Sequential's state_dict: "1.weight", ..., "7.bias"), trains it
on Fashion-MNIST with Adam (lr 1e-3), batch 512, softmax cross-entropy for
the given epochs, and prints the test accuracy.

usage: python3 bench/parity_fashion_torch.py DATA_DIR --seed S --epochs E --init FILE
                                           [--order FILE]
--order also writes the sample order of every epoch ("order" [E, 60000], as
float32) so that scratchnet can train on the same sequence of batches.
prints one line: "pytorch seed=S test_acc=PP.PP seconds=T"
Run with OMP_WAIT_POLICY=passive (bench/run.sh does)."""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "parity"))
import st  # noqa: E402

import fashion_idx  # noqa: E402




def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--init", required=True)
    ap.add_argument("--order")
    a = ap.parse_args()
    x, y = fashion_idx.load(a.data, "train", "parity_fashion_torch")
    xt, yt = fashion_idx.load(a.data, "t10k", "parity_fashion_torch")
    torch.manual_seed(a.seed)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 400), torch.nn.ReLU(),
        torch.nn.Linear(400, 240), torch.nn.ReLU(), torch.nn.Linear(240, 120), torch.nn.ReLU(),
        torch.nn.Linear(120, 10))
    st.save(a.init, model.state_dict())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(a.seed)
    n = x.shape[0]
    perms = [torch.randperm(n, generator=g) for _ in range(a.epochs)]
    if a.order:
        st.save(a.order, {"order": torch.stack(perms).float()})
    t0 = time.perf_counter()
    for perm in perms:
        model.train()
        for s in range(0, n, 512):
            idx = perm[s:s + 512]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        correct = sum((model(xt[s:s + 1000]).argmax(1) == yt[s:s + 1000]).sum().item()
                      for s in range(0, xt.shape[0], 1000))
    print(f"pytorch seed={a.seed} test_acc={100.0 * correct / xt.shape[0]:.2f} "
          f"seconds={seconds:.1f}", flush=True)


if __name__ == "__main__":
    main()
