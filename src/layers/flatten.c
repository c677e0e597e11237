/* Flatten: x: [N, C, H, W] -> y: [N, C·H·W]. The values are already laid out
 * row-major, so forward and backward are copies, and none at all in a model,
 * which gives y and dy the storage of x and dx (`reshape` in layer.h). */
#include "layers/layer.h"

#include <stdio.h>
#include <string.h>

static void flatten_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    (void)l, (void)train;
    if (y->data != x->data) memcpy(y->data, x->data, x->size * sizeof(float));
}

static void flatten_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y,
                             const sn_tensor *dy, sn_tensor *dx) {
    (void)l, (void)x, (void)y;
    if (dx && dx->data != dy->data) memcpy(dx->data, dy->data, dy->size * sizeof(float));
}

static const sn_layer_ops flatten_ops = {
    .kind = "flatten", .forward = flatten_forward, .backward = flatten_backward, .reshape = 1};

sn_status sn_flatten_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    sn_status s = sn_args_done(a, 0, err);
    if (s != SN_OK) return s;
    sn_layer *l = sn_layer_alloc(sizeof *l, &flatten_ops, a);
    if (!l) return sn_fail(err, SN_ERR_NOMEM, "flatten: out of memory");
    l->out_ndim = 1;
    l->out_shape[0] = (int)sn_shape_size(a->in_ndim, a->in_shape);
    snprintf(l->desc, sizeof l->desc, "flatten");
    *out = l;
    return SN_OK;
}
