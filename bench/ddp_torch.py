"""PyTorch twin of bench/ddp.c's training measurement: images per second of
the Fashion-MNIST MLP (784-512-256-10, ReLU, dropout 0.2) or CNN (conv 3x3x32,
ReLU, max-pool 2, conv 3x3x64, ReLU, max-pool 2, dense 128, ReLU, dense 10)
with torch.nn.parallel.DistributedDataParallel on the gloo backend: RANKS
processes on this machine, THREADS threads each, global batch 128 split over
the ranks, images in memory, Adam (lr 1e-3). 5 untimed batches, then BATCHES
timed, best of 2 (the slowest rank's time).

usage: python3 bench/ddp_torch.py mlp|cnn DATA_DIR RANKS THREADS [BATCHES]
Run with OMP_WAIT_POLICY=passive (bench/ddp.sh does)."""
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_idx  # noqa: E402

BATCH = 128
WARMUP = 5


def model(which):
    nn = torch.nn
    if which == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))


def worker(rank, world, which, d, threads, batches, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    x, y = fashion_idx.load(d, "train", "ddp_torch")
    n = x.shape[0]
    share = [BATCH // world + (r < BATCH % world) for r in range(world)]
    off = sum(share[:rank])
    torch.manual_seed(1)
    net = torch.nn.parallel.DistributedDataParallel(model(which))
    # foreach=True: the peer's fastest optimizer step on CPU (bench/peer-env.sh)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, foreach=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    nbatch = n // BATCH

    def step(b):
        s = (b % nbatch) * BATCH + off
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x[s:s + share[rank]]), y[s:s + share[rank]])
        loss.backward()
        opt.step()

    b = 0
    for _ in range(WARMUP):
        step(b)
        b += 1
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        for _ in range(batches):
            step(b)
            b += 1
        t = torch.tensor([time.perf_counter() - t0])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        best = min(best, t.item())
    if rank == 0:
        print(f"pytorch model={which} ranks={world} threads={threads} "
              f"images_per_s={batches * BATCH / best:.0f}", flush=True)
    dist.destroy_process_group()


def main():
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    which, d, world, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    batches = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    port = 29500 + os.getpid() % 1000
    mp.spawn(worker, args=(world, which, d, threads, batches, port), nprocs=world, join=True)


if __name__ == "__main__":
    main()
