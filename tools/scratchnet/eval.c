/* scratchnet eval MODEL --data DIR|FILE.csv [--noise 0,0.1,0.2,0.3] */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: scratchnet eval MODEL|RUN_DIR [--data DIR|FILE.csv] [options]\n"
    "\n"
    "Loads saved weights (model.safetensors) and prints the loss, accuracy,\n"
    "top-5 accuracy, macro and weighted F1, cross-entropy and per-class\n"
    "precision, recall and F1 on the test set: the t10k-* IDX files of DIR, or\n"
    "the whole CSV file. Given a run folder, evaluates its model.safetensors on\n"
    "the test data its run.txt names (with its CSV settings) unless --data says.\n"
    "\n"
    "  --data DIR|FILE    IDX folder or a numeric CSV\n"
    "  --noise S1,S2,...  robustness study: for each standard deviation S, add\n"
    "                     Gaussian noise S·N(0, 1) to every input value, clip to\n"
    "                     [0, 1] (pixel intensities) and print accuracy and macro F1.\n"
    "                     The same noise pattern is scaled for every level. When\n"
    "                     MODEL is in a run folder, writes robustness.csv there and\n"
    "                     refreshes its report.html\n"
    "  --noise-seed N     seed of the noise (default 1)\n"
    "  --no-clip          do not clip noisy values to [0, 1]\n"
    "  --classes FILE     class names, one per line (as for train)\n"
    "  --batch N          evaluation batch size (default 256)\n"
    "  --threads N        threads for the kernels (default: all cores)\n"
    "  --quiet            print only the summary lines\n"
    "  --label-col N, --target-cols A,B, --header yes|no|auto   as for train\n"
    "  --grey, --cifar-per-file N   CIFAR-10 folders, as for train\n";

#define MAX_LEVELS 64

/* The folder of a model file when it is a run folder (holds history.csv or
 * run.txt); 0 otherwise. */
static int run_folder_of(const char *model, char *dir, size_t len) {
    const char *slash = strrchr(model, '/');
    if (slash)
        snprintf(dir, len, "%.*s", (int)(slash - model), model);
    else
        snprintf(dir, len, ".");
    if (!*dir) snprintf(dir, len, "/");
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/history.csv", dir);
    if (stat(path, &st) == 0) return 1;
    snprintf(path, sizeof path, "%s/run.txt", dir);
    return stat(path, &st) == 0;
}

static void print_metrics(const sn_metrics *mt, char *const *names, int quiet) {
    if (mt->top_k) printf("test top-%d accuracy: %.2f %%\n", mt->top_k, 100 * mt->top_k_accuracy);
    printf("test macro F1: %.4f\n", mt->macro_f1);
    printf("test weighted F1: %.4f\n", mt->weighted_f1);
    printf("test cross-entropy: %.4f\n", mt->mean_xent);
    if (quiet) return;
    printf("\n%-24s %9s %9s %9s %8s\n", "class", "precision", "recall", "F1", "support");
    for (int c = 0; c < mt->num_classes; c++)
        printf("%-24.24s %9.4f %9.4f %9.4f %8ld\n", names[c], mt->precision[c], mt->recall[c],
               mt->f1[c], mt->support[c]);
    printf("%-24s %9.4f %9.4f %9.4f %8ld\n", "macro average", mt->macro_precision, mt->macro_recall,
           mt->macro_f1, mt->n);
    printf("%-24s %9.4f %9.4f %9.4f %8ld\n", "weighted average", mt->weighted_precision,
           mt->weighted_recall, mt->weighted_f1, mt->n);
}

