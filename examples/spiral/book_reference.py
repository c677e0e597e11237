"""The from-scratch book's spiral training loop in NumPy (chapters 10-11, as
nnfs.init() sets NumPy up: seed 0, float32 randn and zeros, dot products in
float64 rounded to float32), to compare our runs with the book's on the
same footing. Its optimizers are the book's: SGD momentum v = μv − lr·g,
AdaGrad / RMSProp / Adam with ε outside the square root, and the decay
lr / (1 + decay·t) for all of them.

usage: /usr/bin/python3 examples/spiral/book_reference.py OPTIMIZER [SEED]
       OPTIMIZER: sgd, sgd_momentum, adagrad, rmsprop, adam; SEED default 0
       (the book's). Prints accuracy and loss every 1,000 epochs.
"""
import sys

import numpy as np


def dot(a, b):
    return np.dot(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)


def randn(*shape):
    return np.random.randn(*shape).astype(np.float32)


def spiral_data(samples, classes):
    X = np.zeros((samples * classes, 2), dtype=np.float32)
    y = np.zeros(samples * classes, dtype=np.uint8)
    for c in range(classes):
        ix = range(samples * c, samples * (c + 1))
        r = np.linspace(0.0, 1, samples)
        t = np.linspace(c * 4, (c + 1) * 4, samples) + randn(samples) * 0.2
        X[ix] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[ix] = c
    return X, y


SETTINGS = {  # the book's calls
    "sgd": dict(kind="sgd", lr=1.0),
    "sgd_momentum": dict(kind="sgd", lr=1.0, decay=1e-3, momentum=0.9),
    "adagrad": dict(kind="adagrad", lr=1.0, decay=1e-4),
    "rmsprop": dict(kind="rmsprop", lr=0.02, decay=1e-5, rho=0.999),
    "adam": dict(kind="adam", lr=0.05, decay=5e-7),
}


def main():
    name, seed = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
    s = dict(decay=0.0, momentum=0.0, rho=0.9, eps=1e-7, b1=0.9, b2=0.999) | SETTINGS[name]
    np.random.seed(seed)
    X, y = spiral_data(100, 3)
    params = [0.01 * randn(2, 64), np.zeros((1, 64), np.float32),
              0.01 * randn(64, 3), np.zeros((1, 3), np.float32)]
    m = [np.zeros_like(p) for p in params]
    c = [np.zeros_like(p) for p in params]
    n = len(y)
    for epoch in range(10001):
        h = dot(X, params[0]) + params[1]
        a = np.maximum(0, h)
        z = dot(a, params[2]) + params[3]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss = np.mean(-np.log(np.clip(p, 1e-7, 1 - 1e-7)[range(n), y]))
        if epoch % 1000 == 0:
            acc = np.mean(p.argmax(axis=1) == y)
            print(f"{name} seed {seed} epoch {epoch} acc {acc:.3f} loss {loss:.3f}")
        dz = p.copy()
        dz[range(n), y] -= 1
        dz /= n
        da = dot(dz, params[2].T)
        dh = da * (h > 0)
        grads = [dot(X.T, dh), dh.sum(axis=0, keepdims=True), dot(a.T, dz),
                 dz.sum(axis=0, keepdims=True)]
        lr = s["lr"] / (1.0 + s["decay"] * epoch)
        for i, g in enumerate(grads):
            if s["kind"] == "sgd":
                m[i] = s["momentum"] * m[i] - lr * g
                params[i] += m[i]
            elif s["kind"] == "adagrad":
                c[i] += g ** 2
                params[i] += -lr * g / (np.sqrt(c[i]) + s["eps"])
            elif s["kind"] == "rmsprop":
                c[i] = s["rho"] * c[i] + (1 - s["rho"]) * g ** 2
                params[i] += -lr * g / (np.sqrt(c[i]) + s["eps"])
            else:
                m[i] = s["b1"] * m[i] + (1 - s["b1"]) * g
                c[i] = s["b2"] * c[i] + (1 - s["b2"]) * g ** 2
                mh = m[i] / (1 - s["b1"] ** (epoch + 1))
                ch = c[i] / (1 - s["b2"] ** (epoch + 1))
                params[i] += -lr * mh / (np.sqrt(ch) + s["eps"])


if __name__ == "__main__":
    main()
