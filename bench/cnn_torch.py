"""PyTorch twin of bench/cnn.c: training throughput (images/s) of the
Fashion-MNIST CNN

    conv 3x3x32, ReLU, max-pool 2, conv 3x3x64, ReLU, max-pool 2, flatten,
    dense 128, ReLU, dense 10, softmax cross-entropy, Adam (lr 1e-3)

on batches of 128 images already in memory as float32 tensors: WARMUP batches
untimed, then BATCHES timed, best of REPEATS, on 1 and 2 threads. Prints
images per second of wall time and per second of process CPU time.

usage: python3 bench/cnn_torch.py DATA_DIR [BATCHES] [REPEATS]
Run with OMP_WAIT_POLICY=passive (bench/run.sh does)."""
import sys
import time

import torch

import fashion_idx

BATCH = 128
WARMUP = 5




def model():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    d = sys.argv[1]
    batches = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    x, y = fashion_idx.load(d, "train", "cnn_torch")
    n = x.shape[0]
    for threads in (1, 2):
        torch.set_num_threads(threads)
        torch.manual_seed(1)
        net = model()
        # foreach=True: the peer's fastest optimizer step on CPU (bench/peer-env.sh)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, foreach=True)
        loss_fn = torch.nn.CrossEntropyLoss()
        perm = torch.randperm(n)

        def step(b):
            s = (b * BATCH) % (n - BATCH)
            idx = perm[s:s + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            opt.step()

        for b in range(WARMUP):
            step(b)
        best = best_cpu = float("inf")
        for r in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            for b in range(batches):
                step(WARMUP + r * batches + b)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        print(f"pytorch threads={threads} images_per_s={batches * BATCH / best:.0f} "
              f"images_per_cpu_s={batches * BATCH / best_cpu:.0f}", flush=True)


if __name__ == "__main__":
    main()
