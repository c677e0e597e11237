"""PyTorch twin of bench/lstm.c: tokens per second of a char-level nn.LSTM
and nn.RNN (one-hot input, hidden 256, a linear output at every step)
trained on Moby Dick with sequence 64, batch 32 (time-major, state carried
and detached between batches), Adam lr 2e-3, gradients clipped to ±5 by
value: the same networks and loop as scratchnet's. Measures STEPS batches
after 3 warm-up batches, on 1 and 2 threads; tokens_per_cpu_s divides by
the process's CPU time (see bench/lstm.c).

usage: python3 bench/lstm_torch.py CORPUS [STEPS] [lstm|rnn|both]
Run with OMP_WAIT_POLICY=passive (bench/run.sh does)."""
import sys
import time

import torch

T, N, H = 64, 32, 256


class Net(torch.nn.Module):
    def __init__(self, kind, V):
        super().__init__()
        self.V = V
        self.rnn = (torch.nn.LSTM if kind == "lstm" else torch.nn.RNN)(V, H)
        self.out = torch.nn.Linear(H, V)

    def forward(self, x, state):  # x: [T, N] token ids
        h, state = self.rnn(torch.nn.functional.one_hot(x, self.V).float(), state)
        return self.out(h).reshape(-1, self.V), state


def clip_value(params):
    torch.nn.utils.clip_grad_value_(params, 5.0)


def train(net, opt, grid, first, count, T=T, clip=clip_value):
    """Windows first .. first + count - 1 of T steps of grid [S + 1, N], the
    state carried and detached between them (bench/text_torch.py too)."""
    state = None
    for b in range(first, first + count):
        x, y = grid[b * T:b * T + T], grid[b * T + 1:b * T + T + 1].reshape(-1)
        opt.zero_grad(set_to_none=True)
        logits, state = net(x, state)
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        clip(net.parameters())
        opt.step()
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    which = sys.argv[3] if len(sys.argv) > 3 else "both"
    vocab = {c: i for i, c in enumerate(sorted(set(text)))}
    ids = torch.tensor([vocab[c] for c in text[:(steps + 3) * T * N + N]])
    S = (len(ids) - 1) // N
    grid = torch.stack([ids[s * S:s * S + S + 1] for s in range(N)], 1)  # [S + 1, N]
    print(f"torch {torch.__version__}: vocabulary {len(vocab)}, hidden {H}, sequence {T}, "
          f"batch {N}, {steps} steps")
    for kind in ("lstm", "rnn"):
        if which not in ("both", kind):
            continue
        for threads in (1, 2):
            torch.set_num_threads(threads)
            torch.manual_seed(1)
            net = Net(kind, len(vocab))
            # foreach=True: the peer's fastest optimizer step on CPU (bench/peer-env.sh)
            opt = torch.optim.Adam(net.parameters(), lr=2e-3, foreach=True)
            train(net, opt, grid, 0, 3)
            t0, c0 = time.perf_counter(), time.process_time()
            train(net, opt, grid, 3, steps)
            tps = steps * T * N / (time.perf_counter() - t0)
            cps = steps * T * N / (time.process_time() - c0)
            print(f"pytorch {kind} threads={threads} tokens_per_s={tps:.0f} tokens_per_cpu_s={cps:.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
