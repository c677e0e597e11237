/* Mean squared error, averaged over all N·K values (PyTorch MSELoss,
 * reduction="mean").
 *
 *   p: [N, K]   t: [N, K] (targets, or one-hot labels)
 *
 *   L = 1/(N·K) Σ_n Σ_k (p[n,k] - t[n,k])²
 *   ∂L/∂p[n,k] = 2 (p[n,k] - t[n,k]) / (N·K) */
#include "losses/loss_impl.h"

double sn_loss_mse(const sn_tensor *pred, const int *labels, const float *targets,
                   sn_tensor *dpred) {
    int N = pred->shape[0], K = (int)(pred->size / (size_t)N);
    double inv = 1.0 / ((double)N * K), sum = 0;
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)n * K + k;
            double d = pred->data[i] - sn_loss_target(labels, targets, n, k, K);
            sum += d * d;
            if (dpred) dpred->data[i] = (float)(2.0 * d * inv);
        }
    }
    return sum * inv;
}
