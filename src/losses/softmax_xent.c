/* Softmax + cross-entropy, fused (PyTorch CrossEntropyLoss on logits).
 * The derivation of the gradient is in docs/softmax-xent.md.
 *
 *   z: [N, K] logits   y: [N] class labels, or t: [N, K] class probabilities
 *
 *   lse_n = log Σ_k e^(z[n,k]) = m + log Σ_k e^(z[n,k] - m),  m = max_k z[n,k]
 *   p[n,k] = softmax(z[n])_k = e^(z[n,k] - lse_n)
 *   with a label:    ℓ_n = -log p[n,y] = lse_n - z[n,y]
 *   with targets:    ℓ_n = -Σ_k t[n,k] log p[n,k] = Σ_k t[n,k] (lse_n - z[n,k])
 *   L = 1/N Σ_n ℓ_n
 *   ∂L/∂z[n,k] = (p[n,k] - [k == y]) / N            (labels)
 *              = (p[n,k] Σ_j t[n,j] - t[n,k]) / N    (targets; = p - t when Σ t = 1)
 *
 * Subtracting m keeps every exponent <= 0 (no overflow), and at least one term
 * of the sum is e^0 = 1 (so the log never sees 0): the loss is finite for any
 * finite logits. */
#include "losses/loss_impl.h"

double sn_loss_softmax_xent(const sn_tensor *pred, const int *labels, const float *targets,
                            sn_tensor *dpred) {
    int N = pred->shape[0], K = (int)(pred->size / (size_t)N);
    double sum = 0;
    for (int n = 0; n < N; n++) {
        const float *z = pred->data + (size_t)n * K;
        float *dz = dpred ? dpred->data + (size_t)n * K : NULL;
        double m = z[0], s = 0;
        for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
        for (int k = 0; k < K; k++) s += exp(z[k] - m);
        double lse = m + log(s), tsum = 0, loss = 0;
        for (int k = 0; k < K; k++) {
            double t = sn_loss_target(labels, targets, n, k, K);
            loss += t == 0 ? 0.0 : t * (lse - z[k]); /* skip 0 · (lse - z) for z = -inf */
            tsum += t;
        }
        sum += loss;
        if (!dz) continue;
        for (int k = 0; k < K; k++) {
            double p = exp(z[k] - lse), t = sn_loss_target(labels, targets, n, k, K);
            dz[k] = (float)((p * tsum - t) / N);
        }
    }
    return sum / N;
}
