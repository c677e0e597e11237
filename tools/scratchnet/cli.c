#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- options ------------------------------------------------------------ */

/* One row per option: kind 'f' flag (int), 's' text, 'c' one of `choices`
 * (text), 'i' whole number (long), 'n' number (double), 'z' a size such as
 * 512M (size_t). */
typedef struct optdef {
    const char *name, *alias, *alias2;
    char kind;
    double lo, hi;
    const char *choices;
    size_t off;
} optdef;

#define F(name, field)                                                                             \
    { name, NULL, NULL, 'f', 0, 0, NULL, offsetof(cli_opts, field) }
#define S(name, field)                                                                             \
    { name, NULL, NULL, 's', 0, 0, NULL, offsetof(cli_opts, field) }
#define C(name, field, choices)                                                                    \
    { name, NULL, NULL, 'c', 0, 0, choices, offsetof(cli_opts, field) }
#define I(name, field, lo, hi)                                                                     \
    { name, NULL, NULL, 'i', lo, hi, NULL, offsetof(cli_opts, field) }
#define N(name, field, lo, hi)                                                                     \
    { name, NULL, NULL, 'n', lo, hi, NULL, offsetof(cli_opts, field) }
#define MAX_SEED 9007199254740992.0 /* 2^53: every seed up to it is read exactly */

static const optdef table[] = {
    S("--data", data),
    S("--test", test),
    S("--classes", classes),
    S("--target-cols", target_cols),
    C("--header", header, "yes|no|auto"),
    I("--label-col", label_col, 0, 1 << 20),
    I("--cifar-per-file", cifar_per_file, 1, 1 << 30),
    F("--grey", grey),
    F("--standardize", standardize),
    {"--out", "-o", "--output", 's', 0, 0, NULL, offsetof(cli_opts, out)},
    F("--quiet", quiet),
    I("--seed", seed, 0, MAX_SEED),
    I("--epochs", epochs, 1, 10000000),
    I("--batch", batch, 1, 1 << 20),
    N("--lr", lr, 1e-12, 1e6),
    {"--val-split", "--val", NULL, 'n', 0, 0.99, NULL, offsetof(cli_opts, val_split)},
    I("--threads", threads, 0, 1024),
    F("--skip-nonfinite", skip_nonfinite),
    I("--checkpoint-every", checkpoint_every, 0, 10000000),
    I("--checkpoint-steps", checkpoint_steps, 0, 0x7fffffffL),
    I("--bucket-kb", bucket_kb, 1, 1 << 22),
    I("--check-weights", check_weights, 0, 0x7fffffffL),
    C("--allreduce", allreduce, "auto|shm|mpi"),
    S("--resume", resume),
    {"--max-memory", NULL, NULL, 'z', 0, 0, NULL, offsetof(cli_opts, max_memory)},
    F("--resume-changed-inputs", resume_changed_inputs),
    F("--force", force),
    S("--text", text),
    C("--level", level, "char|byte|word"),
    S("--prime", prime),
    I("--words", words, 1, 1 << 24),
    {"--seq-len", "--seq", NULL, 'i', 1, 1 << 16, NULL, offsetof(cli_opts, seq_len)},
    I("--sample-every", sample_every, 0, 1 << 30),
    {"--sample-length", "--length", NULL, 'i', 0, 1 << 24, NULL, offsetof(cli_opts, sample_length)},
    I("--top-k", top_k, 0, 1 << 24),
    N("--minutes", minutes, 1e-6, 1e7),
    N("--temperature", temperature, 0, 100),
    F("--allow-unk", allow_unk),
    S("--noise", noise),
    I("--noise-seed", noise_seed, 0, 0x7fffffffL),
    F("--no-clip", no_clip),
    C("--format", format, "tsv|csv|json"),
    F("--probs", probs),
    S("--columns", columns),
    S("--title", title),
    F("--dry-run", dry_run),
    N("--tol", tol, 1e-12, 1e3),
    N("--step", step, 1e-12, 1e3),
    I("--samples", samples, 1, 1e6),
    F("--train", train_mode),
};
#define NOPTS (int)(sizeof table / sizeof table[0])

static const optdef *find_opt(const char *name, size_t len) {
    for (int i = 0; i < NOPTS; i++) {
        const char *n[3] = {table[i].name, table[i].alias, table[i].alias2};
        for (int k = 0; k < 3; k++)
            if (n[k] && strlen(n[k]) == len && strncmp(n[k], name, len) == 0) return &table[i];
    }
    return NULL;
}

