"""PyTorch references for the recurrent layers: writes
fixtures/rnn_rnn.safetensors, fixtures/rnn_lstm.safetensors and
fixtures/rnn_gru.safetensors (nn.RNN, nn.LSTM, nn.GRU forward passes and
truncated-BPTT gradients), read by tests/test_rnn.c, test_lstm.c and
test_gru.c. The trajectory fixture of a small char-LSTM is written by
gen_text.py.

Run with /usr/bin/python3 (torch 1.13, CPU) from anywhere:
    /usr/bin/python3 tests/parity/gen_rnn.py

Every reference is computed in float64 from float32 values (the values the C
test feeds in are exactly those) and rounded to float32 once.

Fixture schema (metadata "schema" = "sn-rnn-1"; tests/test_parity.c skips it):

  metadata  "cases"           comma-separated case names
            "<c>.spec"        model spec whose layer 0 is the layer under test
            "<c>.T", "<c>.N", "<c>.batches"
  tensors   "<c>.x"           [B, T, N, I]  inputs of B consecutive batches
            "<c>.dy"          [B, T, N, H]  dL/dy given to each batch's backward
            "<c>.h0", "<c>.c0" [L, N, H]    state before the first batch (c0: LSTM)
            "<c>.y"           [B, T, N, H]  outputs
            "<c>.dx"          [B, T, N, I]  input gradients
            "<c>.hn", "<c>.cn" [L, N, H]    state after the last batch
            "<c>.<param>"     PyTorch's weight_ih_l0, weight_hh_l0, bias_ih_l0, ...
            "<c>.<param>.grad" the gradient from the last batch alone

Batch b starts from the state batch b − 1 ended in, detached (truncated BPTT:
no gradient crosses the batch boundary), as the C layer's carry_state does."""
import os

import torch

import st

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
torch.set_num_threads(1)


def r32(t):
    return t.to(torch.float32).to(torch.float64)


def make_module(kind, I, H, L, act):
    if kind == "rnn":
        return torch.nn.RNN(I, H, num_layers=L, nonlinearity=act)
    if kind == "lstm":
        return torch.nn.LSTM(I, H, num_layers=L)
    return torch.nn.GRU(I, H, num_layers=L)


def case(tensors, meta, names, gen, name, kind, I, H, L, T, N, B, carried, act="tanh", scale=1.0):
    m = make_module(kind, I, H, L, act).double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(r32((torch.rand(p.shape, generator=gen, dtype=torch.float64) * 2 - 1) * scale))

    def randn(*shape):
        return r32(torch.randn(*shape, generator=gen, dtype=torch.float64))

    x = randn(B, T, N, I)
    dy = randn(B, T, N, H)
    h0 = randn(L, N, H) * 0.5 if carried else torch.zeros(L, N, H, dtype=torch.float64)
    c0 = randn(L, N, H) * 0.5 if carried else torch.zeros(L, N, H, dtype=torch.float64)
    h0, c0 = r32(h0), r32(c0)
    state = (h0, c0) if kind == "lstm" else h0
    ys, dxs = [], []
    for b in range(B):
        m.zero_grad()
        xb = x[b].clone().requires_grad_(True)
        y, state = m(xb, state)
        (y * dy[b]).sum().backward()
        ys.append(y.detach())
        dxs.append(xb.grad)
        state = tuple(s.detach() for s in state) if kind == "lstm" else state.detach()
    t = {"x": x, "dy": dy, "h0": h0, "y": torch.stack(ys), "dx": torch.stack(dxs)}
    if kind == "lstm":
        t["c0"] = c0
        t["hn"], t["cn"] = state
    else:
        t["hn"] = state
    for pname, p in m.named_parameters():
        t[pname] = p.detach()
        t[pname + ".grad"] = p.grad
    opts = f" layers={L}" if L > 1 else ""
    if kind == "rnn" and act == "relu":
        opts += " act=relu"
    meta[f"{name}.spec"] = f"input {I}\n{kind} {H}{opts}\nloss mse\n"
    meta[f"{name}.T"], meta[f"{name}.N"], meta[f"{name}.batches"] = str(T), str(N), str(B)
    for k, v in t.items():
        tensors[f"{name}.{k}"] = v
    names.append(name)


def write(kind, seed):
    gen = torch.Generator().manual_seed(seed)
    tensors, meta, names = {}, {"schema": "sn-rnn-1", "kind": kind}, []
    #            name      I   H  L  T  N  B  carried
    case(tensors, meta, names, gen, "single", kind, 3, 4, 1, 1, 1, 1, False)
    case(tensors, meta, names, gen, "seq", kind, 5, 7, 1, 6, 3, 1, True)
    case(tensors, meta, names, gen, "stacked", kind, 4, 5, 2, 5, 2, 1, True)
    case(tensors, meta, names, gen, "carry", kind, 3, 6, 1, 4, 4, 2, False)
    case(tensors, meta, names, gen, "stacked3_carry", kind, 2, 4, 3, 3, 2, 3, True)
    case(tensors, meta, names, gen, "odd_sizes", kind, 17, 33, 1, 3, 5, 1, True, scale=0.3)
    case(tensors, meta, names, gen, "long", kind, 4, 8, 1, 40, 2, 1, True, scale=0.6)
    if kind == "rnn":
        case(tensors, meta, names, gen, "relu", kind, 4, 5, 2, 5, 3, 2, True, act="relu",
             scale=0.5)
    meta["cases"] = ",".join(names)
    meta["generator"] = "tests/parity/gen_rnn.py, torch " + torch.__version__
    path = os.path.join(OUT, f"rnn_{kind}.safetensors")
    st.save(path, {k: v.to(torch.float32) for k, v in tensors.items()}, meta)
    print(f"  {os.path.relpath(path, HERE)}: {len(names)} cases, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write("rnn", 1)
    write("lstm", 2)
    write("gru", 3)
