/* scratchnet predict MODEL|RUN_DIR INPUT... [options] */
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char usage[] =
    "usage: scratchnet predict MODEL|RUN_DIR INPUTS [options]\n"
    "\n"
    "Prints one row per sample, with a header: the input it came from, its\n"
    "index there, the predicted class, its name and its probability. Each INPUT\n"
    "is an IDX image file (raw or .gz), a CSV of features (no label column: use\n"
    "--label-col to skip one), a PNG or PGM image (one sample; colour is made grey\n"
    "for a one-channel model), or - for the standard input (any of these).\n"
    "Class names come from --classes, else from the run folder's data.\n"
    "\n"
    "  --format tsv|csv|json  output format (default tsv; json: an array of objects)\n"
    "  --top-k K          the K most likely classes per sample (default 1)\n"
    "  --probs            every class's probability too (columns prob_<name>)\n"
    "  --batch N          samples per forward pass (default 256)\n"
    "  --classes FILE     class names, one per line\n"
    "  --threads N        threads for the kernels (default: all cores)\n"
    "  --header yes|no|auto, --label-col N   CSV input, as for train\n";

static const char *const opts[] = {"--format",  "--top-k",  "--probs",     "--batch", "--classes",
                                   "--threads", "--header", "--label-col", NULL};
const cli_verb cli_verb_predict = {"predict", usage, opts, 2, 16};

