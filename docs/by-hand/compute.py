"""Computes every number of the worked examples in docs/by-hand/ exactly and
writes the four documents and tests/byhand_values.h (the printed strings,
which tests/test_byhand.c reproduces with the library).

    /usr/bin/python3 docs/by-hand/compute.py

Nothing here uses scratchnet or any numerical library: sums and products are
exact (fractions.Fraction), e^x, log and tanh are evaluated with 50
significant digits (decimal.Decimal), and only the final rounding to the
printed digits loses anything.
"""
import os
from decimal import Decimal, getcontext
from fractions import Fraction as Fr

getcontext().prec = 50
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

D = Decimal
values = []  # (macro, printed string)
extra = {}  # values the tests need that are not printed (full precision)


def dec(x):
    """A Fraction or Decimal as a 50-digit Decimal."""
    if isinstance(x, Fr):
        return D(x.numerator) / D(x.denominator)
    return D(x)


def exp(x):
    return dec(x).exp()


def sigmoid(x):
    return 1 / (1 + exp(-dec(x)))


def tanh(x):
    e = exp(2 * dec(x))
    return (e - 1) / (e + 1)


def fmt(x, places=6):
    """x rounded to `places` decimals (integers as integers), with a true
    minus sign."""
    x = dec(x)
    if x == x.to_integral_value() and abs(x) < 1000:
        s = str(int(x))
    else:
        s = f"{x:.{places}f}"
        if float(s) == 0:
            s = s.lstrip("-")
    return s.replace("-", "\u2212")


def v(macro, x, places=6):
    """Prints x and records it for the test under `macro`."""
    s = fmt(x, places)
    values.append((macro, s))
    return s


def write(name, text):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)
    print(f"wrote docs/by-hand/{name}")


# ---- 1. a single ReLU neuron -------------------------------------------------

def relu_neuron():
    x = [Fr(1), Fr(-2), Fr(3)]
    w = [Fr(-3), Fr(-1), Fr(2)]
    b = Fr(1)
    prods = [wi * xi for wi, xi in zip(w, x)]
    z = sum(prods) + b
    y = max(z, Fr(0))
    dz = Fr(1) if z > 0 else Fr(0)
    dw = [dz * xi for xi in x]
    dx = [dz * wi for wi in w]
    db = dz
    t = y - Fr(1, 2)
    loss = (y - t) ** 2
    # A nudge of w1 by 0.001 changes y by 0.001·x1.
    w1n = w[0] + Fr(1, 1000)
    zn = w1n * x[0] + w[1] * x[1] + w[2] * x[2] + b
    # The same neuron with bias −7: z < 0, dead.
    zd = sum(prods) + Fr(-7)
    m = "\u2212"
    text = f"""# 1. A single ReLU neuron

One neuron with three inputs, three weights, a bias and a ReLU:

```
z = w₁x₁ + w₂x₂ + w₃x₃ + b          y = ReLU(z) = max(z, 0)
```

with inputs x = (1, {m}2, 3), weights w = ({m}3, {m}1, 2) and bias b = 1.

## Forward

| term | value |
|---|---|
| w₁x₁ = ({m}3)(1) | {v("BH1_P1", prods[0])} |
| w₂x₂ = ({m}1)({m}2) | {v("BH1_P2", prods[1])} |
| w₃x₃ = (2)(3) | {v("BH1_P3", prods[2])} |
| b | {fmt(b)} |
| z = {m}3 + 2 + 6 + 1 | **{v("BH1_Z", z)}** |
| y = max(z, 0) | **{v("BH1_Y", y)}** |

## Backward: the derivative of y with respect to everything

The chain rule goes through z: ∂y/∂θ = (∂y/∂z)(∂z/∂θ). ReLU passes its input
through where it is positive, so ∂y/∂z = 1 because z = 6 > 0 (and would be 0
for z < 0). z is linear in each weight, input and the bias:

```
∂z/∂wᵢ = xᵢ        ∂z/∂xᵢ = wᵢ        ∂z/∂b = 1
```

| derivative | formula | value |
|---|---|---|
| ∂y/∂z | 1 since z > 0 | {v("BH1_DZ", dz)} |
| ∂y/∂w₁ | (∂y/∂z) x₁ | **{v("BH1_DW1", dw[0])}** |
| ∂y/∂w₂ | (∂y/∂z) x₂ | **{v("BH1_DW2", dw[1])}** |
| ∂y/∂w₃ | (∂y/∂z) x₃ | **{v("BH1_DW3", dw[2])}** |
| ∂y/∂x₁ | (∂y/∂z) w₁ | **{v("BH1_DX1", dx[0])}** |
| ∂y/∂x₂ | (∂y/∂z) w₂ | **{v("BH1_DX2", dx[1])}** |
| ∂y/∂x₃ | (∂y/∂z) w₃ | **{v("BH1_DX3", dx[2])}** |
| ∂y/∂b | (∂y/∂z) · 1 | **{v("BH1_DB", db)}** |

Each weight's derivative is its input: the neuron's output is most sensitive
to the weight on the largest input. Each input's derivative is its weight.

What a derivative means, checked by hand: raise w₁ from {m}3 to {m}2.999 and z
becomes {v("BH1_ZNUDGE", zn, 3)}; y grows by 0.001 · x₁ = 0.001, as ∂y/∂w₁ = 1
says.

## A dead neuron

With bias b = {m}7 instead, z = {m}3 + 2 + 6 {m} 7 = {v("BH1_ZDEAD", zd)} < 0, so
y = 0 and ∂y/∂z = 0: every derivative above becomes 0. No gradient reaches
the weights, and gradient descent cannot revive the neuron on this input.

## In the library

`tests/test_byhand.c` builds this neuron from the spec

```
input 3
dense 1
relu
loss mse
```

sets w and b by hand and runs one forward and backward pass. To read the
derivatives of y itself it uses a target t = y − ½ = {fmt(t)}: the loss is
L = (y − t)² = {v("BH1_LOSS", loss)}, and dL/dy = 2(y − t) = 1, so dL/dθ =
∂y/∂θ for every θ. The test compares z, y, the weight, bias and input
gradients with the numbers above, and the dead neuron's gradients with 0.
"""
    write("01-relu-neuron.md", text)


