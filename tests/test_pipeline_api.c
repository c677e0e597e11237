/* The input pipeline and text specs through the public API: sn_train makes
 * the validation split and standardizes as the spec says, the model applies
 * its standardization to raw inputs and saves it; text specs load with
 * their [text] section and `vocab`. */
#include "check.h"
#include "scratchnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *spec_std = "input 2\n"
                              "dense 8 init=he\n"
                              "relu\n"
                              "dense 2\n"
                              "loss softmax_xent\n"
                              "[train]\n"
                              "optimizer adam lr=1e-2\n"
                              "batch 16\n"
                              "epochs 8\n"
                              "val_split 0.25\n"
                              "early_stop patience=3 monitor=val_acc\n"
                              "standardize yes\n"
                              "seed 5\n";

/* Features near 1000 and near 0.001: the class is the sign of a - 1000. */
static sn_dataset make(int n, unsigned seed) {
    sn_dataset d = {0};
    d.n = n;
    d.ndim = 1;
    d.shape[0] = 2;
    d.sample_size = 2;
    d.x = calloc((size_t)n * 2, sizeof(float));
    d.labels = calloc((size_t)n, sizeof(int));
    d.num_classes = 2;
    sn_rng r;
    sn_rng_seed(&r, seed, 1);
    for (int i = 0; i < n; i++) {
        float a = 1000.0f + 2.0f * (sn_rng_uniform(&r) - 0.5f);
        d.x[2 * i] = a;
        d.x[2 * i + 1] = 0.001f * sn_rng_uniform(&r);
        d.labels[i] = a > 1000.0f;
    }
    return d;
}

