/* Elementwise activation kernels and row-wise softmax.
 *
 * The loops are plain C that gcc and clang vectorize at -O3 -march=native:
 * e^x, tanh and erfc are computed by the branch-free approximations in act.c
 * (accurate to a few float ulps), not by libm calls, which do not vectorize.
 * Large arrays are split into blocks across OpenMP threads; every value is
 * computed independently, so results do not depend on the thread count.
 *
 * All functions work in place (y == x, dx == dy). For finite inputs they never
 * produce NaN or ±inf; NaN inputs give NaN outputs. */
#ifndef SN_KERNELS_ACT_H
#define SN_KERNELS_ACT_H

#include <stddef.h>

typedef enum sn_act {
    SN_ACT_SIGMOID,    /* σ(x) = 1 / (1 + e^-x)                    σ' = y (1 - y)   */
    SN_ACT_TANH,       /* tanh x                                    tanh' = 1 - y²   */
    SN_ACT_RELU,       /* max(x, 0)                                 x > 0 ? 1 : 0    */
    SN_ACT_LEAKY_RELU, /* x > 0 ? x : αx                            x > 0 ? 1 : α    */
    SN_ACT_SILU,       /* x σ(x)                                    σ(x)(1 + x(1-σ)) */
    SN_ACT_GELU,       /* x Φ(x) = ½x(1 + erf(x/√2))  (exact)       Φ(x) + x φ(x)    */
    SN_ACT_GELU_TANH,  /* ½x(1 + tanh(√(2/π)(x + 0.044715x³)))  (PyTorch approximate="tanh") */
} sn_act;

/* y = f(x) over n values. alpha: the negative slope of LEAKY_RELU (ignored by
 * the other kinds). */
void sn_act_forward(sn_act k, float alpha, const float *x, float *y, size_t n);

/* dx = dy ⊙ f'(x) over n values. SIGMOID and TANH read y = f(x) (as PyTorch
 * does); all other kinds read x. The unread one may be NULL. ReLU'(0) = 0 and
 * leaky ReLU'(0) = α, like PyTorch (both test x > 0). */
void sn_act_backward(sn_act k, float alpha, const float *x, const float *y, const float *dy,
                     float *dx, size_t n);

/* A band of a dense layer's outputs, rows x cols values, rows ld apart:
 * y += b (b: cols values, the same for every row), then r = f(y); r is y
 * (in place) or does not overlap it. The values are those of the row-by-row
 * additions and sn_act_forward. */
void sn_act_bias_forward(sn_act k, float alpha, float *y, const float *b, float *r, int rows,
                         int cols, size_t ld);

/* Its backward: dx = dy ⊙ f'(x) as sn_act_backward (x, y read as there),
 * and db[j] = Σ_n dx[n, j], summed from +0 in row order; dx is dy (in
 * place) or does not overlap it, and does not overlap db. */
void sn_act_backward_sum(sn_act k, float alpha, const float *x, const float *y, const float *dy,
                         float *dx, float *db, int rows, int cols, size_t ld);

/* Softmax of each row of x: [rows, cols] into y: [rows, cols]:
 *   y[r, j] = e^(x[r, j] - m_r) / Σ_k e^(x[r, k] - m_r),   m_r = max_k x[r, k]
 * Subtracting the row max keeps every exponent <= 0: no overflow for any
 * finite input, and a row of -inf except one entry is fine (masking). */
void sn_softmax_rows(const float *x, float *y, int rows, int cols);

/* Backward of softmax per row, from its output y:
 *   dx[r, j] = y[r, j] (dy[r, j] - Σ_k dy[r, k] y[r, k])
 * (the Jacobian ∂y_i/∂x_j = y_i(δ_ij - y_j) applied to dy). */
void sn_softmax_backward_rows(const float *y, const float *dy, float *dx, int rows, int cols);

#endif
