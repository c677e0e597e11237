"""Writes tests/parity/fixtures/metrics.txt: classification metrics computed
by scikit-learn for tests/test_metrics.c.

Run by hand with Debian's scikit-learn (apt-get install python3-sklearn):

    /usr/bin/python3 tests/parity/gen_metrics.py

Every case gives labels, predictions and float32 class scores, then what
sklearn.metrics says (labels = 0..K-1, zero_division = 0): the confusion
matrix, accuracy, per-class precision / recall / F1 / support, their macro
and weighted averages, top-k accuracy of the scores, and log_loss of the
scores read as probabilities with eps = float32's epsilon (the eps sklearn
uses for float32 input), computed in float64.

File format, one item per line, whitespace-separated numbers:
    case NAME N K TOPK
    true      N ints
    pred      N ints
    scores    N*K floats (row-major, exactly representable in float32)
    confusion K*K ints (row = true class)
    accuracy  x
    precision K floats
    recall    K floats
    f1        K floats
    support   K ints
    macro     precision recall f1
    weighted  precision recall f1
    topk      x
    logloss   x
"""
import os

import numpy as np
import sklearn
from sklearn import metrics

HERE = os.path.dirname(os.path.abspath(__file__))
EPS32 = float(np.finfo(np.float32).eps)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def case(out, name, y_true, y_pred, scores, k):
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    n, K = scores.shape
    labels = list(range(K))
    cm = metrics.confusion_matrix(y_true, y_pred, labels=labels)
    p, r, f, s = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0)
    macro = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0)[:3]
    weighted = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="weighted", zero_division=0)[:3]
    # sklearn takes one score column for two classes (P(class 1)).
    topk = metrics.top_k_accuracy_score(y_true, scores[:, 1] if K == 2 else scores, k=k,
                                        labels=labels)
    logloss = metrics.log_loss(y_true, scores.astype(np.float64), eps=EPS32, labels=labels)

    def line(key, values, fmt):
        out.write(key + " " + " ".join(fmt % v for v in values) + "\n")

    out.write("case %s %d %d %d\n" % (name, n, K, k))
    line("true", y_true, "%d")
    line("pred", y_pred, "%d")
    line("scores", scores.reshape(-1).astype(np.float64), "%.9g")
    line("confusion", cm.reshape(-1), "%d")
    line("accuracy", [metrics.accuracy_score(y_true, y_pred)], "%.17g")
    line("precision", p, "%.17g")
    line("recall", r, "%.17g")
    line("f1", f, "%.17g")
    line("support", s, "%d")
    line("macro", macro, "%.17g")
    line("weighted", weighted, "%.17g")
    line("topk", [topk], "%.17g")
    line("logloss", [logloss], "%.17g")


def main():
    rng = np.random.default_rng(7)
    path = os.path.join(HERE, "fixtures", "metrics.txt")
    with open(path, "w") as out:
        out.write("# scikit-learn %s, numpy %s: tests/parity/gen_metrics.py\n"
                  % (sklearn.__version__, np.__version__))

        # Ten classes, a noisy classifier: predictions are the argmax of
        # the scores, which lean towards the true class.
        n, K = 300, 10
        y = rng.integers(0, K, n)
        z = rng.normal(size=(n, K)) + 1.5 * np.eye(K)[y]
        prob = softmax(z).astype(np.float32)
        case(out, "ten_classes", y, prob.argmax(axis=1), prob, 3)

        # zero_division: class 3 is never predicted (precision 0), class 4
        # never occurs (recall 0), class 5 neither (everything 0, still
        # counted in the macro average). Unnormalized scores with exact
        # zeros and ones exercise log_loss's clipping and renormalization.
        K = 6
        y = rng.choice([0, 1, 2, 3], 60)
        pred = np.where(y == 3, rng.choice([0, 1, 2, 4], 60), y)
        flip = rng.random(60) < 0.3
        pred = np.where(flip, rng.choice([0, 1, 2, 4], 60), pred)
        scores = rng.random((60, K)).astype(np.float32)
        scores[::7, :] = 0
        scores[::7, 1] = 1
        scores[3::11, 2] = 0
        case(out, "zero_division", y, pred, scores, 2)

        # Binary (top-2 of 2 classes is always a hit).
        y = rng.integers(0, 2, 40)
        pred = np.where(rng.random(40) < 0.8, y, 1 - y)
        p1 = np.round(rng.random(40), 1).astype(np.float32)
        case(out, "binary", y, pred, np.stack([1 - p1, p1], axis=1), 2)

        # Ties: sklearn ranks the higher class index first among equal
        # scores (a stable ascending sort, reversed).
        K = 5
        y = rng.integers(0, K, 50)
        scores = rng.integers(0, 3, (50, K)).astype(np.float32)
        case(out, "ties", y, scores.argmax(axis=1), scores, 2)

        # Perfect predictions and a single sample.
        K = 3
        y = np.array([0, 1, 2, 2, 1, 0, 0])
        case(out, "perfect", y, y, np.eye(K, dtype=np.float32)[y], 1)
        case(out, "one_sample", [2], [0], np.array([[0.5, 0.25, 0.25]], np.float32), 2)
    print("wrote", path)


if __name__ == "__main__":
    main()
