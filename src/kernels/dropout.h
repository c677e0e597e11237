/* The dropout mask, shared by the dropout layer and the dropout between
 * the levels of a stacked recurrent layer. */
#ifndef SN_KERNELS_DROPOUT_H
#define SN_KERNELS_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

/* Inverted dropout over n values: a value is kept when its draw u (uniform
 * 32-bit) is >= drop = round(p·2³²), i.e. with probability 1 − p, and then
 * multiplied by scale = 1 / (1 − p); dropped values become 0. y may be x.
 * The draws are counter-based: value i's draw is u_i = h(h(i + k1) ⊕ k2), h a
 * 32-bit integer hash (lowbias32), k1 and k2 the low and high halves of
 * `key`. The same key reproduces the same mask (backward replays it), and
 * the loop vectorizes (no sequential generator state). */
void sn_dropout_mask_hash(uint64_t key, uint32_t drop, float scale, const float *x, float *y,
                          size_t n);

#endif
