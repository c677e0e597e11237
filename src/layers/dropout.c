/* Dropout (Srivastava et al. 2014), inverted as in PyTorch's nn.Dropout.
 *
 *   x: [N, ...]   y: x's shape   p: the probability of dropping a value
 *
 * training:   m_i = 1/(1 − p) with probability 1 − p, else 0   (one draw per value)
 *             y = m ⊙ x            dx = m ⊙ dy
 * evaluation: y = x                dx = dy
 *
 * Scaling the kept values by 1/(1 − p) keeps E[y] = x, so evaluation needs
 * no rescaling. Each training forward pass takes a 64-bit key from the
 * model's seeded generator (the same seed gives the same masks) and draws
 * value i's mask from a hash of (key, i) (src/kernels/norm.c). The mask is
 * not stored: the backward pass regenerates it from the same key. Spec:
 * `dropout P` with 0 <= P < 1 (default 0.5, as PyTorch). */
#include "kernels/norm.h"
#include "layers/layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct dropout {
    sn_layer base;
    float p;
    uint32_t drop; /* draws below this are dropped: round(p·2³²) */
    sn_rng *rng;   /* the model's generator */
    uint64_t key;  /* the last training forward pass's mask key */
    int train;     /* mode of the last forward pass */
} dropout;

static void dropout_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    dropout *d = (dropout *)l;
    d->train = train && d->p > 0;
    if (d->train) {
        d->key = (uint64_t)sn_rng_u32(d->rng) << 32 | sn_rng_u32(d->rng);
        sn_dropout_mask_hash(d->key, d->drop, 1.0f / (1.0f - d->p), x->data, y->data, x->size);
    } else if (y->data != x->data) {
        memcpy(y->data, x->data, x->size * sizeof(float));
    }
}

static void dropout_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y,
                             const sn_tensor *dy, sn_tensor *dx) {
    (void)x, (void)y;
    dropout *d = (dropout *)l;
    if (!dx) return;
    if (d->train) {
        sn_dropout_mask_hash(d->key, d->drop, 1.0f / (1.0f - d->p), dy->data, dx->data, dy->size);
    } else if (dx->data != dy->data) {
        memcpy(dx->data, dy->data, dy->size * sizeof(float));
    }
}

static const sn_layer_ops dropout_ops = {
    .kind = "dropout", .forward = dropout_forward, .backward = dropout_backward};

sn_status sn_dropout_create(sn_layer_args *a, sn_layer **out, sn_error *err) {
    float p = 0.5f;
    sn_status s = a->npos ? sn_args_pos_float(a, 0, "drop probability", &p, err) : SN_OK;
    if (s == SN_OK && a->npos && sn_args_opt_str(a, "p", NULL))
        s = sn_fail(err, SN_ERR_FORMAT, "dropout: give the probability once (P or p=)");
    if (s == SN_OK) s = sn_args_opt_float(a, "p", &p, err);
    if (s == SN_OK) s = sn_args_done(a, 1, err);
    if (s != SN_OK) return s;
    if (!(p >= 0 && p < 1))
        return sn_fail(err, SN_ERR_FORMAT, "dropout: probability must be in [0, 1), got %g",
                       (double)p);
    if (!a->rng) return sn_fail(err, SN_ERR_ARG, "dropout: no random generator");
    dropout *d = sn_layer_alloc(sizeof *d, &dropout_ops, a);
    if (!d) return sn_fail(err, SN_ERR_NOMEM, "dropout: out of memory");
    d->p = p;
    d->drop = (uint32_t)fmin(round(ldexp((double)p, 32)), 4294967295.0);
    d->rng = a->rng;
    snprintf(d->base.desc, sizeof d->base.desc, "dropout p=%g", (double)p);
    *out = &d->base;
    return SN_OK;
}
