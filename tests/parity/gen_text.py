"""PyTorch reference for the text training loop: 50 Adam steps of a small
char-level LSTM (embedding 8, LSTM 16, linear output) trained the way
sn_text_train does it. Writes

  fixtures/rnn_trajectory_init.safetensors  initial weights, named as the
                                       scratchnet model's parameters
                                       ("0.weight", "1.weight_ih_l0", ...)
  fixtures/rnn_trajectory.safetensors  PyTorch's loss at every step, the
                                       validation loss after each epoch, the
                                       final weights; metadata: the corpus,
                                       the model spec and the split
                                       (tests/test_text_trajectory.c)

    /usr/bin/python3 tests/parity/gen_text.py

The corpus is a pseudo-text drawn from a fixed word list (with "é" and "—",
so that the vocabulary has multi-byte code points). Its vocabulary is every
code point, in increasing order; the last 10 % of the tokens are held out.
Training: N = 4 streams of the training tokens, batches of T = 10 steps
(time-major), state carried from batch to batch and reset at each epoch,
mean cross-entropy per token, gradients clipped to [-c, c], Adam. Validation
after each epoch: min(N, n_val − 1) streams, same T, from a zero state.

The reference is computed in float64 from the float32 initial weights (the
exact trajectory); the script also runs it in float32 and prints how far
PyTorch's own float32 losses are from it."""
import os

import torch

import st

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
torch.set_num_threads(1)
nn = torch.nn

T, N, EPOCHS, LR, CLIP, EMB, HID = 10, 4, 2, 0.01, 0.05, 8, 16


def corpus(gen):
    words = ["the", "whale", "sea", "Ahab", "ship", "white", "and", "a", "of", "café", "—",
             "said", "Queequeg", "harpoon", "deep", ",", ".", "!", "\n"]
    out = []
    while sum(len(w) + 1 for w in out) < 1120:
        out.append(words[int(torch.randint(len(words), (1,), generator=gen))])
    return " ".join(out)


class Net(nn.Module):
    def __init__(self, V):
        super().__init__()
        self.emb = nn.Embedding(V, EMB)
        self.lstm = nn.LSTM(EMB, HID)
        self.out = nn.Linear(HID, V)

    def forward(self, x, state):  # x: [T, N] token ids
        h, state = self.lstm(self.emb(x), state)
        return self.out(h).reshape(-1, self.out.out_features), state

    def named(self):
        """Parameters under the scratchnet model's names."""
        ours = {"emb.weight": "0.weight", "out.weight": "2.weight", "out.bias": "2.bias"}
        return {ours.get(k, k.replace("lstm.", "1.")): p for k, p in self.named_parameters()}


def streams(ids, n_streams):
    S = (len(ids) - 1) // n_streams
    return torch.tensor([ids[s * S:s * S + S + 1] for s in range(n_streams)]).t(), S  # [S+1, N]


def batches(grid, S):
    for t0 in range(0, S, T):
        tb = min(T, S - t0)
        yield grid[t0:t0 + tb], grid[t0 + 1:t0 + tb + 1].reshape(-1)


def run(init, train_ids, val_ids, V, dtype):
    net = Net(V).to(dtype)
    with torch.no_grad():
        for k, p in net.named().items():
            p.copy_(init[k].to(dtype))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    grid, S = streams(train_ids, N)
    vgrid, VS = streams(val_ids, min(N, len(val_ids) - 1))
    losses, val_losses = [], []
    for _ in range(EPOCHS):
        state = None
        for x, y in batches(grid, S):
            opt.zero_grad()
            logits, state = net(x, state)
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            torch.nn.utils.clip_grad_value_(net.parameters(), CLIP)
            opt.step()
            state = tuple(s.detach() for s in state)
            losses.append(loss.item())
        with torch.no_grad():
            state, total, count = None, 0.0, 0
            for x, y in batches(vgrid, VS):
                logits, state = net(x, state)
                total += nn.functional.cross_entropy(logits, y, reduction="sum").item()
                count += y.numel()
            val_losses.append(total / count)
    return losses, val_losses, {k: p.detach() for k, p in net.named().items()}


def main():
    gen = torch.Generator().manual_seed(6)
    text = corpus(gen)
    vocab = sorted(set(text))
    ids = [vocab.index(c) for c in text]
    n_val = round(0.1 * len(ids))
    train_ids, val_ids = ids[:-n_val], ids[-n_val:]
    V = len(vocab)
    torch.manual_seed(6)
    init = {k: p.detach().clone() for k, p in Net(V).named().items()}
    st.save(os.path.join(OUT, "rnn_trajectory_init.safetensors"), init)
    ref = run(init, train_ids, val_ids, V, torch.float64)
    f32 = run(init, train_ids, val_ids, V, torch.float32)
    worst = max(abs(a - b) / abs(b) for a, b in zip(f32[0], ref[0]))
    print(f"  {len(ref[0])} steps; PyTorch float32 vs float64 loss: worst relative {worst:.2e}")
    spec = (f"input 1\nembedding {V} {EMB}\nlstm {HID}\ndense {V}\nloss softmax_xent\n"
            f"[train]\noptimizer adam lr={LR}\nbatch {N}\nepochs {EPOCHS}\nclip value={CLIP}\n")
    meta = {"schema": "sn-text-trajectory-1", "text": text, "spec": spec, "seq": str(T),
            "n_val": str(n_val), "generator": "tests/parity/gen_text.py, torch " + torch.__version__}
    tensors = {"loss": torch.tensor(ref[0]), "val_loss": torch.tensor(ref[1])}
    tensors.update({"final." + k: v for k, v in ref[2].items()})
    path = os.path.join(OUT, "rnn_trajectory.safetensors")
    st.save(path, tensors, meta)
    print(f"  {os.path.relpath(path, HERE)}: V={V}, {len(ids)} tokens, "
          f"{os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
