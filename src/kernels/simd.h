/* AVX-512 helpers shared by the kernels. */
#ifndef SN_KERNELS_SIMD_H
#define SN_KERNELS_SIMD_H

#if defined(__AVX512F__)
#include <immintrin.h>

/* The lanes of a 16-float vector that hold the `left` values still to do
 * (left >= 1): all 16 when left >= 16, else the first `left`. */
static inline __mmask16 sn_mask16(int left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}
#endif

#endif
