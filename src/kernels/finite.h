/* Finiteness and size of float buffers: the training guard's kernels
 * (src/train/guard.c). */
#ifndef SN_KERNELS_FINITE_H
#define SN_KERNELS_FINITE_H

#include <stddef.h>

/* s = Σ x[i]² over x[0..n), accumulated in float in 16 independent lanes
 * (vectorizable; about 1e-4 relative accuracy for a million values). NaN
 * when some x[i] is NaN, +inf when some x[i] is ±inf or when the sum
 * overflows float (|x[i]| above about 1.8e19): a finite result proves every
 * value finite, a non-finite one needs sn_first_nonfinite to tell which. */
float sn_sumsq(const float *x, size_t n);

/* Σ x[i]² accumulated in double (exact enough for any float input, never
 * overflows); the slow path after sn_sumsq overflowed. */
double sn_sumsq_double(const float *x, size_t n);

/* Index of the first NaN or ±inf in x[0..n), or n when there is none. */
size_t sn_first_nonfinite(const float *x, size_t n);

#endif
