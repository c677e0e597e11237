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
#include "kernels/fastmath.h"
#include "losses/loss_impl.h"

/* Rows are independent: they are computed in parallel, each row's loss kept
 * in a buffer, and the buffer summed in row order on the calling thread, so
 * the mean has the bits of a plain loop over n for any thread count. Rows go
 * in waves of WAVE (the buffer lives on the stack); a chunk takes at least
 * CHUNK_VALUES logits. A row costs about a hundred nanoseconds whatever K
 * (an exp per logit, a log, the loops' set-up), so a batch of 128 rows of
 * 10 classes (about 17 us on one thread, all of it serial work between a
 * training step's parallel products) is worth cutting. The chunk count is
 * rounded down to a multiple of the thread count, so that each thread has
 * as many rows (five chunks on two threads gave one of them three). */
#define WAVE         1024
#define CHUNK_VALUES 256

/* Within a row, the max and the sum of the exponentials are taken in LANES
 * interleaved partial results (lane l takes k ≡ l mod LANES) that are
 * combined in lane order at the end: a fixed order, so the bits depend on
 * the row alone, and straight-line code that the compiler vectorizes.
 *
 * e^(z − m) is the branch-free double exp_neg_d of fastmath.h (a few units
 * in the last place of double), and S, lse = m + log S and the loss are
 * double, so the loss is as accurate as with libm's exp. The terms are kept
 * for the gradient as floats, in dz itself: p = e/S then carries one more
 * float rounding (within 1.2e-7 of exact, relative). */
#define LANES 8

/* max_k z[k] (NaN when z[0] is; a NaN elsewhere shows up in the sum) */
static float row_max(const float *z, int K) {
    float m[LANES];
    for (int l = 0; l < LANES; l++) m[l] = z[0];
    int k = 0;
    for (; k + LANES <= K; k += LANES)
        for (int l = 0; l < LANES; l++) m[l] = z[k + l] > m[l] ? z[k + l] : m[l];
    for (int l = 0; k + l < K; l++) m[l] = z[k + l] > m[l] ? z[k + l] : m[l];
    float r = m[0];
    for (int l = 1; l < LANES; l++) r = m[l] > r ? m[l] : r;
    return r;
}

/* The sum δ of the terms e^(z[k] − m) of the non-maxima, and the count c of
 * the maxima (z[k] = m, each term e^0 = 1 exactly): S = c + δ, kept apart so
 * that log S = log1p(δ) keeps its precision when one class takes nearly all
 * the probability (δ tiny). A NaN logit makes δ NaN. e[k] receives each term
 * (as a float) when e is not NULL. The terms go through a block buffer in
 * plain loops, each of which vectorizes. */
#define BLOCK 256
static double row_sum_exp(const float *z, double m, const double *pre, float *e, int K,
                          int *count) {
    double s[LANES] = {0}, buf[BLOCK];
    int c = 0;
    for (int k0 = 0; k0 < K; k0 += BLOCK) {
        int n = K - k0 < BLOCK ? K - k0 : BLOCK, i = 0;
        const float *zb = z + k0;
        const double *v = buf;
        if (pre) { /* the terms, made by terms() */
            v = pre + k0;
            for (int j = 0; j < n; j++) c += zb[j] - m == 0;
        } else {
            for (int j = 0; j < n; j++) {
                double x = zb[j] - m;
                buf[j] = x == 0 ? 0.0 : exp_neg_d(x);
                c += x == 0;
            }
        }
        if (e)
            for (int j = 0; j < n; j++)
                e[k0 + j] = (float)(v[j] + (zb[j] - m == 0)); /* 1 at a max */
        for (; i + LANES <= n; i += LANES)
            for (int l = 0; l < LANES; l++) s[l] += v[i + l];
        for (int l = 0; i + l < n; l++) s[l] += v[i + l];
    }
    double r = s[0];
    for (int l = 1; l < LANES; l++) r += s[l];
    *count = c;
    return r;
}

/* ℓ_n of row n (and its gradient row when dz is not NULL).
 *
 * With a label y (K > 1) the row's gradient is p/N everywhere but at y,
 * where p_y − 1 = −(S − e_y)/S is taken from the other terms (S − e_y =
 * c − 1 + δ when y is a maximum, else c + (δ − e_y)), so a confident p_y
 * near 1 loses nothing to cancellation. */
