/* The input pipeline a model carries: what was done to its training inputs
 * is done again to every input it is given, and saved with its weights.
 *
 *   standardization   x' = (x − mean) / std per feature, the statistics of
 *                     the training part (after the validation split); applied
 *                     by sn_model_forward, so evaluation, prediction and every
 *                     caller see what training saw. Saved as the tensors
 *                     preprocess.mean and preprocess.std ([F]).
 *   input range       the smallest and largest training input, before
 *                     standardization: __metadata__ "input.range" = "LO HI".
 *                     Data far outside it (another unit, raw 0–255 pixels
 *                     given to a model trained on [0, 1]) is refused by
 *                     sn_model_check_input.
 *   pixel scaling     the IDX and CIFAR-10 readers scale 8-bit pixels to
 *                     [0, 1]; a model trained on such data says so:
 *                     "input.scale" = "1/255".
 *   class names       "classes": one name per line, in label order.
 *
 * The validation split lives here too (sn_train_split): sn_train makes it
 * when given no validation set, and the command line calls the same code. */
#include "data/pipeline.h"

#include "core/error.h"
#include "core/threads.h"
#include "model/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sn_preprocess_free(sn_preprocess *p) {
    if (!p) return;
    sn_free(p->mean);
    sn_free(p->std);
    sn_class_names_free(p->classes, p->nclasses);
    sn_free(p);
}

/* The same expression as sn_dataset_standardize: both give the same floats. */
typedef struct {
    const sn_preprocess *p;
    float *x;
    int n, chunks;
} apply_job;

static void apply_rows(void *ctx, int c) {
    const apply_job *j = ctx;
    const size_t f = j->p->size;
    const float *mean = j->p->mean, *std = j->p->std;
    size_t i0 = (size_t)((long)j->n * c / j->chunks),
           i1 = (size_t)((long)j->n * (c + 1) / j->chunks);
    for (size_t i = i0; i < i1; i++) {
        float *r = j->x + i * f;
        for (size_t j = 0; j < f; j++) r[j] = (r[j] - mean[j]) / (std[j] != 0 ? std[j] : 1.0f);
    }
}

/* A batch of inputs takes a division per value (about 25 us for 128 images
 * of 28 x 28 on one core), serial work before the first layer of every
 * training step: rows go in chunks of the thread team, cut as the batch
 * gather cuts them (sn_gather_rows: at least APPLY_CHUNK values a chunk, no
 * more chunks than threads), so each thread standardizes the rows it has
 * just copied. Each value is computed alone: the bits do not depend on the
 * cut. */
#define APPLY_CHUNK ((size_t)1 << 13)

void sn_preprocess_apply(const sn_preprocess *p, float *x, int n) {
    if (!p || !p->mean || n < 1) return;
    size_t c = (size_t)n * p->size / APPLY_CHUNK, t = (size_t)sn_get_threads();
    if (c > t) c = t;
    if (c > (size_t)n) c = (size_t)n;
    apply_job j = {p, x, n, c < 1 ? 1 : (int)c};
    if (j.chunks == 1)
        apply_rows(&j, 0);
    else
        sn_parallel(j.chunks, apply_rows, &j);
}

static sn_preprocess *get_pre(sn_model *m, sn_error *err) {
    if (!m->pre && !(m->pre = sn_alloc(1, sizeof *m->pre)))
        sn_fail(err, SN_ERR_NOMEM, "out of memory");
    return m->pre;
}

sn_status sn_train_split(const sn_model *m, const sn_dataset *all, sn_dataset *train,
                         sn_dataset *val, sn_error *err) {
    if (!m || !all || !train || !val)
        return sn_fail(err, SN_ERR_ARG, "sn_train_split: NULL argument");
    return sn_dataset_split(all, m->cfg.val_split, all->labels != NULL, m->cfg.seed, train, val,
                            err);
}