const char *const *cli_flag_names(void) {
    static const char *flags[NOPTS + 1];
    int k = 0;
    for (int i = 0; i < NOPTS; i++)
        if (table[i].kind == 'f') flags[k++] = table[i].name;
    flags[k] = NULL;
    return flags;
}

/* --header: 1 yes, 0 no, -1 auto or unset. */
static int header(const cli_opts *o) {
    return !o->header || strcmp(o->header, "auto") == 0 ? -1 : strcmp(o->header, "yes") == 0;
}

char **cli_normalize_args(int argc, char **argv) {
    char **out = calloc(2 * (size_t)argc + 1, sizeof *out);
    if (!out) return NULL;
    int k = 0, options = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i == 0 || !options || a[0] != '-' || a[1] == 0) {
            out[k++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) options = 0;
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        const optdef *d = find_opt(a, eq ? (size_t)(eq - a) : strlen(a));
        if (!d || (eq && d->kind == 'f')) { /* for the verb to complain about */
            out[k++] = argv[i];
            continue;
        }
        out[k++] = (char *)d->name;
        if (eq)
            out[k++] = (char *)eq + 1;
        else if (d->kind != 'f' && i + 1 < argc)
            out[k++] = argv[++i];
    }
    out[k] = NULL;
    return out;
}

/* A number in [lo, hi] (whole when integer) at s, ending s or (in a list)
 * at a comma: where it ends, or NULL. */
static const char *number_at(const char *s, int list, double lo, double hi, int integer,
                             double *v) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || errno || !(x >= lo && x <= hi) || (integer && x != floor(x)) ||
        (*end && !(list && *end == ',')))
        return NULL;
    *v = x;
    return end;
}

int cli_numbers(const char *s, double lo, double hi, int integer, double *v, int max) {
    int n = 0;
    for (const char *p = s;; p++) {
        if (n == max || !(p = number_at(p, 1, lo, hi, integer, &v[n]))) return -1;
        if (n++, !*p) return n;
    }
}

static int number(const char *verb, const char *name, const char *s, double lo, double hi,
                  int integer, double *v) {
    if (number_at(s, 0, lo, hi, integer, v)) return 1;
    fprintf(stderr, "scratchnet %s: %s: '%s' is not %s in [%.15g, %.15g]\n", verb, name, s,
            integer ? "an integer" : "a number", lo, hi);
    return 0;
}

/* "512M", "2G", "1.5G", "100000" (bytes; K, M, G, T: powers of 1024) into
 * *out; 0 when s is not such a size. */
static int parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mult = 1;
    if (end != s && *end) {
        const char *units = "KMGT", *u = strchr(units, toupper((unsigned char)*end));
        if (!u || !*u) return 0;
        for (const char *p = units; p <= u; p++) mult *= 1024;
        end++;
        if (*end == 'i' && end[1] == 'B')
            end += 2;
        else if (toupper((unsigned char)*end) == 'B')
            end++;
    }
    v *= mult;
    if (end == s || *end || errno || !(v >= 1) || v > 1e18) return 0;
    *out = (size_t)v;
    return 1;
}

/* --threads n: at most THREADS_PER_CORE threads per core (more only
 * thrash), saying so on stderr when n is capped. */
#define THREADS_PER_CORE 4
static int cap_threads(int n) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    long most = THREADS_PER_CORE * cores;
    if (n <= most) return n;
    fprintf(stderr, "scratchnet: --threads %d: using %ld, %d per core of the %ld cores\n", n, most,
            THREADS_PER_CORE, cores);
    return (int)most;
}

int cli_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b), d[64];
    if (la > 62 || lb > 62) return 99;
    for (int j = 0; j <= lb; j++) d[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = d[0];
        d[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = d[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (d[j - 1] + 1 < best) best = d[j - 1] + 1;
            d[j] = best;
            diag = up;
        }
    }
    return d[lb];
}

static int accepts(const cli_verb *v, const optdef *d) {
    for (int i = 0; d && v->opts[i]; i++)
        if (strcmp(v->opts[i], d->name) == 0) return 1;
    return 0;
}

static int usage_error(const cli_verb *v, const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "scratchnet %s: ", v->name);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nsee 'scratchnet %s --help'\n", v->name);
    return EXIT_USAGE;
}

static int unknown_option(const cli_verb *v, const char *a) {
    const char *best = NULL;
    int bd = 99;
    for (int i = 0; v->opts[i]; i++) {
        int d = cli_distance(a, v->opts[i]);
        size_t n = strlen(a);
        if (n >= 4 && strncmp(v->opts[i], a, n) == 0) d = 1; /* a prefix: --chec */
        if (d < bd) bd = d, best = v->opts[i];
    }
    if (find_opt(a, strlen(a)))
        return usage_error(v, "option '%s' does not apply here%s", a,
                           strcmp(v->name, "train") == 0 ? " (text options need --text FILE)" : "");
    if (best && bd <= 2 + (int)strlen(a) / 8)
        return usage_error(v, "unknown option '%s'; did you mean '%s'?", a, best);
    return usage_error(v, "unknown option '%s'%s", a, "");
}

