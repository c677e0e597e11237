/* Data sets: feature statistics, standardization, seeded (stratified) splits. */
#include "check.h"
#include "core/error.h"
#include "data/dataset.h"
#include "data/pipeline.h"

#include <string.h>

/* n samples of 2 features: x = [i, 5]; label = class_of(i); target = -i. */
static sn_dataset make(int n, int classes, int regression) {
    sn_dataset d = {0};
    d.n = n;
    d.ndim = 1;
    d.shape[0] = 2;
    d.shape[1] = d.shape[2] = 1;
    d.sample_size = 2;
    d.x = sn_alloc((size_t)n * 2, sizeof(float));
    for (int i = 0; i < n; i++) {
        d.x[2 * i] = (float)i;
        d.x[2 * i + 1] = 5.0f;
    }
    if (regression) {
        d.targets = sn_alloc((size_t)n, sizeof(float));
        d.num_targets = 1;
        for (int i = 0; i < n; i++) d.targets[i] = (float)-i;
    } else {
        d.labels = sn_alloc((size_t)n, sizeof(int));
        d.num_classes = classes;
        /* Unbalanced classes: class c gets a share growing with c. */
        for (int i = 0; i < n; i++) d.labels[i] = (i * i) % classes;
    }
    return d;
}

static void test_stats(void) {
    sn_dataset d = make(4, 2, 0);
    float mean[2], std[2];
    sn_error e = {0};
    CHECK(sn_dataset_feature_stats(&d, mean, std, &e) == SN_OK);
    CHECK_NEAR(mean[0], 1.5, 1e-7);
    CHECK_NEAR(std[0], 1.118033988749895, 1e-6); /* sqrt(1.25), population std */
    CHECK(mean[1] == 5.0f && std[1] == 1.0f);    /* constant feature: std taken as 1 */
    sn_dataset_standardize(&d, mean, std);
    CHECK_NEAR(d.x[0], -1.5 / 1.118033988749895, 1e-6);
    CHECK_NEAR(d.x[6], 1.5 / 1.118033988749895, 1e-6);
    CHECK(d.x[1] == 0.0f && d.x[7] == 0.0f);
    /* After standardizing: mean 0, std 1. */
    CHECK(sn_dataset_feature_stats(&d, mean, std, &e) == SN_OK);
    CHECK_NEAR(mean[0], 0.0, 1e-6);
    CHECK_NEAR(std[0], 1.0, 1e-6);
    sn_dataset_free(&d);
    sn_dataset_free(&d); /* twice is harmless */
    sn_dataset_free(NULL);
    sn_dataset empty = {0};
    CHECK(sn_dataset_feature_stats(&empty, mean, std, &e) == SN_ERR_ARG);
}

/* Each sample of `all` (identified by x[0] = index) appears in exactly one of
 * train, val, with its label and target carried along. */
static int partition_ok(const sn_dataset *all, const sn_dataset *tr, const sn_dataset *va) {
    int *seen = sn_alloc((size_t)all->n, sizeof(int));
    int ok = tr->n + va->n == all->n;
    const sn_dataset *parts[2] = {tr, va};
    for (int p = 0; p < 2; p++) {
        int prev = -1;
        for (int i = 0; i < parts[p]->n; i++) {
            int id = (int)parts[p]->x[2 * i];
            ok &= id >= 0 && id < all->n && id > prev; /* original order kept */
            if (!ok) break;
            prev = id;
            seen[id]++;
            ok &= parts[p]->x[2 * i + 1] == 5.0f;
            if (all->labels) ok &= parts[p]->labels[i] == all->labels[id];
            if (all->targets) ok &= parts[p]->targets[i] == all->targets[id];
        }
    }
    for (int i = 0; ok && i < all->n; i++) ok &= seen[i] == 1;
    sn_free(seen);
    return ok;
}

static int same(const sn_dataset *a, const sn_dataset *b) {
    return a->n == b->n && memcmp(a->x, b->x, (size_t)a->n * 2 * sizeof(float)) == 0;
}

