/* Shared by the loss files (mse.c, bce.c, softmax_xent.c) and the dispatcher
 * loss.c; not part of the public interface. Each loss function has the
 * contract of sn_loss (loss.h): pred: [N, K] (K = pred->size / N), the mean
 * loss is returned and dpred, when not NULL, receives its gradient. Sums are
 * accumulated in double. */
#ifndef SN_LOSSES_LOSS_IMPL_H
#define SN_LOSSES_LOSS_IMPL_H

#include "losses/loss.h"

#include <math.h>

double sn_loss_mse(const sn_tensor *pred, const int *labels, const float *targets,
                   sn_tensor *dpred);
double sn_loss_bce(const sn_tensor *pred, const int *labels, const float *targets,
                   sn_tensor *dpred);
double sn_loss_bce_logits(const sn_tensor *pred, const int *labels, const float *targets,
                          sn_tensor *dpred);
double sn_loss_softmax_xent(const sn_tensor *pred, const int *labels, const float *targets,
                            sn_tensor *dpred);

/* The target t[n, k] of value k of sample n: targets[n·K + k] when targets is
 * not NULL; otherwise from the label y = labels[n]: one-hot (t = [k == y]) when
 * K > 1, y itself (0 or 1) when K == 1. A label out of range gives NaN, so the
 * loss comes out NaN instead of reading out of bounds. */
static inline double sn_loss_target(const int *labels, const float *targets, int n, int k, int K) {
    if (targets) return targets[(size_t)n * K + k];
    int y = labels[n];
    if (K == 1) return y == 0 || y == 1 ? (double)y : NAN;
    if (y < 0 || y >= K) return NAN;
    return y == k ? 1.0 : 0.0;
}

#endif
