/* Data set lifetime, per-feature standardization and train/validation splits. */
#include "core/error.h"
#include "data/dataset.h"

#include <math.h>
#include <string.h>

/* PCG32 stream used for splits, so they do not share a sequence with
 * initialization or shuffling seeded from the same number. */
#define SPLIT_STREAM 0x73706c6974ULL /* "split" */

sn_status sn_dataset_alloc(sn_dataset *d, int n, int ndim, const int *shape, int num_classes,
                           int num_targets, sn_error *err) {
    memset(d, 0, sizeof *d);
    if (n < 0 || ndim < 1 || ndim > 3 || num_classes < 0 || num_targets < 0 ||
        (num_classes > 0 && num_targets > 0))
        return sn_fail(err, SN_ERR_ARG, "sn_dataset_alloc: n %d, ndim %d, %d classes, %d targets",
                       n, ndim, num_classes, num_targets);
    size_t size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || !sn_mul_ok(size, (size_t)shape[i], &size))
            return sn_fail(err, SN_ERR_ARG, "sn_dataset_alloc: bad sample shape");
        d->shape[i] = shape[i];
    }
    d->n = n, d->ndim = ndim, d->sample_size = size;
    d->num_classes = num_classes, d->num_targets = num_targets;
    size_t count = n ? (size_t)n : 1, values;
    if (sn_mul_ok(count, size, &values)) d->x = sn_alloc(values, sizeof(float));
    if (d->x && num_classes) d->labels = sn_alloc(count, sizeof(int));
    if (d->x && num_targets) d->targets = sn_alloc(count, (size_t)num_targets * sizeof(float));
    if (!d->x || (num_classes && !d->labels) || (num_targets && !d->targets)) {
        sn_dataset_free(d);
        return sn_fail(err, SN_ERR_NOMEM,
                       "sn_dataset_alloc: out of memory for %d samples of %zu values", n, size);
    }
    return SN_OK;
}

void sn_dataset_free(sn_dataset *d) {
    if (!d) return;
    sn_free(d->x);
    sn_free(d->labels);
    sn_free(d->targets);
    memset(d, 0, sizeof *d);
}

/* mean_j = (1/n) sum_i x_ij;  std_j = sqrt((1/n) sum_i (x_ij - mean_j)^2),
 * accumulated in double over two passes. */
sn_status sn_dataset_feature_stats(const sn_dataset *d, float *mean, float *std, sn_error *err) {
    if (!d || !mean || !std || !d->x)
        return sn_fail(err, SN_ERR_ARG, "sn_dataset_feature_stats: NULL argument");
    if (d->n <= 0 || d->sample_size == 0)
        return sn_fail(err, SN_ERR_ARG, "sn_dataset_feature_stats: empty data set");
    size_t f = d->sample_size, n = (size_t)d->n;
    double *acc = sn_alloc(f, sizeof(double));
    if (!acc) return sn_fail(err, SN_ERR_NOMEM, "feature stats: cannot allocate %zu doubles", f);
    for (size_t i = 0; i < n; i++) {
        const float *x = d->x + i * f;
        for (size_t j = 0; j < f; j++) acc[j] += x[j];
    }
    for (size_t j = 0; j < f; j++) {
        mean[j] = (float)(acc[j] / (double)n);
        acc[j] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        const float *x = d->x + i * f;
        for (size_t j = 0; j < f; j++) {
            double dev = (double)x[j] - mean[j];
            acc[j] += dev * dev;
        }
    }
    for (size_t j = 0; j < f; j++) {
        double sd = sqrt(acc[j] / (double)n);
        std[j] = sd > 0 ? (float)sd : 1.0f;
    }
    sn_free(acc);
    return SN_OK;
}

void sn_dataset_standardize(sn_dataset *d, const float *mean, const float *std) {
    size_t f = d->sample_size;
    for (size_t i = 0; i < (size_t)d->n; i++) {
        float *x = d->x + i * f;
        for (size_t j = 0; j < f; j++) x[j] = (x[j] - mean[j]) / (std[j] != 0 ? std[j] : 1.0f);
    }
}

