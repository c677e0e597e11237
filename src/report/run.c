/* What a run folder records about the trained model on the test set, for
 * reports and for comparing runs:
 *
 *   metrics.csv               metric,value (accuracy, macro_f1, ...)
 *   per_class.csv             class,name,precision,recall,f1,support
 *   confusion.csv             true,0,1,...,K-1: one row per true class
 *   classes.txt               the class names, one per line
 *   misclassified.safetensors the most confidently wrong samples:
 *                             x [n, sample shape], index, true, pred, prob [n]
 */
#include "data/dataset.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sn_status write_in(const char *dir, const char *name, const sn_buf *b, sn_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return sn_buf_write_file(b, path, err);
}

static void metrics_csv(sn_buf *b, const sn_metrics *m) {
    sn_buf_puts(b, "metric,value\n");
    sn_buf_printf(b, "samples,%ld\n", m->n);
    sn_buf_printf(b, "accuracy,%.6g\n", m->accuracy);
    if (m->top_k) sn_buf_printf(b, "top%d_accuracy,%.6g\n", m->top_k, m->top_k_accuracy);
    sn_buf_printf(b, "macro_precision,%.6g\n", m->macro_precision);
    sn_buf_printf(b, "macro_recall,%.6g\n", m->macro_recall);
    sn_buf_printf(b, "macro_f1,%.6g\n", m->macro_f1);
    sn_buf_printf(b, "weighted_precision,%.6g\n", m->weighted_precision);
    sn_buf_printf(b, "weighted_recall,%.6g\n", m->weighted_recall);
    sn_buf_printf(b, "weighted_f1,%.6g\n", m->weighted_f1);
    sn_buf_printf(b, "cross_entropy,%.6g\n", m->mean_xent);
}

typedef struct wrong {
    int index;
    float prob;
} wrong;

static int by_prob_desc(const void *a, const void *b) {
    const wrong *x = a, *y = b;
    if (x->prob != y->prob) return x->prob < y->prob ? 1 : -1;
    return x->index - y->index;
}

static sn_status write_misclassified(const char *dir, const sn_dataset *d, const float *probs,
                                     const int *pred, int K, int max_images, sn_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/misclassified.safetensors", dir);
    int nw = 0;
    wrong *w = malloc((size_t)d->n * sizeof *w);
    if (!w) return sn_fail(err, SN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < d->n; i++)
        if (pred[i] != d->labels[i]) w[nw++] = (wrong){i, probs[(size_t)i * K + pred[i]]};
    qsort(w, (size_t)nw, sizeof *w, by_prob_desc);
    int n = nw < max_images ? nw : max_images;
    if (n == 0) {
        free(w);
        remove(path);
        return SN_OK;
    }
    sn_tensor x = {0}, idx = {0}, tru = {0}, prd = {0}, prb = {0};
    int xs[4] = {n, 0, 0, 0}, one[1] = {n};
    for (int i = 0; i < d->ndim; i++) xs[i + 1] = d->shape[i];
    sn_status s = sn_tensor_alloc(&x, d->ndim + 1, xs, err);
    if (s == SN_OK) s = sn_tensor_alloc(&idx, 1, one, err);
    if (s == SN_OK) s = sn_tensor_alloc(&tru, 1, one, err);
    if (s == SN_OK) s = sn_tensor_alloc(&prd, 1, one, err);
    if (s == SN_OK) s = sn_tensor_alloc(&prb, 1, one, err);
    if (s == SN_OK) {
        for (int i = 0; i < n; i++) {
            int k = w[i].index;
            memcpy(x.data + (size_t)i * d->sample_size, d->x + (size_t)k * d->sample_size,
                   d->sample_size * sizeof(float));
            idx.data[i] = (float)k;
            tru.data[i] = (float)d->labels[k];
            prd.data[i] = (float)pred[k];
            prb.data[i] = w[i].prob;
        }
        const char *names[5] = {"x", "index", "true", "pred", "prob"};
        const sn_tensor *ts[5] = {&x, &idx, &tru, &prd, &prb};
        char total[32];
        snprintf(total, sizeof total, "%d", nw);
        const char *mk[1] = {"misclassified"}, *mv[1] = {total};
        s = sn_st_save(path, 5, names, ts, 1, mk, mv, err);
    }
    sn_tensor_free(&x);
    sn_tensor_free(&idx);
    sn_tensor_free(&tru);
    sn_tensor_free(&prd);
    sn_tensor_free(&prb);
    free(w);
    return s;
}

sn_status sn_run_write_eval(const char *run_dir, sn_model *m, const sn_dataset *d,
                            char *const *names, int max_images, sn_error *err) {
    return sn_run_write_eval_f1(run_dir, m, d, names, max_images, NULL, err);
}

