/* Finiteness and size of float buffers (see finite.h).
 *
 * sn_sumsq keeps 16 partial sums so that the compiler can hold them in SIMD
 * registers (two AVX2 or one AVX-512 vector) without reassociating float
 * additions itself; the lanes are then added in a fixed order, so the result
 * is deterministic. NaN and ±inf propagate through x², so one pass both
 * measures a buffer and proves it finite. */
#include "kernels/finite.h"

#include <math.h>

#define LANES 16

float sn_sumsq(const float *x, size_t n) {
    float acc[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += x[j + k] * x[j + k];
    float s = 0;
    for (; j < n; j++) s += x[j] * x[j];
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

double sn_sumsq_double(const float *x, size_t n) {
    double a[4] = {0, 0, 0, 0};
    size_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (int k = 0; k < 4; k++) a[k] += (double)x[j + k] * x[j + k];
    for (; j < n; j++) a[0] += (double)x[j] * x[j];
    return (a[0] + a[1]) + (a[2] + a[3]);
}

size_t sn_first_nonfinite(const float *x, size_t n) {
    for (size_t j = 0; j < n; j++)
        if (!isfinite(x[j])) return j;
    return n;
}
