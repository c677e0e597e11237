/* Public functions the CLI's verbs use beyond models and training, through
 * include/scratchnet.h alone. */
#include "check.h"
#include "scratchnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void write_file(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* sn_run_data_read: run.txt's data lines, "" and -1 for what it lacks. */
static void test_run_data(void) {
    sn_run_data r;
    sn_error err = {0};
    CHECK(sn_run_data_read(dir, &r, &err) == SN_ERR_IO); /* no run.txt yet */
    write_file("run.txt", "# a comment\nspec a.net\ndata train.csv\ntest test.csv\n"
                          "classes names.txt\ntask regression\nlabel_col 3\n"
                          "target_cols 4,5\nheader no\n");
    CHECK(sn_run_data_read(dir, &r, &err) == SN_OK);
    CHECK(strcmp(r.data, "test.csv") == 0); /* the test set first */
    CHECK(strcmp(r.classes, "names.txt") == 0 && strcmp(r.target_cols, "4,5") == 0);
    CHECK(r.label_col == 3 && r.header == 0 && r.regression == 1 && r.text == 0);
    write_file("run.txt", "data data/fashion\ntask classification\nheader yes\n");
    CHECK(sn_run_data_read(dir, &r, &err) == SN_OK);
    CHECK(strcmp(r.data, "data/fashion") == 0 && r.classes[0] == 0 && r.target_cols[0] == 0);
    CHECK(r.label_col == -1 && r.header == 1 && r.regression == 0);
    write_file("run.txt", "data -\ntext corpus.txt\nheader auto\n"); /* "-": no data */
    CHECK(sn_run_data_read(dir, &r, &err) == SN_OK);
    CHECK(r.data[0] == 0 && r.text == 1 && r.header == -1);
    char long_line[1200] = "classes ";
    memset(long_line + 8, 'x', 1100);
    strcpy(long_line + 1108, "\n");
    write_file("run.txt", long_line);
    CHECK(sn_run_data_read(dir, &r, &err) == SN_ERR_FORMAT && strstr(err.msg, "run.txt"));
}

/* A model that tells the sign of x (class 0: x > 0, class 1: x < 0), on
 * n samples ±0.5: clean, it is always right with cross-entropy
 * log(1 + e^-1); noise of std 1e-3 changes nothing; noise of std 100
 * leaves a coin toss. */
static void test_noise(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 1\ndense 2\nloss softmax_xent\n", "sign", 1, &m, &err) ==
          SN_OK);
    if (!m) return;
    sn_param_info w, b;
    CHECK(sn_model_param(m, 0, 0, &w, &err) == SN_OK && sn_model_param(m, 0, 1, &b, &err) == SN_OK);
    w.value->data[0] = 1, w.value->data[1] = -1, b.value->data[0] = b.value->data[1] = 0;
    enum { n = 2000 };
    float *x = malloc(n * sizeof(float));
    int *labels = malloc(n * sizeof(int));
    for (int i = 0; i < n; i++) x[i] = i % 2 ? -0.5f : 0.5f, labels[i] = i % 2;
    sn_dataset d = {.n = n,
                    .ndim = 1,
                    .shape = {1},
                    .sample_size = 1,
                    .x = x,
                    .labels = labels,
                    .num_classes = 2};
    const double levels[] = {0, 1e-3, 100};
    sn_noise_options o = {levels, 3, 7, 0, 64};
    sn_noise_level r[3];
    CHECK(sn_evaluate_noise(m, &d, &o, r, &err) == SN_OK);
    CHECK(r[0].std == 0 && r[0].accuracy == 1 && r[0].macro_f1 == 1);
    CHECK_NEAR(r[0].cross_entropy, log(1 + exp(-1.0)), 1e-5);
    CHECK(r[1].accuracy == 1);
    CHECK(r[2].accuracy > 0.4 && r[2].accuracy < 0.6);
    CHECK(x[0] == 0.5f && x[1] == -0.5f); /* the data set is left as it was */
    sn_noise_level again[3];
    CHECK(sn_evaluate_noise(m, &d, &o, again, &err) == SN_OK);
    CHECK(again[2].accuracy == r[2].accuracy); /* seeded */

    /* robustness.csv: one row per level, as computed. */
    o.clip = 1;
    CHECK(sn_run_write_robustness(dir, &o, r, &err) == SN_OK);
    char path[128], line[256];
    snprintf(path, sizeof path, "%s/robustness.csv", dir);
    FILE *f = fopen(path, "r");
    CHECK(f && fgets(line, sizeof line, f));
    CHECK(strcmp(line, "std,accuracy,macro_f1,cross_entropy,clipped,seed\n") == 0);
    for (int i = 0; f && i < 3; i++) {
        double s, a, f1, ce;
        int clip;
        unsigned long long seed;
        CHECK(fscanf(f, "%lf,%lf,%lf,%lf,%d,%llu\n", &s, &a, &f1, &ce, &clip, &seed) == 6);
        CHECK(s == levels[i] && clip == 1 && seed == 7);
        CHECK_NEAR(a, r[i].accuracy, 1e-5);
        CHECK_NEAR(f1, r[i].macro_f1, 1e-5);
        CHECK_NEAR(ce, r[i].cross_entropy, 1e-5);
    }
    CHECK(f && fgetc(f) == EOF);
    if (f) fclose(f);
    CHECK(sn_run_write_robustness("/nonexistent/dir", &o, r, &err) == SN_ERR_IO);
    remove(path);

    d.labels = NULL; /* regression data: refused */
    CHECK(sn_evaluate_noise(m, &d, &o, r, &err) == SN_ERR_ARG);
    free(x);
    free(labels);
    sn_model_free(m);
}