static double row_loss(const float *z, float *dz, const int *labels, const float *targets, int n,
                       int N, int K, const double *pre) {
    int c;
    double m = row_max(z, K), d = row_sum_exp(z, m, pre, dz, K, &c), S = c + d;
    double L = c == 1 ? log1p(d) : log(S); /* lse = m + L */
    if (!targets && K > 1) {
        int y = labels[n];
        if (y < 0 || y >= K) {
            if (dz)
                for (int k = 0; k < K; k++) dz[k] = NAN;
            return NAN;
        }
        if (dz) {
            double inv = 1.0 / (S * N), xy = z[y] - m;
            double rest = xy == 0 ? (c - 1) + d : c + (d - (pre ? pre[y] : exp_neg_d(xy)));
            for (int k = 0; k < K; k++) dz[k] = (float)(dz[k] * inv);
            dz[y] = (float)(-rest * inv);
        }
        return (m - z[y]) + L;
    }
    double tsum = 0, loss = 0;
    for (int k = 0; k < K; k++) {
        double t = sn_loss_target(labels, targets, n, k, K);
        loss += t == 0 ? 0.0 : t * ((m - z[k]) + L); /* skip 0 · (lse - z) for z = -inf */
        tsum += t;
    }
    if (dz)
        for (int k = 0; k < K; k++) {
            double p = dz[k] / S, t = sn_loss_target(labels, targets, n, k, K);
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

/* Rows of few classes: the terms e^(z − m) of TERMS / K rows at a time in
 * one flat loop, which vectorizes across the rows (row_sum_exp's loop over
 * one row of 10 classes runs mostly in its scalar tail); each term is the
 * same expression of the same value, so it has the same bits. (One class,
 * or more than SMALL_K, gain nothing.) */
#define TERMS   1024
#define SMALL_K 16
static void terms(const float *z, int rows, int K, double *v) {
    double mx[TERMS];
    for (int r = 0; r < rows; r++) {
        double m = row_max(z + (size_t)r * K, K);
        for (int k = 0; k < K; k++) mx[r * K + k] = m;
    }
    for (int i = 0; i < rows * K; i++) {
        double x = z[i] - mx[i];
        v[i] = x == 0 ? 0.0 : exp_neg_d(x);
    }
}

static void xent_chunk(void *ctx, int c) {
    const xent_job *j = ctx;
    int r0 = (int)((long)j->rows * c / j->chunks), r1 = (int)((long)j->rows * (c + 1) / j->chunks);
    const int K = j->K, group = K >= 2 && K <= SMALL_K ? TERMS / K : 0;
    double v[TERMS];
    for (int r = r0; r < r1; r++) {
        size_t n = (size_t)(j->n0 + r);
        int g = group ? (r - r0) % group : 0;
        if (group && g == 0) terms(j->z + n * K, r1 - r < group ? r1 - r : group, K, v);
        j->loss[r] = row_loss(j->z + n * K, j->dz ? j->dz + n * K : NULL, j->labels, j->targets,
                              (int)n, j->N, K, group ? v + (size_t)g * K : NULL);
    }
}

double sn_loss_softmax_xent(const sn_tensor *pred, const int *labels, const float *targets,
                            sn_tensor *dpred) {
    int N = pred->shape[0], K = (int)(pred->size / (size_t)N);
    double loss[WAVE], sum = 0;
    xent_job j = {pred->data, dpred ? dpred->data : NULL, labels, targets, N, K, 0, 0, 1, loss};
    for (j.n0 = 0; j.n0 < N; j.n0 += WAVE) {
        j.rows = N - j.n0 < WAVE ? N - j.n0 : WAVE;
        long chunks = (long)j.rows * K / CHUNK_VALUES, nt = sn_get_threads();
        if (chunks > j.rows) chunks = j.rows;
        if (chunks > nt) chunks -= chunks % nt; /* as many for every thread */
        j.chunks = chunks < 1 ? 1 : (int)chunks;
        if (j.chunks == 1)
            xent_chunk(&j, 0);
        else
            sn_parallel(j.chunks, xent_chunk, &j);
        for (int r = 0; r < j.rows; r++) sum += loss[r];
    }
    return sum / N;
}
