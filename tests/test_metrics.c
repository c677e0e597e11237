/* Metrics against scikit-learn (tests/parity/fixtures/metrics.txt, written
 * by tests/parity/gen_metrics.py), sn_evaluate_metrics against a softmax
 * computed here in double precision, class names, Gaussian noise. */
#include "check.h"
#include "model/model.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- scikit-learn fixtures ---------------------------------------------- */

typedef struct fixture {
    char name[64];
    int n, K, k;
    int *y, *pred, *support;
    float *scores;
    long *confusion;
    double accuracy, *precision, *recall, *f1, macro[3], weighted[3], topk, logloss;
} fixture;

static int expect_key(FILE *f, const char *key) {
    char word[64];
    if (fscanf(f, "%63s", word) != 1 || strcmp(word, key) != 0) {
        fprintf(stderr, "fixture: expected '%s', got '%s'\n", key, word);
        return 0;
    }
    return 1;
}

static int read_ints(FILE *f, const char *key, int *v, int n) {
    if (!expect_key(f, key)) return 0;
    for (int i = 0; i < n; i++)
        if (fscanf(f, "%d", &v[i]) != 1) return 0;
    return 1;
}

static int read_doubles(FILE *f, const char *key, double *v, int n) {
    if (!expect_key(f, key)) return 0;
    for (int i = 0; i < n; i++)
        if (fscanf(f, "%lf", &v[i]) != 1) return 0;
    return 1;
}

static void fixture_free(fixture *c) {
    free(c->y);
    free(c->pred);
    free(c->support);
    free(c->scores);
    free(c->confusion);
    free(c->precision);
    free(c->recall);
    free(c->f1);
}

/* Reads the next case; 0 at the end of the file. */
static int read_case(FILE *f, fixture *c) {
    memset(c, 0, sizeof *c);
    char word[64];
    if (fscanf(f, "%63s", word) != 1) return 0;
    if (strcmp(word, "case") != 0 || fscanf(f, "%63s %d %d %d", c->name, &c->n, &c->K, &c->k) != 4)
        return -1;
    int n = c->n, K = c->K, *cm = malloc((size_t)K * K * sizeof(int));
    double *sc = malloc((size_t)n * K * sizeof(double));
    c->y = malloc(n * sizeof(int));
    c->pred = malloc(n * sizeof(int));
    c->support = malloc(K * sizeof(int));
    c->scores = malloc((size_t)n * K * sizeof(float));
    c->confusion = malloc((size_t)K * K * sizeof(long));
    c->precision = malloc(K * sizeof(double));
    c->recall = malloc(K * sizeof(double));
    c->f1 = malloc(K * sizeof(double));
    int ok = read_ints(f, "true", c->y, n) && read_ints(f, "pred", c->pred, n) &&
             read_doubles(f, "scores", sc, n * K) && read_ints(f, "confusion", cm, K * K) &&
             read_doubles(f, "accuracy", &c->accuracy, 1) &&
             read_doubles(f, "precision", c->precision, K) &&
             read_doubles(f, "recall", c->recall, K) && read_doubles(f, "f1", c->f1, K) &&
             read_ints(f, "support", c->support, K) && read_doubles(f, "macro", c->macro, 3) &&
             read_doubles(f, "weighted", c->weighted, 3) && read_doubles(f, "topk", &c->topk, 1) &&
             read_doubles(f, "logloss", &c->logloss, 1);
    for (int i = 0; ok && i < n * K; i++) c->scores[i] = (float)sc[i];
    for (int i = 0; ok && i < K * K; i++) c->confusion[i] = cm[i];
    free(cm);
    free(sc);
    return ok ? 1 : -1;
}

