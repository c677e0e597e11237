/* One-hot encoding of token ids, the input of the original char-level
 * networks.
 *
 *   x: [N, 1] token ids (stored as floats)   y: [N, V]
 *
 *   forward:   y[n, v] = [v = x[n]]
 *   backward:  dx = 0 (token ids are not differentiable); no parameters
 *
 * An id outside [0, V) gives a zero row. A recurrent or dense layer after it
 * learns the same function as `embedding V D` would, with a V-wide matrix
 * product instead of a row lookup. Spec: `onehot V`. */
#include "layers/layer.h"

#include <stdio.h>
#include <string.h>

typedef struct onehot {
    sn_layer base;
    int V;
} onehot;

static void onehot_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    (void)train;
    int N = x->shape[0], V = ((onehot *)l)->V;
    memset(y->data, 0, y->size * sizeof(float));
    for (int n = 0; n < N; n++) {
        float v = x->data[n];
        if (v >= -0.5f && v < (float)V - 0.5f) y->data[(size_t)n * V + (int)(v + 0.5f)] = 1.0f;
    }
}

static void onehot_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y,
                            const sn_tensor *dy, sn_tensor *dx) {
    (void)l, (void)x, (void)y, (void)dy;
    if (dx) memset(dx->data, 0, dx->size * sizeof(float));
}

static const sn_layer_ops onehot_ops = {
    .kind = "onehot", .forward = onehot_forward, .backward = onehot_backward};

sn_status sn_onehot_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    int V;
    sn_status s = sn_args_pos_int(a, 0, "vocabulary size", &V, err);
    if (s == SN_OK) s = sn_args_done(a, 1, err);
    if (s != SN_OK) return s;
    if (sn_shape_size(a->in_ndim, a->in_shape) != 1)
        return sn_fail(err, SN_ERR_SHAPE,
                       "onehot: the input must be one token id per row ('input 1'), got %zu "
                       "values",
                       sn_shape_size(a->in_ndim, a->in_shape));
    if (V > (1 << 24)) return sn_fail(err, SN_ERR_FORMAT, "onehot: at most 2^24 tokens, got %d", V);
    onehot *o = sn_layer_alloc(sizeof *o, &onehot_ops, a);
    if (!o) return sn_fail(err, SN_ERR_NOMEM, "onehot: out of memory");
    o->V = V;
    o->base.out_ndim = 1;
    o->base.out_shape[0] = V;
    snprintf(o->base.desc, sizeof o->base.desc, "onehot %d", V);
    *out = &o->base;
    return SN_OK;
}
