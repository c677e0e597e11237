/* scratchnet train SPEC --data DIR|FILE.csv [options] */
#include "cli.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage[] =
    "usage: scratchnet train SPEC --data DIR|FILE.csv [options]\n"
    "\n"
    "Trains the model a spec file describes, evaluates it on the test set and\n"
    "writes model.safetensors, history.csv, summary.txt and spec.net to a run\n"
    "folder. Options given here override the spec's [train] section.\n"
    "\n"
    "  --data DIR|FILE    IDX folder (train-*/t10k-* files) or a numeric CSV\n"
    "  --test FILE.csv    test set for CSV data\n"
    "  --out RUN_DIR      run folder (default runs/<spec name>-<date>-<time>)\n"
    "  --seed N           seed for initialization, shuffling and the split\n"
    "  --epochs N         number of epochs\n"
    "  --batch N          mini-batch size\n"
    "  --lr X             learning rate\n"
    "  --val-split F      fraction of the training set held out for validation\n"
    "  --threads N        threads for the kernels (default: all cores)\n"
    "  --standardize      scale each feature to mean 0, std 1 (training set statistics)\n"
    "  --label-col N      CSV: column of the class label (default: the last)\n"
    "  --target-cols A,B  CSV: regression target columns instead of a label\n"
    "  --header yes|no|auto  CSV: whether the first row is a header (default auto)\n"
    "  --quiet            print only the final result\n";

static int make_dirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static void default_run_dir(char *buf, size_t len, const char *spec) {
    char copy[512];
    snprintf(copy, sizeof copy, "%s", spec);
    char *base = basename(copy), *dot = strrchr(base, '.');
    if (dot) *dot = 0;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(buf, len, "runs/%s-%04d%02d%02d-%02d%02d%02d", base, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int write_text(const char *dir, const char *name, const char *text, sn_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0) return sn_fail(err, SN_ERR_IO, "%s: write error", path);
    return SN_OK;
}

static void apply_overrides(const cli_opts *o, sn_train_config *c) {
    if (o->seed >= 0) c->seed = (uint64_t)o->seed;
    if (o->epochs >= 0) c->epochs = (int)o->epochs;
    if (o->batch > 0) c->batch = (int)o->batch;
    if (o->lr > 0) c->lr = (float)o->lr;
    if (o->val_split >= 0) c->val_split = (float)o->val_split;
}

int cmd_train(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, usage, 1, 1, &o);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.data) {
        fprintf(stderr, "scratchnet train: --data is required\n\n%s", usage);
        return EXIT_USAGE;
    }
    sn_set_threads(o.threads);

    sn_error err = {0};
    sn_model *m = NULL;
    sn_dataset all = {0}, train = {0}, val = {0}, test = {0};
    int have_val = 0;
    char run_dir[1024], path[1200];
    sn_status s = sn_model_from_file(o.positional[0], o.seed > 0 ? (uint64_t)o.seed : 0, &m, &err);
    if (s == SN_OK) {
        apply_overrides(&o, sn_model_config(m));
        s = cli_load_data(&o, &all, &test, 1, &err);
    }
    const sn_train_config *c = s == SN_OK ? sn_model_config(m) : NULL;
    if (s == SN_OK && c->val_split > 0) {
        s = sn_dataset_split(&all, c->val_split, all.labels != NULL, c->seed, &train, &val, &err);
        have_val = 1;
    } else if (s == SN_OK) {
        train = all;
        memset(&all, 0, sizeof all);
    }
    if (s == SN_OK && o.standardize) {
        float *mean = malloc(train.sample_size * sizeof(float));
        float *sd = malloc(train.sample_size * sizeof(float));
        if (!mean || !sd) s = sn_fail(&err, SN_ERR_NOMEM, "out of memory");
        if (s == SN_OK) s = sn_dataset_feature_stats(&train, mean, sd, &err);
        if (s == SN_OK) {
            sn_dataset_standardize(&train, mean, sd);
            if (have_val) sn_dataset_standardize(&val, mean, sd);
            if (test.n) sn_dataset_standardize(&test, mean, sd);
        }
        free(mean);
        free(sd);
    }
    if (s == SN_OK) {
        if (o.out)
            snprintf(run_dir, sizeof run_dir, "%s", o.out);
        else
            default_run_dir(run_dir, sizeof run_dir, o.positional[0]);
        if (make_dirs(run_dir) != 0)
            s = sn_fail(&err, SN_ERR_IO, "%s: cannot create the run folder: %s", run_dir,
                        strerror(errno));
    }
    if (s == SN_OK) {
        char summary[8192];
        sn_model_summary(m, summary, sizeof summary);
        if (!o.quiet) fprintf(stderr, "%s", summary);
        s = write_text(run_dir, "summary.txt", summary, &err);
        if (s == SN_OK) s = write_text(run_dir, "spec.net", sn_model_spec(m), &err);
    }
    if (s == SN_OK) {
        if (!o.quiet)
            fprintf(stderr,
                    "training on %d samples (%d validation, %d test), %d epochs, batch %d, %s "
                    "lr %g, %d threads\n",
                    train.n, have_val ? val.n : 0, test.n, c->epochs, c->batch, c->optimizer, c->lr,
                    sn_get_threads());
        cli_progress prog;
        sn_train_hooks hooks = cli_progress_hooks(&prog, o.quiet, c->epochs);
        snprintf(path, sizeof path, "%s/history.csv", run_dir);
        s = sn_train(m, &train, have_val ? &val : NULL, test.n ? &test : NULL, &hooks, path, &err);
    }
    if (s == SN_OK) {
        snprintf(path, sizeof path, "%s/model.safetensors", run_dir);
        s = sn_model_save(m, path, &err);
    }
    if (s == SN_OK && test.n) {
        double loss, acc;
        s = sn_evaluate(m, &test, c->batch, &loss, &acc, &err);
        if (s == SN_OK && !isnan(acc)) printf("test accuracy: %.2f %%\n", 100 * acc);
        if (s == SN_OK) printf("test loss: %.4f\n", loss);
    }
    if (s == SN_OK && !o.quiet) fprintf(stderr, "run folder: %s\n", run_dir);
    if (s != SN_OK) fprintf(stderr, "scratchnet train: %s\n", err.msg);
    sn_dataset_free(&all);
    sn_dataset_free(&train);
    sn_dataset_free(&val);
    sn_dataset_free(&test);
    sn_model_free(m);
    return s == SN_OK ? 0 : EXIT_RUNTIME;
}
