/* Per-channel kernels for batch normalization.
 *
 * A batch x: [N, C, S] holds N samples of C channels of S values each:
 * S = 1 for the features of a dense layer's output [N, F] (C = F), S = H·W
 * for an image batch [N, C, H, W]. Reductions over a channel run over its
 * M = N·S values, accumulated in double, in a fixed order (results do not
 * depend on the thread count). */
#ifndef SN_KERNELS_NORM_H
#define SN_KERNELS_NORM_H

#include "kernels/conv.h"
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

/* For an image batch (S = H·W of pool's input, C = pool's C) with a 2x2
 * max pooling after a ReLU after it: y = a·x + b as sn_channel_affine,
 * r = max(y, 0) as sn_act_forward's ReLU, p and arg as
 * sn_maxpool_forward_arg (kernels/pool.h), sample by sample. With r NULL
 * neither y nor r is kept: each thread works in the place of y of the first
 * sample it takes. */
void sn_channel_affine_relu_pool(const float *x, float *y, float *r, float *p, unsigned char *arg,
                                 int N, int C, int S, const float *a, const float *b,
                                 const sn_conv_geom *pool);

#endif