int cli_parse(int argc, char **argv, const cli_verb *v, cli_opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < NOPTS; i++) {
        char *p = (char *)o + table[i].off;
        if (table[i].kind == 'i') *(long *)p = -1;
        if (table[i].kind == 'n') *(double *)p = -1;
    }
    o->threads = 0; /* all cores */
    int options = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(v->usage, stdout);
            return -1;
        }
        if (options && strcmp(a, "--") == 0) {
            options = 0;
            continue;
        }
        if (!options || a[0] != '-' || a[1] == 0) {
            if (o->npositional == v->max_pos || o->npositional == 16)
                return usage_error(v, "unexpected argument '%s'%s", a, "");
            o->positional[o->npositional++] = a;
            continue;
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - a : (long)strlen(a)), a);
        const optdef *d = find_opt(name, strlen(name));
        if (!accepts(v, d)) return unknown_option(v, name);
        if (d->kind == 'f') {
            if (eq) return usage_error(v, "%s takes no value%s", d->name, "");
            *(int *)((char *)o + d->off) = 1;
            continue;
        }
        if (!eq && i + 1 >= argc) return usage_error(v, "%s needs a value%s", d->name, "");
        const char *val = eq ? eq + 1 : argv[++i];
        char *p = (char *)o + d->off;
        double x;
        if (d->kind == 's') {
            *(const char **)p = val;
        } else if (d->kind == 'c') {
            size_t n = strlen(val);
            const char *c = strstr(d->choices, val);
            if (!n || !c || (c != d->choices && c[-1] != '|') || (c[n] && c[n] != '|')) {
                fprintf(stderr, "scratchnet %s: %s: '%s' is not one of %s\n", v->name, d->name, val,
                        d->choices);
                return EXIT_USAGE;
            }
            *(const char **)p = val;
        } else if (d->kind == 'z') {
            if (!parse_size(val, (size_t *)p)) {
                fprintf(stderr, "scratchnet %s: %s: '%s' is not a size like 512M or 2G\n", v->name,
                        d->name, val);
                return EXIT_USAGE;
            }
        } else if (!number(v->name, d->name, val, d->lo, d->hi, d->kind == 'i', &x)) {
            return EXIT_USAGE;
        } else if (d->kind == 'i') {
            *(long *)p = (long)x;
        } else {
            *(double *)p = x;
        }
    }
    if (o->threads > 0) o->threads = cap_threads((int)o->threads);
    if (o->npositional < v->min_pos) { /* name it as the usage line does */
        char line[256], *w[16], *save = NULL;
        int n = 0, k = 0;
        snprintf(line, sizeof line, "%.*s", (int)strcspn(v->usage, "\n"), v->usage);
        for (char *t = strtok_r(line, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save))
            w[n++] = t;
        for (int i = 3; i < n; i++) { /* after "usage: scratchnet VERB" */
            if (w[i][0] == '-' || w[i][0] == '[' || w[i - 1][0] == '-') continue;
            if (k++ == o->npositional) return usage_error(v, "missing %s%s", w[i], "");
        }
        return usage_error(v, "missing argument%s%s", v->min_pos > 1 ? "s" : "", "");
    }
    return 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

sn_status cli_data_options(const cli_opts *o, sn_data_options *d, sn_error *err) {
    *d = (sn_data_options){
        .test = o->test,
        .cifar_per_file = o->cifar_per_file > 0 ? (int)o->cifar_per_file : 0,
        .grey = o->grey,
        .csv = {.header = header(o), .label_col = (int)o->label_col, .delimiter = ','}};
    double cols[16];
    int n = o->target_cols ? cli_numbers(o->target_cols, 0, 1 << 20, 1, cols, 16) : 0;
    if (n < 0) return sn_fail(err, SN_ERR_ARG, "--target-cols: expected e.g. 3,4 (at most 16)");
    for (int i = 0; i < n; i++) d->csv.target_cols[i] = (int)cols[i];
    d->csv.num_target_cols = n;
    if (n) d->csv.label_col = -1;
    return SN_OK;
}

