#include "cli.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int parse_long_opt(const char *name, const char *s, long lo, long hi, long *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "scratchnet: %s: '%s' is not an integer in [%ld, %ld]\n", name, s, lo, hi);
        return 0;
    }
    *v = x;
    return 1;
}

static int parse_double_opt(const char *name, const char *s, double lo, double hi, double *v) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno || !(x >= lo && x <= hi)) {
        fprintf(stderr, "scratchnet: %s: '%s' is not a number in [%g, %g]\n", name, s, lo, hi);
        return 0;
    }
    *v = x;
    return 1;
}

int cli_parse(int argc, char **argv, const char *usage, int min_pos, int max_pos, cli_opts *o) {
    memset(o, 0, sizeof *o);
    o->seed = o->epochs = o->batch = -1;
    o->lr = o->val_split = o->minutes = -1;
    o->label_col = -1;
    o->header = -1;
    o->noise_seed = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if (a[0] != '-' || a[1] == 0) {
            if (o->npositional == max_pos) {
                fprintf(stderr, "scratchnet %s: unexpected argument '%s'\n\n%s", argv[0], a, usage);
                return EXIT_USAGE;
            }
            o->positional[o->npositional++] = a;
            continue;
        }
        int flag = strcmp(a, "--quiet") == 0 || strcmp(a, "--standardize") == 0 ||
                   strcmp(a, "--no-clip") == 0 || strcmp(a, "--grey") == 0 ||
                   strcmp(a, "--skip-nonfinite") == 0 || strcmp(a, "--force") == 0 ||
                   strcmp(a, "--resume-changed-inputs") == 0;
        if (!flag && i + 1 >= argc) {
            fprintf(stderr, "scratchnet %s: %s needs a value\n\n%s", argv[0], a, usage);
            return EXIT_USAGE;
        }
        const char *v = flag ? NULL : argv[++i];
        long l;
        int ok = 1;
        if (strcmp(a, "--quiet") == 0)
            o->quiet = 1;
        else if (strcmp(a, "--standardize") == 0)
            o->standardize = 1;
        else if (strcmp(a, "--no-clip") == 0)
            o->no_clip = 1;
        else if (strcmp(a, "--grey") == 0)
            o->grey = 1;
        else if (strcmp(a, "--skip-nonfinite") == 0)
            o->skip_nonfinite = 1;
        else if (strcmp(a, "--force") == 0)
            o->force = 1;
        else if (strcmp(a, "--resume-changed-inputs") == 0)
            o->resume_changed_inputs = 1;
        else if (strcmp(a, "--cifar-per-file") == 0) {
            ok = parse_long_opt(a, v, 1, 1 << 30, &l);
            if (ok) o->cifar_per_file = (int)l;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
            o->output = v;
        else if (strcmp(a, "--columns") == 0)
            o->columns = v;
        else if (strcmp(a, "--title") == 0)
            o->title = v;
        else if (strcmp(a, "--classes") == 0)
            o->classes = v;
        else if (strcmp(a, "--noise") == 0)
            o->noise = v;
        else if (strcmp(a, "--noise-seed") == 0)
            ok = parse_long_opt(a, v, 0, 0x7fffffffL, &o->noise_seed);
        else if (strcmp(a, "--data") == 0)
            o->data = v;
        else if (strcmp(a, "--test") == 0)
            o->test = v;
        else if (strcmp(a, "--out") == 0)
            o->out = v;
        else if (strcmp(a, "--resume") == 0)
            o->resume = v;
        else if (strcmp(a, "--max-memory") == 0) {
            ok = cli_parse_size(v, &o->max_memory);
            if (!ok) fprintf(stderr, "scratchnet: --max-memory: '%s' is not a size like 512M\n", v);
        } else if (strcmp(a, "--checkpoint-every") == 0)
            ok = parse_long_opt(a, v, 0, 10000000, &o->checkpoint_every);
        else if (strcmp(a, "--checkpoint-steps") == 0)
            ok = parse_long_opt(a, v, 0, 0x7fffffffL, &o->checkpoint_steps);
        else if (strcmp(a, "--target-cols") == 0)
            o->target_cols = v;
        else if (strcmp(a, "--seed") == 0)
            ok = parse_long_opt(a, v, 1, 0x7fffffffL, &o->seed);
        else if (strcmp(a, "--epochs") == 0)
            ok = parse_long_opt(a, v, 0, 10000000, &o->epochs);
        else if (strcmp(a, "--batch") == 0)
            ok = parse_long_opt(a, v, 1, 1 << 20, &o->batch);
        else if (strcmp(a, "--lr") == 0)
            ok = parse_double_opt(a, v, 1e-12, 1e6, &o->lr);
        else if (strcmp(a, "--minutes") == 0)
            ok = parse_double_opt(a, v, 1e-6, 1e7, &o->minutes);
        else if (strcmp(a, "--val-split") == 0)
            ok = parse_double_opt(a, v, 0, 0.99, &o->val_split);
        else if (strcmp(a, "--threads") == 0) {
            ok = parse_long_opt(a, v, 0, 1024, &l);
            o->threads = cli_cap_threads((int)l);
        } else if (strcmp(a, "--label-col") == 0) {
            ok = parse_long_opt(a, v, 0, 1 << 20, &l);
            o->label_col = (int)l;
        } else if (strcmp(a, "--header") == 0) {
            if (strcmp(v, "yes") == 0)
                o->header = 1;
            else if (strcmp(v, "no") == 0)
                o->header = 0;
            else if (strcmp(v, "auto") == 0)
                o->header = -1;
            else {
                fprintf(stderr, "scratchnet: --header: expected yes, no or auto\n");
                ok = 0;
            }
        } else {
            fprintf(stderr, "scratchnet %s: unknown option '%s'\n\n%s", argv[0], a, usage);
            return EXIT_USAGE;
        }
        if (!ok) return EXIT_USAGE;
    }
    if (o->npositional < min_pos) {
        fprintf(stderr, "scratchnet %s: missing argument\n\n%s", argv[0], usage);
        return EXIT_USAGE;
    }
    return 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --header, --label-col and --target-cols as CSV options. */
static sn_status csv_options(const cli_opts *o, sn_csv_options *c, sn_error *err) {
    memset(c, 0, sizeof *c);
    c->header = o->header;
    c->label_col = o->label_col;
    c->delimiter = ',';
    if (o->target_cols) {
        const char *p = o->target_cols;
        while (*p) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 0 || c->num_target_cols == 16)
                return sn_fail(err, SN_ERR_ARG, "--target-cols: expected e.g. 3,4 (at most 16)");
            c->target_cols[c->num_target_cols++] = (int)v;
            p = *end == ',' ? end + 1 : end;
            if (*end && *end != ',')
                return sn_fail(err, SN_ERR_ARG, "--target-cols: expected e.g. 3,4");
        }
        c->label_col = -1;
    }
    return SN_OK;
}

