/* Sweeps (docs/sweep.md): a sweep file read and expanded into its
 * configurations (specs x the grid's values), and the comparison of their
 * run folders: comparison.csv and comparison.html, a table sorted by the
 * chosen metric and the curves of all runs overlaid, in the style of the
 * run report (one style sheet).
 *
 * A sweep file, one directive per line, '#' comments:
 *
 *   name  mlp-lr-epochs                # default: the file's name
 *   spec  examples/fashion-mlp.net     # one or more (several: a list)
 *   data  data/fashion-mnist           # as train --data
 *   test  FILE.csv                     # optional, as train --test
 *   classes FILE                       # optional, as train --classes
 *   out   runs/mlp-lr-epochs           # default: runs/<name>
 *   grid  lr=1e-3,3e-3 epochs=2,4      # [train] keys: every combination
 *   set   batch=256 val_split=0.1      # [train] keys for every run
 *   sort  test_acc [desc|asc]          # comparison order (default test_acc)
 *
 * Configurations = specs x the grid's combinations. Each one's spec is the
 * spec file with a [train] section appended holding the set and grid values
 * (later lines override earlier ones), so the run folder's spec.net says
 * exactly what was trained. Paths in the file are relative to its folder. */
#include "core/error.h"
#include "report/report.h"
#include "run/run.h"
#include "scratchnet.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SPECS   32
#define MAX_KEYS    16
#define MAX_VALUES  64
#define MAX_CONFIGS 1000

struct sn_sweep {
    char name[128], out[1024], sort[64];
    int sort_dir; /* 1 ascending, -1 descending, 0 default */
    char *specs[MAX_SPECS];
    int nspecs;
    char *data, *test, *classes;
    char *keys[MAX_KEYS], *values[MAX_KEYS][MAX_VALUES];
    int nkeys, nvalues[MAX_KEYS];
    char set_lines[2048];
    char *text;                 /* the file, words point into it */
    char *paths[MAX_SPECS + 4]; /* its paths, made relative to its folder */
    int npaths, oom;
    char *file; /* its path */
    struct config *cf;
    struct result *res;
    int *idx, n;
};
typedef struct sn_sweep sweep;

typedef struct config {
    int spec;
    int choice[MAX_KEYS];
    char label[512], dir[1200];
} config;

/* One row of the comparison: what the run folder says. */
enum {
    C_EPOCHS,
    C_TRAIN_LOSS,
    C_TRAIN_ACC,
    C_VAL_LOSS,
    C_VAL_ACC,
    C_TEST_LOSS,
    C_TEST_ACC,
    C_MACRO_F1,
    C_SECONDS,
    NCOLS
};
static const char *const col_names[NCOLS] = {"epochs_run", "train_loss", "train_acc",
                                             "val_loss",   "val_acc",    "test_loss",
                                             "test_acc",   "macro_f1",   "seconds"};

typedef struct result {
    int state;     /* 0 not run, 1 ok, 2 failed */
    char msg[600]; /* "failed: " and the error */
    double v[NCOLS];
} result;

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

static int split_words(char *line, char **w, int max) {
    int n = 0;
    for (char *p = line; *p;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (n == max) return -1;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = 0;
    }
    return n;
}

/* "key=value" words of a set line, appended as "key value" lines. */
static sn_status add_set(sweep *sw, char **w, int n, const char *file, int line, sn_error *err) {
    for (int i = 0; i < n; i++) {
        char *eq = strchr(w[i], '=');
        if (!eq || eq == w[i] || !eq[1])
            return sn_fail(err, SN_ERR_FORMAT, "%s:%d: set: expected key=value, got '%s'", file,
                           line, w[i]);
        *eq = 0;
        size_t k = strlen(sw->set_lines);
        if (snprintf(sw->set_lines + k, sizeof sw->set_lines - k, "%s %s\n", w[i], eq + 1) >=
            (int)(sizeof sw->set_lines - k))
            return sn_fail(err, SN_ERR_FORMAT, "%s:%d: set: too long", file, line);
    }
    return SN_OK;
}

