"""The ring all-reduce cost model of docs/distributed.md: predicted scaling
efficiency of data-parallel training for the example models.

Per step, each rank all-reduces the gradient, n = 4 * parameters bytes, in
k buckets. A ring all-reduce of n bytes over P ranks costs

    T_ar(P, n) = 2 (P - 1) * alpha * k + 2 (P - 1) / P * n * beta

(alpha: latency of one message, beta: seconds per byte of the link; each
bucket pays the latency). The step's compute is T_c = b * t, for b samples
(or tokens) per rank at t seconds each. Efficiency is the time of the
compute over the time of the step:

    no overlap:     E = T_c / (T_c + T_ar)
    with overlap:   E = T_c / (T_c + max(0, T_ar - f * T_c))

where f = 2/3 is the share of the step spent in backward, during which
buckets are already on the wire.

usage: python3 bench/ddp_model.py T_MLP T_CNN T_LSTM [ALPHA_US BETA_NS]
  T_*: seconds per sample (per token for the char-LSTM) on one thread,
  measured here (docs/distributed.md says how); ALPHA_US/BETA_NS: the
  transport measured here, to check the model against the 2-rank runs."""
import sys

MODELS = [
    # name, trained parameters, per-rank batch (samples or tokens), buckets of 256 KiB
    ("MLP (fashion-mlp.net)", 535818, 128, 5),
    ("CNN (fashion-cnn.net)", 225034, 128, 3),
    ("char-LSTM (char-lstm.net, V = 89)", 123609, 16 * 50, 3),
]
NETS = [
    # name, alpha (s), beta (s/byte)
    ("10 Gbit/s, alpha 25 us", 25e-6, 8 / 10e9),
    ("100 Gbit/s, alpha 5 us", 5e-6, 8 / 100e9),
]
RANKS = [8, 64, 512]


def t_ar(P, n, k, alpha, beta):
    return 2 * (P - 1) * alpha * k + 2 * (P - 1) / P * n * beta


def eff(tc, tar, overlap):
    exposed = max(0.0, tar - 2 / 3 * tc) if overlap else tar
    return tc / (tc + exposed)


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    t = [float(a) for a in sys.argv[1:4]]
    print("| model | bytes/step | network | P | T_c ms | T_ar ms | E no overlap | E overlap |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for (name, params, b, k), ts in zip(MODELS, t):
        n = 4 * params
        tc = b * ts
        for net, alpha, beta in NETS:
            for P in RANKS:
                tar = t_ar(P, n, k, alpha, beta)
                print(f"| {name} | {n / 1e6:.2f} MB | {net} | {P} | {tc * 1e3:.1f} | "
                      f"{tar * 1e3:.2f} | {100 * eff(tc, tar, 0):.0f} % | "
                      f"{100 * eff(tc, tar, 1):.0f} % |")
    if len(sys.argv) >= 6:
        alpha, beta = float(sys.argv[4]) * 1e-6, float(sys.argv[5]) * 1e-9
        print()
        print("Here (P = 2, the measured transport): predicted all-reduce per step")
        for name, params, b, k in MODELS:
            print(f"  {name}: {t_ar(2, 4 * params, k, alpha, beta) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