# ---- 2. a 2-2-1 sigmoid MLP with MSE, one gradient-descent step ---------------

def mlp():
    x = [D("0.5"), D("-1.0")]
    W1 = [[D("0.1"), D("0.4")], [D("-0.3"), D("0.2")]]
    b1 = [D("0.1"), D("-0.1")]
    W2 = [D("0.5"), D("-0.6")]
    b2 = D("0.2")
    t = D("1")
    lr = D("0.5")

    def forward(W1, b1, W2, b2):
        z1 = [W1[j][0] * x[0] + W1[j][1] * x[1] + b1[j] for j in range(2)]
        h = [sigmoid(z) for z in z1]
        z2 = W2[0] * h[0] + W2[1] * h[1] + b2
        yh = sigmoid(z2)
        return z1, h, z2, yh, (yh - t) ** 2

    z1, h, z2, yh, L = forward(W1, b1, W2, b2)
    dyh = 2 * (yh - t)
    sy = yh * (1 - yh)
    d2 = dyh * sy
    dW2 = [d2 * h[0], d2 * h[1]]
    db2 = d2
    dh = [d2 * W2[0], d2 * W2[1]]
    sh = [h[j] * (1 - h[j]) for j in range(2)]
    d1 = [dh[j] * sh[j] for j in range(2)]
    dW1 = [[d1[j] * x[i] for i in range(2)] for j in range(2)]
    db1 = d1
    dx = [W1[0][i] * d1[0] + W1[1][i] * d1[1] for i in range(2)]
    W1n = [[W1[j][i] - lr * dW1[j][i] for i in range(2)] for j in range(2)]
    b1n = [b1[j] - lr * db1[j] for j in range(2)]
    W2n = [W2[j] - lr * dW2[j] for j in range(2)]
    b2n = b2 - lr * db2
    z1n, hn, z2n, yhn, Ln = forward(W1n, b1n, W2n, b2n)
    m = "\u2212"
    f = fmt
    text = f"""# 2. A 2-2-1 sigmoid network through one gradient-descent step

Two inputs, two hidden sigmoid units, one sigmoid output, mean squared error
against a target, and one step of plain gradient descent. σ(z) = 1 / (1 + e^(−z))
and σ'(z) = σ(z)(1 − σ(z)).

```
z¹ = W¹x + b¹      h = σ(z¹)      z² = W²h + b²      ŷ = σ(z²)      L = (ŷ − t)²
```

(The library's MSE is the mean of (ŷ − t)² over samples and outputs; with one
of each it is (ŷ − t)², without a ½.)

The numbers:

| | value |
|---|---|
| input x | (0.5, {m}1.0) |
| W¹ (row j = hidden unit j) | [[0.1, 0.4], [{m}0.3, 0.2]] |
| b¹ | (0.1, {m}0.1) |
| W² | [0.5, {m}0.6] |
| b² | 0.2 |
| target t | 1 |
| learning rate η | 0.5 |

All numbers below are exact values rounded to 6 decimals.

## Forward

| quantity | computation | value |
|---|---|---|
| z¹₁ | 0.1·0.5 + 0.4·({m}1) + 0.1 | {v("BH2_Z1_0", z1[0])} |
| z¹₂ | {m}0.3·0.5 + 0.2·({m}1) {m} 0.1 | {v("BH2_Z1_1", z1[1])} |
| h₁ = σ(z¹₁) | 1 / (1 + e^0.25) | {v("BH2_H_0", h[0])} |
| h₂ = σ(z¹₂) | 1 / (1 + e^0.45) | {v("BH2_H_1", h[1])} |
| z² | 0.5 h₁ {m} 0.6 h₂ + 0.2 | {v("BH2_Z2", z2)} |
| ŷ = σ(z²) | | {v("BH2_Y", yh)} |
| L = (ŷ − 1)² | | **{v("BH2_L", L)}** |

## Backward

Output layer, by the chain rule through ŷ and z²:

| quantity | computation | value |
|---|---|---|
| ∂L/∂ŷ | 2(ŷ − t) | {v("BH2_DY", dyh)} |
| ∂ŷ/∂z² | ŷ(1 − ŷ) | {v("BH2_SY", sy)} |
| δ² = ∂L/∂z² | ∂L/∂ŷ · ∂ŷ/∂z² | {v("BH2_D2", d2)} |
| ∂L/∂W²₁ | δ² h₁ | **{v("BH2_DW2_0", dW2[0])}** |
| ∂L/∂W²₂ | δ² h₂ | **{v("BH2_DW2_1", dW2[1])}** |
| ∂L/∂b² | δ² | **{v("BH2_DB2", db2)}** |

Hidden layer: δ² flows back through W² to each hidden unit, then through its
sigmoid:

| quantity | computation | value |
|---|---|---|
| ∂L/∂h₁ | δ² W²₁ | {v("BH2_DH_0", dh[0])} |
| ∂L/∂h₂ | δ² W²₂ | {v("BH2_DH_1", dh[1])} |
| σ'(z¹₁) | h₁(1 − h₁) | {v("BH2_SH_0", sh[0])} |
| σ'(z¹₂) | h₂(1 − h₂) | {v("BH2_SH_1", sh[1])} |
| δ¹₁ = ∂L/∂z¹₁ | ∂L/∂h₁ · σ'(z¹₁) | {v("BH2_D1_0", d1[0])} |
| δ¹₂ = ∂L/∂z¹₂ | ∂L/∂h₂ · σ'(z¹₂) | {v("BH2_D1_1", d1[1])} |
| ∂L/∂W¹₁₁ | δ¹₁ x₁ | **{v("BH2_DW1_00", dW1[0][0])}** |
| ∂L/∂W¹₁₂ | δ¹₁ x₂ | **{v("BH2_DW1_01", dW1[0][1])}** |
| ∂L/∂W¹₂₁ | δ¹₂ x₁ | **{v("BH2_DW1_10", dW1[1][0])}** |
| ∂L/∂W¹₂₂ | δ¹₂ x₂ | **{v("BH2_DW1_11", dW1[1][1])}** |
| ∂L/∂b¹₁ | δ¹₁ | **{v("BH2_DB1_0", db1[0])}** |
| ∂L/∂b¹₂ | δ¹₂ | **{v("BH2_DB1_1", db1[1])}** |
| ∂L/∂x₁ | W¹₁₁ δ¹₁ + W¹₂₁ δ¹₂ | {v("BH2_DX_0", dx[0])} |
| ∂L/∂x₂ | W¹₁₂ δ¹₁ + W¹₂₂ δ¹₂ | {v("BH2_DX_1", dx[1])} |

## One gradient-descent step, θ ← θ − η ∂L/∂θ with η = 0.5

| parameter | before | after |
|---|---|---|
| W¹₁₁ | 0.1 | {v("BH2_NW1_00", W1n[0][0])} |
| W¹₁₂ | 0.4 | {v("BH2_NW1_01", W1n[0][1])} |
| W¹₂₁ | {m}0.3 | {v("BH2_NW1_10", W1n[1][0])} |
| W¹₂₂ | 0.2 | {v("BH2_NW1_11", W1n[1][1])} |
| b¹₁ | 0.1 | {v("BH2_NB1_0", b1n[0])} |
| b¹₂ | {m}0.1 | {v("BH2_NB1_1", b1n[1])} |
| W²₁ | 0.5 | {v("BH2_NW2_0", W2n[0])} |
| W²₂ | {m}0.6 | {v("BH2_NW2_1", W2n[1])} |
| b² | 0.2 | {v("BH2_NB2", b2n)} |

## After the step

The same input through the new weights:

| quantity | value |
|---|---|
| z¹ | ({v("BH2_NZ1_0", z1n[0])}, {v("BH2_NZ1_1", z1n[1])}) |
| h | ({v("BH2_NH_0", hn[0])}, {v("BH2_NH_1", hn[1])}) |
| z² | {v("BH2_NZ2", z2n)} |
| ŷ | {v("BH2_NY", yhn)} |
| L | **{v("BH2_NL", Ln)}** (was {f(L)}) |

The prediction moved toward the target and the loss went down, as a small
enough step against the gradient must.

## In the library

`tests/test_byhand.c` builds the network from

```
input 2
dense 2
sigmoid
dense 1
sigmoid
loss mse
[train]
optimizer sgd lr=0.5
```

sets the weights above by hand (the dense layers' `weight` is W with one row
per output unit, as here), runs forward and backward, takes one step of the
library's SGD optimizer and runs forward again, comparing every number in the
tables with the library's to the printed digit.
"""
    write("02-sigmoid-mlp.md", text)