static sn_status add_grid(sweep *sw, char **w, int n, const char *file, int line, sn_error *err) {
    for (int i = 0; i < n; i++) {
        char *eq = strchr(w[i], '=');
        if (!eq || eq == w[i] || !eq[1])
            return sn_fail(err, SN_ERR_FORMAT,
                           "%s:%d: grid: expected key=v1,v2,... (e.g. lr=1e-3,3e-3), got '%s'",
                           file, line, w[i]);
        *eq = 0;
        int k;
        for (k = 0; k < sw->nkeys; k++)
            if (strcmp(sw->keys[k], w[i]) == 0)
                return sn_fail(err, SN_ERR_FORMAT, "%s:%d: grid: '%s' given twice", file, line,
                               w[i]);
        if (sw->nkeys == MAX_KEYS)
            return sn_fail(err, SN_ERR_FORMAT, "%s:%d: grid: at most %d keys", file, line,
                           MAX_KEYS);
        k = sw->nkeys++;
        sw->keys[k] = w[i];
        for (char *p = eq + 1; p;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = 0;
            if (!*p)
                return sn_fail(err, SN_ERR_FORMAT, "%s:%d: grid: empty value for '%s'", file, line,
                               w[i]);
            if (sw->nvalues[k] == MAX_VALUES)
                return sn_fail(err, SN_ERR_FORMAT, "%s:%d: grid: at most %d values per key", file,
                               line, MAX_VALUES);
            sw->values[k][sw->nvalues[k]++] = p;
            p = comma ? comma + 1 : NULL;
        }
    }
    return SN_OK;
}

static void sweep_free(sweep *sw) {
    for (int i = 0; i < sw->npaths; i++) free(sw->paths[i]);
    free(sw->text);
    sw->text = NULL;
    sw->npaths = 0;
}

/* A path written in the sweep file, taken relative to the file's folder
 * (NULL when out of memory). */
static char *file_path(sweep *sw, const char *file, const char *p) {
    const char *slash = strrchr(file, '/');
    size_t n = slash && p[0] != '/' ? (size_t)(slash - file) + 1 : 0;
    char *s = sw->npaths < MAX_SPECS + 4 ? malloc(n + strlen(p) + 1) : NULL;
    if (!s) {
        sw->oom = 1;
        return NULL;
    }
    memcpy(s, file, n);
    strcpy(s + n, p);
    return sw->paths[sw->npaths++] = s;
}

static sn_status parse_sweep(const char *file, sweep *sw, sn_error *err) {
    memset(sw, 0, sizeof *sw);
    sn_buf b = {0};
    sn_status s = sn_buf_read_file(&b, file, err);
    if (s != SN_OK) {
        sn_buf_free(&b);
        return s;
    }
    sw->text = b.p;
    int line = 0;
    for (char *p = b.p; s == SN_OK && p && *p;) {
        char *nl = strchr(p, '\n'), *ln = p;
        if (nl) *nl = 0;
        p = nl ? nl + 1 : NULL;
        line++;
        char *hash = strchr(ln, '#');
        if (hash) *hash = 0;
        ln = trim(ln);
        if (!*ln) continue;
        char *w[64];
        int n = split_words(ln, w, 64);
        if (n < 0) {
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: too many words", file, line);
            break;
        }
        const char *d = w[0];
        int one = strcmp(d, "name") == 0 || strcmp(d, "spec") == 0 || strcmp(d, "data") == 0 ||
                  strcmp(d, "test") == 0 || strcmp(d, "out") == 0 || strcmp(d, "classes") == 0;
        if (one && n != 2) {
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: %s: expected one value", file, line, d);
        } else if (strcmp(d, "name") == 0) {
            snprintf(sw->name, sizeof sw->name, "%s", w[1]);
        } else if (strcmp(d, "spec") == 0) {
            if (sw->nspecs == MAX_SPECS)
                s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: at most %d specs", file, line, MAX_SPECS);
            else
                sw->specs[sw->nspecs++] = file_path(sw, file, w[1]);
        } else if (strcmp(d, "data") == 0) {
            sw->data = file_path(sw, file, w[1]);
        } else if (strcmp(d, "test") == 0) {
            sw->test = file_path(sw, file, w[1]);
        } else if (strcmp(d, "classes") == 0) {
            sw->classes = file_path(sw, file, w[1]);
        } else if (strcmp(d, "out") == 0) {
            char *out = file_path(sw, file, w[1]);
            snprintf(sw->out, sizeof sw->out, "%s", out ? out : "");
        } else if (strcmp(d, "grid") == 0) {
            s = n < 2 ? sn_fail(err, SN_ERR_FORMAT, "%s:%d: grid: expected key=v1,v2", file, line)
                      : add_grid(sw, w + 1, n - 1, file, line, err);
        } else if (strcmp(d, "set") == 0) {
            s = n < 2 ? sn_fail(err, SN_ERR_FORMAT, "%s:%d: set: expected key=value", file, line)
                      : add_set(sw, w + 1, n - 1, file, line, err);
        } else if (strcmp(d, "sort") == 0) {
            int c;
            for (c = 0; c < NCOLS; c++)
                if (n >= 2 && strcmp(w[1], col_names[c]) == 0) break;
            if (n < 2 || n > 3 || c == NCOLS)
                s = sn_fail(err, SN_ERR_FORMAT,
                            "%s:%d: sort: expected one of test_acc, val_acc, test_loss, "
                            "val_loss, train_loss, train_acc, macro_f1, seconds, epochs_run, then "
                            "optionally asc or desc",
                            file, line);
            else if (n == 3 && strcmp(w[2], "asc") != 0 && strcmp(w[2], "desc") != 0)
                s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: sort: '%s' is neither asc nor desc", file,
                            line, w[2]);
            else {
                snprintf(sw->sort, sizeof sw->sort, "%s", w[1]);
                sw->sort_dir = n == 3 ? (strcmp(w[2], "asc") == 0 ? 1 : -1) : 0;
            }
        } else {
            s = sn_fail(err, SN_ERR_FORMAT,
                        "%s:%d: unknown directive '%s' (expected name, spec, data, test, classes, "
                        "out, grid, set or sort)",
                        file, line, d);
        }
    }
    if (s == SN_OK && sw->oom) s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
    if (s == SN_OK && sw->nspecs == 0)
        s = sn_fail(err, SN_ERR_FORMAT, "%s: no 'spec FILE' line", file);
    if (s != SN_OK) sweep_free(sw);
    return s;
}