static int has_suffix(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* The standard input, copied into a temporary file named after its kind. */
static sn_status stdin_file(char *path, size_t len, sn_error *err) {
    unsigned char head[4] = {0};
    size_t n = fread(head, 1, 4, stdin);
    const char *ext = head[0] == 0x89 && head[1] == 'P'                      ? ".png"
                      : head[0] == 'P' && (head[1] == '5' || head[1] == '2') ? ".pgm"
                      : (head[0] == 0 && head[1] == 0) || head[0] == 0x1f    ? ".idx"
                                                                             : ".csv";
    snprintf(path, len, "%s/scratchnet-stdin-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot create a temporary file", path);
    char buf[65536];
    int bad = fwrite(head, 1, n, f) != n;
    while (!bad && (n = fread(buf, 1, sizeof buf, stdin)) > 0) bad = fwrite(buf, 1, n, f) != n;
    bad |= fclose(f) != 0 || ferror(stdin);
    char named[1100];
    snprintf(named, sizeof named, "%s%s", path, ext);
    if (bad || rename(path, named) != 0) {
        remove(path);
        return sn_fail(err, SN_ERR_IO, "standard input: read or write error");
    }
    snprintf(path, len, "%s", named);
    return SN_OK;
}

static sn_status load_input(const cli_opts *o, const char *in, const sn_model *m, sn_dataset *d,
                            sn_error *err) {
    if (has_suffix(in, ".png") || has_suffix(in, ".pgm"))
        return cli_image_load(in, sn_model_input_size(m), d, err);
    if (has_suffix(in, ".csv")) {
        sn_data_options c;
        cli_data_options(o, &c, NULL); /* predict takes no --target-cols */
        c.csv.features_only = o->label_col < 0;
        return sn_csv_load(in, &c.csv, d, err);
    }
    return sn_idx_load_images(in, d, err);
}

/* The classes in decreasing probability (ties: the lower class first). */
static void rank(const float *p, int K, int *order) {
    for (int k = 0; k < K; k++) {
        int j = k;
        while (j > 0 && p[order[j - 1]] < p[k]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
}

typedef struct out {
    char fmt; /* 't', 'c', 'j' */
    int top, probs, K, rows, headed;
    char *const *names;
} out;

/* One TSV or CSV cell (printf-style), after a separator unless first. */
static void cell(const out *w, int first, const char *fmt, ...) {
    char text[4400], *s = text;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!first) putchar(w->fmt == 'c' ? ',' : '\t');
    if (w->fmt == 'c' && strpbrk(s, ",\"\n")) {
        putchar('"');
        for (; *s; s++) fputs(*s == '"' ? "\"\"" : (char[2]){*s, 0}, stdout);
        putchar('"');
    } else {
        for (; *s; s++) putchar(w->fmt == 't' && (*s == '\t' || *s == '\n') ? ' ' : *s);
    }
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void header(out *w) {
    if (w->headed++) return;
    if (w->fmt == 'j') {
        puts("[");
        return;
    }
    cell(w, 1, "input");
    cell(w, 0, "index");
    for (int r = 1; r <= w->top; r++) {
        char sfx[16] = "";
        if (r > 1) snprintf(sfx, sizeof sfx, "_%d", r);
        cell(w, 0, "class%s", sfx);
        cell(w, 0, "name%s", sfx);
        cell(w, 0, "prob%s", sfx);
    }
    for (int k = 0; w->probs && k < w->K; k++) cell(w, 0, "prob_%s", w->names[k]);
    putchar('\n');
}

/* One sample: p holds the K classes' probabilities, order the classes
 * ranked. */
static void row(out *w, const char *in, int index, const float *p, const int *order) {
    header(w);
    if (w->fmt == 'j') {
        printf("%s  {\"input\": ", w->rows++ ? ",\n" : "");
        json_string(in);
        printf(", \"index\": %d, \"class\": %d, \"name\": ", index, order[0]);
        json_string(w->names[order[0]]);
        printf(", \"prob\": %.6g", p[order[0]]);
        if (w->top > 1) {
            printf(", \"top\": [");
            for (int r = 0; r < w->top; r++) {
                printf("%s{\"class\": %d, \"name\": ", r ? ", " : "", order[r]);
                json_string(w->names[order[r]]);
                printf(", \"prob\": %.6g}", p[order[r]]);
            }
            printf("]");
        }
        if (w->probs) {
            printf(", \"probs\": [");
            for (int k = 0; k < w->K; k++) printf("%s%.6g", k ? ", " : "", p[k]);
            printf("]");
        }
        printf("}");
        return;
    }
    cell(w, 1, "%s", in);
    cell(w, 0, "%d", index);
    for (int r = 0; r < w->top; r++) {
        cell(w, 0, "%d", order[r]);
        cell(w, 0, "%s", w->names[order[r]]);
        cell(w, 0, "%.4f", p[order[r]]);
    }
    for (int k = 0; w->probs && k < w->K; k++) cell(w, 0, "%.4f", p[k]);
    putchar('\n');
}

/* Class names: --classes, else those the model records, else the run
 * folder's data (run.txt), else the numbers; *owned: what to free. */
static sn_status class_names(const cli_opts *o, const sn_model *m, const char *model, int K,
                             char *const **shown, char ***owned, sn_error *err) {
    *owned = NULL;
    if (!o->classes && (*shown = sn_model_class_names(m))) return SN_OK; /* as trained */
    char dir[4200];
    const char *slash = strrchr(model, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - model) : 1, slash ? model : ".");
    sn_run_data run; /* the data the run folder's model was trained on */
    const char *data = NULL;
    if (!o->classes && sn_run_data_read(dir, &run, NULL) == SN_OK && run.data[0]) data = run.data;
    sn_status s = sn_class_names_load(data, o->classes, NULL, K, owned, err);
    *shown = *owned;
    return s;
}

int cmd_predict(cli_opts *o) {
    sn_set_threads((int)o->threads);
    sn_error err = {0};
    sn_model *m = NULL;
    char model[4200], tmp[1100] = "";
    cli_model_path(o->positional[0], model, sizeof model);
    sn_status s = sn_model_load(model, &m, &err);
    int K = s == SN_OK ? sn_model_output_size(m) : 0, classes = K == 1 ? 2 : K;
    out w = {o->format ? o->format[0] : 't',
             o->top_k > 0 ? (int)o->top_k : 1,
             o->probs,
             classes,
             0,
             0,
             NULL};
    if (w.top > classes) w.top = classes;
    const int batch = o->batch > 0 ? (int)o->batch : 256;
    float *probs = NULL;
    int *order = NULL;
    char **owned = NULL;
    if (s == SN_OK) s = class_names(o, m, model, classes, &w.names, &owned, &err);
    if (s == SN_OK) s = sn_model_reserve(m, batch, &err);
    if (s == SN_OK && (!(probs = malloc((size_t)batch * (size_t)K * sizeof(float))) ||
                       !(order = malloc((size_t)classes * sizeof(int)))))
        s = sn_fail(&err, SN_ERR_NOMEM, "out of memory");
    for (int f = 1; s == SN_OK && f < o->npositional; f++) {
        const char *in = o->positional[f], *name = in;
        sn_dataset d = {0};
        if (strcmp(in, "-") == 0) {
            s = stdin_file(tmp, sizeof tmp, &err);
            in = tmp, name = "-";
        }
        if (s == SN_OK) s = load_input(o, in, m, &d, &err);
        if (s == SN_OK) s = sn_model_check_input(m, &d, name, &err);
        for (int start = 0; s == SN_OK && start < d.n; start += batch) {
            int n = d.n - start < batch ? d.n - start : batch;
            s = sn_model_predict(m, d.x + (size_t)start * d.sample_size, n, probs, &err);
            for (int i = 0; s == SN_OK && i < n; i++) {
                const float *p = probs + (size_t)i * K; /* one output: P(class 1) */
                float two[2] = {1 - p[0], p[0]};
                rank(K == 1 ? two : p, classes, order);
                row(&w, name, start + i, K == 1 ? two : p, order);
            }
        }
        sn_dataset_free(&d);
        if (tmp[0]) remove(tmp);
        tmp[0] = 0;
    }
    if (s == SN_OK) header(&w); /* no samples: the header alone */
    if (s == SN_OK && w.fmt == 'j') puts(w.rows ? "\n]" : "]");
    if (s != SN_OK) fprintf(stderr, "scratchnet predict: %s\n", err.msg);
    sn_class_names_free(owned, classes);
    free(probs);
    free(order);
    sn_model_free(m);
    return s == SN_OK ? 0 : EXIT_RUNTIME;
}