# ---- 3. softmax + cross-entropy: Jacobian route and fused route ---------------

def softmax_xent():
    z = [D("0.5"), D("2.0"), D("-1.0")]
    c = 0
    y = [D(1) if k == c else D(0) for k in range(3)]
    e = [exp(zk) for zk in z]
    S = sum(e)
    p = [ek / S for ek in e]
    L = -(p[c].ln())
    dLdp = [-y[k] / p[k] for k in range(3)]
    J = [[p[i] * ((1 if i == j else 0) - p[j]) for j in range(3)] for i in range(3)]
    route1 = [sum(dLdp[i] * J[i][j] for i in range(3)) for j in range(3)]
    route2 = [p[j] - y[j] for j in range(3)]
    m = "\u2212"
    rows = "\n".join(
        f"| i = {i} | " + " | ".join(v(f"BH3_J{i}{j}", J[i][j]) for j in range(3)) + " |"
        for i in range(3))
    text = f"""# 3. Softmax and cross-entropy: the Jacobian route and the fused p − y

A classifier outputs logits z; softmax turns them into probabilities p and
cross-entropy scores them against the one-hot target y:

```
pᵢ = e^(zᵢ) / S,  S = Σₖ e^(zₖ)          L = −Σᵢ yᵢ log pᵢ = −log p_c
```

The derivation of why ∂L/∂z = p − y is in [../softmax-xent.md](../softmax-xent.md)
(with a worked example for z = (1, 2, 3)); this page computes both routes for
another case, a wrong prediction, and prints every intermediate number.

Logits z = (0.5, 2.0, {m}1.0), true class c = 0, so y = (1, 0, 0). Values are
exact, rounded to 6 decimals.

## Forward

| | i = 0 | i = 1 | i = 2 |
|---|---|---|---|
| zᵢ | 0.5 | 2.0 | {m}1.0 |
| e^(zᵢ) | {v("BH3_E0", e[0])} | {v("BH3_E1", e[1])} | {v("BH3_E2", e[2])} |
| pᵢ = e^(zᵢ) / S | {v("BH3_P0", p[0])} | {v("BH3_P1", p[1])} | {v("BH3_P2", p[2])} |
| yᵢ | 1 | 0 | 0 |

S = {v("BH3_S", S)}; the loss is L = −log p₀ = **{v("BH3_L", L)}**. The network
is confident in the wrong class 1.

## Route 1: the full Jacobian

Cross-entropy's gradient with respect to p: ∂L/∂pᵢ = −yᵢ / pᵢ, non-zero only
for the true class:

```
∂L/∂p = (−1 / p₀, 0, 0) = ({v("BH3_DP0", dLdp[0])}, 0, 0)
```

Softmax's Jacobian Jᵢⱼ = ∂pᵢ/∂zⱼ = pᵢ(δᵢⱼ − pⱼ), a full 3×3 matrix (row i,
column j):

| ∂pᵢ/∂zⱼ | j = 0 | j = 1 | j = 2 |
|---|---|---|---|
{rows}

Each row sums to 0 (the probabilities always sum to 1, whatever z does),
and J is symmetric. The chain rule sums over every path from zⱼ to L:
∂L/∂zⱼ = Σᵢ (∂L/∂pᵢ) Jᵢⱼ. Only i = 0 contributes, so ∂L/∂z is row 0 of J
times −1/p₀:

```
∂L/∂z = {fmt(dLdp[0])} · ({fmt(J[0][0])}, {fmt(J[0][1])}, {fmt(J[0][2])})
      = ({v("BH3_R1_0", route1[0])}, {v("BH3_R1_1", route1[1])}, {v("BH3_R1_2", route1[2])})
```

## Route 2: fused, p − y

```
∂L/∂z = p − y = ({fmt(p[0])} − 1, {fmt(p[1])} − 0, {fmt(p[2])} − 0)
      = ({v("BH3_R2_0", route2[0])}, {v("BH3_R2_1", route2[1])}, {v("BH3_R2_2", route2[2])})
```

The same vector, without forming J or dividing by p₀ (which would be large
for a badly wrong prediction: here 1/p₀ = {fmt(-dLdp[0])}). The gradient pushes
z₀ up by the missing probability 1 − p₀ and every other logit down by its
own probability.

## In the library

`tests/test_byhand.c` does both: route 1 with the `softmax` layer (spec
`input 3`, `softmax`, `loss mse`): its forward gives p, its backward applied
to each unit vector gives each row of J, and applied to ∂L/∂p gives route 1;
route 2 with the fused loss `softmax_xent` on the logits (`sn_loss`), which
gives L and p − y directly. Every number above is compared.
"""
    write("03-softmax-xent.md", text)


