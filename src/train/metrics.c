/* Classification metrics, with scikit-learn's definitions (labels 0..K-1,
 * zero_division = 0).
 *
 *   C[t, p]      samples of true class t predicted as p        (K x K)
 *   support_c    = Σ_p C[c, p]        predicted_c = Σ_t C[t, c]
 *   accuracy     = Σ_c C[c, c] / n
 *   precision_c  = C[c, c] / predicted_c     (0 when predicted_c = 0)
 *   recall_c     = C[c, c] / support_c       (0 when support_c = 0)
 *   F1_c         = 2 P_c R_c / (P_c + R_c)   (0 when P_c + R_c = 0)
 *   macro X      = (1/K) Σ_c X_c
 *   weighted X   = Σ_c support_c X_c / Σ_c support_c
 *   top-k        = (1/n) Σ_i [#{j : s_ij > s_iy or (s_ij = s_iy and j > y)} < k],
 *                  y = label_i (the order of a stable descending sort that
 *                  puts the higher index first among ties, as sklearn's)
 *   cross-entropy = −(1/n) Σ_i log q_iy,  q_ij = c(p_ij) / Σ_j' c(p_ij'),
 *                  c(p) = min(max(p, ε), 1 − ε), ε = FLT_EPSILON
 */
#include "data/dataset.h"
#include "model/model.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

sn_status sn_metrics_init(sn_metrics *m, int K, sn_error *err) {
    memset(m, 0, sizeof *m);
    if (K < 1 || K > (1 << 15)) return sn_fail(err, SN_ERR_ARG, "metrics: %d classes", K);
    m->num_classes = K;
    m->confusion = sn_alloc((size_t)K * (size_t)K, sizeof(long));
    m->support = sn_alloc((size_t)K, sizeof(long));
    m->precision = sn_alloc((size_t)K, sizeof(double));
    m->recall = sn_alloc((size_t)K, sizeof(double));
    m->f1 = sn_alloc((size_t)K, sizeof(double));
    if (!m->confusion || !m->support || !m->precision || !m->recall || !m->f1) {
        sn_metrics_free(m);
        return sn_fail(err, SN_ERR_NOMEM, "metrics: out of memory");
    }
    m->top_k_accuracy = m->mean_xent = NAN;
    sn_metrics_update(m);
    return SN_OK;
}

void sn_metrics_free(sn_metrics *m) {
    sn_free(m->confusion);
    sn_free(m->support);
    sn_free(m->precision);
    sn_free(m->recall);
    sn_free(m->f1);
    memset(m, 0, sizeof *m);
}

void sn_metrics_update(sn_metrics *m) {
    int K = m->num_classes;
    long n = 0, correct = 0;
    for (int c = 0; c < K; c++) {
        long row = 0, col = 0;
        for (int j = 0; j < K; j++) {
            row += m->confusion[(size_t)c * K + j];
            col += m->confusion[(size_t)j * K + c];
        }
        long tp = m->confusion[(size_t)c * K + c];
        m->support[c] = row;
        n += row;
        correct += tp;
        double p = col ? (double)tp / (double)col : 0.0;
        double r = row ? (double)tp / (double)row : 0.0;
        m->precision[c] = p;
        m->recall[c] = r;
        m->f1[c] = p + r > 0 ? 2.0 * p * r / (p + r) : 0.0;
    }
    m->n = n;
    m->accuracy = n ? (double)correct / (double)n : NAN;
    double sp = 0, sr = 0, sf = 0, wp = 0, wr = 0, wf = 0;
    for (int c = 0; c < K; c++) {
        sp += m->precision[c];
        sr += m->recall[c];
        sf += m->f1[c];
        wp += (double)m->support[c] * m->precision[c];
        wr += (double)m->support[c] * m->recall[c];
        wf += (double)m->support[c] * m->f1[c];
    }
    m->macro_precision = sp / K;
    m->macro_recall = sr / K;
    m->macro_f1 = sf / K;
    m->weighted_precision = n ? wp / (double)n : 0.0;
    m->weighted_recall = n ? wr / (double)n : 0.0;
    m->weighted_f1 = n ? wf / (double)n : 0.0;
}

sn_status sn_metrics_add(sn_metrics *m, const int *y_true, const int *y_pred, int n,
                         sn_error *err) {
    int K = m->num_classes;
    for (int i = 0; i < n; i++)
        if (y_true[i] < 0 || y_true[i] >= K || y_pred[i] < 0 || y_pred[i] >= K)
            return sn_fail(err, SN_ERR_ARG, "sample %d: label %d / prediction %d outside [0, %d)",
                           i, y_true[i], y_pred[i], K);
    for (int i = 0; i < n; i++) m->confusion[(size_t)y_true[i] * K + y_pred[i]]++;
    sn_metrics_update(m);
    return SN_OK;
}