sn_status cli_load_data(const cli_opts *o, sn_dataset *train, sn_dataset *test, int need_train,
                        sn_error *err) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!o->data) return sn_fail(err, SN_ERR_ARG, "--data is required");
    sn_data_options d = {.test = o->test, .cifar_per_file = o->cifar_per_file, .grey = o->grey};
    sn_status s = csv_options(o, &d.csv, err);
    if (s == SN_OK) s = sn_data_load(o->data, &d, need_train ? train : NULL, test, err);
    return s;
}

/* The first label of d outside 0..K-1, named after `file` (and `part` for
 * a folder holding several sets). */
static sn_status check_labels(const sn_dataset *d, int K, const char *file, const char *part,
                              sn_error *err) {
    for (int i = 0; d->labels && i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= K)
            return sn_fail(err, SN_ERR_FORMAT,
                           "%s%s: sample %d: label %d out of range (the model has %d classes, "
                           "0..%d)",
                           file, is_dir(file) ? part : "", i, d->labels[i], K, K - 1);
    return SN_OK;
}

sn_status cli_check_labels(const cli_opts *o, const sn_model *m, const sn_dataset *train,
                           const sn_dataset *test, sn_error *err) {
    int K = sn_model_num_classes(m);
    const char *data = o->data ? o->data : "data";
    sn_status s = check_labels(train, K, data, " (training labels)", err);
    if (s == SN_OK)
        s = check_labels(test, K, o->test && train->n ? o->test : data, " (test labels)", err);
    return s;
}

static void on_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double sps) {
    cli_progress *p = ctx;
    if (p->quiet || !p->tty) return;
    double t = cli_now();
    if (batch == 1) p->epoch_start = t;
    if (batch != nbatches && t - p->last_draw < 0.1) return;
    p->last_draw = t;
    char bar[31];
    int filled = (int)(30.0 * batch / nbatches);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = 0;
    double eta = (t - p->epoch_start) / batch * (nbatches - batch);
    fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %d/%d loss %.4f", epoch, p->epochs, bar, batch,
            nbatches, loss);
    if (!isnan(acc)) fprintf(stderr, " acc %.2f%%", 100 * acc);
    fprintf(stderr, " %.0f samples/s ETA %.0fs", sps, eta);
    fflush(stderr);
}

static int on_epoch(void *ctx, const sn_epoch_stats *e) {
    cli_progress *p = ctx;
    if (p->quiet) return 0;
    if (p->tty) fputs("\r\033[K", stderr);
    fprintf(stderr, "epoch %d/%d  loss %.4f", e->epoch, p->epochs, e->train_loss);
    if (!isnan(e->train_acc)) fprintf(stderr, "  acc %.2f%%", 100 * e->train_acc);
    if (!isnan(e->val_loss)) fprintf(stderr, "  val_loss %.4f", e->val_loss);
    if (!isnan(e->val_acc)) fprintf(stderr, "  val_acc %.2f%%", 100 * e->val_acc);
    if (!isnan(e->test_acc)) fprintf(stderr, "  test_acc %.2f%%", 100 * e->test_acc);
    if (e->skipped) fprintf(stderr, "  skipped %d", e->skipped);
    fprintf(stderr, "  lr %.3g  %.1fs\n", e->lr, e->seconds);
    return 0;
}

sn_train_hooks cli_progress_hooks(cli_progress *p, int quiet, int epochs) {
    p->quiet = quiet;
    p->tty = isatty(2);
    p->epochs = epochs;
    p->last_draw = 0;
    sn_train_hooks h = {.ctx = p, .on_batch = on_batch, .on_epoch = on_epoch};
    return h;
}

/* ---- run folders -------------------------------------------------------- */

int cli_make_dirs(const char *path) {
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

void cli_default_run_dir(char *buf, size_t len, const char *spec) {
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

sn_status cli_write_text(const char *dir, const char *name, const char *text, sn_error *err) {
    /* One fixed temporary name (not one per process): a run killed in the
     * middle of this leaves a NAME.tmp that the next write of NAME reuses. */
    char path[1200], tmp[1210];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return sn_fail(err, SN_ERR_IO, "%s: write error", path);
    }
    return SN_OK;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