sn_status cli_load_data(const cli_opts *o, sn_dataset *train, sn_dataset *test, int need_train,
                        sn_error *err) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!o->data) return sn_fail(err, SN_ERR_ARG, "--data is required");
    sn_data_options d;
    sn_status s = cli_data_options(o, &d, err);
    if (s == SN_OK) s = sn_data_load(o->data, &d, need_train ? train : NULL, test, err);
    return s;
}

/* Monotonic clock, seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "1:05" or "1:02:05" */
static void clock_text(char *buf, size_t len, double seconds) {
    int t = seconds > 0 && seconds < 3.6e6 ? (int)(seconds + 0.5) : 0; /* under 1000 hours */
    if (t >= 3600)
        snprintf(buf, len, "%d:%02d:%02d", t / 3600 % 1000, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%d:%02d", t / 60 % 60, t % 60);
}

void cli_progress_batch(cli_progress *p, int epoch, int batch, int nbatches, double loss,
                        double acc, double rate, const char *unit) {
    if (p->quiet || !p->tty) return;
    double t = now();
    long done = (long)(epoch - 1) * nbatches + batch, total = (long)p->epochs * nbatches;
    if (p->start == 0) p->start = t, p->done0 = done - 1; /* a resumed run starts midway */
    if (batch != nbatches && t - p->last_draw < 0.1) return;
    p->last_draw = t;
    char bar[21], elapsed[32], eta[32];
    int filled = (int)(20.0 * batch / nbatches);
    for (int i = 0; i < 20; i++) bar[i] = i < filled ? '#' : '.';
    bar[20] = 0;
    double run = t - p->start, left = run / (double)(done - p->done0) * (double)(total - done);
    if (p->budget_s > 0 && p->budget_s - run < left) left = p->budget_s - run;
    clock_text(elapsed, sizeof elapsed, run);
    clock_text(eta, sizeof eta, left);
    fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %d/%d loss %.4f", epoch, p->epochs, bar, batch,
            nbatches, loss);
    if (!isnan(acc)) fprintf(stderr, " acc %.2f%%", 100 * acc);
    fprintf(stderr, " %.0f %s %s elapsed, ETA %s%s%s", rate, unit, elapsed, eta,
            p->budget_s > 0 ? " (time budget)" : "", batch == nbatches ? " · evaluating" : "");
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_end_line(cli_progress *p) {
    if (p->drawn && p->tty) fputs("\r\033[K", stderr);
    p->drawn = 0;
}

static void on_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double sps) {
    cli_progress_batch(ctx, epoch, batch, nbatches, loss, acc, sps, "samples/s");
}

static int on_epoch(void *ctx, const sn_epoch_stats *e) {
    cli_progress *p = ctx;
    if (p->quiet) return 0;
    cli_progress_end_line(p);
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
    memset(p, 0, sizeof *p);
    p->quiet = quiet;
    p->tty = isatty(2) || getenv("SN_PROGRESS_TTY"); /* the variable: for tests */
    p->epochs = epochs;
    sn_train_hooks h = {.ctx = p, .on_batch = on_batch, .on_epoch = on_epoch};
    return h;
}

void cli_model_path(const char *arg, char *buf, size_t len) {
    if (is_dir(arg))
        snprintf(buf, len, "%s/model.safetensors", arg);
    else
        snprintf(buf, len, "%s", arg);
}

sn_status cli_run_defaults(const char *dir, cli_opts *o, sn_run_data *run, sn_error *err) {
    sn_status s = sn_run_data_read(dir, run, err);
    if (s != SN_OK) return s;
    if (!o->data && run->data[0]) o->data = run->data;
    if (!o->classes && run->classes[0]) o->classes = run->classes;
    if (!o->target_cols && run->target_cols[0]) o->target_cols = run->target_cols;
    if (o->label_col < 0) o->label_col = run->label_col;
    if (!o->header && run->header >= 0) o->header = run->header ? "yes" : "no";
    return SN_OK;
}

static char command_text[4096];

void cli_command_line(int argc, char **argv) {
    size_t k = 0;
    for (int i = 0; i < argc && k + 4 < sizeof command_text; i++) {
        const char *a = argv[i];
        int plain = *a != 0;
        for (const char *p = a; *p; p++)
            plain &= strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            "-_./=,:+@%",
                            *p) != NULL;
        if (i) command_text[k++] = ' ';
        if (!plain) command_text[k++] = '\'';
        for (const char *p = a; *p && k + 6 < sizeof command_text; p++) {
            if (*p == '\'') {
                memcpy(command_text + k, "'\\''", 4);
                k += 4;
            } else {
                command_text[k++] = *p;
            }
        }
        if (!plain) command_text[k++] = '\'';
    }
    command_text[k] = 0;
}

const char *cli_command_text(void) {
    return command_text;
}