sn_status sn_run_write_eval_f1(const char *run_dir, sn_model *m, const sn_dataset *d,
                               char *const *names, int max_images, double *macro_f1,
                               sn_error *err) {
    int K = sn_model_num_classes(m);
    sn_metrics mt = {0};
    float *probs = sn_alloc((size_t)d->n * (size_t)K, sizeof(float));
    int *pred = sn_alloc((size_t)(d->n > 0 ? d->n : 1), sizeof(int));
    sn_status s = probs && pred ? SN_OK : sn_fail(err, SN_ERR_NOMEM, "out of memory");
    if (s == SN_OK) s = sn_evaluate_metrics(m, d, 256, K > 5 ? 5 : 0, &mt, probs, pred, err);
    sn_buf b = {0};
    char num[16];
    if (s == SN_OK) {
        metrics_csv(&b, &mt);
        s = write_in(run_dir, "metrics.csv", &b, err);
    }
    if (s == SN_OK) {
        b.len = 0;
        sn_buf_puts(&b, "class,name,precision,recall,f1,support\n");
        for (int c = 0; c < K; c++) {
            snprintf(num, sizeof num, "%d", c);
            sn_buf_printf(&b, "%d,", c);
            sn_buf_csv_field(&b, names ? names[c] : num);
            sn_buf_printf(&b, ",%.6g,%.6g,%.6g,%ld\n", mt.precision[c], mt.recall[c], mt.f1[c],
                          mt.support[c]);
        }
        s = write_in(run_dir, "per_class.csv", &b, err);
    }
    if (s == SN_OK) {
        b.len = 0;
        sn_buf_puts(&b, "true");
        for (int c = 0; c < K; c++) sn_buf_printf(&b, ",%d", c);
        sn_buf_puts(&b, "\n");
        for (int t = 0; t < K; t++) {
            sn_buf_printf(&b, "%d", t);
            for (int p = 0; p < K; p++) sn_buf_printf(&b, ",%ld", mt.confusion[(size_t)t * K + p]);
            sn_buf_puts(&b, "\n");
        }
        s = write_in(run_dir, "confusion.csv", &b, err);
    }
    if (s == SN_OK && names) {
        b.len = 0;
        for (int c = 0; c < K; c++) sn_buf_printf(&b, "%s\n", names[c]);
        s = write_in(run_dir, "classes.txt", &b, err);
    }
    if (s == SN_OK) s = write_misclassified(run_dir, d, probs, pred, K, max_images, err);
    if (s == SN_OK && macro_f1) *macro_f1 = mt.macro_f1;
    sn_buf_free(&b);
    sn_metrics_free(&mt);
    sn_free(probs);
    sn_free(pred);
    return s;
}

/* run.txt's data lines (written by the training run): "data", "test",
 * "classes", "task", "label_col", "target_cols", "header", "text". */
sn_status sn_run_data_read(const char *run_dir, sn_run_data *out, sn_error *err) {
    char path[4200];
    sn_keyvals kv = {0};
    memset(out, 0, sizeof *out);
    out->label_col = out->header = -1;
    snprintf(path, sizeof path, "%s/run.txt", run_dir);
    sn_status s = sn_keyvals_read(path, &kv, err);
    if (s != SN_OK) return s;
    const char *test = sn_keyvals_get(&kv, "test"), *data = sn_keyvals_get(&kv, "data"), *v;
    if (!test) test = data;
    struct {
        char *dst;
        size_t len;
        const char *src;
    } text[] = {{out->data, sizeof out->data, test && strcmp(test, "-") != 0 ? test : NULL},
                {out->classes, sizeof out->classes, sn_keyvals_get(&kv, "classes")},
                {out->target_cols, sizeof out->target_cols, sn_keyvals_get(&kv, "target_cols")}};
    for (int i = 0; s == SN_OK && i < 3; i++)
        if (text[i].src && strlen(text[i].src) >= text[i].len)
            s = sn_fail(err, SN_ERR_FORMAT, "%s: a path of more than %zu bytes", path,
                        text[i].len - 1);
        else if (text[i].src)
            memcpy(text[i].dst, text[i].src, strlen(text[i].src) + 1);
    if ((v = sn_keyvals_get(&kv, "label_col"))) out->label_col = atoi(v);
    if ((v = sn_keyvals_get(&kv, "header")) && strcmp(v, "auto") != 0)
        out->header = strcmp(v, "yes") == 0;
    out->text = sn_keyvals_get(&kv, "text") != NULL;
    out->regression = (v = sn_keyvals_get(&kv, "task")) && strcmp(v, "regression") == 0;
    sn_keyvals_free(&kv);
    return s;
}

sn_status sn_run_evaluate(const char *run_dir, const char *data, const sn_data_options *o,
                          const char *classes, sn_error *err) {
    char path[4200];
    sn_model *m = NULL;
    sn_dataset test = {0};
    char **names = NULL;
    int K = 0;
    snprintf(path, sizeof path, "%s/model.safetensors", run_dir);
    sn_status s = sn_model_load(path, &m, err);
    if (s == SN_OK) s = sn_data_load(data, o, NULL, &test, err);
    if (s == SN_OK && !test.labels)
        s = sn_fail(err, SN_ERR_ARG, "%s: no class labels (a regression set)", data);
    if (s == SN_OK) {
        K = sn_model_num_classes(m);
        s = sn_class_names_load(data, classes, &test, K, &names, err);
    }
    if (s == SN_OK) s = sn_run_write_eval(run_dir, m, &test, names, 40, err);
    sn_class_names_free(names, K);
    sn_dataset_free(&test);
    sn_model_free(m);
    return s;
}