static void check_case(const fixture *c) {
    sn_metrics m;
    sn_error err = {0};
    int failed_before = check_fail_count;
    CHECK(sn_metrics_init(&m, c->K, &err) == SN_OK);
    /* In two parts: sn_metrics_add accumulates. */
    int half = c->n / 2;
    CHECK(sn_metrics_add(&m, c->y, c->pred, half, &err) == SN_OK);
    CHECK(sn_metrics_add(&m, c->y + half, c->pred + half, c->n - half, &err) == SN_OK);
    int cm_ok = 1, sup_ok = 1;
    for (int i = 0; i < c->K * c->K; i++) cm_ok &= m.confusion[i] == c->confusion[i];
    for (int i = 0; i < c->K; i++) sup_ok &= m.support[i] == c->support[i];
    CHECK(cm_ok);
    CHECK(sup_ok);
    CHECK(m.n == c->n);
    CHECK_NEAR(m.accuracy, c->accuracy, 1e-12);
    for (int i = 0; i < c->K; i++) {
        CHECK_NEAR(m.precision[i], c->precision[i], 1e-12);
        CHECK_NEAR(m.recall[i], c->recall[i], 1e-12);
        CHECK_NEAR(m.f1[i], c->f1[i], 1e-12);
    }
    CHECK_NEAR(m.macro_precision, c->macro[0], 1e-12);
    CHECK_NEAR(m.macro_recall, c->macro[1], 1e-12);
    CHECK_NEAR(m.macro_f1, c->macro[2], 1e-12);
    CHECK_NEAR(m.weighted_precision, c->weighted[0], 1e-12);
    CHECK_NEAR(m.weighted_recall, c->weighted[1], 1e-12);
    CHECK_NEAR(m.weighted_f1, c->weighted[2], 1e-12);
    CHECK_NEAR(sn_top_k_accuracy(c->scores, c->y, c->n, c->K, c->k), c->topk, 1e-12);
    CHECK_NEAR(sn_mean_cross_entropy(c->scores, c->y, c->n, c->K), c->logloss, 1e-9);
    if (check_fail_count > failed_before) fprintf(stderr, "(case %s)\n", c->name);
    sn_metrics_free(&m);
}

static void test_sklearn_fixtures(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/parity/fixtures/metrics.txt", SN_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    int c, cases = 0;
    while ((c = fgetc(f)) == '#')
        while ((c = fgetc(f)) != '\n' && c != EOF) {
        }
    ungetc(c, f);
    fixture fx;
    int r;
    while ((r = read_case(f, &fx)) == 1) {
        check_case(&fx);
        fixture_free(&fx);
        cases++;
    }
    if (r < 0) fixture_free(&fx);
    CHECK(r == 0);
    CHECK(cases == 6);
    fclose(f);
}

/* ---- by hand and errors ------------------------------------------------- */

static void test_by_hand(void) {
    /* y = 0 0 1 2, ŷ = 0 1 1 1: class 2 never predicted.
     * P = (1, 1/3, 0), R = (1/2, 1, 0), F1 = (2/3, 1/2, 0). */
    int y[4] = {0, 0, 1, 2}, p[4] = {0, 1, 1, 1};
    sn_metrics m;
    sn_error err = {0};
    CHECK(sn_metrics_init(&m, 3, &err) == SN_OK);
    CHECK(isnan(m.accuracy) && isnan(m.mean_xent) && m.top_k == 0);
    CHECK(sn_metrics_add(&m, y, p, 4, &err) == SN_OK);
    CHECK_NEAR(m.accuracy, 0.5, 1e-15);
    CHECK_NEAR(m.precision[1], 1.0 / 3, 1e-15);
    CHECK(m.precision[2] == 0 && m.recall[2] == 0 && m.f1[2] == 0);
    CHECK_NEAR(m.f1[0], 2.0 / 3, 1e-15);
    CHECK_NEAR(m.f1[1], 0.5, 1e-15);
    CHECK_NEAR(m.macro_f1, (2.0 / 3 + 0.5) / 3, 1e-15);
    CHECK_NEAR(m.weighted_f1, (2 * 2.0 / 3 + 0.5) / 4, 1e-15);
    int bad_y[1] = {3}, ok_p[1] = {0};
    CHECK(sn_metrics_add(&m, bad_y, ok_p, 1, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "outside") != NULL);
    CHECK(m.n == 4); /* unchanged */
    sn_metrics_free(&m);
    CHECK(sn_metrics_init(&m, 0, &err) == SN_ERR_ARG);
}

/* ---- the model-level evaluation ----------------------------------------- */