/* Copies the samples i with pick[i] == want, in index order, into *out. */
static sn_status gather(const sn_dataset *all, const unsigned char *pick, unsigned char want,
                        int count, sn_dataset *out, sn_error *err) {
    size_t f = all->sample_size, t = (size_t)all->num_targets;
    *out = *all;
    out->n = count;
    out->x = sn_alloc((size_t)count * f, sizeof(float));
    out->labels = all->labels ? sn_alloc((size_t)count, sizeof(int)) : NULL;
    out->targets = all->targets ? sn_alloc((size_t)count * t, sizeof(float)) : NULL;
    if (!out->x || (all->labels && !out->labels) || (all->targets && !out->targets)) {
        sn_dataset_free(out);
        return sn_fail(err, SN_ERR_NOMEM, "split: cannot allocate %d samples", count);
    }
    size_t k = 0;
    for (size_t i = 0; i < (size_t)all->n; i++) {
        if (pick[i] != want) continue;
        memcpy(out->x + k * f, all->x + i * f, f * sizeof(float));
        if (out->labels) out->labels[k] = all->labels[i];
        if (out->targets) memcpy(out->targets + k * t, all->targets + i * t, t * sizeof(float));
        k++;
    }
    return SN_OK;
}

/* Marks round(frac * m) of idx[0..m) as validation after a shuffle. */
static int mark_val(sn_rng *r, int *idx, int m, double frac, unsigned char *is_val) {
    sn_rng_shuffle(r, idx, m);
    int k = (int)floor(frac * m + 0.5);
    for (int i = m - k; i < m; i++) is_val[idx[i]] = 1;
    return k;
}

sn_status sn_dataset_split(const sn_dataset *all, double frac, int stratified, uint64_t seed,
                           sn_dataset *train, sn_dataset *val, sn_error *err) {
    if (!all || !train || !val || !all->x)
        return sn_fail(err, SN_ERR_ARG, "sn_dataset_split: NULL argument");
    if (!(frac >= 0.0 && frac <= 1.0))
        return sn_fail(err, SN_ERR_ARG, "split: fraction %g not in [0, 1]", frac);
    if (all->n < 0) return sn_fail(err, SN_ERR_ARG, "split: negative sample count");
    if (stratified && (!all->labels || all->num_classes <= 0))
        return sn_fail(err, SN_ERR_ARG, "split: a stratified split needs class labels");
    int n = all->n;
    unsigned char *is_val = sn_alloc((size_t)n, 1);
    int *idx = sn_alloc((size_t)n, sizeof(int));
    if (!is_val || !idx) {
        sn_free(is_val);
        sn_free(idx);
        return sn_fail(err, SN_ERR_NOMEM, "split: cannot allocate an index of %d samples", n);
    }
    sn_status s = SN_OK;
    sn_rng r;
    sn_rng_seed(&r, seed, SPLIT_STREAM);
    int nval = 0;
    if (!stratified) {
        for (int i = 0; i < n; i++) idx[i] = i;
        nval = mark_val(&r, idx, n, frac, is_val);
    } else {
        for (int i = 0; i < n; i++) {
            if (all->labels[i] < 0 || all->labels[i] >= all->num_classes) {
                s = sn_fail(err, SN_ERR_ARG, "split: sample %d has label %d, outside 0..%d", i,
                            all->labels[i], all->num_classes - 1);
                goto done;
            }
        }
        /* Bucket the indices by class (counting sort, stable), then split each
         * bucket in label order: the same seed gives the same split. */
        int k = all->num_classes;
        int *start = sn_alloc((size_t)k + 1, sizeof(int));
        if (!start) {
            s = sn_fail(err, SN_ERR_NOMEM, "split: cannot allocate %d class counts", k);
            goto done;
        }
        for (int i = 0; i < n; i++) start[all->labels[i] + 1]++;
        for (int c = 0; c < k; c++) start[c + 1] += start[c];
        for (int i = 0; i < n; i++) idx[start[all->labels[i]]++] = i;
        for (int c = k; c > 0; c--) start[c] = start[c - 1]; /* back to bucket starts */
        start[0] = 0;
        for (int c = 0; c < k; c++)
            nval += mark_val(&r, idx + start[c], start[c + 1] - start[c], frac, is_val);
        sn_free(start);
    }
    sn_dataset tr, va;
    s = gather(all, is_val, 0, n - nval, &tr, err);
    if (s) goto done;
    s = gather(all, is_val, 1, nval, &va, err);
    if (s) {
        sn_dataset_free(&tr);
        goto done;
    }
    *train = tr;
    *val = va;
done:
    sn_free(is_val);
    sn_free(idx);
    return s;
}
