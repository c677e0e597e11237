/* Dense (fully connected) layer.
 *
 *   x: [N, in]   W: [out, in]   b: [out]   y: [N, out]
 *
 *   forward:   y = x Wᵀ + b            y[n,o] = Σ_i x[n,i] W[o,i] + b[o]
 *   backward:  dW = dyᵀ x              dW[o,i] = Σ_n dy[n,o] x[n,i]
 *              db = Σ_n dy[n, :]
 *              dx = dy W               dx[n,i] = Σ_o dy[n,o] W[o,i]
 *
 * An input with more than one dimension per sample is read as its flattened
 * vector (in = C·H·W). Spec: `dense UNITS [init=he|xavier|...] [scale=S]
 * [bias=B]`; the default init is He uniform, PyTorch-style bounds. */
#include "kernels/kernels.h"
#include "layers/layer.h"

#include <stdio.h>
#include <string.h>

typedef struct dense {
    sn_layer base;
    int in, out;
} dense;

/* One sample in evaluation (inference) mode takes a dot-product kernel that
 * reads W in place, row by row; its sums are ordered differently, so the
 * output equals the batched one within rounding. Training always takes the
 * GEMM, whose bits do not depend on the batch size. */
static void dense_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    dense *d = (dense *)l;
    int N = x->shape[0];
    const sn_tensor *W = &l->params[0].value, *b = &l->params[1].value;
    if (N == 1 && !train) {
        sn_dense_forward_one(d->in, d->out, x->data, W->data, b->data, y->data);
        return;
    }
    sn_sgemm(0, 1, N, d->out, d->in, 1.0f, x->data, d->in, W->data, d->in, 0.0f, y->data, d->out);
    sn_add_row_vector(y->data, b->data, N, d->out);
}

static const sn_layer_ops dense_ops;

/* One sample in evaluation mode, with the dense layers after this one, each
 * followed or not by a relu layer, in one chain (sn_dense_chain_one): the
 * threads share the large layers in a single hand-off, and each ReLU is
 * applied as its outputs are made. The values are those of the layers' own
 * batch-1 forward passes, bit for bit. */
#define CHAIN_MAX 8
static int dense_forward_one(sn_layer *l, sn_layer *const *next, int avail, const sn_tensor *act) {
    sn_dense_step s[CHAIN_MAX];
    int n = 0, u = 0; /* steps; layers taken after l */
    const sn_layer *cur = l;
    for (;;) {
        const dense *d = (const dense *)cur;
        sn_dense_step *st = &s[n++];
        *st = (sn_dense_step){d->in,
                              d->out,
                              act[u].data,
                              cur->params[0].value.data,
                              cur->params[1].value.data,
                              act[u + 1].data,
                              NULL};
        if (u < avail && strcmp(next[u]->ops->kind, "relu") == 0) {
            st->relu = act[u + 2].data;
            u++;
        }
        if (n == CHAIN_MAX || u >= avail || next[u]->ops != &dense_ops) break;
        cur = next[u++];
    }
    sn_dense_chain_one(n, s);
    return u;
}

static void dense_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y, const sn_tensor *dy,
                           sn_tensor *dx) {
    (void)y;
    dense *d = (dense *)l;
    int N = x->shape[0];
    sn_param *W = &l->params[0], *b = &l->params[1];
    sn_sgemm(1, 0, d->out, d->in, N, 1.0f, dy->data, d->out, x->data, d->in, 0.0f, W->grad.data,
             d->in);
    sn_sum_rows(dy->data, b->grad.data, N, d->out);
    if (dx)
        sn_sgemm(0, 0, N, d->in, d->out, 1.0f, dy->data, d->out, W->value.data, d->in, 0.0f,
                 dx->data, d->in);
}

static const sn_layer_ops dense_ops = {.kind = "dense",
                                       .forward = dense_forward,
                                       .backward = dense_backward,
                                       .forward_one = dense_forward_one};

sn_status sn_dense_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    int units;
    float scale = 0.01f, bias = 0.0f;
    sn_init init = SN_INIT_HE_UNIFORM;
    sn_status s = sn_args_pos_int(a, 0, "number of units", &units, err);
    if (s == SN_OK) s = sn_init_parse(sn_args_opt_str(a, "init", "he"), &init, err);
    if (s == SN_OK) s = sn_args_opt_float(a, "scale", &scale, err);
    if (s == SN_OK) s = sn_args_opt_float(a, "bias", &bias, err);
    if (s == SN_OK) s = sn_args_done(a, 1, err);
    if (s != SN_OK) return s;
    size_t in = sn_shape_size(a->in_ndim, a->in_shape);
    if (in > (1u << 30)) return sn_fail(err, SN_ERR_SHAPE, "dense: input too large");

    dense *d = sn_layer_alloc(sizeof *d, &dense_ops, a);
    if (!d) return sn_fail(err, SN_ERR_NOMEM, "dense: out of memory");
    d->in = (int)in;
    d->out = units;
    d->base.out_ndim = 1;
    d->base.out_shape[0] = units;
    int wshape[2] = {units, d->in};
    s = sn_layer_add_param(&d->base, "weight", 2, wshape, 1, err);
    if (s == SN_OK) s = sn_layer_add_param(&d->base, "bias", 1, &units, 0, err);
    if (s != SN_OK) {
        sn_layer_free(&d->base);
        return s;
    }
    sn_init_fill(&d->base.params[0].value, init, d->in, units, scale, a->rng);
    sn_init_fill(&d->base.params[1].value, SN_INIT_CONSTANT, d->in, units, bias, a->rng);
    snprintf(d->base.desc, sizeof d->base.desc, "dense %d->%d init=%s", d->in, units,
             sn_init_name(init));
    *out = &d->base;
    return SN_OK;
}
