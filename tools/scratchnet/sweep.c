/* scratchnet sweep SWEEP_FILE: train a grid of configurations (or a list
 * of specs), one run folder each, and compare them. The sweep file and the
 * comparison pages are the library's (sn_sweep_*, docs/sweep.md); this verb
 * loads the data once and trains each configuration as `train` would. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet sweep SWEEP_FILE [options]\n"
    "\n"
    "Trains every configuration a sweep file describes (a grid over [train]\n"
    "hyper-parameters, a list of spec files, or both), each into its own run\n"
    "folder with its report.html, and writes comparison.csv and\n"
    "comparison.html (a table sorted by the chosen metric, the curves of all\n"
    "runs overlaid) into the sweep's folder. See docs/sweep.md.\n"
    "\n"
    "  -o, --out DIR      the sweep's folder (default: the file's 'out', or runs/<name>)\n"
    "  --data DIR|FILE    overrides the file's 'data'\n"
    "  --dry-run          list the configurations and stop\n"
    "  --threads N        threads for the kernels (default: all cores)\n"
    "  --quiet            no per-epoch progress\n"
    "  --epochs N, --batch N, --lr X, --seed N, --val-split F, --standardize\n"
    "                     as for train, applied to every configuration\n";

static const char *const opts[] = {"--out",   "--data",      "--dry-run",     "--threads",
                                   "--quiet", "--epochs",    "--batch",       "--lr",
                                   "--seed",  "--val-split", "--standardize", NULL};
const cli_verb cli_verb_sweep = {"sweep", usage, opts, 1, 1};

int cmd_sweep(cli_opts *o) {
    sn_set_threads((int)o->threads);
    const char *file = o->positional[0];
    sn_error err = {0};
    sn_sweep *sw = NULL;
    int n = 0, failed = 0;
    sn_dataset all = {0}, test = {0};
    char dir[1024], run_dir[2300];
    sn_status s = sn_sweep_load(file, &sw, &err);
    if (s == SN_OK) {
        const char *out = sn_sweep_get(sw, "out");
        if (o->out)
            snprintf(dir, sizeof dir, "%s", o->out);
        else if (out)
            snprintf(dir, sizeof dir, "%s", out);
        else
            snprintf(dir, sizeof dir, "runs/%s", sn_sweep_get(sw, "name"));
        if (!o->data) o->data = sn_sweep_get(sw, "data");
        if (!o->test) o->test = sn_sweep_get(sw, "test");
        if (!o->classes) o->classes = sn_sweep_get(sw, "classes");
        if (!o->data) s = sn_fail(&err, SN_ERR_FORMAT, "%s: no 'data' line (or --data)", file);
        n = sn_sweep_count(sw);
    }
    /* The data, then every configuration must build and fit its labels
     * before anything is written or trained. */
    if (s == SN_OK && !o->dry_run) s = cli_load_data(o, &all, &test, 1, &err);
    for (int i = 0; s == SN_OK && i < n; i++) {
        char *text = NULL, name[800];
        sn_model *m = NULL;
        snprintf(name, sizeof name, "%s (configuration %d: %s)", sn_sweep_spec_path(sw, i), i + 1,
                 sn_sweep_label(sw, i));
        s = sn_sweep_spec_text(sw, i, &text, &err);
        if (s == SN_OK) s = sn_model_from_spec(text, name, 0, &m, &err);
        if (s == SN_OK && !o->dry_run)
            s = sn_data_check_labels(m, o->data, o->test, &all, &test, &err);
        sn_model_free(m);
        sn_free(text);
    }
    if (s == SN_OK && o->dry_run) {
        for (int i = 0; i < n; i++)
            printf("%s/%s\t%s\n", dir, sn_sweep_dir(sw, i), sn_sweep_label(sw, i));
        sn_sweep_free(sw);
        return 0;
    }
    if (s == SN_OK) s = sn_sweep_start(sw, dir, &err);
    if (s == SN_OK)
        fprintf(stderr, "sweep %s: %d configurations into %s\n", sn_sweep_get(sw, "name"), n, dir);
    for (int i = 0; s == SN_OK && i < n; i++) {
        char *text = NULL;
        sn_error e = {0};
        const char *spec = sn_sweep_spec_path(sw, i), *label = sn_sweep_label(sw, i);
        snprintf(run_dir, sizeof run_dir, "%s/%s", dir, sn_sweep_dir(sw, i));
        fprintf(stderr, "\n[%d/%d] %s -> %s\n", i + 1, n, label, run_dir);
        sn_status t = sn_sweep_spec_text(sw, i, &text, &e);
        if (t == SN_OK) t = cli_train_run(o, spec, text, &all, &test, run_dir, &e);
        if (t != SN_OK) {
            fprintf(stderr, "[%d/%d] %s: failed: %s\n", i + 1, n, label, e.msg);
            failed++;
        }
        sn_free(text);
        s = sn_sweep_record(sw, i, t == SN_OK ? NULL : e.msg, dir, &err);
    }
    for (int r = 0; s == SN_OK && r < n; r++) {
        double v;
        int bad;
        const char *metric;
        int i = sn_sweep_ranked(sw, r, &v, &bad, &metric);
        if (r == 0) printf("\n%-4s %-40s %12s\n", "rank", "run", metric);
        printf("%-4d %-40s %12.4f%s\n", r + 1, sn_sweep_dir(sw, i), v, bad ? "  (failed)" : "");
    }
    if (s == SN_OK) printf("comparison: %s/comparison.html\n", dir);
    if (s != SN_OK) fprintf(stderr, "scratchnet sweep: %s\n", err.msg);
    sn_dataset_free(&all);
    sn_dataset_free(&test);
    sn_sweep_free(sw);
    return s != SN_OK || failed ? EXIT_RUNTIME : 0;
}