static const char *base_no_ext(const char *path, char *buf, size_t len) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, len, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}

/* Every combination: specs × grid values, the last grid key varying fastest. */
static int make_configs(const sweep *sw, config **out) {
    long total = sw->nspecs;
    for (int k = 0; k < sw->nkeys && total <= MAX_CONFIGS; k++) total *= sw->nvalues[k];
    if (total > MAX_CONFIGS) return -1;
    config *c = calloc((size_t)total, sizeof *c);
    if (!c) return -2;
    for (long i = 0; i < total; i++) {
        long r = i;
        for (int k = sw->nkeys - 1; k >= 0; k--) {
            c[i].choice[k] = (int)(r % sw->nvalues[k]);
            r /= sw->nvalues[k];
        }
        c[i].spec = (int)r;
        char part[256];
        size_t n = 0;
        c[i].label[0] = 0;
        if (sw->nspecs > 1)
            n += (size_t)snprintf(c[i].label, sizeof c[i].label, "%s",
                                  base_no_ext(sw->specs[c[i].spec], part, sizeof part));
        for (int k = 0; k < sw->nkeys && n < sizeof c[i].label; k++)
            n += (size_t)snprintf(c[i].label + n, sizeof c[i].label - n, "%s%s=%s", n ? " " : "",
                                  sw->keys[k], sw->values[k][c[i].choice[k]]);
        if (!c[i].label[0])
            snprintf(c[i].label, sizeof c[i].label, "%s",
                     base_no_ext(sw->specs[0], part, sizeof part));
        /* Folder: index and label, with characters a shell likes. */
        int k = snprintf(c[i].dir, sizeof c[i].dir, "%02ld_", i + 1);
        for (const char *p = c[i].label; *p && k < (int)sizeof c[i].dir - 1; p++) {
            char ch = *p;
            int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '=' || ch == '+';
            c[i].dir[k++] = ok ? ch : '_';
        }
        c[i].dir[k] = 0;
    }
    *out = c;
    return (int)total;
}

