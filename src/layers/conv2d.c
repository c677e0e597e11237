/* 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d), NCHW.
 *
 *   x: [N, C, H, W]   W: [F, C, kh, kw]   b: [F]   y: [N, F, OH, OW]
 *   OH = floor((H + 2·ph - kh) / sh) + 1   (likewise OW; pad=same: ceil(H / sh))
 *
 *   forward:   y[n,f,i,j] = b[f] + Σ_{c,a,b'} W[f,c,a,b'] · x[n, c, i·sh - ph + a, j·sw - pw + b']
 *              (x = 0 outside the image)
 *
 * With col_n = im2col(x_n): [C·kh·kw, OH·OW] (column (i,j) holds the receptive
 * field of output pixel (i,j)) and W seen as a matrix [F, C·kh·kw], the
 * forward pass is one product per sample, y_n = W · col_n + b, and the chain
 * rule gives
 *
 *   backward:  dW = Σ_n dy_n · col_nᵀ            [F, C·kh·kw]
 *              db[f] = Σ_{n,i,j} dy[n,f,i,j]
 *              dx_n = col2im(Wᵀ · dy_n)           [C, H, W]
 *
 * col2im adds every entry of the [C·kh·kw, OH·OW] matrix back onto the pixel
 * im2col copied it from: a pixel inside several receptive fields collects the
 * gradient of each (docs/conv.md works through the shapes). The loops live in
 * src/kernels/im2col.c.
 *
 * Spec: `conv2d FILTERS KERNEL [stride=S|SHxSW] [pad=P|PHxPW|same]
 * [init=he|...] [scale=S] [bias=B]`, KERNEL as 3 or 3x5. The default init is
 * He uniform over fan_in = C·kh·kw; the bias starts at 0. The parameters are
 * "weight" [F, C, kh, kw] and "bias" [F], as in a PyTorch state_dict. */
#include "layers/window.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/threads.h"

typedef struct conv2d {
    sn_layer base;
    sn_conv_geom g;
    int F;
    int slots;      /* threads the scratch space serves */
    float *scratch; /* sn_conv_scratch_size floats, from reserve */
} conv2d;

static void conv2d_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    (void)train;
    conv2d *c = (conv2d *)l;
    sn_conv2d_forward(&c->g, x->shape[0], c->F, x->data, l->params[0].value.data,
                      l->params[1].value.data, y->data, c->scratch, c->slots);
}

static void conv2d_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y,
                            const sn_tensor *dy, sn_tensor *dx) {
    (void)y;
    conv2d *c = (conv2d *)l;
    sn_conv2d_backward(&c->g, x->shape[0], c->F, x->data, l->params[0].value.data, dy->data,
                       l->params[0].grad.data, l->params[1].grad.data, dx ? dx->data : NULL,
                       c->scratch, c->slots);
}

/* A ReLU after the convolution, and a max pooling after that, run in the
 * convolution's own pass, sample by sample (conv.h, sn_conv_fused): each
 * sample's output is still in the cache when the next layer reads it. */
static int conv2d_fuse(const sn_layer *l, sn_layer *const *next, int avail) {
    (void)l;
    if (avail < 1 || strcmp(next[0]->ops->kind, "relu") != 0) return 0;
    return avail >= 2 && sn_maxpool_geom(next[1]) ? 2 : 1;
}

static void conv2d_forward_fused(sn_layer *l, sn_layer *const *next, int k, const sn_tensor *act,
                                 int train, int keep) {
    (void)train;
    conv2d *c = (conv2d *)l;
    /* backward reads r (or, with pooling, the window positions instead),
     * never y */
    sn_conv_fused f = {.y = keep ? act[1].data : NULL, .r = act[2].data};
    if (k == 2) {
        f.pool = sn_maxpool_geom(next[1]);
        f.p = act[3].data;
        f.arg = sn_maxpool_arg_fill(next[1], act[0].shape[0]);
        if (f.arg && !keep) f.r = NULL;
    }
    sn_conv2d_relu_forward(&c->g, act[0].shape[0], c->F, act[0].data, l->params[0].value.data,
                           l->params[1].value.data, &f, c->scratch, c->slots);
}

/* dL/dy and dL/dr from grad[3] = dL/dp (or from grad[2] without pooling),
 * then the convolution's gradients; grad[1] = dL/dy and, with pooling,
 * grad[2] = dL/dr are written only when kept. */
static void conv2d_backward_fused(sn_layer *l, sn_layer *const *next, int k, const sn_tensor *act,
                                  const sn_tensor *grad, int want_dx, int keep) {
    conv2d *c = (conv2d *)l;
    sn_conv_fused f = {.r = act[2].data, .dr = grad[2].data, .dy = keep ? grad[1].data : NULL};
    if (k == 2) {
        f.pool = sn_maxpool_geom(next[1]);
        f.p = act[3].data;
        f.dp = grad[3].data;
        f.arg = (unsigned char *)sn_maxpool_arg(next[1], act[0].shape[0]);
        if (!keep) f.dr = NULL;
    }
    sn_conv2d_relu_backward(&c->g, act[0].shape[0], c->F, act[0].data, l->params[0].value.data, &f,
                            l->params[0].grad.data, l->params[1].grad.data,
                            want_dx ? grad[0].data : NULL, c->scratch, c->slots);
}

