"""PyTorch twin of `scratchnet train examples/text/char-lstm-512.net`, for
bench/text.sh: a 64-wide embedding of the characters of Moby Dick, one LSTM
level of 512 units, dropout 0.25, a linear layer to the vocabulary, softmax
cross-entropy; windows of 100 characters over 32 streams of the first 90 % of
the text (time-major, the state carried and detached between windows, as the
text trainer does), Adam lr 2e-3, gradients rescaled to a global norm of at
most 5. Trains 2 warm-up windows, then STEPS windows on the clock, and
prints the training tokens per second (what the CLI's history.csv reports as
tokens_per_s: training steps only, no evaluation).

usage: python3 bench/text_torch.py CORPUS STEPS THREADS
(threads: torch.set_num_threads; OPENBLAS_NUM_THREADS and OMP_WAIT_POLICY
come from the environment)."""
import sys
import time

import torch

import lstm_torch

T, N, E, H = 100, 32, 64, 512


class Net(torch.nn.Module):
    def __init__(self, V):
        super().__init__()
        self.embed = torch.nn.Embedding(V, E)
        self.lstm = torch.nn.LSTM(E, H)
        self.drop = torch.nn.Dropout(0.25)
        self.out = torch.nn.Linear(H, V)

    def forward(self, x, state):  # x: [T, N] token ids
        h, state = self.lstm(self.embed(x), state)
        return self.out(self.drop(h)).reshape(-1, self.out.out_features), state


def clip_norm(params):
    torch.nn.utils.clip_grad_norm_(params, 5.0)


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: python3 bench/text_torch.py CORPUS STEPS THREADS")
    text = open(sys.argv[1], encoding="utf-8").read()
    steps, threads = int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    vocab = {c: i for i, c in enumerate(sorted(set(text)))}
    train_text = text[:int(len(text) * 0.9)]
    S = (len(train_text) - 1) // N
    if (steps + 2) * T + 1 > S:
        raise SystemExit(f"text_torch: {steps} steps need a longer text")
    ids = torch.tensor([vocab[c] for c in train_text[:N * S + 1]])
    grid = torch.stack([ids[s * S:s * S + S + 1] for s in range(N)], 1)  # [S + 1, N]
    net = Net(len(vocab))
    # foreach=True: the peer's fastest optimizer step on CPU (bench/peer-env.sh)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, foreach=True)
    lstm_torch.train(net, opt, grid, 0, 2, T, clip_norm)
    t0, c0 = time.perf_counter(), time.process_time()
    lstm_torch.train(net, opt, grid, 2, steps, T, clip_norm)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"torch {torch.__version__} threads={threads} vocabulary {len(vocab)} "
          f"tokens_per_s={steps * T * N / wall:.0f} tokens_per_cpu_s={steps * T * N / cpu:.0f}",
          flush=True)


if __name__ == "__main__":
    main()
