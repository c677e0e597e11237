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
#include "core/threads.h"
#include "losses/loss_impl.h"

/* Rows are independent: they are computed in parallel, each row's loss kept
 * in a buffer, and the buffer summed in row order on the calling thread, so
 * the mean has the bits of a plain loop over n for any thread count. Rows go
 * in waves of WAVE (the buffer lives on the stack); a chunk takes at least
 * CHUNK_VALUES logits. */
#define WAVE         1024
#define CHUNK_VALUES 1024

/* ℓ_n of row n (and its gradient row when dz is not NULL). */
static double row_loss(const float *z, float *dz, const int *labels, const float *targets, int n,
                       int N, int K) {
    double m = z[0], s = 0;
    for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
    for (int k = 0; k < K; k++) s += exp(z[k] - m);
    double lse = m + log(s), tsum = 0, loss = 0;
    for (int k = 0; k < K; k++) {
        double t = sn_loss_target(labels, targets, n, k, K);
        loss += t == 0 ? 0.0 : t * (lse - z[k]); /* skip 0 · (lse - z) for z = -inf */
        tsum += t;
    }
    if (dz)
        for (int k = 0; k < K; k++) {
            double p = exp(z[k] - lse), t = sn_loss_target(labels, targets, n, k, K);
            dz[k] = (float)((p * tsum - t) / N);
        }
    return loss;
}

typedef struct {
    const float *z;
    float *dz;
    const int *labels;
    const float *targets;
    int N, K, n0, rows, chunks;
    double *loss; /* [rows]: ℓ of rows n0 .. n0 + rows - 1 */
} xent_job;

static void xent_chunk(void *ctx, int c) {
    const xent_job *j = ctx;
    int r0 = (int)((long)j->rows * c / j->chunks), r1 = (int)((long)j->rows * (c + 1) / j->chunks);
    for (int r = r0; r < r1; r++) {
        size_t n = (size_t)(j->n0 + r);
        j->loss[r] = row_loss(j->z + n * j->K, j->dz ? j->dz + n * j->K : NULL, j->labels,
                              j->targets, (int)n, j->N, j->K);
    }
}

double sn_loss_softmax_xent(const sn_tensor *pred, const int *labels, const float *targets,
                            sn_tensor *dpred) {
    int N = pred->shape[0], K = (int)(pred->size / (size_t)N);
    double loss[WAVE], sum = 0;
    xent_job j = {pred->data, dpred ? dpred->data : NULL, labels, targets, N, K, 0, 0, 1, loss};
    for (j.n0 = 0; j.n0 < N; j.n0 += WAVE) {
        j.rows = N - j.n0 < WAVE ? N - j.n0 : WAVE;
        long chunks = (long)j.rows * K / CHUNK_VALUES;
        j.chunks = chunks < 1 ? 1 : chunks > j.rows ? j.rows : (int)chunks;
        if (j.chunks == 1)
            xent_chunk(&j, 0);
        else
            sn_parallel(j.chunks, xent_chunk, &j);
        for (int r = 0; r < j.rows; r++) sum += loss[r];
    }
    return sum / N;
}
