/* Reports: a growable text buffer, CSV tables, PNG encoding and SVG charts,
 * the pieces report.html, `scratchnet plot` and sweep comparisons are built
 * from. Everything writes into memory; files are written whole at the end
 * (temporary file, then rename). */
#ifndef SN_REPORT_REPORT_H
#define SN_REPORT_REPORT_H

#include "core/error.h"

#include <stdint.h>

/* ---- text buffer --------------------------------------------------------- */

/* A NUL-terminated string that grows; `oom` is set (and further appends are
 * dropped) when an allocation fails. */
typedef struct sn_buf {
    char *p;
    size_t len, cap;
    int oom;
} sn_buf;

void sn_buf_printf(sn_buf *b, const char *fmt, ...) SN_PRINTF(2, 3);
void sn_buf_put(sn_buf *b, const char *s, size_t n);
void sn_buf_puts(sn_buf *b, const char *s);
/* Appends s as one CSV field: as is, or double-quoted (quotes doubled) when
 * it holds a comma, a quote or a line break. */
void sn_buf_csv_field(sn_buf *b, const char *s);
/* Appends s with &, <, >, " and ' escaped (for XML / HTML text and
 * attributes). */
void sn_buf_escape(sn_buf *b, const char *s);
void sn_buf_free(sn_buf *b);

/* Writes b to path through "<path>.tmp.<pid>" and a rename. */
sn_status sn_buf_write_file(const sn_buf *b, const char *path, sn_error *err);
/* Reads a whole text file into b (appending). */
sn_status sn_buf_read_file(sn_buf *b, const char *path, sn_error *err);

/* The style sheet of report.html, shared by the sweep's comparison page. */
extern const char sn_report_css[];

/* sn_run_write_eval, also giving the macro F1 it wrote (macro_f1 may be NULL). */
sn_status sn_run_write_eval_f1(const char *run_dir, sn_model *m, const sn_dataset *d,
                               char *const *names, int max_images, double *macro_f1, sn_error *err);

/* ---- CSV tables (history.csv and friends) -------------------------------- */

/* A CSV file with a header row, every cell kept as a string. Fields may be
 * double-quoted ("a,b", "say ""hi"""); rows shorter than the header are
 * padded with empty cells. */
typedef struct sn_table {
    int ncols, nrows;
    char **header; /* [ncols] */
    char **cells;  /* [nrows * ncols] */
    char *text;    /* storage all strings point into */
} sn_table;

sn_status sn_table_read(const char *path, sn_table *t, sn_error *err);
void sn_table_free(sn_table *t);
/* Index of the column called name, or -1. */
int sn_table_col(const sn_table *t, const char *name);
const char *sn_table_str(const sn_table *t, int row, int col);
/* The cell as a number; NaN when empty, "nan" or not a number. */
double sn_table_num(const sn_table *t, int row, int col);
/* Copies column col as numbers into out[0..nrows). */
void sn_table_column(const sn_table *t, int col, double *out);

/* A text file of "key value" lines (run.txt); '#' lines are comments. Keys
 * and values point into `text`. */
typedef struct sn_keyvals {
    int n;
    char **keys, **values;
    char *text;
} sn_keyvals;

sn_status sn_keyvals_read(const char *path, sn_keyvals *kv, sn_error *err);
const char *sn_keyvals_get(const sn_keyvals *kv, const char *key);
void sn_keyvals_free(sn_keyvals *kv);

/* ---- PNG ----------------------------------------------------------------- */

/* Appends "data:image/png;base64,..." for an 8-bit image of h rows of w
 * pixels with `channels` 1 (grey) or 3 (RGB) interleaved values each. */
void sn_png_data_uri(sn_buf *b, const uint8_t *pixels, int w, int h, int channels);

/* ---- SVG charts ---------------------------------------------------------- */

/* The palette the charts share: train, validation, test, then others. */
extern const char *const sn_palette[12];

/* One line of a chart: points (x[i], y[i]); NaN y values are gaps. */
typedef struct sn_series {
    const char *name;
    const double *x, *y;
    int n;
    const char *color; /* CSS colour; NULL: sn_palette by position */
    int dashed;
} sn_series;

typedef struct sn_chart {
    const char *title, *xlabel, *ylabel;
    int width, height; /* pixels (0: 640 x 380) */
    const sn_series *series;
    int nseries;
    double ymin, ymax; /* NaN: from the data */
    int log_y;         /* 1: logarithmic y axis (positive values only); -1: decide */
    int x_integer;     /* 1: x ticks are whole numbers (epochs) */
    int y_percent;     /* 1: y tick labels get a % sign */
    double mark_x;     /* a dashed vertical line there, labelled mark_label (NaN: none) */
    const char *mark_label;
} sn_chart;

/* A chart with every field unset (NaN bounds, automatic size). */
sn_chart sn_chart_default(void);
/* A per-epoch chart of n series: x axis "epoch" with whole-number ticks, a
 * linear y axis, 640 x 360 pixels. */
sn_chart sn_chart_epochs(const char *title, const char *ylabel, const sn_series *s, int n);

/* Appends a standalone <svg> element (xmlns set, so it is also a valid SVG
 * file): title, axes with 1-2-5 ticks, grid lines, axis labels, the lines
 * (with markers when there are few points) and a legend above the plot. */
void sn_svg_line_chart(sn_buf *b, const sn_chart *c);

/* Confusion-matrix heat map: cm: [K, K] counts (row = true class), names:
 * K labels or NULL; each cell shows its count, shaded by its share of the
 * row (recall per class on the diagonal). */
void sn_svg_heatmap(sn_buf *b, const char *title, const long *cm, int K, char *const *names);

/* A grid of images (n samples of C x H x W floats, C = 1 or 3, values in
 * [0, 1] or rescaled per image otherwise) with captions "true" / "predicted
 * (probability)". */
void sn_svg_image_grid(sn_buf *b, const char *title, const float *x, int n, int C, int H, int W,
                       const int *truth, const int *pred, const float *prob, char *const *names,
                       int K);

/* Nice tick positions covering [lo, hi] with about `target` steps of 1, 2
 * or 5 times a power of ten. Returns the number of ticks written to t (at
 * most max) and the step in *step. */
int sn_nice_ticks(double lo, double hi, int target, int integer, double *t, int max, double *step);

#endif