/* sn_fail: code and message, cut to fit; no error to fill is fine. */
static void test_fail(void) {
    sn_error e = {0};
    CHECK(sn_fail(&e, SN_ERR_FORMAT, "%s:%d: bad", "a.csv", 7) == SN_ERR_FORMAT);
    CHECK(e.code == SN_ERR_FORMAT && strcmp(e.msg, "a.csv:7: bad") == 0);
    char longer[1000];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    CHECK(sn_fail(&e, SN_ERR_IO, "%s", longer) == SN_ERR_IO);
    CHECK(strlen(e.msg) == sizeof e.msg - 1 && e.code == SN_ERR_IO);
    CHECK(sn_fail(NULL, SN_ERR_ARG, "nobody reads this") == SN_ERR_ARG);
}

/* sn_dataset_alloc: shapes, zeroed storage, labels or targets; misuse and
 * sizes beyond memory refused. */
static void test_dataset_alloc(void) {
    sn_dataset d;
    sn_error err = {0};
    CHECK(sn_dataset_alloc(&d, 3, 3, (int[3]){2, 4, 5}, 7, 0, &err) == SN_OK);
    CHECK(d.n == 3 && d.ndim == 3 && d.shape[0] == 2 && d.shape[1] == 4 && d.shape[2] == 5);
    CHECK(d.sample_size == 40 && d.num_classes == 7 && d.labels && !d.targets);
    int zero = 1;
    for (int i = 0; i < 3 * 40; i++) zero &= d.x[i] == 0;
    for (int i = 0; i < 3; i++) zero &= d.labels[i] == 0;
    CHECK(zero);
    d.x[3 * 40 - 1] = 1; /* the whole of it is there (ASan would tell) */
    sn_dataset_free(&d);
    CHECK(d.x == NULL && d.n == 0);
    CHECK(sn_dataset_alloc(&d, 2, 1, (int[1]){6}, 0, 3, &err) == SN_OK);
    CHECK(d.sample_size == 6 && !d.labels && d.targets && d.num_targets == 3);
    d.targets[2 * 3 - 1] = 1;
    sn_dataset_free(&d);
    CHECK(sn_dataset_alloc(&d, 2, 0, NULL, 0, 0, &err) == SN_ERR_ARG);
    CHECK(sn_dataset_alloc(&d, 2, 1, (int[1]){0}, 0, 0, &err) == SN_ERR_ARG);
    CHECK(sn_dataset_alloc(&d, 2, 1, (int[1]){4}, 3, 2, &err) == SN_ERR_ARG);
    CHECK(sn_dataset_alloc(&d, 1 << 30, 3, (int[3]){1 << 30, 1 << 30, 1 << 30}, 0, 0, &err) ==
          SN_ERR_ARG); /* the sample size overflows */
    CHECK(sn_dataset_alloc(&d, 1 << 30, 2, (int[2]){1 << 30, 1 << 30}, 0, 0, &err) == SN_ERR_NOMEM);
    CHECK(d.x == NULL);
}

/* sn_data_check_labels: labels outside the model's classes, named by file,
 * set (for a folder), sample and label. */