sn_status sn_model_fit_input(sn_model *m, const sn_dataset *train, sn_error *err) {
    if (!m || !train || !train->x)
        return sn_fail(err, SN_ERR_ARG, "sn_model_fit_input: NULL argument");
    size_t f = sn_model_input_size(m);
    if (train->sample_size != f)
        return sn_fail(err, SN_ERR_SHAPE,
                       "training set: samples have %zu values, the model's input takes %zu",
                       train->sample_size, f);
    if (train->n < 1) return sn_fail(err, SN_ERR_ARG, "training set is empty");
    sn_preprocess *p = get_pre(m, err);
    if (!p) return SN_ERR_NOMEM;
    float *mean = NULL, *sd = NULL;
    if (m->cfg.standardize) {
        mean = sn_alloc(f, sizeof(float));
        sd = sn_alloc(f, sizeof(float));
        sn_status s = mean && sd ? sn_dataset_feature_stats(train, mean, sd, err)
                                 : sn_fail(err, SN_ERR_NOMEM, "standardization: out of memory");
        if (s != SN_OK) {
            sn_free(mean);
            sn_free(sd);
            return s;
        }
    }
    sn_free(p->mean);
    sn_free(p->std);
    p->mean = mean;
    p->std = sd;
    p->size = f;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < (size_t)train->n * f; i++) {
        float v = train->x[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    p->has_range = isfinite(lo) && isfinite(hi);
    p->lo = lo;
    p->hi = hi;
    p->pixels = train->pixels;
    p->fitted = 1;
    return SN_OK;
}

sn_status sn_train_prepare(sn_model *m, const sn_dataset **train, const sn_dataset **val,
                           sn_dataset *own_train, sn_dataset *own_val, sn_error *err) {
    memset(own_train, 0, sizeof *own_train);
    memset(own_val, 0, sizeof *own_val);
    sn_status s = SN_OK;
    if (!*val && m->cfg.val_split > 0 && (*train)->x) {
        s = sn_train_split(m, *train, own_train, own_val, err);
        if (s != SN_OK) return s;
        *train = own_train;
        *val = own_val->n ? own_val : NULL;
    }
    if ((!m->pre || !m->pre->fitted) && (*train)->x && (*train)->n > 0 &&
        (*train)->sample_size == sn_model_input_size(m))
        s = sn_model_fit_input(m, *train, err);
    return s;
}

static void shape_text(char *buf, size_t len, int ndim, const int *shape) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? "x%d" : "%d", shape[i]);
}

sn_status sn_model_check_input(const sn_model *m, const sn_dataset *d, const char *name,
                               sn_error *err) {
    if (!m || !d) return sn_fail(err, SN_ERR_ARG, "sn_model_check_input: NULL argument");
    if (!name) name = "data";
    size_t f = sn_model_input_size(m);
    if (d->sample_size != f)
        return sn_fail(err, SN_ERR_SHAPE,
                       "%s: samples have %zu values, the model's input takes %zu", name,
                       d->sample_size, f);
    int same = d->ndim == m->in_ndim;
    for (int i = 0; same && i < d->ndim; i++) same = d->shape[i] == m->in_shape[i];
    if (d->ndim > 1 && !same) { /* images of another layout; a flat row is taken as is */
        char a[48], b[48];
        shape_text(a, sizeof a, d->ndim, d->shape);
        shape_text(b, sizeof b, m->in_ndim, m->in_shape);
        return sn_fail(err, SN_ERR_SHAPE, "%s: samples are %s, the model's input is %s", name, a,
                       b);
    }
    const sn_preprocess *p = m->pre;
    if (!p || !p->has_range || !d->x) return SN_OK;
    if (d->pixels && !p->pixels && p->hi > 2)
        return sn_fail(err, SN_ERR_ARG,
                       "%s: pixels scaled to [0, 1], but the model was trained on values in "
                       "[%g, %g] (unscaled data?)",
                       name, (double)p->lo, (double)p->hi);
    /* A margin of the range's own width on each side: noise and new samples
     * pass, another unit or unscaled pixels do not. */
    double w = (double)p->hi - (double)p->lo;
    if (!(w > 0)) w = fabs((double)p->hi) > 1 ? fabs((double)p->hi) : 1;
    double lo = p->lo - w, hi = p->hi + w;
    for (size_t i = 0; i < (size_t)d->n * f; i++) {
        double v = d->x[i];
        if (!(v >= lo && v <= hi))
            return sn_fail(err, SN_ERR_ARG,
                           "%s: sample %zu, value %zu is %g, outside the range the model was "
                           "trained on ([%g, %g]; accepted: [%g, %g])%s",
                           name, i / f, i % f, v, (double)p->lo, (double)p->hi, lo, hi,
                           p->pixels ? "; the model was trained on 8-bit pixels scaled to [0, 1] "
                                       "(IDX, CIFAR-10): give pixels as value / 255"
                                     : "");
    }
    return SN_OK;
}