static void release(sn_dataset *d) {
    free(d->x);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* sn_train(val = NULL) splits and standardizes as the spec says; the same
 * weights as the split and fit done by hand first. */
static void test_train_from_spec(void) {
    sn_error e = {0};
    sn_dataset all = make(400, 1), test = make(200, 2);
    sn_model *a = NULL, *b = NULL;
    CHECK(sn_model_from_spec(spec_std, "std", 0, &a, &e) == SN_OK);
    CHECK(sn_model_from_spec(spec_std, "std", 0, &b, &e) == SN_OK);
    if (!a || !b) return;
    CHECK(sn_model_config(a)->standardize == 1);
    /* early stopping on val_acc needs the validation set sn_train makes */
    sn_status s = sn_train(a, &all, NULL, &test, NULL, NULL, &e);
    CHECK(s == SN_OK);
    if (s) fprintf(stderr, "%s\n", e.msg);
    CHECK(sn_model_standardizes(a));
    double loss, acc;
    CHECK(sn_evaluate(a, &test, 64, &loss, &acc, &e) == SN_OK);
    CHECK(acc > 0.9);

    sn_dataset tr, va;
    CHECK(sn_train_split(b, &all, &tr, &va, &e) == SN_OK);
    CHECK(tr.n == 300 && va.n == 100);
    CHECK(sn_model_fit_input(b, &tr, &e) == SN_OK);
    CHECK(sn_train(b, &tr, &va, &test, NULL, NULL, &e) == SN_OK);
    double loss_b, acc_b;
    CHECK(sn_evaluate(b, &test, 64, &loss_b, &acc_b, &e) == SN_OK);
    CHECK(loss_b == loss && acc_b == acc);
    sn_dataset_free(&tr);
    sn_dataset_free(&va);

    /* saved and loaded: the same answers on raw inputs */
    char path[] = "/tmp/sn_pipeline_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    char *names[2] = {"low", "high"};
    CHECK(sn_model_set_class_names(a, names, 2, &e) == SN_OK);
    CHECK(sn_model_save(a, path, &e) == SN_OK);
    sn_model *c = NULL;
    CHECK(sn_model_load(path, &c, &e) == SN_OK);
    if (c) {
        double loss_c, acc_c;
        CHECK(sn_model_standardizes(c));
        CHECK(sn_evaluate(c, &test, 64, &loss_c, &acc_c, &e) == SN_OK);
        CHECK(loss_c == loss && acc_c == acc);
        char *const *got = sn_model_class_names(c);
        CHECK(got && strcmp(got[0], "low") == 0 && strcmp(got[1], "high") == 0);
        CHECK(sn_model_check_input(c, &test, "test", &e) == SN_OK);
        for (int i = 0; i < test.n * 2; i++) test.x[i] *= 1000; /* another unit */
        CHECK(sn_model_check_input(c, &test, "test", &e) == SN_ERR_ARG);
        CHECK(strstr(e.msg, "outside the range the model was trained on") != NULL);
        sn_model_free(c);
    }
    /* the weights alone into a model built from the spec: the pipeline too */
    sn_model *d = NULL;
    CHECK(sn_model_from_spec(spec_std, "std", 0, &d, &e) == SN_OK);
    CHECK(d && sn_model_load_weights(d, path, &e) == SN_OK && sn_model_standardizes(d));
    sn_model_free(d);
    remove(path);
    sn_model_free(a);
    sn_model_free(b);
    release(&all);
    release(&test);
}

/* Without standardize the model applies nothing and saves no statistics. */
static void test_no_standardize(void) {
    sn_error e = {0};
    sn_model *m = NULL;
    CHECK(sn_model_from_spec("input 2\ndense 2\nloss softmax_xent\n", "plain", 0, &m, &e) == SN_OK);
    if (!m) return;
    sn_dataset all = make(50, 3);
    CHECK(sn_model_fit_input(m, &all, &e) == SN_OK);
    CHECK(!sn_model_standardizes(m));
    sn_dataset three = all;
    three.sample_size = 3;
    three.shape[0] = 3;
    three.n = 33;
    CHECK(sn_model_check_input(m, &three, "x.csv", &e) == SN_ERR_SHAPE);
    CHECK(strstr(e.msg, "x.csv: samples have 3 values, the model's input takes 2") != NULL);
    char *names[3] = {"a", "b", "c"};
    CHECK(sn_model_set_class_names(m, names, 3, &e) == SN_ERR_ARG);
    sn_model_free(m);
    release(&all);
}

static char *read_all(const char *path) {
    char *text = NULL;
    size_t len;
    sn_error e = {0};
    if (sn_text_read_file(path, &text, &len, &e) != SN_OK) fprintf(stderr, "%s\n", e.msg);
    return text;
}

/* examples/text/char-lstm.net through the public API. */
static void test_text_spec(const char *src) {
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/text/char-lstm.net", src);
    char *spec = read_all(path);
    CHECK(spec != NULL);
    if (!spec) return;
    sn_error e = {0};
    sn_text_spec t;
    CHECK(sn_text_spec_parse(spec, path, &t, &e) == SN_OK);
    CHECK(t.level == SN_TEXT_CHAR && t.o.seq_len == 50 && t.val == 0.1);
    CHECK(t.o.sample_length == 300 && t.o.temperature == 0.8f && t.o.prime == NULL);
    sn_model *m = NULL;
    CHECK(sn_model_from_spec(spec, path, 0, &m, &e) == SN_ERR_FORMAT);
    CHECK(strstr(e.msg, "sn_text_model_from_spec") != NULL);
    CHECK(sn_text_model_from_spec(spec, path, 0, 37, &m, &e) == SN_OK);
    if (m) {
        CHECK(sn_model_output_size(m) == 37);
        CHECK(strstr(sn_model_spec(m), "[text]") == NULL);
        CHECK(strstr(sn_model_spec(m), "onehot    37\n") != NULL);
        CHECK(sn_model_config(m)->batch == 16);
        sn_model_free(m);
    }
    /* a [text] section without `vocab`: an ordinary spec */
    const char *plain = "input 1\nembedding 5 3\ndense 5\nloss softmax_xent\n[text]\nlevel "
                        "word\nwords 99\nprime Call me # not a comment\n[train]\nbatch 4\n";
    CHECK(sn_model_from_spec(plain, "plain", 0, &m, &e) == SN_OK);
    sn_model_free(m);
    CHECK(sn_text_spec_parse(plain, "plain", &t, &e) == SN_OK);
    CHECK(t.level == SN_TEXT_WORD && t.words == 99);
    CHECK(t.o.prime && strcmp(t.o.prime, "Call me # not a comment") == 0);
    /* errors name the line */
    const char *bad = "input 1\nonehot vocab\ndense vocab\nloss softmax_xent\n[text]\nseq many\n";
    CHECK(sn_text_model_from_spec(bad, "bad.net", 0, 5, &m, &e) == SN_ERR_FORMAT);
    CHECK(strstr(e.msg, "bad.net:6: [text]: seq: expected a number") != NULL);
    CHECK(sn_model_from_spec(bad, "bad.net", 0, &m, &e) == SN_ERR_FORMAT);
    CHECK(strstr(e.msg, "bad.net:6") != NULL);
    free(spec);
}

/* One path, as the command line takes it. */
static void test_data_load(void) {
    char dir[] = "/tmp/sn_load_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char train_path[64], test_path[64];
    snprintf(train_path, sizeof train_path, "%s/train.csv", dir);
    snprintf(test_path, sizeof test_path, "%s/test.csv", dir);
    FILE *f = fopen(train_path, "w");
    fputs("a,b,y\n0,1,0\n1,0,1\n1,1,1\n", f);
    fclose(f);
    f = fopen(test_path, "w");
    fputs("a,b,y\n0,0,0\n", f);
    fclose(f);
    sn_error e = {0};
    sn_dataset tr, te;
    CHECK(sn_data_load(train_path, NULL, &tr, &te, &e) == SN_OK);
    CHECK(tr.n == 3 && tr.sample_size == 2 && tr.labels && tr.labels[1] == 1 && te.n == 0);
    sn_dataset_free(&tr);
    sn_data_options o = {.csv = {.header = -1, .label_col = -1}, .test = test_path};
    CHECK(sn_data_load(train_path, &o, &tr, &te, &e) == SN_OK);
    CHECK(tr.n == 3 && te.n == 1 && !tr.pixels);
    sn_dataset_free(&tr);
    sn_dataset_free(&te);
    CHECK(sn_data_load(test_path, &o, NULL, &te, &e) == SN_OK && te.n == 1); /* test set only */
    sn_dataset_free(&te);
    o.grey = 1;
    CHECK(sn_data_load(dir, &o, &tr, &te, &e) == SN_ERR_ARG);
    CHECK(strstr(e.msg, "is not one") != NULL);
    o.grey = 0;
    CHECK(sn_data_load(dir, &o, &tr, &te, &e) == SN_ERR_IO); /* a folder without IDX files */
    CHECK(strstr(e.msg, "train-images-idx3-ubyte") != NULL);
    remove(train_path);
    remove(test_path);
    remove(dir);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    const char *src = SN_SOURCE_DIR;
    test_train_from_spec();
    test_no_standardize();
    test_text_spec(src);
    test_data_load();
    return check_report();
}
