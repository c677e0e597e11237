/* One chart from a CSV file with a header: chosen columns against the
 * first column (the epoch for history.csv). */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

sn_status sn_plot_csv(const char *csv_path, const char *columns, const char *title,
                      const char *svg_path, sn_error *err) {
    sn_table t;
    sn_status s = sn_table_read(csv_path, &t, err);
    if (s != SN_OK) return s;
    int sel[64], n = 0;
    if (columns) {
        char name[256];
        for (const char *p = columns; *p;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            snprintf(name, sizeof name, "%.*s", (int)(len < 255 ? len : 255), p);
            int c = sn_table_col(&t, name);
            if (c < 0) {
                s = sn_fail(err, SN_ERR_ARG, "%s: no column '%s' (columns: ", csv_path, name);
                for (int i = 0; i < t.ncols && err; i++) {
                    size_t k = strlen(err->msg);
                    snprintf(err->msg + k, sizeof err->msg - k, "%s%s", i ? ", " : "", t.header[i]);
                }
                if (err) {
                    size_t k = strlen(err->msg);
                    snprintf(err->msg + k, sizeof err->msg - k, ")");
                }
                break;
            }
            if (n == 64) {
                s = sn_fail(err, SN_ERR_ARG, "--columns: at most 64 columns");
                break;
            }
            sel[n++] = c;
            p = e ? e + 1 : p + len;
        }
    } else {
        for (int c = 1; c < t.ncols && n < 64; c++)
            if (ends_with(t.header[c], "loss")) sel[n++] = c;
    }
    if (s == SN_OK && n == 0)
        s = sn_fail(err, SN_ERR_ARG, "%s: no columns to plot (name them with --columns)", csv_path);
    if (s == SN_OK && t.nrows == 0) s = sn_fail(err, SN_ERR_FORMAT, "%s: no data rows", csv_path);
    double *v = s == SN_OK ? malloc((size_t)(n + 1) * (size_t)t.nrows * sizeof *v) : NULL;
    if (s == SN_OK && !v) s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
    if (s == SN_OK) {
        sn_series series[64];
        double *x = v;
        sn_table_column(&t, 0, x);
        int integer = 1, pct = 1;
        for (int r = 0; r < t.nrows; r++) integer &= x[r] == floor(x[r]);
        for (int i = 0; i < n; i++) {
            double *y = v + (size_t)(i + 1) * t.nrows;
            sn_table_column(&t, sel[i], y);
            pct &= ends_with(t.header[sel[i]], "acc");
            series[i] = (sn_series){t.header[sel[i]], x, y, t.nrows, NULL, 0};
            /* train / val / test keep their colours across charts. */
            const char *h = t.header[sel[i]];
            series[i].color = strncmp(h, "train", 5) == 0  ? sn_palette[0]
                              : strncmp(h, "val", 3) == 0  ? sn_palette[1]
                              : strncmp(h, "test", 4) == 0 ? sn_palette[2]
                                                           : sn_palette[(3 + i) % 12];
        }
        if (pct)
            for (size_t k = (size_t)t.nrows; k < (size_t)(n + 1) * t.nrows; k++) v[k] *= 100;
        char auto_title[300];
        if (!title) {
            const char *base = strrchr(csv_path, '/');
            snprintf(auto_title, sizeof auto_title, "%s", base ? base + 1 : csv_path);
        }
        sn_chart c = sn_chart_default();
        c.title = title ? title : auto_title;
        c.xlabel = t.header[0];
        c.ylabel = n == 1 ? t.header[sel[0]] : pct ? "accuracy (%)" : NULL;
        c.series = series;
        c.nseries = n;
        c.x_integer = integer;
        c.y_percent = pct;
        c.width = 720;
        c.height = 420;
        sn_buf b = {0};
        sn_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        sn_svg_line_chart(&b, &c);
        s = sn_buf_write_file(&b, svg_path, err);
        sn_buf_free(&b);
    }
    free(v);
    sn_table_free(&t);
    return s;
}
