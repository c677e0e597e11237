/* report.html: one self-contained page about a run folder (inline CSS and
 * SVG, images as data: URIs; nothing is fetched when it is opened).
 *
 *   header      run name, spec, data, headline numbers
 *   training    loss, accuracy and learning rate per epoch   (history.csv)
 *   test set    confusion-matrix heat map, per-class table   (confusion.csv,
 *               per_class.csv, metrics.csv, classes.txt)
 *   robustness  accuracy and macro F1 against noise std      (robustness.csv)
 *   mistakes    the most confidently misclassified images    (misclassified.safetensors)
 *   settings    hyper-parameters (run.txt), model summary and spec (spec.net)
 *
 * A file that is missing leaves its section out. */
#include "model/model.h"
#include "model/safetensors.h"
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char sn_report_css[] =
    "body{margin:0;background:#f4f5f7;color:#222;font:14px/1.45 'DejaVu Sans','Segoe UI',"
    "Helvetica,Arial,sans-serif}\n"
    "main{max-width:2000px;margin:0 auto;padding:20px 24px 40px}\n"
    "h1{font-size:24px;margin:8px 0 2px}h2{font-size:18px;margin:0 0 12px}"
    "h3{font-size:14px;margin:14px 0 6px;color:#444}\n"
    ".sub{color:#666;margin:0 0 "
    "14px}pre.sample{white-space:pre-wrap}.note{color:#666;font-size:13px;margin:6px 0 0}\n"
    "section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.1);"
    "padding:16px 20px;margin:16px 0}\n"
    ".grid{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}\n"
    "svg{max-width:100%;height:auto;display:block}\n"
    /* charts take the page's width: one column, two on a wide screen */
    ".charts{display:grid;gap:14px;grid-template-columns:repeat(auto-fill,"
    "minmax(max(460px,calc(50% - 7px)),1fr))}\n"
    ".charts svg{width:100%;height:auto}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:12px}\n"
    ".card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.1);"
    "padding:10px 16px;min-width:130px}\n"
    ".card .v{font-size:22px;font-weight:bold}.card .k{color:#666;font-size:12px}\n"
    "table{border-collapse:collapse;font-size:13px}\n"
    "th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    "th{background:#fafafa;border-bottom:1px solid #ccc}\n"
    "td.l,th.l{text-align:left}\n"
    "td.bar{position:relative;min-width:84px;padding-bottom:7px}\n"
    "td.bar span{position:absolute;left:10px;right:10px;bottom:3px;height:3px;"
    "background:#e8eef5;border-radius:2px}\n"
    "td.bar span i{display:block;height:3px;background:#4a89c8;border-radius:2px}\n"
    "pre{background:#f7f7f7;border:1px solid #e3e3e3;border-radius:6px;padding:10px 12px;"
    "font-size:12px;overflow:auto}\n"
    "code{background:#f0f0f0;padding:1px 4px;border-radius:3px}\n";

static int exists(const char *dir, const char *name, char *path, size_t len) {
    struct stat st;
    snprintf(path, len, "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Reads a table if the file exists; 0 when it does not or is malformed. */
static int load_table(const char *dir, const char *name, sn_table *t) {
    char path[4200];
    memset(t, 0, sizeof *t);
    if (!exists(dir, name, path, sizeof path)) return 0;
    return sn_table_read(path, t, NULL) == SN_OK && t->nrows > 0;
}

/* A column of t as numbers, times `scale`; NULL when absent or all NaN. */
static double *column(const sn_table *t, const char *name, double scale) {
    int c = sn_table_col(t, name);
    if (c < 0) return NULL;
    double *v = malloc((size_t)t->nrows * sizeof *v);
    if (!v) return NULL;
    int any = 0;
    for (int r = 0; r < t->nrows; r++) {
        v[r] = sn_table_num(t, r, c) * scale;
        any |= isfinite(v[r]);
    }
    if (!any) {
        free(v);
        return NULL;
    }
    return v;
}

static void card(sn_buf *b, const char *key, const char *value) {
    sn_buf_puts(b, "<div class=\"card\"><div class=\"v\">");
    sn_buf_escape(b, value);
    sn_buf_puts(b, "</div><div class=\"k\">");
    sn_buf_escape(b, key);
    sn_buf_puts(b, "</div></div>\n");
}

static double metric(const sn_table *m, const char *name) {
    for (int r = 0; r < m->nrows; r++)
        if (strcmp(sn_table_str(m, r, 0), name) == 0) return sn_table_num(m, r, 1);
    return NAN;
}

/* The kept epoch (whose weights the model file holds) as a marked line. */
static void mark_kept(sn_chart *c, int kept) {
    static char label[48];
    if (kept <= 0) return;
    snprintf(label, sizeof label, "kept: epoch %d", kept);
    c->mark_x = kept;
    c->mark_label = label;
}

/* Chart of the given history columns (those present) against epoch. */
static int history_chart(sn_buf *b, const sn_table *h, const double *x, const char *title,
                         const char *ylabel, const char *const *cols, const char *const *labels,
                         int ncols, double scale, int percent, int kept) {
    sn_series s[4];
    double *ys[4] = {0};
    int n = 0;
    for (int i = 0; i < ncols; i++) {
        double *y = column(h, cols[i], scale);
        if (!y) continue;
        ys[n] = y;
        s[n] = (sn_series){labels[i], x, y, h->nrows, sn_palette[i], 0};
        n++;
    }
    if (n) {
        sn_chart c = sn_chart_epochs(title, ylabel, s, n);
        c.y_percent = percent;
        mark_kept(&c, kept);
        sn_svg_line_chart(b, &c);
    }
    for (int i = 0; i < n; i++) free(ys[i]);
    return n;
}

static void training_section(sn_buf *b, const sn_table *h, int kept) {
    double *x = column(h, "epoch", 1);
    if (!x) {
        x = malloc((size_t)h->nrows * sizeof *x);
        if (!x) return;
        for (int r = 0; r < h->nrows; r++) x[r] = r + 1;
    }
    static const char *const loss[] = {"train_loss", "val_loss", "test_loss"};
    static const char *const acc[] = {"train_acc", "val_acc", "test_acc"};
    static const char *const names[] = {"train", "validation", "test"};
    sn_buf_puts(b, "<section><h2>Training</h2><div class=\"charts\">\n");
    history_chart(b, h, x, "Loss per epoch", "mean loss", loss, names, 3, 1, 0, kept);
    history_chart(b, h, x, "Accuracy per epoch", "accuracy (%)", acc, names, 3, 100, 1, kept);
    double *lr = column(h, "lr", 1);
    if (lr) {
        sn_series s = {"learning rate", x, lr, h->nrows, sn_palette[4], 0};
        sn_chart c = sn_chart_epochs("Learning rate", "learning rate (end of epoch)", &s, 1);
        c.log_y = -1; /* decided by the range: schedules span decades */
        mark_kept(&c, kept);
        sn_svg_line_chart(b, &c);
        free(lr);
    }
    double *sec = column(h, "seconds", 1);
    if (sec) {
        sn_series s = {"seconds per epoch", x, sec, h->nrows, sn_palette[7], 0};
        sn_chart c = sn_chart_epochs("Time per epoch", "seconds", &s, 1);
        c.ymin = 0;
        mark_kept(&c, kept);
        sn_svg_line_chart(b, &c);
        free(sec);
    }
    sn_buf_puts(b, "</div></section>\n");
    free(x);
}

/* Text models (history.csv has val_perplexity): the kept epoch's validation
 * loss per token and the samples printed during training (samples.txt,
 * "---- epoch N ----" blocks), newest first. */
static int best_row(const sn_table *h, int col) {
    int best = -1;
    for (int r = 0; r < h->nrows; r++) {
        double v = sn_table_num(h, r, col);
        if (isfinite(v) && (best < 0 || v < sn_table_num(h, best, col))) best = r;
    }
    return best;
}

/* The row of history.csv holding the kept epoch; -1 when unknown. */
static int epoch_row(const sn_table *h, int epoch) {
    int ce = sn_table_col(h, "epoch");
    for (int r = 0; ce >= 0 && r < h->nrows; r++)
        if (sn_table_num(h, r, ce) == epoch) return r;
    return -1;
}

static void text_cards(sn_buf *b, const sn_table *h, int kept) {
    int cv = sn_table_col(h, "val_loss"), ce = sn_table_col(h, "epoch");
    int r = kept > 0 ? epoch_row(h, kept) : cv >= 0 ? best_row(h, cv) : -1;
    if (r < 0 || cv < 0) return;
    char val[64];
    double loss = sn_table_num(h, r, cv);
    snprintf(val, sizeof val, "%.4f nats", loss);
    card(b, "validation loss per token", val);
    snprintf(val, sizeof val, "%.4f", loss / log(2.0));
    card(b, "bits per token", val);
    snprintf(val, sizeof val, "%.2f", exp(loss));
    card(b, "perplexity", val);
    snprintf(val, sizeof val, "%.0f", ce >= 0 ? sn_table_num(h, r, ce) : (double)(r + 1));
    card(b, "kept epoch", val);
}

static void samples_section(sn_buf *b, const char *dir) {
    char path[4200];
    sn_buf txt = {0};
    if (!exists(dir, "samples.txt", path, sizeof path) ||
        sn_buf_read_file(&txt, path, NULL) != SN_OK || !txt.p) {
        sn_buf_free(&txt);
        return;
    }
    sn_buf_puts(b, "<section><h2>Samples during training</h2>\n");
    /* Blocks from the last to the first. */
    const char *mark = "---- epoch ";
    size_t end = txt.len;
    int shown = 0;
    while (end > 0 && shown < 50) {
        size_t start = end;
        while (start > 0) {
            start--;
            if ((start == 0 || txt.p[start - 1] == '\n') &&
                strncmp(txt.p + start, mark, strlen(mark)) == 0)
                break;
        }
        const char *blk = txt.p + start, *nl = memchr(blk, '\n', end - start);
        if (!nl || strncmp(blk, mark, strlen(mark)) != 0) break;
        size_t hn = (size_t)(nl - blk) - 5; /* "epoch N ----" */
        if (hn >= 5 && strncmp(blk + 5 + hn - 5, " ----", 5) == 0) hn -= 5;
        sn_buf_puts(b, "<h3>");
        sn_buf_put(b, blk + 5, hn);
        sn_buf_puts(b, "</h3><pre class=\"sample\">");
        size_t n = (size_t)(txt.p + end - (nl + 1));
        while (n > 0 && nl[n] == '\n') n--;
        char *body = malloc(n + 1);
        if (body) {
            memcpy(body, nl + 1, n);
            body[n] = 0;
            sn_buf_escape(b, body);
            free(body);
        }
        sn_buf_puts(b, "</pre>\n");
        shown++;
        end = start;
    }
    sn_buf_puts(b, "</section>\n");
    sn_buf_free(&txt);
}

/* Class names: classes.txt, else per_class.csv's name column, else NULL. */
static char **class_names(const char *dir, const sn_table *pc, int K) {
    char path[4200];
    char **names = NULL;
    if (exists(dir, "classes.txt", path, sizeof path) &&
        sn_class_names_load(NULL, path, NULL, K, &names, NULL) == SN_OK)
        return names;
    int col = sn_table_col(pc, "name");
    if (col < 0 || pc->nrows != K || !(names = calloc((size_t)K, sizeof *names))) return NULL;
    for (int i = 0; i < K; i++) {
        const char *s = sn_table_str(pc, i, col);
        names[i] = malloc(strlen(s) + 1);
        if (names[i]) memcpy(names[i], s, strlen(s) + 1);
    }
    return names;
}

/* "macro_f1" -> "macro F1" and so on, for the overall table. */
static const char *pretty(const char *key) {
    static const char *const map[][2] = {
        {"top5_accuracy", "top-5 accuracy"},
        {"macro_precision", "macro precision"},
        {"macro_recall", "macro recall"},
        {"macro_f1", "macro F1"},
        {"weighted_precision", "weighted precision"},
        {"weighted_recall", "weighted recall"},
        {"weighted_f1", "weighted F1"},
        {"cross_entropy", "cross-entropy"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(key, map[i][0]) == 0) return map[i][1];
    return key;
}

/* A score with a thin bar under it (0 to 1). */
static void bar_cell(sn_buf *b, double v) {
    sn_buf_printf(b, "<td class=\"bar\">%.4f<span><i style=\"width:%.1f%%\"></i></span></td>", v,
                  isfinite(v) ? 100 * fmax(0, fmin(1, v)) : 0);
}

static void test_section(sn_buf *b, const char *dir, const sn_table *metrics, const sn_table *pc,
                         const sn_table *cmt, char **names, int K) {
    sn_buf_puts(b, "<section><h2>Test set</h2><div class=\"grid\">\n");
    if (cmt->nrows == K && cmt->ncols == K + 1) {
        long *cm = calloc((size_t)K * K, sizeof *cm);
        if (cm) {
            for (int t = 0; t < K; t++)
                for (int p = 0; p < K; p++) {
                    double v = sn_table_num(cmt, t, p + 1);
                    cm[(size_t)t * K + p] = isfinite(v) ? (long)v : 0;
                }
            sn_svg_heatmap(b, "Confusion matrix", cm, K, names);
            free(cm);
        }
    }
    sn_buf_puts(b, "<div>");
    if (pc->nrows == K) {
        int cp = sn_table_col(pc, "precision"), cr = sn_table_col(pc, "recall"),
            cf = sn_table_col(pc, "f1"), cs = sn_table_col(pc, "support");
        sn_buf_puts(b, "<h3>Per class</h3><table><tr><th class=\"l\">class</th><th>precision</th>"
                       "<th>recall</th><th>F1</th><th>support</th></tr>\n");
        for (int i = 0; i < K; i++) {
            sn_buf_puts(b, "<tr><td class=\"l\">");
            if (names && names[i]) {
                sn_buf_escape(b, names[i]);
                if (strcmp(names[i], sn_table_str(pc, i, 0)) != 0)
                    sn_buf_printf(b, " <span style=\"color:#999\">(%d)</span>", i);
            } else {
                sn_buf_printf(b, "%d", i);
            }
            sn_buf_puts(b, "</td>");
            bar_cell(b, sn_table_num(pc, i, cp));
            bar_cell(b, sn_table_num(pc, i, cr));
            bar_cell(b, sn_table_num(pc, i, cf));
            sn_buf_printf(b, "<td>%.0f</td></tr>\n", sn_table_num(pc, i, cs));
        }
        sn_buf_puts(b, "</table>\n");
    }
    if (metrics->nrows) {
        sn_buf_puts(b, "<h3>Overall</h3><table>\n");
        for (int r = 0; r < metrics->nrows; r++) {
            const char *k = sn_table_str(metrics, r, 0);
            double v = sn_table_num(metrics, r, 1);
            sn_buf_puts(b, "<tr><td class=\"l\">");
            sn_buf_escape(b, pretty(k));
            if (strcmp(k, "samples") == 0)
                sn_buf_printf(b, "</td><td>%.0f</td></tr>\n", v);
            else
                sn_buf_printf(b, "</td><td>%.4f</td></tr>\n", v);
        }
        sn_buf_puts(b, "</table>\n");
        sn_buf_puts(b, "<p class=\"note\">scikit-learn's definitions; a class never predicted "
                       "has precision 0.</p>");
    }
    sn_buf_puts(b, "</div></div></section>\n");
    (void)dir;
}

static void robustness_section(sn_buf *b, const sn_table *r, const char *dir) {
    sn_buf_puts(b, "<section><h2>Robustness to input noise</h2>\n");
    if (!r) {
        sn_buf_puts(b, "<p class=\"note\">No noise study yet: <code>scratchnet eval ");
        sn_buf_escape(b, dir);
        sn_buf_puts(b, "/model.safetensors --data DATA --noise 0,0.1,0.2,0.3</code> adds "
                       "one.</p></section>\n");
        return;
    }
    double *x = column(r, "std", 1), *acc = column(r, "accuracy", 100),
           *f1 = column(r, "macro_f1", 100);
    sn_series s[2];
    int n = 0;
    if (acc) s[n++] = (sn_series){"accuracy", x, acc, r->nrows, sn_palette[0], 0};
    if (f1) s[n++] = (sn_series){"macro F1", x, f1, r->nrows, sn_palette[3], 1};
    sn_buf_puts(b, "<div class=\"grid\">");
    if (x && n) {
        sn_chart c = sn_chart_epochs("Accuracy under Gaussian input noise", "score (%)", s, n);
        c.xlabel = "noise standard deviation σ";
        c.x_integer = 0;
        c.y_percent = 1;
        sn_svg_line_chart(b, &c);
    }
    int cc = sn_table_col(r, "clipped"), cseed = sn_table_col(r, "seed");
    sn_buf_puts(b, "<div><table><tr><th>σ</th><th>accuracy</th><th>macro F1</th></tr>\n");
    for (int i = 0; i < r->nrows; i++)
        sn_buf_printf(b, "<tr><td>%g</td><td>%.2f %%</td><td>%.4f</td></tr>\n", x ? x[i] : NAN,
                      acc ? acc[i] : NAN, f1 ? f1[i] / 100 : NAN);
    sn_buf_puts(b, "</table><p class=\"note\">x + σ·z, z ~ N(0, 1)");
    if (cc >= 0)
        sn_buf_puts(b, sn_table_num(r, 0, cc) == 1 ? ", clipped to [0, 1]" : ", not clipped");
    if (cseed >= 0) sn_buf_printf(b, "; seed %.0f", sn_table_num(r, 0, cseed));
    sn_buf_puts(b, ".</p></div></div></section>\n");
    free(x);
    free(acc);
    free(f1);
}

static void mistakes_section(sn_buf *b, const char *dir, char **names, int K) {
    char path[4200];
    if (!exists(dir, "misclassified.safetensors", path, sizeof path)) return;
    sn_st_file f;
    if (sn_st_load(path, &f, NULL) != SN_OK) return;
    const sn_st_entry *x = sn_st_find(&f, "x"), *t = sn_st_find(&f, "true"),
                      *p = sn_st_find(&f, "pred"), *pr = sn_st_find(&f, "prob"),
                      *ix = sn_st_find(&f, "index");
    const char *total = sn_st_meta(&f, "misclassified");
    int n = x && x->ndim >= 2 ? x->shape[0] : 0;
    if (!t || !p || !pr || !ix || (int)t->size != n || (int)p->size != n || (int)pr->size != n ||
        n == 0) {
        sn_st_free(&f);
        return;
    }
    int *ti = malloc((size_t)n * sizeof *ti), *pi = malloc((size_t)n * sizeof *pi);
    if (ti && pi) {
        for (int i = 0; i < n; i++) ti[i] = (int)t->data[i], pi[i] = (int)p->data[i];
        sn_buf_puts(b, "<section><h2>Misclassified test samples</h2>\n");
        sn_buf_printf(b,
                      "<p class=\"sub\">The %d most confident mistakes%s%s%s, most confident "
                      "first.</p>\n",
                      n, total ? " of " : "", total ? total : "", total ? " misclassified" : "");
        int image = x->ndim == 4 && (x->shape[1] == 1 || x->shape[1] == 3);
        int image2d = x->ndim == 3; /* [n, H, W] */
        if (image || image2d) {
            int C = image ? x->shape[1] : 1, H = x->shape[image ? 2 : 1],
                W = x->shape[image ? 3 : 2];
            sn_svg_image_grid(b, NULL, x->data, n, C, H, W, ti, pi, pr->data, names, K);
        } else {
            sn_buf_puts(b, "<table><tr><th>sample</th><th class=\"l\">true</th>"
                           "<th class=\"l\">predicted</th><th>probability</th></tr>\n");
            for (int i = 0; i < n; i++) {
                sn_buf_printf(b, "<tr><td>%.0f</td><td class=\"l\">", ix->data[i]);
                if (names && ti[i] >= 0 && ti[i] < K) sn_buf_escape(b, names[ti[i]]);
                sn_buf_puts(b, "</td><td class=\"l\">");
                if (names && pi[i] >= 0 && pi[i] < K) sn_buf_escape(b, names[pi[i]]);
                sn_buf_printf(b, "</td><td>%.3f</td></tr>\n", pr->data[i]);
            }
            sn_buf_puts(b, "</table>\n");
        }
        sn_buf_puts(b, "</section>\n");
    }
    free(ti);
    free(pi);
    sn_st_free(&f);
}

/* 535818 -> "535,818" */
static void count_str(sn_buf *b, size_t v) {
    char digits[32], out[48];
    int n = snprintf(digits, sizeof digits, "%zu", v), k = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
    sn_buf_puts(b, out);
}

static void shape_str(sn_buf *b, int ndim, const int *shape) {
    for (int i = 0; i < ndim; i++) sn_buf_printf(b, i ? "×%d" : "%d", shape[i]);
}

static void model_section(sn_buf *b, const char *dir, const sn_keyvals *run) {
    char path[4200];
    sn_buf_puts(b, "<section><h2>Settings and model</h2><div class=\"grid\">\n");
    if (run->n) {
        sn_buf_puts(b, "<div><h3>Hyper-parameters</h3><table>\n");
        for (int i = 0; i < run->n; i++) {
            sn_buf_puts(b, "<tr><td class=\"l\">");
            sn_buf_escape(b, run->keys[i]);
            sn_buf_puts(b, "</td><td class=\"l\">");
            sn_buf_escape(b, run->values[i]);
            sn_buf_puts(b, "</td></tr>\n");
        }
        sn_buf_puts(b, "</table></div>\n");
    }
    sn_model *m = NULL;
    sn_buf spec = {0};
    if (exists(dir, "spec.net", path, sizeof path) && sn_buf_read_file(&spec, path, NULL) == SN_OK)
        sn_model_from_spec(spec.p, path, 0, &m, NULL);
    sn_buf_puts(b, "<div><h3>Model summary</h3>\n");
    if (m) {
        sn_buf_puts(b, "<table><tr><th>#</th><th class=\"l\">layer</th><th class=\"l\">output "
                       "shape</th><th>parameters</th></tr>\n<tr><td>–</td><td class=\"l\">input"
                       "</td><td class=\"l\">");
        shape_str(b, m->in_ndim, m->in_shape);
        sn_buf_puts(b, "</td><td>0</td></tr>\n");
        for (int i = 0; i < m->nlayers; i++) {
            const sn_layer *l = m->layers[i];
            size_t np = 0;
            for (int p = 0; p < l->nparams; p++) np += l->params[p].value.size;
            sn_buf_printf(b, "<tr><td>%d</td><td class=\"l\">", i);
            sn_buf_escape(b, l->desc);
            sn_buf_puts(b, "</td><td class=\"l\">");
            shape_str(b, l->out_ndim, l->out_shape);
            sn_buf_puts(b, "</td><td>");
            count_str(b, np);
            sn_buf_puts(b, "</td></tr>\n");
        }
        sn_buf_printf(b, "<tr><th class=\"l\" colspan=\"3\">total (loss %s)</th><th>",
                      sn_loss_name(m->loss));
        count_str(b, sn_model_num_params(m));
        sn_buf_puts(b, "</th></tr></table>\n");
        sn_model_free(m);
    } else {
        sn_buf txt = {0};
        if (exists(dir, "summary.txt", path, sizeof path) &&
            sn_buf_read_file(&txt, path, NULL) == SN_OK) {
            sn_buf_puts(b, "<pre>");
            sn_buf_escape(b, txt.p);
            sn_buf_puts(b, "</pre>\n");
        }
        sn_buf_free(&txt);
    }
    sn_buf_puts(b, "</div>\n");
    if (spec.p) {
        sn_buf_puts(b, "<div><h3>Spec</h3><pre>");
        sn_buf_escape(b, spec.p);
        sn_buf_puts(b, "</pre><p class=\"note\">Command-line flags override the [train] "
                       "section; the hyper-parameters table shows what was used.</p></div>\n");
    }
    sn_buf_free(&spec);
    sn_buf_puts(b, "</div></section>\n");
}

/* The epoch whose weights the run kept: run.txt's kept_epoch; else, for a
 * text run, the best validation loss; else, without early stopping, the
 * last epoch; 0 when unknown. */
static int kept_epoch(const sn_keyvals *run, const sn_table *h) {
    const char *v = sn_keyvals_get(run, "kept_epoch");
    if (v) return atoi(v);
    if (!h || h->nrows == 0) return 0;
    int ce = sn_table_col(h, "epoch"), cv = sn_table_col(h, "val_loss");
    if (ce < 0) return 0;
    if (sn_table_col(h, "val_perplexity") >= 0 && cv >= 0) {
        int r = best_row(h, cv);
        return r >= 0 ? (int)sn_table_num(h, r, ce) : 0;
    }
    const char *patience = sn_keyvals_get(run, "patience"); /* early stopping: unknown */
    if (sn_keyvals_get(run, "early_stop") || (patience && atoi(patience) > 0)) return 0;
    return (int)sn_table_num(h, h->nrows - 1, ce);
}

static const char *base_name(const char *path, char *buf, size_t len) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    snprintf(buf, len, "%.*s", (int)(n - s), path + s);
    return buf;
}

sn_status sn_report_write(const char *run_dir, const char *out_path, sn_error *err) {
    struct stat st;
    if (stat(run_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sn_fail(err, SN_ERR_IO, "%s: not a folder", run_dir);
    char path[4200], name[512], val[64];
    sn_table hist, metrics, pc, cmt, rob;
    int have_hist = load_table(run_dir, "history.csv", &hist);
    int have_metrics = load_table(run_dir, "metrics.csv", &metrics);
    load_table(run_dir, "per_class.csv", &pc);
    load_table(run_dir, "confusion.csv", &cmt);
    int have_rob = load_table(run_dir, "robustness.csv", &rob);
    sn_keyvals run = {0};
    if (exists(run_dir, "run.txt", path, sizeof path)) sn_keyvals_read(path, &run, NULL);
    int K = pc.nrows > 0 ? pc.nrows : cmt.nrows;
    char **names = K > 0 ? class_names(run_dir, &pc, K) : NULL;
    int kept = kept_epoch(&run, have_hist ? &hist : NULL);
    char kept_text[64] = "";
    if (kept > 0) snprintf(kept_text, sizeof kept_text, " (weights of epoch %d)", kept);

    sn_buf b = {0};
    base_name(run_dir, name, sizeof name);
    sn_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>");
    sn_buf_escape(&b, name);
    sn_buf_printf(&b, " · scratchnet report</title>\n<style>\n%s</style>\n</head>\n<body><main>\n",
                  sn_report_css);
    sn_buf_puts(&b, "<h1>");
    sn_buf_escape(&b, name);
    sn_buf_puts(&b, "</h1>\n<p class=\"sub\">");
    const char *keys[] = {"spec", "data", "finished"};
    for (int i = 0, first = 1; i < 3; i++) {
        const char *v = sn_keyvals_get(&run, keys[i]);
        if (!v) continue;
        sn_buf_printf(&b, "%s%s <b>", first ? "" : " · ", keys[i]);
        sn_buf_escape(&b, v);
        sn_buf_puts(&b, "</b>");
        first = 0;
    }
    sn_buf_puts(&b, "</p>\n<div class=\"cards\">\n");
    if (have_metrics) {
        double acc = metric(&metrics, "accuracy"), f1 = metric(&metrics, "macro_f1"),
               top5 = metric(&metrics, "top5_accuracy"), xent = metric(&metrics, "cross_entropy");
        char key[96];
        snprintf(val, sizeof val, "%.2f %%", 100 * acc);
        snprintf(key, sizeof key, "test accuracy%s", kept_text);
        card(&b, key, val);
        snprintf(val, sizeof val, "%.4f", f1);
        card(&b, "test macro F1", val);
        if (isfinite(top5)) {
            snprintf(val, sizeof val, "%.2f %%", 100 * top5);
            card(&b, "test top-5 accuracy", val);
        }
        snprintf(val, sizeof val, "%.4f", xent);
        card(&b, "test cross-entropy", val);
    }
    if (have_hist) {
        int ce = sn_table_col(&hist, "epoch"), cs = sn_table_col(&hist, "seconds");
        snprintf(val, sizeof val, "%.0f",
                 ce >= 0 ? sn_table_num(&hist, hist.nrows - 1, ce) : (double)hist.nrows);
        card(&b, "epochs", val);
        if (!have_metrics) {
            int cl = sn_table_col(&hist, "test_loss");
            if (cl < 0 || !isfinite(sn_table_num(&hist, hist.nrows - 1, cl)))
                cl = sn_table_col(&hist, "train_loss");
            snprintf(val, sizeof val, "%.4g", sn_table_num(&hist, hist.nrows - 1, cl));
            card(&b, cl >= 0 ? hist.header[cl] : "loss", val);
        }
        if (cs >= 0) {
            double total = 0;
            for (int r = 0; r < hist.nrows; r++) {
                double v = sn_table_num(&hist, r, cs);
                if (isfinite(v)) total += v;
            }
            snprintf(val, sizeof val, total >= 120 ? "%.1f min" : "%.1f s",
                     total >= 120 ? total / 60 : total);
            card(&b, "training time", val);
        }
    }
    if (have_hist && sn_table_col(&hist, "val_perplexity") >= 0) text_cards(&b, &hist, kept);
    sn_buf_puts(&b, "</div>\n");
    if (have_hist) training_section(&b, &hist, kept);
    samples_section(&b, run_dir);
    if (K > 0) test_section(&b, run_dir, &metrics, &pc, &cmt, names, K);
    if (K > 0) robustness_section(&b, have_rob ? &rob : NULL, run_dir);
    mistakes_section(&b, run_dir, names, K);
    model_section(&b, run_dir, &run);
    sn_buf_puts(&b, "<p class=\"note\">Written by scratchnet from the files in this run folder; "
                    "<code>scratchnet report</code> rewrites it.</p>\n</main></body></html>\n");

    if (!out_path) snprintf(path, sizeof path, "%s/report.html", run_dir);
    sn_status s = sn_buf_write_file(&b, out_path ? out_path : path, err);
    sn_buf_free(&b);
    sn_class_names_free(names, K);
    sn_keyvals_free(&run);
    sn_table_free(&hist);
    sn_table_free(&metrics);
    sn_table_free(&pc);
    sn_table_free(&cmt);
    sn_table_free(&rob);
    return s;
}