static void test_check_labels(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 2\ndense 3\nloss softmax_xent\n", "m", 1, &m, &err) == SN_OK);
    if (!m) return;
    sn_dataset train, test;
    CHECK(sn_dataset_alloc(&train, 4, 1, (int[1]){2}, 3, 0, &err) == SN_OK);
    CHECK(sn_dataset_alloc(&test, 2, 1, (int[1]){2}, 3, 0, &err) == SN_OK);
    train.labels[0] = 2, test.labels[1] = 1;
    CHECK(sn_data_check_labels(m, "a.csv", "b.csv", &train, &test, &err) == SN_OK);
    CHECK(sn_data_check_labels(m, "a.csv", NULL, NULL, NULL, &err) == SN_OK);
    train.labels[3] = 3; /* the model has classes 0..2 */
    CHECK(sn_data_check_labels(m, "a.csv", "b.csv", &train, &test, &err) == SN_ERR_FORMAT);
    CHECK(strcmp(err.msg,
                 "a.csv: sample 3: label 3 out of range (the model has 3 classes, 0..2)") == 0);
    train.labels[3] = 0, test.labels[0] = -1;
    CHECK(sn_data_check_labels(m, "a.csv", "b.csv", &train, &test, &err) == SN_ERR_FORMAT);
    CHECK(strncmp(err.msg, "b.csv: sample 0: label -1", 25) == 0); /* the test file */
    CHECK(sn_data_check_labels(m, dir, NULL, NULL, &test, &err) == SN_ERR_FORMAT);
    char want[128];
    snprintf(want, sizeof want, "%s (test labels): sample 0:", dir); /* a folder: which set */
    CHECK(strncmp(err.msg, want, strlen(want)) == 0);
    sn_dataset_free(&train);
    sn_dataset_free(&test);
    sn_model_free(m);
}

/* sn_run_evaluate: the sign model of test_noise, saved into the folder,
 * on a CSV whose last label is wrong: accuracy 3/4 in metrics.csv. */
static void test_run_evaluate(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 1\ndense 2\nloss softmax_xent\n", "sign", 1, &m, &err) ==
          SN_OK);
    if (!m) return;
    sn_param_info w, b;
    CHECK(sn_model_param(m, 0, 0, &w, &err) == SN_OK && sn_model_param(m, 0, 1, &b, &err) == SN_OK);
    w.value->data[0] = 1, w.value->data[1] = -1, b.value->data[0] = b.value->data[1] = 0;
    char path[128], csv[128], line[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(csv, sizeof csv, "%s/data.csv", dir);
    write_file("data.csv", "x,y\n0.5,0\n-0.5,1\n0.25,0\n0.75,1\n");
    sn_data_options o = {.csv = {.header = -1, .label_col = -1}};
    CHECK(sn_run_evaluate(dir, csv, &o, NULL, &err) == SN_ERR_IO); /* no model yet */
    CHECK(sn_model_save(m, path, &err) == SN_OK);
    CHECK(sn_run_evaluate(dir, csv, &o, NULL, &err) == SN_OK);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && fgets(line, sizeof line, f)) found |= strcmp(line, "accuracy,0.75\n") == 0;
    if (f) fclose(f);
    CHECK(found);
    o.csv.num_target_cols = 1, o.csv.target_cols[0] = 1; /* targets, no labels: refused */
    CHECK(sn_run_evaluate(dir, csv, &o, NULL, &err) == SN_ERR_ARG && strstr(err.msg, "labels"));
    const char *made[] = {"model.safetensors",
                          "data.csv",
                          "metrics.csv",
                          "per_class.csv",
                          "confusion.csv",
                          "classes.txt",
                          "misclassified.safetensors"};
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, made[i]);
        remove(path);
    }
    sn_model_free(m);
}

/* sn_spec_has_vocab: the whole word only. */
static void test_spec_has_vocab(void) {
    CHECK(sn_spec_has_vocab("input 1\nembedding vocab 64\nlstm 8\ndense vocab\n") == 1);
    CHECK(sn_spec_has_vocab("vocab") == 1);
    CHECK(sn_spec_has_vocab("input 1\ndense 4 # vocab\n") == 1); /* comments count */
    CHECK(sn_spec_has_vocab("input 4\ndense 4\nloss mse\n") == 0);
    CHECK(sn_spec_has_vocab("input 4\ndense vocabulary\n") == 0);
    CHECK(sn_spec_has_vocab("input 4\nmy_vocab 3\n") == 0);
    CHECK(sn_spec_has_vocab("input 4\ndense 3 vocab=2\n") == 0);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/sn-public-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_fail();
    test_dataset_alloc();
    test_check_labels();
    test_spec_has_vocab();
    test_run_data();
    test_noise();
    test_run_evaluate();
    char path[128];
    snprintf(path, sizeof path, "%s/run.txt", dir);
    remove(path);
    rmdir(dir);
    return check_report();
}