double sn_top_k_accuracy(const float *scores, const int *labels, int n, int K, int k) {
    if (n <= 0) return NAN;
    long hits = 0;
    for (int i = 0; i < n; i++) {
        const float *s = scores + (size_t)i * K;
        int y = labels[i], above = 0;
        for (int j = 0; j < K; j++) above += s[j] > s[y] || (s[j] == s[y] && j > y);
        hits += above < k;
    }
    return (double)hits / n;
}

double sn_mean_cross_entropy(const float *probs, const int *labels, int n, int K) {
    if (n <= 0) return NAN;
    const double lo = FLT_EPSILON, hi = 1.0 - FLT_EPSILON;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * K;
        double z = 0;
        for (int j = 0; j < K; j++) z += fmin(fmax((double)p[j], lo), hi);
        double q = fmin(fmax((double)p[labels[i]], lo), hi) / z;
        sum -= log(q);
    }
    return sum / n;
}

int sn_model_num_classes(const sn_model *m) {
    int K = sn_model_output_size(m);
    return K == 1 ? 2 : K;
}

/* Class probabilities [n, K] for outputs [n, Kout]; one output p is read
 * as P(class 1), giving (1 − p, p). */
static void to_classes(const float *out, int n, int Kout, float *probs) {
    if (Kout > 1) {
        memcpy(probs, out, (size_t)n * (size_t)Kout * sizeof(float));
        return;
    }
    for (int i = 0; i < n; i++) {
        probs[2 * i] = 1.0f - out[i];
        probs[2 * i + 1] = out[i];
    }
}

sn_status sn_evaluate_metrics(sn_model *m, const sn_dataset *d, int batch, int top_k,
                              sn_metrics *out, float *probs, int *pred, sn_error *err) {
    memset(out, 0, sizeof *out);
    int Kout = sn_model_output_size(m), K = sn_model_num_classes(m);
    if (!d->labels) return sn_fail(err, SN_ERR_ARG, "metrics need class labels, not targets");
    if (d->sample_size != sn_model_input_size(m))
        return sn_fail(err, SN_ERR_SHAPE, "samples have %zu values, the model's input takes %zu",
                       d->sample_size, sn_model_input_size(m));
    if (d->n < 1) return sn_fail(err, SN_ERR_ARG, "the data set is empty");
    if (batch < 1) batch = 256;
    for (int i = 0; i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= K)
            return sn_fail(err, SN_ERR_SHAPE, "sample %d has label %d; the model has %d classes", i,
                           d->labels[i], K);
    float *p = probs ? probs : sn_alloc((size_t)d->n * (size_t)K, sizeof(float));
    int *y = pred ? pred : sn_alloc((size_t)d->n, sizeof(int));
    float *o = sn_alloc((size_t)batch * (size_t)Kout, sizeof(float));
    sn_status s = p && y && o ? SN_OK : sn_fail(err, SN_ERR_NOMEM, "metrics: out of memory");
    if (s == SN_OK) s = sn_model_reserve(m, batch, err);
    if (s == SN_OK) s = sn_metrics_init(out, K, err);
    for (int start = 0; s == SN_OK && start < d->n; start += batch) {
        int nb = d->n - start < batch ? d->n - start : batch;
        s = sn_model_predict(m, d->x + (size_t)start * d->sample_size, nb, o, err);
        if (s == SN_OK) to_classes(o, nb, Kout, p + (size_t)start * K);
    }
    if (s == SN_OK) {
        for (int i = 0; i < d->n; i++) {
            const float *r = p + (size_t)i * K;
            int best = 0;
            for (int j = 1; j < K; j++)
                if (r[j] > r[best]) best = j;
            y[i] = Kout == 1 ? r[1] > 0.5f : best; /* as the training accuracy */
        }
        s = sn_metrics_add(out, d->labels, y, d->n, err);
    }
    if (s == SN_OK) {
        out->mean_xent = sn_mean_cross_entropy(p, d->labels, d->n, K);
        if (top_k > 0 && top_k < K) {
            out->top_k = top_k;
            out->top_k_accuracy = sn_top_k_accuracy(p, d->labels, d->n, K, top_k);
        }
    } else {
        sn_metrics_free(out);
    }
    if (!probs) sn_free(p);
    if (!pred) sn_free(y);
    sn_free(o);
    return s;
}
