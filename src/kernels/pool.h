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

/* y = (sum of the window, padding counted as zeros) / (kh·kw), PyTorch's
 * count_include_pad=True.  dx[p] = Σ over windows containing p of dy / (kh·kw). */
void sn_avgpool_forward(const sn_conv_geom *g, int N, const float *x, float *y);
void sn_avgpool_backward(const sn_conv_geom *g, int N, const float *dy, float *dx);

#endif