static void test_evaluate(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 2\ndense 3\nloss softmax_xent\n", "t", 1, &m, &err) == SN_OK);
    if (!m) return;
    float *W = m->layers[0]->params[0].value.data, *b = m->layers[0]->params[1].value.data;
    const float w[6] = {1, -1, -1, 2, 0.5f, 0.5f}, bias[3] = {0, 0.1f, -0.2f};
    memcpy(W, w, sizeof w);
    memcpy(b, bias, sizeof bias);
    enum { N = 37 };
    sn_dataset d = {0};
    d.n = N;
    d.ndim = 1;
    d.shape[0] = 2;
    d.sample_size = 2;
    d.num_classes = 3;
    d.x = malloc(N * 2 * sizeof(float));
    d.labels = malloc(N * sizeof(int));
    sn_rng r;
    sn_rng_seed(&r, 5, 0);
    long cm[9] = {0};
    double xent = 0;
    for (int i = 0; i < N; i++) {
        d.x[2 * i] = sn_rng_normal(&r);
        d.x[2 * i + 1] = sn_rng_normal(&r);
        d.labels[i] = (int)sn_rng_below(&r, 3);
        double z[3], zmax = -INFINITY, sum = 0;
        int best = 0;
        for (int k = 0; k < 3; k++) {
            z[k] = (double)w[2 * k] * d.x[2 * i] + (double)w[2 * k + 1] * d.x[2 * i + 1] + bias[k];
            if (z[k] > zmax) zmax = z[k], best = k;
        }
        for (int k = 0; k < 3; k++) sum += exp(z[k] - zmax);
        xent -= z[d.labels[i]] - zmax - log(sum);
        cm[d.labels[i] * 3 + best]++;
    }
    xent /= N;
    sn_metrics mt;
    float probs[N * 3];
    int pred[N];
    /* Batch 8 does not divide 37: the last batch is partial. */
    CHECK(sn_evaluate_metrics(m, &d, 8, 2, &mt, probs, pred, &err) == SN_OK);
    int same = 1;
    for (int i = 0; i < 9; i++) same &= mt.confusion[i] == cm[i];
    CHECK(same);
    CHECK_NEAR(mt.mean_xent, xent, 1e-5);
    CHECK(mt.top_k == 2 && mt.top_k_accuracy >= mt.accuracy);
    double rowsum = probs[0] + probs[1] + probs[2];
    CHECK_NEAR(rowsum, 1.0, 1e-6);
    sn_metrics_free(&mt);
    /* Labels beyond the model's classes are an error. */
    d.labels[3] = 3;
    CHECK(sn_evaluate_metrics(m, &d, 8, 0, &mt, NULL, NULL, &err) == SN_ERR_SHAPE);
    d.labels[3] = 0;
    sn_model_free(m);

    /* One sigmoid output counts as two classes, class 1 when p > 0.5. */
    CHECK(sn_model_from_spec("input 2\ndense 1\nsigmoid\nloss bce\n", "t", 1, &m, &err) == SN_OK);
    if (!m) return;
    m->layers[0]->params[0].value.data[0] = 1;
    m->layers[0]->params[0].value.data[1] = 0;
    m->layers[0]->params[1].value.data[0] = 0;
    d.num_classes = 2;
    long c2[4] = {0};
    for (int i = 0; i < N; i++) {
        d.labels[i] = i % 2;
        c2[d.labels[i] * 2 + (d.x[2 * i] > 0)]++;
    }
    CHECK(sn_model_num_classes(m) == 2);
    CHECK(sn_evaluate_metrics(m, &d, 16, 0, &mt, probs, NULL, &err) == SN_OK);
    CHECK(mt.num_classes == 2 && mt.confusion[0] == c2[0] && mt.confusion[1] == c2[1] &&
          mt.confusion[2] == c2[2] && mt.confusion[3] == c2[3]);
    CHECK_NEAR(probs[0] + probs[1], 1.0, 1e-6);
    CHECK_NEAR(probs[1], 1 / (1 + exp(-(double)d.x[0])), 1e-6);
    sn_metrics_free(&mt);
    sn_model_free(m);
    free(d.x);
    free(d.labels);
}

