/* Subnormal values in SGD's momentum loop (sgd.c).
 *
 * A momentum whose gradient stays 0 (the weights of a unit that no longer
 * fires, of an input pixel that is 0 in every sample of a batch) decays by μ
 * each step until it is subnormal, and there it stays: for the smallest
 * subnormals μ·v rounds back to v. On x86 a float multiplication with a
 * subnormal operand or result takes a microcode assist (~130 cycles for a
 * whole vector, 100 times the normal cost); on the SGD MLP of bench/, about
 * 1.3% of the first layer's momenta are subnormal after the first epoch,
 * scattered over 5% of its 16-value blocks, and the update took 2.5 times
 * as long as without them.
 *
 * With AVX-512 the loop goes 16 values at a time; a block holding a nonzero
 * |x| < 2^-64 in any input is computed in double instead, each float
 * operation as the double one rounded to float (sn_sub_round). The product
 * of two floats is exact in double, and a sum rounded to double and then to
 * float is the float sum (double carries more than 2·24 + 2 bits), so the
 * bits are those of the float loop; doubles of that size are normal, so no
 * assist. The threshold only picks the path: whichever path a block takes,
 * its values are the same. */
#ifndef SN_OPTIM_SUBNORMAL_H
#define SN_OPTIM_SUBNORMAL_H

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>

#define SN_SUB_AVX512 1
#define SN_SUB_BLOCK  16

/* Lanes whose |x| is nonzero and below 2^-64 (the exponent field of 2^-64
 * is 63). */
static inline __mmask16 sn_sub_tiny(__m512 x) {
    __m512i b = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff));
    return _mm512_cmplt_epu32_mask(_mm512_sub_epi32(b, _mm512_set1_epi32(1)),
                                   _mm512_set1_epi32((63 << 23) - 1));
}

/* Lanes where any of a, b, c has a nonzero |x| below 2^-64: the same lanes
 * as sn_sub_tiny(a) | sn_sub_tiny(b) | sn_sub_tiny(c), in one comparison
 * (|x| - 1 wraps 0 to the largest value, so the smallest of the three is
 * below the bound exactly when one of them is). */
static inline __mmask16 sn_sub_tiny3(__m512 a, __m512 b, __m512 c) {
    const __m512i abs = _mm512_set1_epi32(0x7fffffff), one = _mm512_set1_epi32(1);
    __m512i x = _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(a), abs), one);
    __m512i y = _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(b), abs), one);
    __m512i z = _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(c), abs), one);
    __m512i m = _mm512_min_epu32(_mm512_min_epu32(x, y), z);
    return _mm512_cmplt_epu32_mask(m, _mm512_set1_epi32((63 << 23) - 1));
}

/* x rounded to float and back: the result of the float operation. */
static inline __m512d sn_sub_round(__m512d x) {
    return _mm512_cvtps_pd(_mm512_cvtpd_ps(x));
}

/* The low and high 8 lanes of a float vector, in double. */
static inline __m512d sn_sub_lo(__m512 x) {
    return _mm512_cvtps_pd(_mm512_castps512_ps256(x));
}

static inline __m512d sn_sub_hi(__m512 x) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
}

/* Two double halves back into one float vector. */
static inline __m512 sn_sub_join(__m512d lo, __m512d hi) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}
#endif

#endif
