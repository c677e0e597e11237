/* Activation layers: elementwise functions and softmax. No parameters; the
 * output has the input's shape.
 *
 *   x: [N, ...]   y: [N, ...]   (same shape)
 *
 *   forward:  y = f(x) elementwise
 *   backward: dx = dy ⊙ f'(x)   (the chain rule; the Jacobian ∂y/∂x is diagonal)
 *
 * kind        f(x)                                   f'(x)
 * sigmoid     σ(x) = 1 / (1 + e^-x)                  σ(x)(1 - σ(x)) = y(1 - y)
 * tanh        tanh x = (e^x - e^-x) / (e^x + e^-x)   1 - tanh² x = 1 - y²
 * relu        max(x, 0)                              1 if x > 0, else 0
 * leaky_relu  x if x > 0, else αx                    1 if x > 0, else α
 * silu        x σ(x)                                 σ(x)(1 + x(1 - σ(x)))
 * gelu        x Φ(x) = ½x(1 + erf(x/√2))             Φ(x) + x φ(x), φ(x) = e^(-x²/2)/√(2π)
 * gelu_tanh   ½x(1 + tanh v), v = √(2/π)(x + 0.044715x³)
 *                                                    ½(1 + tanh v) + ½x(1 - tanh² v) v'
 *                                                    v' = √(2/π)(1 + 3·0.044715x²)
 *
 * softmax treats each sample's values as one vector z (of size K = the
 * per-sample size) and is not elementwise:
 *   y_i = e^(z_i) / Σ_j e^(z_j)
 *   ∂y_i/∂z_j = y_i(δ_ij - y_j)   so   dz_j = Σ_i dy_i ∂y_i/∂z_j = y_j(dy_j - Σ_i dy_i y_i)
 * (Before a cross-entropy loss use the fused `loss softmax_xent` instead: it
 * is cheaper and more accurate, see docs/softmax-xent.md.)
 *
 * Spec: `sigmoid`, `tanh`, `relu`, `leaky_relu [SLOPE] [alpha=0.01]`, `silu`,
 * `gelu [approx=none|tanh]`, `gelu_tanh`, `softmax`. ReLU'(0) = 0 and leaky
 * ReLU'(0) = α, as in PyTorch. The kernels are in src/kernels/act.c. */
#include "kernels/act.h"
#include "layers/layer.h"

#include <stdio.h>
#include <string.h>

typedef struct activation {
    sn_layer base;
    int softmax; /* 1: softmax over each sample; 0: the elementwise `act` */
    sn_act act;
    float alpha; /* leaky_relu's slope for x <= 0 */
} activation;

static void activation_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    (void)train;
    activation *a = (activation *)l;
    if (a->softmax) {
        int K = (int)sn_shape_size(l->in_ndim, l->in_shape);
        sn_softmax_rows(x->data, y->data, (int)(x->size / (size_t)K), K);
    } else {
        sn_act_forward(a->act, a->alpha, x->data, y->data, x->size);
    }
}

static void activation_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y,
                                const sn_tensor *dy, sn_tensor *dx) {
    activation *a = (activation *)l;
    if (!dx) return; /* no parameters: nothing else to compute */
    if (a->softmax) {
        int K = (int)sn_shape_size(l->in_ndim, l->in_shape);
        sn_softmax_backward_rows(y->data, dy->data, dx->data, (int)(x->size / (size_t)K), K);
    } else {
        sn_act_backward(a->act, a->alpha, x->data, y->data, dy->data, dx->data, x->size);
    }
}

int sn_activation_elementwise(const sn_layer *l, sn_act *act, float *alpha) {
    if (l->ops->forward != activation_forward || l->ops->backward != activation_backward) return 0;
    const activation *a = (const activation *)l;
    if (a->softmax) return 0;
    *act = a->act;
    *alpha = a->alpha;
    return 1;
}

#define OPS(name)                                                                                  \
    { .kind = name, .forward = activation_forward, .backward = activation_backward }

/* One ops table per kind, so that l->ops->kind is the spec word. */
static const struct {
    sn_layer_ops ops;
    sn_act act;
    int softmax;
} kinds[] = {
    {OPS("sigmoid"), SN_ACT_SIGMOID, 0},     {OPS("tanh"), SN_ACT_TANH, 0},
    {OPS("relu"), SN_ACT_RELU, 0},           {OPS("leaky_relu"), SN_ACT_LEAKY_RELU, 0},
    {OPS("silu"), SN_ACT_SILU, 0},           {OPS("gelu"), SN_ACT_GELU, 0},
    {OPS("gelu_tanh"), SN_ACT_GELU_TANH, 0}, {OPS("softmax"), SN_ACT_SIGMOID /* unused */, 1},
};

sn_status sn_activation_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    int k = -1, max_pos = 0;
    for (int i = 0; i < (int)(sizeof kinds / sizeof kinds[0]); i++)
        if (strcmp(a->kind, kinds[i].ops.kind) == 0) k = i;
    if (k < 0) return sn_fail(err, SN_ERR_ARG, "activation: unknown kind '%s'", a->kind);
    sn_act act = kinds[k].act;
    float alpha = 0.01f;
    sn_status s = SN_OK;

    if (act == SN_ACT_LEAKY_RELU) { /* leaky_relu [SLOPE] [alpha=SLOPE] */
        max_pos = 1;
        if (a->npos > 0) s = sn_args_pos_float(a, 0, "negative slope", &alpha, err);
        if (s == SN_OK && a->npos > 0 && sn_args_opt_str(a, "alpha", NULL))
            s = sn_fail(err, SN_ERR_FORMAT, "leaky_relu: give the slope once (SLOPE or alpha=)");
        if (s == SN_OK) s = sn_args_opt_float(a, "alpha", &alpha, err);
    } else if (act == SN_ACT_GELU) { /* gelu [approx=none|tanh] */
        const char *approx = sn_args_opt_str(a, "approx", "none");
        if (strcmp(approx, "tanh") == 0)
            act = SN_ACT_GELU_TANH;
        else if (strcmp(approx, "none") != 0)
            s = sn_fail(err, SN_ERR_FORMAT, "gelu: approx must be none or tanh, got '%s'", approx);
    }
    if (s == SN_OK) s = sn_args_done(a, max_pos, err);
    if (s != SN_OK) return s;
    size_t K = sn_shape_size(a->in_ndim, a->in_shape);
    if (K == 0 || K > (1u << 30))
        return sn_fail(err, SN_ERR_SHAPE, "%s: input of %zu values per sample", a->kind, K);

    activation *l = sn_layer_alloc(sizeof *l, &kinds[k].ops, a);
    if (!l) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", a->kind);
    l->softmax = kinds[k].softmax;
    l->act = act;
    l->alpha = alpha;
    if (act == SN_ACT_LEAKY_RELU)
        snprintf(l->base.desc, sizeof l->base.desc, "leaky_relu alpha=%g", (double)alpha);
    else if (act != kinds[k].act) /* gelu approx=tanh */
        snprintf(l->base.desc, sizeof l->base.desc, "gelu approx=tanh");
    else
        snprintf(l->base.desc, sizeof l->base.desc, "%s", a->kind);
    *out = &l->base;
    return SN_OK;
}