/* ---- class names -------------------------------------------------------- */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_class_names(void) {
    char tmpl[] = "/tmp/sn_classes_XXXXXX", dir[256], path[300];
    char *root = mkdtemp(tmpl);
    CHECK(root != NULL);
    if (!root) return;
    sn_error err = {0};
    char **names = NULL;
    sn_dataset img = {0};
    img.ndim = 3;
    img.shape[0] = 1, img.shape[1] = 28, img.shape[2] = 28;
    img.sample_size = 784;

    /* A folder called *fashion*: the ten built-in names. */
    snprintf(dir, sizeof dir, "%s/Fashion-MNIST/", root);
    mkdir(dir, 0777);
    CHECK(sn_class_names_load(dir, NULL, &img, 10, &names, &err) == SN_OK);
    CHECK(names && strcmp(names[0], "T-shirt/top") == 0 && strcmp(names[9], "Ankle boot") == 0);
    sn_class_names_free(names, 10);
    /* The same shapes in a folder called mnist: numbers. */
    snprintf(dir, sizeof dir, "%s/mnist", root);
    mkdir(dir, 0777);
    CHECK(sn_class_names_load(dir, NULL, &img, 10, &names, &err) == SN_OK);
    CHECK(names && strcmp(names[0], "0") == 0 && strcmp(names[9], "9") == 0);
    sn_class_names_free(names, 10);
    /* Fashion's names need 10 classes of 784 values. */
    snprintf(dir, sizeof dir, "%s/Fashion-MNIST", root);
    CHECK(sn_class_names_load(dir, NULL, &img, 5, &names, &err) == SN_OK);
    CHECK(names && strcmp(names[4], "4") == 0);
    sn_class_names_free(names, 5);
    /* classes.txt in the folder overrides. */
    snprintf(path, sizeof path, "%s/classes.txt", dir);
    write_file(path, "zero\r\none\n two \nthree\nfour\nfive\nsix\nseven\neight\nnine\n\n\n");
    CHECK(sn_class_names_load(dir, NULL, &img, 10, &names, &err) == SN_OK);
    CHECK(names && strcmp(names[0], "zero") == 0 && strcmp(names[2], "two") == 0);
    sn_class_names_free(names, 10);
    /* Wrong counts and holes are errors naming the file. */
    CHECK(sn_class_names_load(dir, NULL, &img, 11, &names, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "classes.txt: 10 class names, the data has 11 classes") != NULL);
    CHECK(names == NULL);
    CHECK(sn_class_names_load(dir, NULL, &img, 9, &names, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "classes.txt:10: more than 9") != NULL);
    snprintf(path, sizeof path, "%s/holes.txt", root);
    write_file(path, "a\n\nb\n");
    CHECK(sn_class_names_load(dir, path, &img, 2, &names, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "holes.txt:3: empty class name") != NULL);
    /* An explicit file wins over everything. */
    write_file(path, "cat\ndog\n");
    CHECK(sn_class_names_load(dir, path, &img, 2, &names, &err) == SN_OK);
    CHECK(names && strcmp(names[1], "dog") == 0);
    sn_class_names_free(names, 2);
    snprintf(path, sizeof path, "%s/none.txt", root);
    CHECK(sn_class_names_load(dir, path, &img, 2, &names, &err) == SN_ERR_IO);
    /* CIFAR-10's batches.meta.txt, in the folder or one level down. */
    snprintf(dir, sizeof dir, "%s/cifar/cifar-10-batches-bin", root);
    snprintf(path, sizeof path, "%s/cifar", root);
    mkdir(path, 0777);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/batches.meta.txt", dir);
    write_file(path, "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
    snprintf(path, sizeof path, "%s/cifar", root);
    CHECK(sn_class_names_load(path, NULL, NULL, 10, &names, &err) == SN_OK);
    CHECK(names && strcmp(names[9], "truck") == 0);
    sn_class_names_free(names, 10);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

/* ---- noise -------------------------------------------------------------- */

static void test_noise(void) {
    enum { N = 200000 };
    float *x = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) x[i] = 0.5f;
    sn_rng r;
    sn_rng_seed(&r, 3, 1);
    sn_add_gaussian_noise(x, N, 0.1f, &r, 0);
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++) mean += x[i];
    mean /= N;
    for (int i = 0; i < N; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= N - 1;
    CHECK(fabs(mean - 0.5) < 4 * 0.1 / sqrt(N)); /* 4 standard errors */
    CHECK(fabs(sqrt(var) - 0.1) < 0.002);
    /* Clipped: everything in [0, 1], and the share at 1 is P(z > 2.5). */
    for (int i = 0; i < N; i++) x[i] = 0.5f;
    sn_rng_seed(&r, 3, 1);
    sn_add_gaussian_noise(x, N, 0.2f, &r, 1);
    int in_range = 1, ones = 0;
    for (int i = 0; i < N; i++) {
        in_range &= x[i] >= 0 && x[i] <= 1;
        ones += x[i] == 1.0f;
    }
    CHECK(in_range);
    double tail = 0.5 * erfc(2.5 / sqrt(2.0));
    CHECK(fabs((double)ones / N - tail) < 5 * sqrt(tail / N));
    /* The same seed gives the same noise. */
    float a[4] = {0}, b[4] = {0};
    sn_rng_seed(&r, 9, 2);
    sn_add_gaussian_noise(a, 4, 1, &r, 0);
    sn_rng_seed(&r, 9, 2);
    sn_add_gaussian_noise(b, 4, 1, &r, 0);
    CHECK(memcmp(a, b, sizeof a) == 0 && a[0] != 0);
    free(x);
}

int main(void) {
    test_sklearn_fixtures();
    test_by_hand();
    test_evaluate();
    test_class_names();
    test_noise();
    return check_report();
}