# ---- 4. a two-step tanh RNN through backprop through time ---------------------

def rnn():
    xs = [D("1.0"), D("-0.5")]
    Wx = [D("0.5"), D("-0.3")]  # [2, 1]
    Wh = [[D("0.1"), D("0.4")], [D("-0.2"), D("0.3")]]  # [2, 2]
    bh = [D("0.0"), D("0.1")]
    Wy = [D("0.7"), D("-0.5")]  # [1, 2]
    by = D("0.0")
    t = D("0.3")

    def matvec(W, h):
        return [W[j][0] * h[0] + W[j][1] * h[1] for j in range(2)]

    h0 = [D(0), D(0)]
    a1 = [Wx[j] * xs[0] + matvec(Wh, h0)[j] + bh[j] for j in range(2)]
    h1 = [tanh(a) for a in a1]
    r1 = matvec(Wh, h1)
    a2 = [Wx[j] * xs[1] + r1[j] + bh[j] for j in range(2)]
    h2 = [tanh(a) for a in a2]
    y = Wy[0] * h2[0] + Wy[1] * h2[1] + by
    L = (y - t) ** 2
    extra["BH4_Y1_EXACT"] = Wy[0] * h1[0] + Wy[1] * h1[1] + by
    dy = 2 * (y - t)
    dWy = [dy * h2[0], dy * h2[1]]
    dby = dy
    dh2 = [Wy[0] * dy, Wy[1] * dy]
    g2 = [1 - h2[j] ** 2 for j in range(2)]
    da2 = [dh2[j] * g2[j] for j in range(2)]
    dh1 = [Wh[0][i] * da2[0] + Wh[1][i] * da2[1] for i in range(2)]
    g1 = [1 - h1[j] ** 2 for j in range(2)]
    da1 = [dh1[j] * g1[j] for j in range(2)]
    dWx2 = [da2[j] * xs[1] for j in range(2)]
    dWx1 = [da1[j] * xs[0] for j in range(2)]
    dWx = [dWx1[j] + dWx2[j] for j in range(2)]
    dWh2 = [[da2[j] * h1[i] for i in range(2)] for j in range(2)]
    dWh = dWh2  # step 1 adds da1 h0ᵀ = 0
    dbh = [da1[j] + da2[j] for j in range(2)]
    dx1 = Wx[0] * da1[0] + Wx[1] * da1[1]
    dx2 = Wx[0] * da2[0] + Wx[1] * da2[1]
    m = "\u2212"

    def pair(macro, a):
        return f"({v(macro + '_0', a[0])}, {v(macro + '_1', a[1])})"

    text = f"""# 4. A two-step tanh RNN through backpropagation through time

A recurrent network reads a sequence one step at a time and carries a hidden
state h from step to step, with the same weights at every step:

```
aₜ = W_x xₜ + W_h hₜ₋₁ + b        hₜ = tanh(aₜ)        (t = 1, 2; h₀ = 0)
y  = W_y h₂ + b_y                 L = (y − target)²
```

Scalar inputs, two hidden units, one output read after the last step:

| | value |
|---|---|
| x₁, x₂ | 1.0, {m}0.5 |
| W_x (2×1) | (0.5, {m}0.3)ᵀ |
| W_h (2×2, row j = unit j) | [[0.1, 0.4], [{m}0.2, 0.3]] |
| b | (0.0, 0.1) |
| W_y (1×2) | [0.7, {m}0.5] |
| b_y | 0.0 |
| target | 0.3 |

Values are exact, rounded to 6 decimals; pairs are (unit 1, unit 2).

## Forward, step by step

| step | quantity | computation | value |
|---|---|---|---|
| 1 | a₁ | W_x·1.0 + W_h h₀ + b | {pair("BH4_A1", a1)} |
| 1 | h₁ | tanh(a₁) | {pair("BH4_H1", h1)} |
| 2 | W_h h₁ | | {pair("BH4_WH1", r1)} |
| 2 | a₂ | W_x·({m}0.5) + W_h h₁ + b | {pair("BH4_A2", a2)} |
| 2 | h₂ | tanh(a₂) | {pair("BH4_H2", h2)} |
| | y | 0.7 h₂,₁ − 0.5 h₂,₂ + 0 | {v("BH4_Y", y)} |
| | L | (y − 0.3)² | **{v("BH4_L", L)}** |

## Backward through time

The gradient enters at the output and walks back through step 2, then
through the recurrent weights into step 1. tanh'(a) = 1 − tanh²(a) = 1 − h².

| step | quantity | computation | value |
|---|---|---|---|
| | ∂L/∂y | 2(y − 0.3) | {v("BH4_DY", dy)} |
| | ∂L/∂W_y | (∂L/∂y) h₂ᵀ | **{pair("BH4_DWY", dWy)}** |
| | ∂L/∂b_y | ∂L/∂y | **{v("BH4_DBY", dby)}** |
| 2 | ∂L/∂h₂ | W_yᵀ ∂L/∂y | {pair("BH4_DH2", dh2)} |
| 2 | 1 − h₂² | | {pair("BH4_G2", g2)} |
| 2 | δ₂ = ∂L/∂a₂ | ∂L/∂h₂ ⊙ (1 − h₂²) | {pair("BH4_DA2", da2)} |
| 1 | ∂L/∂h₁ | W_hᵀ δ₂ | {pair("BH4_DH1", dh1)} |
| 1 | 1 − h₁² | | {pair("BH4_G1", g1)} |
| 1 | δ₁ = ∂L/∂a₁ | ∂L/∂h₁ ⊙ (1 − h₁²) | {pair("BH4_DA1", da1)} |

The shared weights collect one contribution per step (W_x and b at both
steps, W_h only at step 2 because h₀ = 0):

| parameter | step 2 | step 1 | total |
|---|---|---|---|
| ∂L/∂W_x = Σₜ δₜ xₜ | {pair("BH4_DWX2", dWx2)} | {pair("BH4_DWX1", dWx1)} | **{pair("BH4_DWX", dWx)}** |
| ∂L/∂b = Σₜ δₜ | {fmt(da2[0])}, {fmt(da2[1])} | {fmt(da1[0])}, {fmt(da1[1])} | **{pair("BH4_DB", dbh)}** |
| ∂L/∂W_h row 1 = δ₂,₁ h₁ᵀ | ({v("BH4_DWH_00", dWh[0][0])}, {v("BH4_DWH_01", dWh[0][1])}) | 0 (h₀ = 0) | **same** |
| ∂L/∂W_h row 2 = δ₂,₂ h₁ᵀ | ({v("BH4_DWH_10", dWh[1][0])}, {v("BH4_DWH_11", dWh[1][1])}) | 0 | **same** |

and the inputs get ∂L/∂x₂ = W_xᵀ δ₂ = {v("BH4_DX2", dx2)} and
∂L/∂x₁ = W_xᵀ δ₁ = {v("BH4_DX1", dx1)}: the first input still matters to the
output, through h₁ and W_h — that is what backpropagation through time
computes, and why a long chain of (1 − h²) W_h factors makes gradients of
early steps vanish or explode.

## In the library

`tests/test_byhand.c` reproduces every number with the library's kernels,
step by step in the order written here: the matrix products with `sn_sgemm`,
tanh and its backward (dx = dy ⊙ (1 − y²), from the output y) with
`sn_act_forward` / `sn_act_backward`. It also runs the same network as a
model, `input 1`, `rnn 2`, `dense 1`, `loss mse`, over the sequence (x₁,
x₂) with these weights (the layer's `weight_ih_l0` is W_x, `weight_hh_l0`
W_h, `bias_ih_l0` b, `bias_hh_l0` 0): its states h₁, h₂ and the gradients of
the shared weights must be the ones above. (The dense layer reads both
steps' states and MSE averages over both: the test gives step 1 the target
that makes its term 0 and doubles the library's gradients.)
"""
    write("04-rnn-bptt.md", text)


def main():
    relu_neuron()
    mlp()
    softmax_xent()
    rnn()
    lines = ["/* Generated by docs/by-hand/compute.py: every number printed in",
             " * the documents in docs/by-hand/, as printed (exact values rounded,",
             " * with the minus sign U+2212). */",
             "#ifndef SN_TEST_BYHAND_VALUES_H", "#define SN_TEST_BYHAND_VALUES_H", ""]
    for macro, s in values:
        lines.append(f'#define {macro} "{s}"')
    for macro, x in extra.items():
        lines.append(f"#define {macro} {dec(x):.17g}")
    lines += ["", "#endif", ""]
    with open(os.path.join(ROOT, "tests", "byhand_values.h"), "w") as f:
        f.write("\n".join(lines))
    print(f"wrote tests/byhand_values.h ({len(values)} values)")


if __name__ == "__main__":
    main()