/* The spec text of configuration c: the spec file, then [train] lines. */
static sn_status config_text(const sweep *sw, const config *c, sn_buf *b, sn_error *err) {
    sn_status s = sn_buf_read_file(b, sw->specs[c->spec], err);
    if (s != SN_OK) return s;
    sn_buf_puts(b, "\n\n[train]  # sweep ");
    sn_buf_puts(b, sw->name);
    sn_buf_puts(b, ": ");
    sn_buf_puts(b, c->label);
    sn_buf_puts(b, "\n");
    sn_buf_puts(b, sw->set_lines);
    for (int k = 0; k < sw->nkeys; k++)
        sn_buf_printf(b, "%s %s\n", sw->keys[k], sw->values[k][c->choice[k]]);
    return b->oom ? sn_fail(err, SN_ERR_NOMEM, "out of memory") : SN_OK;
}

/* Collects what the comparison shows from a finished (or failed) run. */
static void read_result(const char *dir, result *r) {
    char path[4200];
    for (int i = 0; i < NCOLS; i++) r->v[i] = NAN;
    sn_table t;
    snprintf(path, sizeof path, "%s/history.csv", dir);
    if (sn_table_read(path, &t, NULL) == SN_OK) {
        int last = t.nrows - 1;
        for (int c = C_EPOCHS; c <= C_TEST_ACC; c++) {
            int col = sn_table_col(&t, c == C_EPOCHS ? "epoch" : col_names[c]);
            if (col >= 0 && last >= 0) r->v[c] = sn_table_num(&t, last, col);
        }
        int cs = sn_table_col(&t, "seconds");
        if (cs >= 0) {
            double sum = 0;
            for (int i = 0; i < t.nrows; i++) sum += sn_table_num(&t, i, cs);
            r->v[C_SECONDS] = sum;
        }
        sn_table_free(&t);
    }
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    if (sn_table_read(path, &t, NULL) == SN_OK) {
        for (int i = 0; i < t.nrows; i++) {
            if (strcmp(sn_table_str(&t, i, 0), "macro_f1") == 0)
                r->v[C_MACRO_F1] = sn_table_num(&t, i, 1);
            if (strcmp(sn_table_str(&t, i, 0), "accuracy") == 0)
                r->v[C_TEST_ACC] = sn_table_num(&t, i, 1);
        }
        sn_table_free(&t);
    }
}

static int sort_col;
static int sort_sign;
static const result *sort_res;

static int by_metric(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    double x = sort_res[i].v[sort_col], y = sort_res[j].v[sort_col];
    int fx = isfinite(x) && sort_res[i].state == 1, fy = isfinite(y) && sort_res[j].state == 1;
    if (fx != fy) return fx ? -1 : 1; /* failed and missing runs last */
    if (fx && x != y) return (x < y ? -1 : 1) * sort_sign;
    return i - j;
}

/* Order of the rows; resolves the default metric. */
static void order(const sweep *sw, const result *res, int n, int *idx, int *col, int *sign) {
    int c = -1;
    for (int i = 0; i < NCOLS; i++)
        if (sw->sort[0] && strcmp(sw->sort, col_names[i]) == 0) c = i;
    if (c < 0) {
        /* test_acc, else val_acc, else val_loss, else train_loss. */
        static const int prefs[] = {C_TEST_ACC, C_VAL_ACC, C_VAL_LOSS, C_TRAIN_LOSS};
        for (int p = 0; p < 4 && c < 0; p++)
            for (int i = 0; i < n; i++)
                if (isfinite(res[i].v[prefs[p]])) c = prefs[p];
        if (c < 0) c = C_TEST_ACC;
    }
    int asc = strstr(col_names[c], "loss") || c == C_SECONDS;
    *sign = sw->sort_dir ? sw->sort_dir : asc ? 1 : -1;
    *col = c;
    for (int i = 0; i < n; i++) idx[i] = i;
    sort_col = c;
    sort_sign = *sign;
    sort_res = res;
    qsort(idx, (size_t)n, sizeof *idx, by_metric);
}

