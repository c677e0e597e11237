/* Pooling kernels over NCHW batches (src/kernels/pooling.c); the window
 * geometry sn_conv_geom is convolution's (conv.h). */
#ifndef SN_KERNELS_POOL_H
#define SN_KERNELS_POOL_H

#include "kernels/conv.h"

/* y[n, c, i, j] = max over the window's positions inside the image. With
 * equal maxima the first in row-major window order wins; NaN beats any
 * number (as PyTorch). x: [N, C, H, W]  y: [N, C, OH, OW] */
void sn_maxpool_forward(const sn_conv_geom *g, int N, const float *x, float *y);
/* dx = 0, then each dy[n, c, i, j] is added to the input position the
 * forward pass chose: the first one in the window whose value equals y. */
void sn_maxpool_backward(const sn_conv_geom *g, int N, const float *x, const float *y,
                         const float *dy, float *dx);

/* Max pooling with a 2x2 window, stride 2 and no padding (where
 * sn_maxpool_keeps_arg is 1) can keep, per output, what its backward pass
 * needs, so that the backward pass reads neither x nor y:
 *   arg[n, c, i, j] = the window position (0 .. 3, row-major) whose input
 *                     sn_maxpool_backward passes dy to, + 4 when y > 0.
 * sn_maxpool_forward_arg is sn_maxpool_forward that also writes arg;
 * sn_maxpool_relu_backward gives dx as sn_maxpool_backward does (unless dx
 * is NULL), and dxr = dx ⊙ (x > 0), the gradient through a ReLU before the
 * pooling (the input the gradient goes to is the maximum). */
int sn_maxpool_keeps_arg(const sn_conv_geom *g);
void sn_maxpool_forward_arg(const sn_conv_geom *g, int N, const float *x, float *y,
                            unsigned char *arg);
void sn_maxpool_relu_backward(const sn_conv_geom *g, int N, const unsigned char *arg,
                              const float *dy, float *dx, float *dxr);

/* y = (sum of the window, padding counted as zeros) / (kh·kw), PyTorch's
 * count_include_pad=True.  dx[p] = Σ over windows containing p of dy / (kh·kw). */
void sn_avgpool_forward(const sn_conv_geom *g, int N, const float *x, float *y);
void sn_avgpool_backward(const sn_conv_geom *g, int N, const float *dy, float *dx);

#endif
