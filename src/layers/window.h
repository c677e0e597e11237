/* Spatial window arguments shared by conv2d and the pooling layers:
 *
 *   KERNEL      3 (3x3) or 3x5 (height x width)
 *   stride=S    S or SHxSW
 *   pad=P       P or PHxPW zero rows above and below / columns left and
 *               right; conv2d also takes pad=same (below)
 *
 * Output size (per spatial dimension, as PyTorch):
 *   OH = floor((H + 2·ph - kh) / sh) + 1
 * pad=same keeps OH = ceil(H / sh): the total padding
 *   max((OH - 1)·sh + kh - H, 0)
 * is split with the smaller half above / left and the rest below / right
 * (PyTorch's padding="same" for stride 1; TensorFlow's "SAME" in general). */
#ifndef SN_LAYERS_WINDOW_H
#define SN_LAYERS_WINDOW_H

#include "kernels/conv.h"
#include "layers/layer.h"

/* Parses "3" or "3x5" into *h, *w (each in [lo, 2^20]); `what` names the
 * argument in messages ("kernel size"). */
sn_status sn_window_pair(const sn_layer_args *a, const char *what, const char *s, int lo, int *h,
                         int *w, sn_error *err);

/* Fills g for a CxHxW input (a->in_shape), a kh x kw window and the options
 * stride= (default: def_stride, a window size when 0) and pad= ("same"
 * allowed when allow_same; pooling: at most half the window). Errors name
 * the layer kind and say what does not fit. *same is set when pad=same. */
sn_status sn_window_geom(sn_layer_args *a, int kh, int kw, int def_stride, int allow_same,
                         sn_conv_geom *g, int *same, sn_error *err);

/* "3x3 stride=2x2 pad=1x1" into buf; the stride only when it is not the
 * default (def_stride as for sn_window_geom), the padding only when
 * non-zero ("pad=same" when same). */
void sn_window_desc(const sn_conv_geom *g, int same, int def_stride, char *buf, size_t len);

/* The window of a maxpool layer, NULL for any other layer (a convolution
 * takes the pooling after it into its own pass: layer.h, fuse). */
const sn_conv_geom *sn_maxpool_geom(const sn_layer *l);
/* The window positions of a maxpool layer (kernels/pool.h, arg): the
 * buffer to fill for a forward pass of n samples (NULL when the layer keeps
 * none, or none for n), which marks it filled; and the buffer a backward
 * pass of n samples may read, NULL unless the last forward pass filled it
 * for n. */
unsigned char *sn_maxpool_arg_fill(sn_layer *l, int n);
const unsigned char *sn_maxpool_arg(const sn_layer *l, int n);

#endif
