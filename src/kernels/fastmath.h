/* Branch-free scalar building blocks of the pointwise kernels (act.c, rnn.c),
 * inlined into their loops so the compiler vectorizes them: e^x for x <= 0
 * from a range reduction and a Taylor polynomial, and from it e^x − 1, σ and
 * tanh without overflow or cancellation. Accuracy: see act.c. */
#ifndef SN_KERNELS_FASTMATH_H
#define SN_KERNELS_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float bits_to_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t float_to_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* Range reduction for e^x, x in [-87, 0]:
 *   x = k ln2 + r,  k = round(x / ln2),  |r| <= ln2 / 2
 *   e^x = 2^k e^r = s (1 + q),  s = 2^k,  q = e^r - 1 = r + r²/2! + ... + r⁷/7!
 * The Taylor tail r⁸/8! < 6e-9 is below float precision. k is found by adding
 * 1.5·2²³, which rounds to an integer and leaves k in the low mantissa bits;
 * 2^k is then built from its exponent field. ln2 is split into a part with few
 * mantissa bits (k·LN2_HI is exact) and a correction, so r is accurate. */
static inline float exp_parts(float x, float *s) {
    const float LOG2E = 1.44269504f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    const float ROUND = 12582912.0f; /* 1.5 · 2²³ */
    x = x < -87.0f ? -87.0f : x;
    float kr = x * LOG2E + ROUND;
    float k = kr - ROUND;
    uint32_t ki = float_to_bits(kr) - float_to_bits(ROUND); /* k mod 2³² */
    *s = bits_to_float((ki + 127u) << 23);                  /* 2^k, k in [-126, 0] */
    float r = (x - k * LN2_HI) - k * LN2_LO;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    return r + r * r * p;
}

/* e^x for x <= 0. */
static inline float exp_neg(float x) {
    float s, q = exp_parts(x, &s);
    return x < -87.0f ? 0.0f : s + s * q;
}

/* e^x - 1 for x <= 0, without the cancellation of exp(x) - 1 near 0 (there
 * k = 0, s = 1 and the result is q itself). */
static inline float expm1_neg(float x) {
    float s, q = exp_parts(x, &s);
    return x < -87.0f ? -1.0f : (s - 1.0f) + s * q;
}

/* σ(x) = 1 / (1 + e^-x), computed from e = e^-|x| <= 1 so nothing overflows:
 *   x >= 0:  1 / (1 + e)        x < 0:  e / (1 + e)  (= e^x / (1 + e^x)) */
static inline float sigmoid1(float x) {
    float e = exp_neg(x < 0 ? x : -x);
    return (x >= 0 ? 1.0f : e) / (1.0f + e);
}

/* σ(x) and its complement 1 - σ(x) = σ(-x), each without the cancellation of
 * computing 1 - σ(x) when σ(x) is near 1 (used by the derivatives). */
static inline float sigmoid2(float x, float *complement) {
    float e = exp_neg(x < 0 ? x : -x), inv = 1.0f / (1.0f + e);
    *complement = (x >= 0 ? e : 1.0f) * inv;
    return (x >= 0 ? 1.0f : e) * inv;
}

/* tanh x = sign(x) · (1 - e^-2|x|) / (1 + e^-2|x|) = -sign(x) · m / (2 + m),
 * m = e^-2|x| - 1, accurate for small |x| too. */
static inline float tanh1(float x) {
    float m = expm1_neg(x < 0 ? 2.0f * x : -2.0f * x);
    float t = -m / (2.0f + m);
    return x < 0 ? -t : t;
}

#endif
