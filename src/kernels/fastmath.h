/* Branch-free scalar building blocks of the pointwise kernels (act.c, rnn.c,
 * the softmax cross-entropy), inlined into their loops so the compiler
 * vectorizes them: e^x for x <= 0 from a range reduction and a Taylor
 * polynomial, and from it e^x − 1, σ and tanh without overflow or
 * cancellation (float; accuracy: see act.c), and e^x for x <= 0 in double. */
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

static inline double bits_to_double(uint64_t b) {
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static inline uint64_t double_to_bits(double d) {
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* e^x for x <= 0 in double, to a few units in the last place (for the loss,
 * whose value must be good to far better than float: finite differences of
 * it check gradients). The same reduction as exp_parts, in double:
 *   x = k ln2 + r,  |r| <= ln2 / 2,  e^x = 2^k (1 + q),  q = r + r²/2! + ... + r¹³/13!
 * (the Taylor tail r¹⁴/14! < 4e-18). ln2 = LN2_HI + LN2_LO, LN2_HI with its
 * low 32 bits zero, so k·LN2_HI is exact for |k| < 2²⁰. Below −708 (where
 * 2^k would leave the normal range) the result is 0; e^−708 < 1e−307. */
static inline double exp_neg_d(double x) {
    const double LOG2E = 1.4426950408889634, LN2_HI = 6.93147180369123816490e-01,
                 LN2_LO = 1.90821492927058770002e-10;
    const double ROUND = 6755399441055744.0; /* 1.5 · 2⁵² */
    double xc = x < -708.0 ? -708.0 : x;
    double kr = xc * LOG2E + ROUND;
    double k = kr - ROUND;
    uint64_t ki = double_to_bits(kr) - double_to_bits(ROUND); /* k mod 2⁶⁴ */
    double s = bits_to_double((ki + 1023u) << 52);            /* 2^k, k in [-1022, 0] */
    double r = (xc - k * LN2_HI) - k * LN2_LO;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    double q = r + r * r * p;
    return x < -708.0 ? 0.0 : s + s * q;
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
