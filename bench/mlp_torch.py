"""PyTorch twin of bench/mlp.c: seconds per epoch of the 784-256-128-10 ReLU
MLP on Fashion-MNIST, batch 128, Adam (lr 1e-3), SGD (lr 0.05, momentum 0.9)
and Adam with BatchNorm1d and Dropout(0.2) after each hidden layer
("adam_bn_dropout": Linear, BatchNorm1d, ReLU, Dropout), data already in
memory as float32 tensors, on 1 and 2 threads.

usage: python3 bench/mlp_torch.py DATA_DIR [EPOCHS]
Run with OMP_WAIT_POLICY=passive (bench/run.sh does)."""
import sys
import time

import torch

import fashion_idx




def main():
    d = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    x, y = fashion_idx.load(d, "train", "mlp_torch")
    x = x.reshape(-1, 784)
    n = x.shape[0]
    nn = torch.nn
    for opt_name in ("adam", "sgd", "adam_bn_dropout"):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            torch.manual_seed(1)
            if opt_name == "adam_bn_dropout":
                model = nn.Sequential(
                    nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
                    nn.Linear(256, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2),
                    nn.Linear(128, 10))
            else:
                model = nn.Sequential(
                    nn.Linear(784, 256), nn.ReLU(),
                    nn.Linear(256, 128), nn.ReLU(),
                    nn.Linear(128, 10))
            model.train()
            if opt_name.startswith("adam"):
                # foreach=True: the peer's fastest optimizer step on CPU (bench/peer-env.sh)
                opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True)
            else:
                opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, foreach=True)
            loss_fn = torch.nn.CrossEntropyLoss()
            best = float("inf")
            for _ in range(epochs):
                t0 = time.perf_counter()
                perm = torch.randperm(n)
                for s in range(0, n, 128):
                    idx = perm[s:s + 128]
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(model(x[idx]), y[idx])
                    loss.backward()
                    opt.step()
                best = min(best, time.perf_counter() - t0)
            print(f"pytorch {opt_name} threads={threads} seconds_per_epoch={best:.3f}", flush=True)


if __name__ == "__main__":
    main()
