/* scratchnet report RUN_DIR [-o FILE] [--data DIR|FILE.csv] */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: scratchnet report RUN_DIR [options]\n"
    "\n"
    "Writes RUN_DIR/report.html: one self-contained page (no network needed to\n"
    "view it) with the loss, accuracy and learning-rate curves of history.csv,\n"
    "the test set's confusion matrix and per-class metrics, the noise-\n"
    "robustness curve (robustness.csv, from 'scratchnet eval --noise'), the\n"
    "most confidently misclassified test images, the hyper-parameters and the\n"
    "model summary. 'scratchnet train' writes it at the end of every run.\n"
    "\n"
    "When the run folder has no test metrics yet (or --data is given), they\n"
    "are computed first from RUN_DIR/model.safetensors on the test set named\n"
    "by --data or by run.txt.\n"
    "\n"
    "  -o, --out FILE     write the page there instead\n"
    "  --data DIR|FILE    test data: IDX folder (t10k-* files) or a CSV\n"
    "  --classes FILE     class names, one per line\n"
    "  --label-col N, --header yes|no|auto   CSV options, as for train\n"
    "  --grey, --cifar-per-file N   CIFAR-10 folders, as for train\n";

static int file_in(const char *dir, const char *name, char *path, size_t len) {
    struct stat st;
    snprintf(path, len, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* Computes metrics.csv and friends from the saved model and the test set
 * (--data, else the one run.txt names; run: NULL without run.txt). */
static sn_status compute_eval(cli_opts *o, const char *dir, const sn_run_data *run, sn_error *err) {
    sn_data_options d;
    if (run && run->regression)
        return sn_fail(err, SN_ERR_ARG, "%s is a regression run: no class metrics", dir);
    if (run && run->text)
        return sn_fail(err, SN_ERR_ARG, "%s is a text run: its measure is the validation loss",
                       dir);
    if (!o->data)
        return sn_fail(err, SN_ERR_ARG, "%s has no test metrics; name the test data with --data",
                       dir);
    sn_status s = cli_data_options(o, &d, err);
    return s == SN_OK ? sn_run_evaluate(dir, o->data, &d, o->classes, err) : s;
}

static const char *const opts[] = {"--out",       "--data",           "--classes",
                                   "--label-col", "--header",         "--target-cols",
                                   "--grey",      "--cifar-per-file", NULL};
const cli_verb cli_verb_report = {"report", usage, opts, 1, 1};

int cmd_report(cli_opts *o) {
    const char *dir = o->positional[0];
    char path[4200];
    sn_error err = {0};
    struct stat st;
    sn_status s = SN_OK;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        s = sn_fail(&err, SN_ERR_IO, "%s: not a folder", dir);
    int have_metrics = s == SN_OK && file_in(dir, "metrics.csv", path, sizeof path);
    int have_model = s == SN_OK && file_in(dir, "model.safetensors", path, sizeof path);
    int have_hist = s == SN_OK && file_in(dir, "history.csv", path, sizeof path);
    if (s == SN_OK && !have_model && !have_hist)
        s = sn_fail(&err, SN_ERR_IO, "%s: not a run folder (no history.csv, no model.safetensors)",
                    dir);
    int asked = o->data != NULL;
    sn_run_data run; /* a text run's measure is its validation loss, shown as is */
    int have_run = s == SN_OK && cli_run_defaults(dir, o, &run, NULL) == SN_OK;
    if (s == SN_OK && have_model && (asked || (!have_metrics && !(have_run && run.text)))) {
        sn_status e = compute_eval(o, dir, have_run ? &run : NULL, &err);
        if (e != SN_OK && (asked || !have_hist)) s = e;
        if (e != SN_OK && s == SN_OK)
            fprintf(stderr, "scratchnet report: no test metrics: %s\n", err.msg);
    }
    if (s == SN_OK) s = sn_report_write(dir, o->out, &err);
    if (s != SN_OK) {
        fprintf(stderr, "scratchnet report: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    if (o->out)
        printf("%s\n", o->out);
    else
        printf("%s/report.html\n", dir);
    return 0;
}