static sn_status write_csv(const sweep *sw, const config *cf, const result *res, const int *idx,
                           int n, const char *dir, sn_error *err) {
    sn_buf b = {0};
    char spec[256], path[4200];
    sn_buf_puts(&b, "rank,run,spec");
    for (int k = 0; k < sw->nkeys; k++) sn_buf_printf(&b, ",%s", sw->keys[k]);
    for (int c = 0; c < NCOLS; c++) sn_buf_printf(&b, ",%s", col_names[c]);
    sn_buf_puts(&b, ",status\n");
    for (int r = 0; r < n; r++) {
        const config *c = &cf[idx[r]];
        const result *x = &res[idx[r]];
        sn_buf_printf(&b, "%d,", r + 1);
        sn_buf_csv_field(&b, c->dir);
        sn_buf_puts(&b, ",");
        sn_buf_csv_field(&b, base_no_ext(sw->specs[c->spec], spec, sizeof spec));
        for (int k = 0; k < sw->nkeys; k++) {
            sn_buf_puts(&b, ",");
            sn_buf_csv_field(&b, sw->values[k][c->choice[k]]);
        }
        for (int i = 0; i < NCOLS; i++) sn_buf_printf(&b, ",%.6g", x->v[i]);
        sn_buf_puts(&b, ",");
        sn_buf_csv_field(&b, x->state == 1 ? "ok" : x->state == 2 ? x->msg : "not run");
        sn_buf_puts(&b, "\n");
    }
    snprintf(path, sizeof path, "%s/comparison.csv", dir);
    sn_status s = sn_buf_write_file(&b, path, err);
    sn_buf_free(&b);
    return s;
}

static const char *color_of(int i) {
    return sn_palette[i % 12];
}

/* One chart of a history column for every run that has it. */
static void overlay(sn_buf *b, const config *cf, const result *res, int n, const char *dir,
                    const char *colname, const char *title, const char *ylabel, double scale,
                    int percent) {
    sn_series *s = calloc((size_t)n, sizeof *s);
    double **xs = calloc((size_t)n, sizeof *xs), **ys = calloc((size_t)n, sizeof *ys);
    int ns = 0;
    char path[4200];
    for (int i = 0; s && xs && ys && i < n; i++) {
        if (!res[i].state) continue;
        sn_table t;
        snprintf(path, sizeof path, "%s/%s/history.csv", dir, cf[i].dir);
        if (sn_table_read(path, &t, NULL) != SN_OK) continue;
        int ce = sn_table_col(&t, "epoch"), cy = sn_table_col(&t, colname), any = 0;
        if (ce >= 0 && cy >= 0 && t.nrows > 0) {
            xs[ns] = malloc((size_t)t.nrows * sizeof(double));
            ys[ns] = malloc((size_t)t.nrows * sizeof(double));
            if (xs[ns] && ys[ns]) {
                sn_table_column(&t, ce, xs[ns]);
                sn_table_column(&t, cy, ys[ns]);
                for (int r = 0; r < t.nrows; r++) {
                    ys[ns][r] *= scale;
                    any |= isfinite(ys[ns][r]);
                }
            }
            if (any && xs[ns] && ys[ns]) {
                s[ns] = (sn_series){cf[i].label, xs[ns], ys[ns], t.nrows, color_of(i), i >= 12};
                ns++;
            } else {
                free(xs[ns]);
                free(ys[ns]);
            }
        }
        sn_table_free(&t);
    }
    if (ns) {
        sn_chart c = sn_chart_epochs(title, ylabel, s, ns);
        c.y_percent = percent;
        c.height = 400;
        sn_svg_line_chart(b, &c);
    }
    for (int i = 0; i < ns; i++) {
        free(xs[i]);
        free(ys[i]);
    }
    free(xs);
    free(ys);
    free(s);
}