static sn_status noise_study(const cli_opts *o, sn_model *m, const sn_dataset *test,
                             const double *levels, int nlevels, int batch, sn_error *err) {
    sn_noise_options no = {levels, nlevels, o->noise_seed >= 0 ? (uint64_t)o->noise_seed : 1,
                           !o->no_clip, batch};
    sn_noise_level r[MAX_LEVELS];
    sn_status s = sn_evaluate_noise(m, test, &no, r, err);
    if (s != SN_OK) return s;
    printf("\nrobustness: x + std·N(0, 1) on every input value, %s, noise seed %llu\n",
           no.clip ? "clipped to [0, 1]" : "not clipped", (unsigned long long)no.seed);
    printf("%8s %10s %9s %14s\n", "std", "accuracy", "macro F1", "cross-entropy");
    for (int i = 0; i < nlevels; i++)
        printf("%8g %8.2f %% %9.4f %14.4f\n", r[i].std, 100 * r[i].accuracy, r[i].macro_f1,
               r[i].cross_entropy);
    char dir[4096];
    if (run_folder_of(o->positional[0], dir, sizeof dir)) {
        s = sn_run_write_robustness(dir, &no, r, err);
        if (s == SN_OK) s = sn_report_write(dir, NULL, err);
        if (s == SN_OK) fprintf(stderr, "wrote %s/robustness.csv and %s/report.html\n", dir, dir);
    }
    return s;
}

static const char *const opts[] = {
    "--data",   "--noise",   "--noise-seed",     "--no-clip",   "--classes",
    "--batch",  "--threads", "--quiet",          "--label-col", "--target-cols",
    "--header", "--grey",    "--cifar-per-file", NULL};
const cli_verb cli_verb_eval = {"eval", usage, opts, 1, 1};

int cmd_eval(cli_opts *o) {
    double levels[MAX_LEVELS];
    int nlevels = o->noise ? cli_numbers(o->noise, 0, 100, 0, levels, MAX_LEVELS) : 0;
    if (nlevels < 0) {
        fprintf(stderr,
                "scratchnet eval: --noise: expected standard deviations in [0, 100] such as "
                "0,0.1,0.2 (at most %d), got '%s'\n",
                MAX_LEVELS, o->noise);
        return EXIT_USAGE;
    }
    sn_error err = {0};
    sn_run_data run;
    char model[4200];
    cli_model_path(o->positional[0], model, sizeof model);
    if (strcmp(model, o->positional[0]) != 0 && !o->data &&
        cli_run_defaults(o->positional[0], o, &run, &err) != SN_OK) {
        fprintf(stderr, "scratchnet eval: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    if (!o->data) {
        fprintf(stderr, "scratchnet eval: --data is required\nsee 'scratchnet eval --help'\n");
        return EXIT_USAGE;
    }
    o->positional[0] = model;
    sn_set_threads((int)o->threads);
    sn_model *m = NULL;
    sn_dataset none, test = {0};
    double loss, acc;
    char **names = NULL;
    int K = 0, batch = o->batch > 0 ? (int)o->batch : 256;
    sn_status s = sn_model_load(o->positional[0], &m, &err);
    if (s == SN_OK) s = cli_load_data(o, &none, &test, 0, &err);
    if (s == SN_OK) s = sn_data_check_labels(m, o->data, o->test, &none, &test, &err);
    if (s == SN_OK) s = sn_model_check_input(m, &test, o->data, &err);
    if (s == SN_OK) s = sn_evaluate(m, &test, batch, &loss, &acc, &err);
    if (s == SN_OK) {
        printf("samples: %d\n", test.n);
        if (!isnan(acc)) printf("test accuracy: %.2f %%\n", 100 * acc);
        printf("test loss: %.4f\n", loss);
    }
    if (s == SN_OK && test.labels) {
        K = sn_model_num_classes(m);
        sn_metrics mt;
        /* --classes, else the names the model was trained with, else the data's */
        char *const *shown = o->classes ? NULL : sn_model_class_names(m);
        if (!shown) s = sn_class_names_load(o->data, o->classes, &test, K, &names, &err);
        if (!shown) shown = names;
        if (s == SN_OK)
            s = sn_evaluate_metrics(m, &test, batch, K > 5 ? 5 : 0, &mt, NULL, NULL, &err);
        if (s == SN_OK) {
            print_metrics(&mt, shown, o->quiet);
            sn_metrics_free(&mt);
        }
    }
    if (s == SN_OK && nlevels && !test.labels)
        s = sn_fail(&err, SN_ERR_ARG, "--noise needs a classification test set");
    if (s == SN_OK && nlevels) s = noise_study(o, m, &test, levels, nlevels, batch, &err);
    if (s != SN_OK) fprintf(stderr, "scratchnet eval: %s\n", err.msg);
    sn_class_names_free(names, K);
    sn_dataset_free(&test);
    sn_model_free(m);
    return s == SN_OK ? 0 : EXIT_RUNTIME;
}
