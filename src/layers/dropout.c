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
 * `dropout P` with 0 <= P < 1 (default 0.5, as PyTorch).
 *
 * In data-parallel training (src/dist/dist.h) a rank holds rows [off, off +
 * n) of the global batch (streams, for the time-major [T·N, F] rows of a
 * recurrent model): value i of its row j is given the index it has in the
 * global batch, so that every sample is masked as in one process. The index
 * enters the hash as i + k1 (mod 2³²), so shifting k1 shifts the index. */
#include "dist/dist.h"
#include "kernels/dropout.h"
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

/* The mask of the last key over x, as in the global batch (see above). */
static void mask(const dropout *d, const sn_tensor *x, float *y) {
    const float scale = 1.0f / (1.0f - d->p);
    const long off = sn_dist_share_offset(), global = sn_dist_share_global();
    const size_t rows = (size_t)x->shape[0], F = rows ? x->size / rows : 0;
    const size_t T = d->base.seq_len > 1 ? (size_t)d->base.seq_len : 1, N = rows / T;
    if (off == 0 && (global == 0 || (size_t)global == N)) { /* one process */
        sn_dropout_mask_hash(d->key, d->drop, scale, x->data, y, x->size);
        return;
    }
    for (size_t t = 0; t < T; t++) { /* global row of local row t·N: t·global + off */
        uint32_t shift = (uint32_t)(((size_t)global * t + (size_t)off) * F);
        uint64_t key = (d->key & 0xffffffff00000000ULL) | (uint32_t)((uint32_t)d->key + shift);
        sn_dropout_mask_hash(key, d->drop, scale, x->data + t * N * F, y + t * N * F, N * F);
    }
}

static void dropout_forward(sn_layer *l, const sn_tensor *x, sn_tensor *y, int train) {
    dropout *d = (dropout *)l;
    d->train = train && d->p > 0;
    if (d->train) {
        d->key = (uint64_t)sn_rng_u32(d->rng) << 32 | sn_rng_u32(d->rng);
        mask(d, x, y->data);
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
        mask(d, dy, dx->data);
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