static void test_split(void) {
    sn_error e = {0};
    sn_dataset all = make(1000, 7, 0), tr, va, tr2, va2;
    CHECK(sn_dataset_split(&all, 0.2, 0, 42, &tr, &va, &e) == SN_OK);
    CHECK(va.n == 200 && tr.n == 800);
    CHECK(tr.num_classes == 7 && va.num_classes == 7 && tr.ndim == 1 && va.sample_size == 2);
    CHECK(partition_ok(&all, &tr, &va));
    CHECK(sn_dataset_split(&all, 0.2, 0, 42, &tr2, &va2, &e) == SN_OK);
    CHECK(same(&tr, &tr2) && same(&va, &va2));
    sn_dataset_free(&tr2);
    sn_dataset_free(&va2);
    CHECK(sn_dataset_split(&all, 0.2, 0, 43, &tr2, &va2, &e) == SN_OK);
    CHECK(!same(&va, &va2));
    sn_dataset_free(&tr2);
    sn_dataset_free(&va2);
    sn_dataset_free(&tr);
    sn_dataset_free(&va);

    /* Stratified: per class, round(0.3 * count) go to val. */
    CHECK(sn_dataset_split(&all, 0.3, 1, 7, &tr, &va, &e) == SN_OK);
    CHECK(partition_ok(&all, &tr, &va));
    int count[7] = {0}, vcount[7] = {0}, want_val = 0;
    for (int i = 0; i < all.n; i++) count[all.labels[i]]++;
    for (int i = 0; i < va.n; i++) vcount[va.labels[i]]++;
    int props = 1;
    for (int c = 0; c < 7; c++) {
        int k = (int)(0.3 * count[c] + 0.5);
        props &= vcount[c] == k;
        want_val += k;
    }
    CHECK(props && va.n == want_val);
    CHECK(count[0] != count[1]); /* the classes really are unbalanced */
    CHECK(sn_dataset_split(&all, 0.3, 1, 7, &tr2, &va2, &e) == SN_OK);
    CHECK(same(&tr, &tr2) && same(&va, &va2));
    sn_dataset_free(&tr2);
    sn_dataset_free(&va2);
    sn_dataset_free(&tr);
    sn_dataset_free(&va);

    /* Edges: frac 0 and 1. */
    CHECK(sn_dataset_split(&all, 0.0, 1, 1, &tr, &va, &e) == SN_OK);
    CHECK(tr.n == 1000 && va.n == 0 && partition_ok(&all, &tr, &va));
    sn_dataset_free(&tr);
    sn_dataset_free(&va);
    CHECK(sn_dataset_split(&all, 1.0, 0, 1, &tr, &va, &e) == SN_OK);
    CHECK(tr.n == 0 && va.n == 1000);
    sn_dataset_free(&tr);
    sn_dataset_free(&va);

    /* Errors. */
    CHECK(sn_dataset_split(&all, 1.5, 0, 1, &tr, &va, &e) == SN_ERR_ARG && strstr(e.msg, "1.5"));
    all.labels[3] = 7;
    CHECK(sn_dataset_split(&all, 0.5, 1, 1, &tr, &va, &e) == SN_ERR_ARG &&
          strstr(e.msg, "sample 3 has label 7"));
    sn_dataset_free(&all);

    /* Regression sets split too (targets carried along); stratified needs labels. */
    all = make(50, 0, 1);
    CHECK(sn_dataset_split(&all, 0.1, 0, 3, &tr, &va, &e) == SN_OK);
    CHECK(va.n == 5 && tr.n == 45 && tr.num_targets == 1 && partition_ok(&all, &tr, &va));
    sn_dataset_free(&tr);
    sn_dataset_free(&va);
    CHECK(sn_dataset_split(&all, 0.1, 1, 3, &tr, &va, &e) == SN_ERR_ARG && strstr(e.msg, "labels"));
    sn_dataset_free(&all);
}

/* A model's standardization of a batch (sn_preprocess_apply), in chunks of
 * the thread team when the batch is large: the floats of
 * sn_dataset_standardize on one thread, for every row and feature (a
 * feature with std 0 is divided by 1), whatever the number of rows. */
static void test_preprocess_threads(void) {
    enum { F = 784, N = 128 };
    static float mean[F], sd[F], x[N * F], want[N * F];
    sn_rng r;
    sn_rng_seed(&r, 9, 1);
    for (int j = 0; j < F; j++) {
        mean[j] = sn_rng_uniform(&r);
        sd[j] = j % 7 == 0 ? 0.0f : 0.1f + sn_rng_uniform(&r);
    }
    sn_preprocess p = {.size = F, .mean = mean, .std = sd};
    int rows[] = {1, 5, 11, 127, N};
    for (int t = 1; t <= 2; t++)
        for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
            int n = rows[k];
            for (int i = 0; i < n * F; i++) x[i] = want[i] = sn_rng_uniform(&r);
            sn_dataset d = {.x = want, .n = n, .sample_size = F};
            sn_set_threads(1);
            sn_dataset_standardize(&d, mean, sd);
            sn_set_threads(t);
            sn_preprocess_apply(&p, x, n);
            CHECK(memcmp(x, want, (size_t)n * F * sizeof(float)) == 0);
        }
    sn_set_threads(0);
}

int main(void) {
    test_stats();
    test_split();
    test_preprocess_threads();
    return check_report();
}