sn_status sn_model_set_class_names(sn_model *m, char *const *names, int K, sn_error *err) {
    if (!m || K < 0 || (K > 0 && !names))
        return sn_fail(err, SN_ERR_ARG, "sn_model_set_class_names: bad argument");
    if (K && K != sn_model_num_classes(m))
        return sn_fail(err, SN_ERR_ARG, "%d class names for a model of %d classes", K,
                       sn_model_num_classes(m));
    for (int k = 0; k < K; k++)
        if (!names[k] || strchr(names[k], '\n'))
            return sn_fail(err, SN_ERR_ARG, "class %d: a name must be one line", k);
    char **copy = K ? calloc((size_t)K, sizeof *copy) : NULL;
    for (int k = 0; copy && k < K; k++) {
        if (!(copy[k] = strdup(names[k]))) {
            sn_class_names_free(copy, K);
            copy = NULL;
        }
    }
    if (K && !copy) return sn_fail(err, SN_ERR_NOMEM, "class names: out of memory");
    sn_preprocess *p = get_pre(m, err);
    if (!p) {
        sn_class_names_free(copy, K);
        return SN_ERR_NOMEM;
    }
    sn_class_names_free(p->classes, p->nclasses);
    p->classes = copy;
    p->nclasses = K;
    return SN_OK;
}

char *const *sn_model_class_names(const sn_model *m) {
    return m && m->pre ? m->pre->classes : NULL;
}

int sn_model_standardizes(const sn_model *m) {
    return m && m->pre && m->pre->mean;
}

/* ---- in model files ------------------------------------------------------ */

int sn_preprocess_is_tensor(const char *name) {
    return strcmp(name, "preprocess.mean") == 0 || strcmp(name, "preprocess.std") == 0;
}

sn_status sn_preprocess_describe(const sn_preprocess *p, const char **names,
                                 const sn_tensor **tensors, sn_tensor *views, int *n,
                                 const char **keys, const char **values, int *nmeta, char *buf,
                                 size_t len, sn_error *err) {
    if (!p) return SN_OK;
    if (p->mean) {
        int shape[1] = {(int)p->size};
        views[0] = sn_tensor_view(p->mean, 1, shape);
        views[1] = sn_tensor_view(p->std, 1, shape);
        names[*n] = "preprocess.mean";
        tensors[(*n)++] = &views[0];
        names[*n] = "preprocess.std";
        tensors[(*n)++] = &views[1];
    }
    size_t k = 0;
    if (p->has_range) {
        keys[*nmeta] = "input.range";
        values[(*nmeta)++] = buf + k;
        k += (size_t)snprintf(buf + k, len - k, "%.9g %.9g", (double)p->lo, (double)p->hi) + 1;
    }
    if (p->pixels) {
        keys[*nmeta] = "input.scale";
        values[(*nmeta)++] = "1/255";
    }
    if (p->nclasses > 0) {
        keys[*nmeta] = "classes";
        values[(*nmeta)++] = buf + k;
        for (int c = 0; c < p->nclasses; c++) {
            size_t need = strlen(p->classes[c]) + 1;
            if (k + need + 1 > len)
                return sn_fail(err, SN_ERR_ARG, "class names: longer than %zu bytes in all", len);
            k += (size_t)snprintf(buf + k, len - k, c ? "\n%s" : "%s", p->classes[c]);
        }
        k++;
    }
    return SN_OK;
}

