/* Embedding: a lookup table of token vectors, PyTorch's nn.Embedding.
 *
 *   x: [N, 1] token ids (stored as floats, exact below 2²⁴)   W: [V, D]   y: [N, D]
 *
 *   forward:   y[n] = W[x[n]]
 *   backward:  dW[v] = Σ_{n : x[n] = v} dy[n]      (dW = 0 for unseen tokens)
 *              dx = 0 (token ids are not differentiable)
 *
 * It equals one-hot(x) Wᵀ... with W stored transposed, a dense layer without
 * bias on one-hot inputs, at the cost of a row copy. An id outside [0, V)
 * (or NaN) gives a zero row and no gradient; the text tools never produce
 * one. For sequences, N = T·N' rows (see docs/rnn.md).
 *
 * Spec: `embedding V D [init=normal] [scale=1]`; the default is PyTorch's
 * N(0, 1). */
#include "layers/layer.h"

#include <stdio.h>
#include <string.h>

typedef struct embedding {
    sn_layer base;
    int V, D;
} embedding;

/* The token id of x, or −1 when it is not one of 0 .. V−1. */
static int token_id(float x, int V) {
    return x >= -0.5f && x < (float)V - 0.5f ? (int)(x + 0.5f) : -1;
}

static void embedding_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    (void)train;
    embedding *e = (embedding *)l;
    int N = x->shape[0], D = e->D;
    const float *W = l->params[0].value.data;
    for (int n = 0; n < N; n++) {
        int id = token_id(x->data[n], e->V);
        float *yn = y->data + (size_t)n * D;
        if (id >= 0)
            memcpy(yn, W + (size_t)id * D, (size_t)D * sizeof(float));
        else
            memset(yn, 0, (size_t)D * sizeof(float));
    }
}

static void embedding_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y,
                               const sn_tensor *dy, sn_tensor *dx) {
    (void)y;
    embedding *e = (embedding *)l;
    int N = x->shape[0], D = e->D;
    float *dW = l->params[0].grad.data;
    memset(dW, 0, l->params[0].grad.size * sizeof(float));
    for (int n = 0; n < N; n++) {
        int id = token_id(x->data[n], e->V);
        if (id < 0) continue;
        float *g = dW + (size_t)id * D;
        const float *d = dy->data + (size_t)n * D;
        for (int j = 0; j < D; j++) g[j] += d[j];
    }
    if (dx) memset(dx->data, 0, dx->size * sizeof(float));
}

static const sn_layer_ops embedding_ops = {
    .kind = "embedding", .forward = embedding_forward, .backward = embedding_backward};

sn_status sn_embedding_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    int V, D;
    float scale = 1.0f;
    sn_init init = SN_INIT_NORMAL;
    sn_status s = sn_args_pos_int(a, 0, "vocabulary size", &V, err);
    if (s == SN_OK) s = sn_args_pos_int(a, 1, "embedding size", &D, err);
    if (s == SN_OK) s = sn_init_parse(sn_args_opt_str(a, "init", "normal"), &init, err);
    if (s == SN_OK) s = sn_args_opt_float(a, "scale", &scale, err);
    if (s == SN_OK) s = sn_args_done(a, 2, err);
    if (s != SN_OK) return s;
    if (sn_shape_size(a->in_ndim, a->in_shape) != 1)
        return sn_fail(err, SN_ERR_SHAPE,
                       "embedding: the input must be one token id per row ('input 1'), got %zu "
                       "values",
                       sn_shape_size(a->in_ndim, a->in_shape));
    if (V > (1 << 24))
        return sn_fail(err, SN_ERR_FORMAT, "embedding: at most 2^24 tokens, got %d", V);
    embedding *e = sn_layer_alloc(sizeof *e, &embedding_ops, a);
    if (!e) return sn_fail(err, SN_ERR_NOMEM, "embedding: out of memory");
    e->V = V;
    e->D = D;
    e->base.out_ndim = 1;
    e->base.out_shape[0] = D;
    int shape[2] = {V, D};
    s = sn_layer_add_param(&e->base, "weight", 2, shape, 1, err);
    if (s != SN_OK) {
        sn_layer_free(&e->base);
        return s;
    }
    sn_init_fill(&e->base.params[0].value, init, V, D, scale, a->rng);
    snprintf(e->base.desc, sizeof e->base.desc, "embedding %d x %d", V, D);
    *out = &e->base;
    return SN_OK;
}
