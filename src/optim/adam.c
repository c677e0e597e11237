/* Adam and AdamW; the formulas are in optim.h. ε is added after the square
 * root of the bias-corrected second moment: m̂ / (sqrt(v̂) + ε), as
 * torch.optim.Adam and AdamW compute it (denominator sqrt(v)/sqrt(1 − β2ᵗ) + ε). */
#include "optim/optim.h"
#include "optim/subnormal.h"

#include <math.h>

/* The update of values [i, n), one rounding a statement (a compiler may not
 * contract across statements, as clang does within one by default): the
 * bits every path below reproduces. */
static void adam_plain(float b1, float b2, float eps, float step, float inv_sqrt_bc2, float wd,
                       float *w, const float *g, float *m, float *v, size_t i, size_t n) {
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (; i < n; i++) {
        float p = wd * w[i];
        float gi = g[i] + p;
        float a = b1 * m[i];
        float b = c1 * gi;
        m[i] = a + b;
        float e = b2 * v[i];
        float f = c2 * gi;
        float h = f * gi;
        v[i] = e + h;
        float q = sqrtf(v[i]) * inv_sqrt_bc2;
        float den = q + eps;
        float num = step * m[i];
        float u = num / den;
        w[i] -= u;
    }
}

#if defined(SN_SUB_AVX512)
/* A first moment whose gradient stays 0 (a weight of an input that is 0 in
 * every sample for a while) decays by β1 each step into the subnormal range
 * and stays there, as SGD's momentum does (subnormal.h); each operation on it
 * then takes a microcode assist. Blocks of 16 holding a tiny value take the
 * same operations in double, each rounded to float; sqrt and division rounded
 * twice give the float result too (double carries more than 2·24 + 2 bits). */
#define R(x) sn_sub_round(x)
static inline void adam_exact(__m512d b1, __m512d c1, __m512d b2, __m512d c2, __m512d eps,
                              __m512d step, __m512d inv, __m512d wd, __m512d *w, __m512d g,
                              __m512d *m, __m512d *v) {
    __m512d gi = R(_mm512_add_pd(g, R(_mm512_mul_pd(wd, *w))));
    *m = R(_mm512_add_pd(R(_mm512_mul_pd(b1, *m)), R(_mm512_mul_pd(c1, gi))));
    *v = R(_mm512_add_pd(R(_mm512_mul_pd(b2, *v)), R(_mm512_mul_pd(R(_mm512_mul_pd(c2, gi)), gi))));
    __m512d den = R(_mm512_add_pd(R(_mm512_mul_pd(R(_mm512_sqrt_pd(*v)), inv)), eps));
    *w = _mm512_sub_pd(*w, R(_mm512_div_pd(R(_mm512_mul_pd(step, *m)), den)));
}
#undef R

/* Returns how many values (a multiple of 16) it did. */
static size_t adam_blocks(float b1, float b2, float eps, float step, float inv_sqrt_bc2, float wd,
                          float *w, const float *g, float *m, float *v, size_t n) {
    const __m512 fb1 = _mm512_set1_ps(b1), fc1 = _mm512_set1_ps(1.0f - b1);
    const __m512 fb2 = _mm512_set1_ps(b2), fc2 = _mm512_set1_ps(1.0f - b2);
    const __m512 feps = _mm512_set1_ps(eps), fstep = _mm512_set1_ps(step);
    const __m512 finv = _mm512_set1_ps(inv_sqrt_bc2), fwd = _mm512_set1_ps(wd);
    const __m512d db1 = _mm512_set1_pd(b1), dc1 = _mm512_set1_pd(1.0f - b1);
    const __m512d db2 = _mm512_set1_pd(b2), dc2 = _mm512_set1_pd(1.0f - b2);
    const __m512d deps = _mm512_set1_pd(eps), dstep = _mm512_set1_pd(step);
    const __m512d dinv = _mm512_set1_pd(inv_sqrt_bc2), dwd = _mm512_set1_pd(wd);
    size_t i = 0;
    for (; i + SN_SUB_BLOCK <= n; i += SN_SUB_BLOCK) {
        __m512 wi = _mm512_loadu_ps(w + i), gi = _mm512_loadu_ps(g + i);
        __m512 mi = _mm512_loadu_ps(m + i), vi = _mm512_loadu_ps(v + i);
        if (!(sn_sub_tiny(wi) | sn_sub_tiny(gi) | sn_sub_tiny(mi) | sn_sub_tiny(vi))) {
            __m512 gw = _mm512_add_ps(gi, _mm512_mul_ps(fwd, wi));
            mi = _mm512_add_ps(_mm512_mul_ps(fb1, mi), _mm512_mul_ps(fc1, gw));
            vi = _mm512_add_ps(_mm512_mul_ps(fb2, vi), _mm512_mul_ps(_mm512_mul_ps(fc2, gw), gw));
            __m512 den = _mm512_add_ps(_mm512_mul_ps(_mm512_sqrt_ps(vi), finv), feps);
            _mm512_storeu_ps(m + i, mi);
            _mm512_storeu_ps(v + i, vi);
            _mm512_storeu_ps(w + i,
                             _mm512_sub_ps(wi, _mm512_div_ps(_mm512_mul_ps(fstep, mi), den)));
            continue;
        }
        __m512d wl = sn_sub_lo(wi), wh = sn_sub_hi(wi), ml = sn_sub_lo(mi), mh = sn_sub_hi(mi);
        __m512d vl = sn_sub_lo(vi), vh = sn_sub_hi(vi);
        adam_exact(db1, dc1, db2, dc2, deps, dstep, dinv, dwd, &wl, sn_sub_lo(gi), &ml, &vl);
        adam_exact(db1, dc1, db2, dc2, deps, dstep, dinv, dwd, &wh, sn_sub_hi(gi), &mh, &vh);
        _mm512_storeu_ps(m + i, sn_sub_join(ml, mh));
        _mm512_storeu_ps(v + i, sn_sub_join(vl, vh));
        _mm512_storeu_ps(w + i, sn_sub_join(wl, wh));
    }
    return i;
}
#endif

/* The shared moment update and step; wd is the L2 term added to g (0 for AdamW). */
static void adam_core(const sn_train_config *c, float lr, long t, float wd, float *w,
                      const float *g, float *m, float *v, size_t n) {
    const float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    const float bc1 = 1.0f - (float)pow(b1, (double)t);
    const float inv_sqrt_bc2 = 1.0f / sqrtf(1.0f - (float)pow(b2, (double)t));
    const float step = lr / bc1;
    size_t done = 0;
#if defined(SN_SUB_AVX512)
    done = adam_blocks(b1, b2, eps, step, inv_sqrt_bc2, wd, w, g, m, v, n);
#endif
    adam_plain(b1, b2, eps, step, inv_sqrt_bc2, wd, w, g, m, v, done, n);
}

void sn_adam_update(const sn_train_config *c, float lr, long t, float *w, const float *g, float *m,
                    float *v, size_t n) {
    adam_core(c, lr, t, c->weight_decay, w, g, m, v, n);
}

void sn_adamw_update(const sn_train_config *c, float lr, long t, float *w, const float *g, float *m,
                     float *v, size_t n) {
    if (c->weight_decay != 0.0f) {
        const float keep = 1.0f - lr * c->weight_decay;
        for (size_t i = 0; i < n; i++) w[i] *= keep;
    }
    adam_core(c, lr, t, 0.0f, w, g, m, v, n);
}