/* Scratch for every thread the kernels may use: the scratch is per thread,
 * not per sample, so max_batch does not change it. */
static int conv2d_slots(void) {
    int slots = sn_get_threads();
    if (sn_cpu_count() > slots) slots = sn_cpu_count();
    return slots > 64 ? 64 : slots;
}

static size_t conv2d_reserve_bytes(const sn_layer *l, int max_batch) {
    (void)max_batch;
    const conv2d *c = (const conv2d *)l;
    size_t n = c->scratch ? 0 : sn_conv_scratch_size(&c->g, c->F, conv2d_slots());
    return n > SIZE_MAX / sizeof(float) ? SIZE_MAX : n * sizeof(float);
}

static sn_status conv2d_reserve(sn_layer *l, int max_batch, sn_error *err) {
    (void)max_batch;
    conv2d *c = (conv2d *)l;
    if (c->scratch) return SN_OK;
    int slots = conv2d_slots();
    c->scratch = sn_alloc(sn_conv_scratch_size(&c->g, c->F, slots), sizeof(float));
    if (!c->scratch)
        return sn_fail(err, SN_ERR_NOMEM, "conv2d: cannot allocate scratch for %d threads", slots);
    c->slots = slots;
    return SN_OK;
}

static void conv2d_free(sn_layer *l) {
    sn_free(((conv2d *)l)->scratch);
}

static const sn_layer_ops conv2d_ops = {.kind = "conv2d",
                                        .forward = conv2d_forward,
                                        .backward = conv2d_backward,
                                        .free = conv2d_free,
                                        .fuse = conv2d_fuse,
                                        .forward_fused = conv2d_forward_fused,
                                        .backward_fused = conv2d_backward_fused};

sn_status sn_conv2d_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    int F, kh, kw, same;
    float scale = 0.01f, bias = 0.0f;
    sn_init init = SN_INIT_HE_UNIFORM;
    sn_conv_geom g;
    sn_status s = sn_args_pos_int(a, 0, "number of filters", &F, err);
    if (s == SN_OK && a->npos < 2)
        s = sn_fail(err, SN_ERR_FORMAT, "conv2d: missing kernel size (e.g. 'conv2d %d 3')", F);
    if (s == SN_OK) s = sn_window_pair(a, "kernel size", a->pos[1], 1, &kh, &kw, err);
    if (s == SN_OK) s = sn_window_geom(a, kh, kw, 1, 1, &g, &same, err);
    if (s == SN_OK) s = sn_init_parse(sn_args_opt_str(a, "init", "he"), &init, err);
    if (s == SN_OK) s = sn_args_opt_float(a, "scale", &scale, err);
    if (s == SN_OK) s = sn_args_opt_float(a, "bias", &bias, err);
    if (s == SN_OK) s = sn_args_done(a, 2, err);
    if (s != SN_OK) return s;
    double K = (double)g.C * kh * kw, P = (double)g.OH * g.OW;
    if (K * P > INT_MAX || K * F > INT_MAX || P * F > INT_MAX || (double)g.C * g.H * g.W > INT_MAX)
        return sn_fail(err, SN_ERR_SHAPE, "conv2d: %dx%dx%d input with a %dx%d kernel is too large",
                       g.C, g.H, g.W, kh, kw);

    conv2d *c = sn_layer_alloc(sizeof *c, &conv2d_ops, a);
    if (!c) return sn_fail(err, SN_ERR_NOMEM, "conv2d: out of memory");
    c->g = g;
    c->F = F;
    c->base.reserve = conv2d_reserve;
    c->base.reserve_bytes = conv2d_reserve_bytes;
    c->base.out_ndim = 3;
    c->base.out_shape[0] = F;
    c->base.out_shape[1] = g.OH;
    c->base.out_shape[2] = g.OW;
    int wshape[4] = {F, g.C, kh, kw};
    s = sn_layer_add_param(&c->base, "weight", 4, wshape, 1, err);
    if (s == SN_OK) s = sn_layer_add_param(&c->base, "bias", 1, &F, 0, err);
    if (s != SN_OK) {
        sn_layer_free(&c->base);
        return s;
    }
    sn_init_fill(&c->base.params[0].value, init, (int)K, F * kh * kw, scale, a->rng);
    sn_init_fill(&c->base.params[1].value, SN_INIT_CONSTANT, (int)K, F, bias, a->rng);
    char win[64];
    sn_window_desc(&g, same, 1, win, sizeof win);
    if (init == SN_INIT_HE_UNIFORM)
        snprintf(c->base.desc, sizeof c->base.desc, "conv2d %d->%d %s", g.C, F, win);
    else
        snprintf(c->base.desc, sizeof c->base.desc, "conv2d %d->%d %s init=%s", g.C, F, win,
                 sn_init_name(init));
    *out = &c->base;
    return SN_OK;
}