static sn_status write_html(const sweep *sw, const config *cf, const result *res, const int *idx,
                            int n, int col, int sign, const char *dir, sn_error *err) {
    sn_buf b = {0};
    char path[4200], spec[256];
    sn_buf_puts(&b,
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    sn_buf_escape(&b, sw->name);
    sn_buf_printf(&b,
                  " · scratchnet sweep</title>\n<style>\n%s"
                  "tr.best td{background:#eef6ee;font-weight:bold}\n"
                  ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;"
                  "vertical-align:-1px;margin-right:6px}\n",
                  sn_report_css);
    sn_buf_puts(&b, "</style>\n</head>\n<body><main>\n<h1>Sweep ");
    sn_buf_escape(&b, sw->name);
    sn_buf_printf(&b, "</h1>\n<p class=\"sub\">%d configurations, sorted by <b>%s</b> (%s)", n,
                  col_names[col], sign > 0 ? "lowest first" : "highest first");
    sn_buf_puts(&b, "; data <b>");
    sn_buf_escape(&b, sw->data ? sw->data : "-");
    sn_buf_puts(&b, "</b></p>\n<section><h2>Comparison</h2><table>\n<tr><th>#</th>"
                    "<th class=\"l\">run</th>");
    if (sw->nspecs > 1) sn_buf_puts(&b, "<th class=\"l\">spec</th>");
    for (int k = 0; k < sw->nkeys; k++) {
        sn_buf_puts(&b, "<th>");
        sn_buf_escape(&b, sw->keys[k]);
        sn_buf_puts(&b, "</th>");
    }
    static const char *const heads[NCOLS] = {"epochs run", "train loss", "train acc",
                                             "val loss",   "val acc",    "test loss",
                                             "test acc",   "macro F1",   "seconds"};
    for (int c = 0; c < NCOLS; c++) {
        sn_buf_printf(&b, "<th>%s%s</th>", heads[c], c == col ? (sign > 0 ? " ▲" : " ▼") : "");
    }
    sn_buf_puts(&b, "<th class=\"l\">status</th></tr>\n");
    for (int r = 0; r < n; r++) {
        int i = idx[r];
        const result *x = &res[i];
        sn_buf_printf(&b,
                      "<tr%s><td>%d</td><td class=\"l\"><span class=\"sw\" "
                      "style=\"background:%s\"></span><a href=\"",
                      r == 0 && x->state == 1 ? " class=\"best\"" : "", r + 1, color_of(i));
        sn_buf_escape(&b, cf[i].dir);
        sn_buf_puts(&b, "/report.html\">");
        sn_buf_escape(&b, cf[i].dir);
        sn_buf_puts(&b, "</a></td>");
        if (sw->nspecs > 1) {
            sn_buf_puts(&b, "<td class=\"l\">");
            sn_buf_escape(&b, base_no_ext(sw->specs[cf[i].spec], spec, sizeof spec));
            sn_buf_puts(&b, "</td>");
        }
        for (int k = 0; k < sw->nkeys; k++) {
            sn_buf_puts(&b, "<td>");
            sn_buf_escape(&b, sw->values[k][cf[i].choice[k]]);
            sn_buf_puts(&b, "</td>");
        }
        for (int c = 0; c < NCOLS; c++) {
            double v = x->v[c];
            if (!isfinite(v))
                sn_buf_puts(&b, "<td>–</td>");
            else if (c == C_TRAIN_ACC || c == C_VAL_ACC || c == C_TEST_ACC)
                sn_buf_printf(&b, "<td>%.2f %%</td>", 100 * v);
            else if (c == C_EPOCHS)
                sn_buf_printf(&b, "<td>%.0f</td>", v);
            else if (c == C_SECONDS)
                sn_buf_printf(&b, "<td>%.1f</td>", v);
            else
                sn_buf_printf(&b, "<td>%.4f</td>", v);
        }
        sn_buf_puts(&b, "<td class=\"l\">");
        sn_buf_escape(&b, x->state == 1 ? "ok" : x->state == 2 ? x->msg : "not run yet");
        sn_buf_puts(&b, "</td></tr>\n");
    }
    sn_buf_puts(&b, "</table></section>\n<section><h2>Curves</h2><div class=\"charts\">\n");
    overlay(&b, cf, res, n, dir, "val_loss", "Validation loss", "mean loss", 1, 0);
    overlay(&b, cf, res, n, dir, "val_acc", "Validation accuracy", "accuracy (%)", 100, 1);
    overlay(&b, cf, res, n, dir, "test_acc", "Test accuracy", "accuracy (%)", 100, 1);
    overlay(&b, cf, res, n, dir, "train_loss", "Training loss", "mean loss", 1, 0);
    sn_buf_puts(&b, "</div></section>\n</main></body></html>\n");
    snprintf(path, sizeof path, "%s/comparison.html", dir);
    sn_status s = sn_buf_write_file(&b, path, err);
    sn_buf_free(&b);
    return s;
}

/* ---- the public functions ---------------------------------------------- */

sn_status sn_sweep_load(const char *file, sn_sweep **out, sn_error *err) {
    *out = NULL;
    sweep *sw = calloc(1, sizeof *sw);
    if (!sw) return sn_fail(err, SN_ERR_NOMEM, "out of memory");
    sn_status s = parse_sweep(file, sw, err);
    if (s == SN_OK && !(sw->file = malloc(strlen(file) + 1)))
        s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
    if (s == SN_OK) {
        strcpy(sw->file, file);
        if (!sw->name[0]) base_no_ext(file, sw->name, sizeof sw->name);
        sw->n = make_configs(sw, &sw->cf);
        if (sw->n == -1)
            s = sn_fail(err, SN_ERR_FORMAT, "%s: more than %d configurations", file, MAX_CONFIGS);
        else if (sw->n < 0)
            s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
    }
    if (s == SN_OK) {
        sw->res = calloc((size_t)sw->n, sizeof *sw->res);
        sw->idx = calloc((size_t)sw->n, sizeof *sw->idx);
        if (!sw->res || !sw->idx) s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
        for (int i = 0; sw->res && i < sw->n; i++)
            for (int c = 0; c < NCOLS; c++) sw->res[i].v[c] = NAN;
    }
    if (s != SN_OK) {
        sn_sweep_free(sw);
        return s;
    }
    *out = sw;
    return SN_OK;
}

void sn_sweep_free(sn_sweep *sw) {
    if (!sw) return;
    sweep_free(sw);
    free(sw->file);
    free(sw->cf);
    free(sw->res);
    free(sw->idx);
    free(sw);
}

const char *sn_sweep_get(const sn_sweep *sw, const char *key) {
    if (strcmp(key, "name") == 0) return sw->name;
    if (strcmp(key, "out") == 0) return sw->out[0] ? sw->out : NULL;
    if (strcmp(key, "data") == 0) return sw->data;
    if (strcmp(key, "test") == 0) return sw->test;
    if (strcmp(key, "classes") == 0) return sw->classes;
    return NULL;
}

int sn_sweep_count(const sn_sweep *sw) {
    return sw->n;
}

const char *sn_sweep_label(const sn_sweep *sw, int i) {
    return sw->cf[i].label;
}

const char *sn_sweep_dir(const sn_sweep *sw, int i) {
    return sw->cf[i].dir;
}

const char *sn_sweep_spec_path(const sn_sweep *sw, int i) {
    return sw->specs[sw->cf[i].spec];
}

sn_status sn_sweep_spec_text(const sn_sweep *sw, int i, char **text, sn_error *err) {
    sn_buf b = {0};
    *text = NULL;
    sn_status s = config_text(sw, &sw->cf[i], &b, err);
    if (s == SN_OK && !(*text = sn_alloc(b.len + 1, 1)))
        s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
    if (s == SN_OK) memcpy(*text, b.p, b.len + 1);
    sn_buf_free(&b);
    return s;
}

sn_status sn_sweep_start(const sn_sweep *sw, const char *sweep_dir, sn_error *err) {
    char path[4200];
    sn_buf copy = {0};
    if (sn_run_make_dirs(sweep_dir) != 0)
        return sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", sweep_dir, strerror(errno));
    snprintf(path, sizeof path, "%s/sweep.txt", sweep_dir);
    sn_status s = sn_buf_read_file(&copy, sw->file, err);
    if (s == SN_OK) s = sn_buf_write_file(&copy, path, err);
    sn_buf_free(&copy);
    return s;
}

sn_status sn_sweep_record(sn_sweep *sw, int i, const char *error, const char *sweep_dir,
                          sn_error *err) {
    char run_dir[2400];
    snprintf(run_dir, sizeof run_dir, "%.1000s/%s", sweep_dir, sw->cf[i].dir);
    read_result(run_dir, &sw->res[i]);
    sw->res[i].state = error ? 2 : 1;
    if (error) snprintf(sw->res[i].msg, sizeof sw->res[i].msg, "failed: %s", error);
    int col, sign;
    order(sw, sw->res, sw->n, sw->idx, &col, &sign);
    sn_status s = write_csv(sw, sw->cf, sw->res, sw->idx, sw->n, sweep_dir, err);
    if (s == SN_OK) s = write_html(sw, sw->cf, sw->res, sw->idx, sw->n, col, sign, sweep_dir, err);
    return s;
}

int sn_sweep_ranked(const sn_sweep *sw, int r, double *value, int *failed, const char **metric) {
    int col, sign;
    order(sw, sw->res, sw->n, sw->idx, &col, &sign);
    int i = sw->idx[r];
    *value = sw->res[i].v[col];
    *failed = sw->res[i].state == 2;
    *metric = col_names[col];
    return i;
}
