"""PyTorch twin of a `scratchnet train` run, for bench/cli.sh: the whole
process (start-up, loading Fashion-MNIST, training, evaluation), doing per
epoch what the CLI does: train on shuffled batches, evaluate the validation
split (when the spec has one, keeping the best weights for early stopping)
and the test set; at the end evaluate the test set and save the weights.

  fashion-mlp  examples/fashion-mlp.net: 784-512-256-10, ReLU, dropout 0.2,
               Adam 1e-3, cosine schedule, batch 128, val_split 0.1
  sgd-mlp      bench/sgd-mlp.net: 784-256-128-10, ReLU, SGD lr 0.05
               momentum 0.9, batch 128
  fashion-cnn  examples/fashion-cnn.net: conv 3x3x32, ReLU, max-pool 2,
               conv 3x3x64, ReLU, max-pool 2, dense 128, ReLU, dense 10,
               Adam 1e-3, cosine schedule, batch 128
  fashion-cnn-bn  examples/fashion-cnn-bn.net: as fashion-cnn with padding 1
               (pad=same), batch norm before each ReLU, dropout 0.25 after
               the convolutions and 0.5 after the hidden dense layer

usage: python3 bench/cli_torch.py MODEL DATA_DIR EPOCHS THREADS OUT_FILE
(threads: torch.set_num_threads; OPENBLAS_NUM_THREADS and OMP_WAIT_POLICY
come from the environment)."""
import sys

import torch

import fashion_idx


def build(name):
    nn = torch.nn
    if name == "fashion-mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(256, 10)), "adam", 0.1
    if name == "sgd-mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(),
                             nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)), "sgd", 0.0
    if name == "fashion-cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10)), "adam", 0.0
    if name == "fashion-cnn-bn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                             nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                             nn.Flatten(), nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(),
                             nn.Dropout(0.5), nn.Linear(128, 10)), "adam", 0.0
    raise SystemExit(f"cli_torch: unknown model {name}")


def evaluate(model, x, y, batch=1000):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for s in range(0, x.shape[0], batch):
            out = model(x[s:s + batch])
            loss += torch.nn.functional.cross_entropy(out, y[s:s + batch], reduction="sum").item()
            correct += (out.argmax(1) == y[s:s + batch]).sum().item()
    model.train()
    return loss / x.shape[0], correct / x.shape[0]


def main():
    name, d, epochs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    weights_file = sys.argv[5]
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x, y = fashion_idx.load(d, "train", "cli_torch")
    xt, yt = fashion_idx.load(d, "t10k", "cli_torch")
    model, opt_name, val_split = build(name)
    perm = torch.randperm(x.shape[0])
    nval = int(round(val_split * x.shape[0]))
    xv, yv = x[perm[:nval]], y[perm[:nval]]
    x, y = x[perm[nval:]], y[perm[nval:]]
    if opt_name == "adam":
        # foreach=True: the peer's fastest optimizer step on CPU (bench/peer-env.sh)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, foreach=True)
        sched = None
    loss_fn = torch.nn.CrossEntropyLoss()
    n, best_acc, best = x.shape[0], -1.0, None
    for epoch in range(epochs):
        order = torch.randperm(n)
        total, correct = 0.0, 0
        for s in range(0, n, 128):
            idx = order[s:s + 128]
            opt.zero_grad(set_to_none=True)
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
            correct += (out.argmax(1) == y[idx]).sum().item()
        if sched:
            sched.step()
        if nval:
            _, val_acc = evaluate(model, xv, yv)
            if val_acc > best_acc:
                best_acc, best = val_acc, {k: v.clone() for k, v in model.state_dict().items()}
        test_loss, test_acc = evaluate(model, xt, yt)
        print(f"epoch {epoch + 1} train_loss {total / n:.4f} train_acc {correct / n:.4f} "
              f"test_acc {test_acc:.4f}", flush=True)
    if best is not None:
        model.load_state_dict(best)
    test_loss, test_acc = evaluate(model, xt, yt)
    torch.save(model.state_dict(), weights_file)
    print(f"test accuracy {100 * test_acc:.2f} %")


if __name__ == "__main__":
    main()
