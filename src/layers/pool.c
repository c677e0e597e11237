/* Pooling over each channel of an NCHW batch; no parameters.
 *
 *   x: [N, C, H, W]   y: [N, C, OH, OW]   OH = floor((H + 2·ph - kh) / sh) + 1
 *   window(i, j) = rows i·sh - ph .. + kh - 1, columns j·sw - pw .. + kw - 1
 *
 * maxpool:  y[n,c,i,j] = max over window(i, j) ∩ image of x[n,c,·,·]
 *           dx[n,c,p] = Σ over windows whose max sits at p of dy[n,c,i,j]
 *           (∂y/∂x is 1 at the chosen position, 0 elsewhere; with equal
 *           maxima the first in row-major window order is chosen, as PyTorch)
 * avgpool:  y[n,c,i,j] = (1 / kh·kw) Σ over window(i, j) of x  (padding counts
 *           as zeros, PyTorch's count_include_pad=True)
 *           dx[n,c,p] = (1 / kh·kw) Σ over windows containing p of dy[n,c,i,j]
 * global_avgpool: y[n,c,0,0] = (1 / H·W) Σ_{h,w} x[n,c,h,w], output [C, 1, 1]
 *           (PyTorch's nn.AdaptiveAvgPool2d(1)); dx[n,c,h,w] = dy[n,c,0,0] / (H·W)
 *
 * Spec: `maxpool K [stride=S] [pad=P]`, `avgpool K [stride=S] [pad=P]` (K, S,
 * P as 2 or 2x3; stride defaults to the window, pad to 0, at most half the
 * window), `global_avgpool`. The loops live in src/kernels/pooling.c. */
#include "kernels/pool.h"
#include "layers/window.h"

#include <stdio.h>
#include <string.h>

typedef struct pool {
    sn_layer base;
    sn_conv_geom g;
    int max; /* 1: max pooling, 0: average */
    /* max pooling where sn_maxpool_keeps_arg: the window positions of the
     * last forward pass (pool.h), room for arg_cap samples, filled for
     * arg_n (0: not filled) */
    unsigned char *arg;
    int arg_cap, arg_n;
} pool;

unsigned char *sn_maxpool_arg_fill(sn_layer *l, int n) {
    pool *p = (pool *)l;
    p->arg_n = p->arg && n <= p->arg_cap ? n : 0;
    return p->arg_n ? p->arg : NULL;
}

const unsigned char *sn_maxpool_arg(const sn_layer *l, int n) {
    const pool *p = (const pool *)l;
    return p->arg && p->arg_n == n ? p->arg : NULL;
}

static void pool_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    (void)train;
    pool *p = (pool *)l;
    unsigned char *arg = p->max ? sn_maxpool_arg_fill(l, x->shape[0]) : NULL;
    if (arg)
        sn_maxpool_forward_arg(&p->g, x->shape[0], x->data, y->data, arg);
    else if (p->max)
        sn_maxpool_forward(&p->g, x->shape[0], x->data, y->data);
    else
        sn_avgpool_forward(&p->g, x->shape[0], x->data, y->data);
}

static void pool_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y, const sn_tensor *dy,
                          sn_tensor *dx) {
    pool *p = (pool *)l;
    if (!dx) return; /* no parameters */
    if (p->max)
        sn_maxpool_backward(&p->g, x->shape[0], x->data, y->data, dy->data, dx->data);
    else
        sn_avgpool_backward(&p->g, x->shape[0], dy->data, dx->data);
}

static size_t pool_reserve_bytes(const sn_layer *l, int max_batch) {
    const pool *p = (const pool *)l;
    if (max_batch <= p->arg_cap) return 0;
    return (size_t)max_batch * (size_t)p->g.C * (size_t)p->g.OH * (size_t)p->g.OW;
}

static sn_status pool_reserve(sn_layer *l, int max_batch, sn_error *err) {
    pool *p = (pool *)l;
    if (max_batch <= p->arg_cap) return SN_OK;
    sn_free(p->arg);
    p->arg_cap = p->arg_n = 0;
    p->arg = sn_alloc(pool_reserve_bytes(l, max_batch), 1);
    if (!p->arg) return sn_fail(err, SN_ERR_NOMEM, "maxpool: out of memory");
    p->arg_cap = max_batch;
    return SN_OK;
}

static void pool_free(sn_layer *l) {
    sn_free(((pool *)l)->arg);
}

static const sn_layer_ops maxpool_ops = {
    .kind = "maxpool", .forward = pool_forward, .backward = pool_backward, .free = pool_free};
static const sn_layer_ops avgpool_ops = {
    .kind = "avgpool", .forward = pool_forward, .backward = pool_backward};
static const sn_layer_ops global_ops = {
    .kind = "global_avgpool", .forward = pool_forward, .backward = pool_backward};

const sn_conv_geom *sn_maxpool_geom(const sn_layer *l) {
    return l->ops == &maxpool_ops ? &((const pool *)l)->g : NULL;
}

static sn_status make(sn_layer_args *a, const sn_layer_ops *ops, const sn_conv_geom *g, int max,
                      sn_layer **out, sn_error *err) {
    pool *p = sn_layer_alloc(sizeof *p, ops, a);
    if (!p) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", a->kind);
    p->g = *g;
    p->max = max;
    p->base.out_ndim = 3;
    p->base.out_shape[0] = g->C;
    p->base.out_shape[1] = g->OH;
    p->base.out_shape[2] = g->OW;
    *out = &p->base;
    return SN_OK;
}

sn_status sn_pool_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    int max = strcmp(a->kind, "maxpool") == 0, kh, kw, same;
    sn_conv_geom g;
    sn_status s = SN_OK;
    if (a->npos < 1)
        return sn_fail(err, SN_ERR_FORMAT, "%s: missing window size (e.g. '%s 2')", a->kind,
                       a->kind);
    s = sn_window_pair(a, "window size", a->pos[0], 1, &kh, &kw, err);
    if (s == SN_OK) s = sn_window_geom(a, kh, kw, 0, 0, &g, &same, err);
    if (s == SN_OK) s = sn_args_done(a, 1, err);
    if (s == SN_OK) s = make(a, max ? &maxpool_ops : &avgpool_ops, &g, max, out, err);
    if (s != SN_OK) return s;
    if (max && sn_maxpool_keeps_arg(&g)) {
        (*out)->reserve = pool_reserve;
        (*out)->reserve_bytes = pool_reserve_bytes;
    }
    char win[64];
    sn_window_desc(&g, 0, 0, win, sizeof win);
    snprintf((*out)->desc, sizeof(*out)->desc, "%s %s", a->kind, win);
    return SN_OK;
}

sn_status sn_global_avgpool_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    int same;
    sn_conv_geom g;
    sn_status s = sn_args_done(a, 0, err);
    /* One window over the whole image: kh = H, kw = W. */
    if (s == SN_OK && a->in_ndim == 3)
        s = sn_window_geom(a, a->in_shape[1], a->in_shape[2], 1, 0, &g, &same, err);
    else if (s == SN_OK)
        s = sn_window_geom(a, 1, 1, 1, 0, &g, &same, err); /* the CxHxW error */
    if (s == SN_OK) s = make(a, &global_ops, &g, 0, out, err);
    if (s != SN_OK) return s;
    snprintf((*out)->desc, sizeof(*out)->desc, "global_avgpool %dx%d", g.H, g.W);
    return SN_OK;
}
