/* Binary cross-entropy, averaged over all N·K values: each value is an
 * independent yes/no prediction (K = 1 for a binary classifier, K > 1 for
 * multi-label). Two forms, as PyTorch's BCELoss and BCEWithLogitsLoss.
 *
 *   t: [N, K] targets in [0, 1] (or one-hot labels)
 *
 * On probabilities p: [N, K], p in [0, 1] (e.g. after a sigmoid layer):
 *   ℓ = -(t log p + (1 - t) log(1 - p)),  each log clamped to >= -100 so that
 *       p = 0 or 1 gives a finite loss (PyTorch does the same)
 *   ∂ℓ/∂p = -t/p + (1 - t)/(1 - p) = (p - t) / (p(1 - p)),
 *       with the denominator clamped to >= 1e-12 (as PyTorch)
 *
 * On logits z: [N, K], p = σ(z) (no sigmoid layer; more accurate):
 *   ℓ = -(t log σ(z) + (1 - t) log(1 - σ(z)))
 *     = max(z, 0) - z t + log(1 + e^-|z|)      (never overflows: e^-|z| <= 1)
 *   ∂ℓ/∂z = σ(z) - t
 *
 * L = mean of ℓ over N·K, so the gradients are divided by N·K. */
#include "losses/loss_impl.h"

double sn_loss_bce(const sn_tensor *pred, const int *labels, const float *targets,
                   sn_tensor *dpred) {
    int N = pred->shape[0], K = (int)(pred->size / (size_t)N);
    double inv = 1.0 / ((double)N * K), sum = 0;
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)n * K + k;
            double p = pred->data[i], t = sn_loss_target(labels, targets, n, k, K);
            double lp = log(p), lq = log(1.0 - p);
            if (lp < -100) lp = -100; /* written as a comparison so NaN stays NaN */
            if (lq < -100) lq = -100;
            sum -= t * lp + (1.0 - t) * lq;
            if (dpred) {
                double den = p * (1.0 - p);
                dpred->data[i] = (float)((p - t) / (den < 1e-12 ? 1e-12 : den) * inv);
            }
        }
    }
    return sum * inv;
}

double sn_loss_bce_logits(const sn_tensor *pred, const int *labels, const float *targets,
                          sn_tensor *dpred) {
    int N = pred->shape[0], K = (int)(pred->size / (size_t)N);
    double inv = 1.0 / ((double)N * K), sum = 0;
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)n * K + k;
            double z = pred->data[i], t = sn_loss_target(labels, targets, n, k, K);
            double e = exp(-fabs(z)); /* in (0, 1] */
            sum += (z > 0 ? z : 0.0) - z * t + log1p(e);
            if (dpred) {
                double sig = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
                dpred->data[i] = (float)((sig - t) * inv);
            }
        }
    }
    return sum * inv;
}
