/* SGD with momentum, dampening and Nesterov; the formula is in optim.h. The
 * momentum loop goes 16 values at a time where blocks with subnormal values
 * take the double path of subnormal.h; the bits are those of the plain loop
 * (sgd_momentum), which also does the tail. */
#include "optim/optim.h"
#include "optim/subnormal.h"

static void sgd_momentum(float mu, float wd, float damp, int nesterov, float lr, float *w,
                         const float *g, float *v, size_t n) {
    for (size_t i = 0; i < n; i++) { /* one rounding a statement: no contraction */
        float p = wd * w[i];
        float gi = g[i] + p;
        float a = mu * v[i];
        float b = damp * gi;
        v[i] = a + b;
        float mv = mu * v[i];
        float d = nesterov ? gi + mv : v[i];
        float u = lr * d;
        w[i] -= u;
    }
}

#if defined(SN_SUB_AVX512)
/* The same in double, each float operation rounded (subnormal.h). */
static inline void sgd_momentum_exact(__m512d mu, __m512d wd, __m512d damp, int nesterov,
                                      __m512d lr, __m512d *w, __m512d g, __m512d *v) {
    __m512d gi = sn_sub_round(_mm512_add_pd(g, sn_sub_round(_mm512_mul_pd(wd, *w))));
    *v = sn_sub_round(
        _mm512_add_pd(sn_sub_round(_mm512_mul_pd(mu, *v)), sn_sub_round(_mm512_mul_pd(damp, gi))));
    __m512d d =
        nesterov ? sn_sub_round(_mm512_add_pd(gi, sn_sub_round(_mm512_mul_pd(mu, *v)))) : *v;
    *w = _mm512_sub_pd(*w, sn_sub_round(_mm512_mul_pd(lr, d)));
}

/* Returns how many values (a multiple of 16) it did. */
static size_t sgd_momentum_blocks(float mu, float wd, float damp, int nesterov, float lr, float *w,
                                  const float *g, float *v, size_t n) {
    const __m512 fmu = _mm512_set1_ps(mu), fwd = _mm512_set1_ps(wd), fdamp = _mm512_set1_ps(damp);
    const __m512 flr = _mm512_set1_ps(lr);
    const __m512d dmu = _mm512_set1_pd(mu), dwd = _mm512_set1_pd(wd), ddamp = _mm512_set1_pd(damp);
    const __m512d dlr = _mm512_set1_pd(lr);
    size_t i = 0;
    for (; i + SN_SUB_BLOCK <= n; i += SN_SUB_BLOCK) {
        __m512 wi = _mm512_loadu_ps(w + i), gi = _mm512_loadu_ps(g + i),
               vi = _mm512_loadu_ps(v + i);
        if (!sn_sub_tiny3(wi, gi, vi)) {
            __m512 gw = _mm512_add_ps(gi, _mm512_mul_ps(fwd, wi));
            vi = _mm512_add_ps(_mm512_mul_ps(fmu, vi), _mm512_mul_ps(fdamp, gw));
            __m512 d = nesterov ? _mm512_add_ps(gw, _mm512_mul_ps(fmu, vi)) : vi;
            _mm512_storeu_ps(v + i, vi);
            _mm512_storeu_ps(w + i, _mm512_sub_ps(wi, _mm512_mul_ps(flr, d)));
            continue;
        }
        __m512d wl = sn_sub_lo(wi), wh = sn_sub_hi(wi), vl = sn_sub_lo(vi), vh = sn_sub_hi(vi);
        sgd_momentum_exact(dmu, dwd, ddamp, nesterov, dlr, &wl, sn_sub_lo(gi), &vl);
        sgd_momentum_exact(dmu, dwd, ddamp, nesterov, dlr, &wh, sn_sub_hi(gi), &vh);
        _mm512_storeu_ps(v + i, sn_sub_join(vl, vh));
        _mm512_storeu_ps(w + i, sn_sub_join(wl, wh));
    }
    return i;
}
#endif

void sn_sgd_update(const sn_train_config *c, float lr, long step, float *w, const float *g,
                   float *v, size_t n) {
    const float mu = c->momentum, wd = c->weight_decay, damp = 1.0f - c->dampening;
    if (mu == 0.0f) {
        for (size_t i = 0; i < n; i++) w[i] -= lr * (g[i] + wd * w[i]);
        return;
    }
    if (step == 0) { /* v = g on the first step (no dampening) */
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + wd * w[i];
            v[i] = gi;
            w[i] -= lr * (c->nesterov ? gi + mu * gi : gi);
        }
        return;
    }
    size_t done = 0;
#if defined(SN_SUB_AVX512)
    done = sgd_momentum_blocks(mu, wd, damp, c->nesterov, lr, w, g, v, n);
#endif
    sgd_momentum(mu, wd, damp, c->nesterov, lr, w + done, g + done, v + done, n - done);
}