size_t sn_preprocess_text_size(const sn_preprocess *p) {
    size_t n = 64;
    for (int c = 0; p && c < p->nclasses; c++) n += strlen(p->classes[c]) + 1;
    return n;
}

static int parse_float(const char *s, char **end, float *out) {
    errno = 0;
    double v = strtod(s, end);
    if (*end == s || errno || !isfinite(v)) return 0;
    *out = (float)v;
    return 1;
}

/* All or nothing: everything is checked and allocated before m's input
 * pipeline is changed. */
sn_status sn_preprocess_read(sn_model *m, const sn_st_file *f, const char *path, sn_error *err) {
    size_t size = sn_model_input_size(m);
    const sn_st_entry *mean = sn_st_find(f, "preprocess.mean"),
                      *sd = sn_st_find(f, "preprocess.std");
    const char *range = sn_st_meta(f, "input.range"), *scale = sn_st_meta(f, "input.scale");
    const char *classes = sn_st_meta(f, "classes");
    if (!mean && !sd && !range && !scale && !classes) return SN_OK; /* none recorded */
    if (!mean != !sd)
        return sn_fail(err, SN_ERR_FORMAT, "%s: preprocess.%s without preprocess.%s", path,
                       mean ? "mean" : "std", mean ? "std" : "mean");
    if (mean && (mean->ndim != 1 || mean->size != size || sd->ndim != 1 || sd->size != size))
        return sn_fail(err, SN_ERR_SHAPE,
                       "%s: preprocess.mean and preprocess.std must have shape [%zu] (the model's "
                       "input size)",
                       path, size);
    float lo = 0, hi = 0;
    if (range) {
        char *end;
        if (!parse_float(range, &end, &lo) || !parse_float(end, &end, &hi) || *end || !(lo <= hi))
            return sn_fail(err, SN_ERR_FORMAT,
                           "%s: __metadata__ input.range: expected 'LO HI', got '%.40s'", path,
                           range);
    }
    if (scale && strcmp(scale, "1/255") != 0)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: __metadata__ input.scale: expected '1/255', got '%.40s'", path, scale);
    int K = sn_model_num_classes(m);
    if (classes) {
        int n = 1;
        for (const char *c = classes; *c; c++) n += *c == '\n';
        if (n != K)
            return sn_fail(err, SN_ERR_FORMAT,
                           "%s: __metadata__ classes: %d names for a model of %d classes", path, n,
                           K);
    }
    float *mean_copy = NULL, *std_copy = NULL;
    char **names = NULL;
    int ok = 1;
    if (mean) {
        mean_copy = sn_alloc(size, sizeof(float));
        std_copy = sn_alloc(size, sizeof(float));
        ok = mean_copy && std_copy;
    }
    if (ok && classes) {
        ok = (names = calloc((size_t)K, sizeof *names)) != NULL;
        const char *c = classes;
        for (int k = 0; ok && k < K; k++) {
            size_t l = strcspn(c, "\n");
            ok = (names[k] = strndup(c, l)) != NULL;
            c += l + (c[l] == '\n');
        }
    }
    sn_preprocess *p = ok ? get_pre(m, err) : NULL;
    if (!p) {
        sn_free(mean_copy);
        sn_free(std_copy);
        sn_class_names_free(names, names ? K : 0);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    }
    p->size = size;
    p->fitted = 1;
    if (mean) {
        memcpy(mean_copy, mean->data, size * sizeof(float));
        memcpy(std_copy, sd->data, size * sizeof(float));
        sn_free(p->mean);
        sn_free(p->std);
        p->mean = mean_copy;
        p->std = std_copy;
    }
    if (range) {
        p->lo = lo;
        p->hi = hi;
        p->has_range = 1;
    }
    if (scale) p->pixels = 1;
    if (classes) {
        sn_class_names_free(p->classes, p->nclasses);
        p->classes = names;
        p->nclasses = K;
    }
    return SN_OK;
}
