/* Per-channel kernels for batch normalization and the dropout mask.
 *
 * A batch x: [N, C, S] holds N samples of C channels of S values each:
 * S = 1 for the features of a dense layer's output [N, F] (C = F), S = H·W
 * for an image batch [N, C, H, W]. Reductions over a channel run over its
 * M = N·S values, accumulated in double, in a fixed order (results do not
 * depend on the thread count). */
#ifndef SN_KERNELS_NORM_H
#define SN_KERNELS_NORM_H

#include "scratchnet.h"

#include <stddef.h>

/* mean[c] = (1/M) Σ x[n,c,s],  var[c] = (1/M) Σ (x[n,c,s] − mean[c])²
 * (biased, two passes). acc: scratch of C doubles. */
void sn_channel_moments(const float *x, int N, int C, int S, float *mean, float *var, double *acc);

/* y[n,c,s] = a[c]·x[n,c,s] + b[c]  (y may be x). */
void sn_channel_affine(const float *x, float *y, int N, int C, int S, const float *a,
                       const float *b);

/* sum_dy[c] = Σ dy[n,c,s],  sum_dyx[c] = Σ dy[n,c,s]·(x[n,c,s] − m[c]).
 * acc: scratch of 2C doubles. */
void sn_channel_dot(const float *x, const float *dy, int N, int C, int S, const float *m,
                    float *sum_dy, float *sum_dyx, double *acc);

/* dx[n,c,s] = a[c]·dy[n,c,s] + b[c]·(x[n,c,s] − m[c]) + d[c]  (dx may be dy). */
void sn_channel_affine2(const float *dy, const float *x, float *dx, int N, int C, int S,
                        const float *a, const float *b, const float *m, const float *d);

/* Inverted dropout over n values with the PCG32 stream *rng (advanced by
 * one draw per value): a value is kept when its draw u (uniform 32-bit) is
 * >= drop = round(p·2³²), i.e. with probability 1 − p, and then multiplied by
 * scale = 1 / (1 − p); dropped values become 0. y may be x. Replaying the
 * same stream state reproduces the same mask. */
void sn_dropout_mask_apply(sn_rng *rng, uint32_t drop, float scale, const float *x, float *y,
                           size_t n);

/* The same with counter-based draws (what the dropout layer uses): value i's
 * draw is u_i = h(h(i + k1) ⊕ k2), h a 32-bit integer hash (lowbias32), k1
 * and k2 the low and high halves of `key`. The same key reproduces the same
 * mask, and the loop vectorizes (no sequential generator state). */
void sn_dropout_mask_hash(uint64_t key, uint32_t drop, float scale, const float *x, float *y,
                          size_t n);

#endif
