/* The comparisons of the 2x2 max pooling that keeps its window positions
 * (pool.h: sn_maxpool_forward_arg) on vectors of 16 windows, shared by the
 * pooling kernels (pooling.c) and the convolutions that pool their own
 * output while it is in registers (im2col.c), so that both give the same
 * bits. AVX-512 only. */
#ifndef SN_KERNELS_POOL_SIMD_H
#define SN_KERNELS_POOL_SIMD_H

#if defined(__AVX512F__)
#include <immintrin.h>

/* (v > m) or v is NaN: where v replaces the running maximum m. */
static inline __mmask16 beats(__m512 v, __m512 m) {
    return _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}

/* v == m, or both NaN. */
static inline __mmask16 same_v(__m512 v, __m512 m) {
    return _mm512_cmp_ps_mask(v, m, _CMP_EQ_OQ) |
           (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q));
}

/* The maxima of the windows a..d (as window_max, into *max) and their
 * positions for arg (pool.h): the first of a..d equal to the maximum (NaN
 * equal to NaN), + 4 where the maximum is > 0. A NaN anywhere in a window
 * makes its maximum NaN; without one, a value replaces the running maximum
 * only when greater, so no earlier value equals the final maximum and the
 * position is the last replacement's. Without a NaN in the vectors, that
 * first maximum is found as a tree (the first of a, b, the first of c, d,
 * then the first of those two: the later wins only when greater), the same
 * value and position in two comparisons' latency instead of three; vectors
 * with a NaN take the running maximum and compare every value with it. */
static inline __m512i max_arg(__m512 a, __m512 b, __m512 c, __m512 d, __m512 *max) {
    const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
    const __m512i three = _mm512_set1_epi32(3);
    __m512 m;
    __m512i k;
    if ((_mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(c, d, _CMP_UNORD_Q)) == 0) {
        __mmask16 sb = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ);
        __mmask16 sd = _mm512_cmp_ps_mask(d, c, _CMP_GT_OQ);
        __m512 ab = _mm512_mask_mov_ps(a, sb, b), cd = _mm512_mask_mov_ps(c, sd, d);
        __mmask16 s = _mm512_cmp_ps_mask(cd, ab, _CMP_GT_OQ);
        m = _mm512_mask_mov_ps(ab, s, cd);
        k = _mm512_mask_mov_epi32(_mm512_maskz_mov_epi32(sb, one), s,
                                  _mm512_mask_mov_epi32(two, sd, three));
    } else {
        __mmask16 s1 = beats(b, a);
        m = _mm512_mask_mov_ps(a, s1, b);
        __mmask16 s2 = beats(c, m);
        m = _mm512_mask_mov_ps(m, s2, c);
        __mmask16 s3 = beats(d, m);
        m = _mm512_mask_mov_ps(m, s3, d);
        __mmask16 e0 = same_v(a, m), e1 = (__mmask16)(~e0 & same_v(b, m));
        __mmask16 e2 = (__mmask16)(~(e0 | e1) & same_v(c, m));
        k = _mm512_mask_mov_epi32(three, e2, two);
        k = _mm512_mask_mov_epi32(k, e1, one);
        k = _mm512_maskz_mov_epi32((__mmask16)~e0, k);
    }
    *max = m;
    return _mm512_mask_add_epi32(k, _mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ), k,
                                 _mm512_set1_epi32(4));
}

#endif

#endif
