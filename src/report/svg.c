/* SVG charts: line charts, a confusion-matrix heat map and an image grid.
 *
 * Every chart is one <svg> element with its own xmlns, so it parses as XML
 * on its own and can be saved as an .svg file. Coordinates are pixels;
 * text widths are estimated (an average glyph is about 0.6 em wide in the
 * sans-serif fonts browsers fall back to), which is all the layout needs:
 * margins that fit the tick labels, legends laid out in rows above the plot
 * so that they never cover a line. */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sn_palette[12] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939",
};

#define FONT "font-family=\"'DejaVu Sans', 'Segoe UI', Helvetica, Arial, sans-serif\""

/* A standalone <svg> element of W x H pixels on a white background. */
static void svg_open(sn_buf *b, int W, int H, int font_size) {
    sn_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" " FONT " font-size=\"%d\" role=\"img\">\n",
                  W, H, W, H, font_size);
    sn_buf_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
}

static double text_width(const char *s, double size) {
    /* Count UTF-8 code points, not bytes. */
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) n += (*p & 0xc0) != 0x80;
    return 0.6 * size * (double)n;
}

sn_chart sn_chart_default(void) {
    sn_chart c;
    memset(&c, 0, sizeof c);
    c.ymin = c.ymax = c.mark_x = NAN;
    c.log_y = -1;
    return c;
}

sn_chart sn_chart_epochs(const char *title, const char *ylabel, const sn_series *s, int n) {
    sn_chart c = sn_chart_default();
    c.title = title;
    c.xlabel = "epoch";
    c.ylabel = ylabel;
    c.series = s;
    c.nseries = n;
    c.x_integer = 1;
    c.log_y = 0;
    c.width = 640;
    c.height = 360;
    return c;
}

int sn_nice_ticks(double lo, double hi, int target, int integer, double *t, int max, double *step) {
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (hi < lo) {
        double tmp = lo;
        lo = hi, hi = tmp;
    }
    if (hi - lo < 1e-12 * (fabs(lo) + fabs(hi)) || hi == lo) {
        double pad = integer ? 1 : (lo != 0 ? fabs(lo) * 0.1 : 1);
        lo -= pad, hi += pad;
    }
    if (target < 1) target = 1;
    double st = 0;
    int n = 0;
    for (;; target = target > 1 ? target - 1 : 1) {
        double raw = (hi - lo) / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
        st = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
        if (integer && st < 1) st = 1;
        double a = floor(lo / st + 1e-9), b = ceil(hi / st - 1e-9);
        n = (int)(b - a) + 1;
        if (n <= max || target == 1) {
            if (n > max) n = max;
            for (int i = 0; i < n; i++) {
                t[i] = (a + i) * st;
                if (fabs(t[i]) < 1e-9 * st) t[i] = 0;
            }
            break;
        }
    }
    *step = st;
    return n;
}

/* Tick label with as many decimals as the step needs. */
static void tick_label(char *buf, size_t len, double v, double step, int percent) {
    if (fabs(v) >= 1e6 || (fabs(v) < 1e-4 && v != 0)) {
        snprintf(buf, len, "%.3g%s", v, percent ? "%" : "");
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    snprintf(buf, len, "%.*f%s", dec, v, percent ? "%" : "");
}

/* Ticks of a log axis: powers of ten, with 2 and 5 between them when the
 * range spans few decades. */
static int log_ticks(double lo, double hi, double *t, int max) {
    int a = (int)floor(log10(lo) + 1e-9), b = (int)ceil(log10(hi) - 1e-9);
    if (b == a) b = a + 1;
    int n = 0, fine = b - a <= 2;
    for (int e = a; e <= b && n < max; e++) {
        double p = pow(10, e);
        t[n++] = p;
        if (fine && e < b) {
            if (n < max) t[n++] = 2 * p;
            if (n < max) t[n++] = 5 * p;
        }
    }
    return n;
}

typedef struct axis {
    double lo, hi; /* data range shown */
    double px0, px1;
    int log;
} axis;

static double map(const axis *a, double v) {
    double f = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo))
                      : (v - a->lo) / (a->hi - a->lo);
    return a->px0 + f * (a->px1 - a->px0);
}

typedef struct legend_item {
    double x, y; /* left end of the swatch, baseline row centre */
} legend_item;

/* Lays the legend out in rows of width `avail` centred on cx; returns the
 * number of rows and fills pos (swatch 22 px, gap 6 px, 18 px between items). */
static int legend_layout(const sn_chart *c, double cx, double avail, double y0, legend_item *pos) {
    int rows = 0, i = 0;
    while (i < c->nseries) {
        int first = i;
        double w = 0;
        while (i < c->nseries) {
            double item = 28 + text_width(c->series[i].name ? c->series[i].name : "", 12);
            double add = (i > first ? 18 : 0) + item;
            if (i > first && w + add > avail) break;
            w += add;
            i++;
        }
        double x = cx - w / 2;
        for (int j = first; j < i; j++) {
            pos[j].x = x;
            pos[j].y = y0 + 18 * rows;
            x += 28 + text_width(c->series[j].name ? c->series[j].name : "", 12) + 18;
        }
        rows++;
    }
    return rows;
}

static void marker(sn_buf *b, double x, double y, const char *color) {
    sn_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", x, y, color);
}

void sn_svg_line_chart(sn_buf *b, const sn_chart *c) {
    int W = c->width > 0 ? c->width : 640, H = c->height > 0 ? c->height : 380;
    /* Data ranges. */
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int maxpts = 0;
    for (int s = 0; s < c->nseries; s++) {
        const sn_series *se = &c->series[s];
        if (se->n > maxpts) maxpts = se->n;
        for (int i = 0; i < se->n; i++) {
            if (!isfinite(se->x[i]) || !isfinite(se->y[i])) continue;
            if (c->log_y == 1 && se->y[i] <= 0) continue;
            xlo = fmin(xlo, se->x[i]), xhi = fmax(xhi, se->x[i]);
            ylo = fmin(ylo, se->y[i]), yhi = fmax(yhi, se->y[i]);
        }
    }
    int have = isfinite(xlo);
    if (!have) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    if (isfinite(c->ymin)) ylo = c->ymin;
    if (isfinite(c->ymax)) yhi = c->ymax;
    int log_y = c->log_y == 1 || (c->log_y == -1 && have && ylo > 0 && yhi / ylo > 50);

    double xt[64], yt[64], xstep, ystep = 0;
    int nx = sn_nice_ticks(xlo, xhi, 6, c->x_integer, xt, 64, &xstep);
    int ny = log_y ? log_ticks(ylo, yhi, yt, 64) : sn_nice_ticks(ylo, yhi, 5, 0, yt, 64, &ystep);
    char lab[64];
    double ylab_w = 0;
    for (int i = 0; i < ny; i++) {
        if (log_y)
            snprintf(lab, sizeof lab, "%g", yt[i]);
        else
            tick_label(lab, sizeof lab, yt[i], ystep, c->y_percent);
        ylab_w = fmax(ylab_w, text_width(lab, 12));
    }

    /* Layout: title, legend rows, plot, x tick labels, x label. */
    double left = 16 + (c->ylabel ? 22 : 0) + ylab_w + 8, right = W - 22;
    double top = c->title ? 36 : 12;
    legend_item *pos = calloc((size_t)(c->nseries > 0 ? c->nseries : 1), sizeof *pos);
    if (!pos) {
        b->oom = 1;
        return;
    }
    /* One line needs no legend: the title and the axis label name it. */
    int rows =
        c->nseries > 1 ? legend_layout(c, (left + right) / 2, right - left, top + 6, pos) : 0;
    top += rows * 18 + (rows ? 10 : 6);
    double bottom = H - (c->xlabel ? 48 : 30);
    axis ax = {xt[0], xt[nx - 1], left, right, 0};
    axis ay = {yt[0], yt[ny - 1], bottom, top, log_y};

    svg_open(b, W, H, 12);
    if (c->title) {
        sn_buf_printf(b,
                      "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" "
                      "font-weight=\"bold\" fill=\"#222\">",
                      W / 2.0);
        sn_buf_escape(b, c->title);
        sn_buf_puts(b, "</text>\n");
    }
    /* Grid and tick labels. */
    sn_buf_puts(b, "<g stroke=\"#e6e6e6\" stroke-width=\"1\">");
    for (int i = 0; i < ny; i++)
        sn_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", left, right,
                      map(&ay, yt[i]), map(&ay, yt[i]));
    for (int i = 0; i < nx; i++)
        sn_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", map(&ax, xt[i]),
                      map(&ax, xt[i]), top, bottom);
    sn_buf_puts(b, "</g>\n<g fill=\"#444\">");
    for (int i = 0; i < ny; i++) {
        if (log_y)
            snprintf(lab, sizeof lab, "%g", yt[i]);
        else
            tick_label(lab, sizeof lab, yt[i], ystep, c->y_percent);
        sn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", left - 6,
                      map(&ay, yt[i]) + 4, lab);
    }
    for (int i = 0; i < nx; i++) {
        tick_label(lab, sizeof lab, xt[i], xstep, 0);
        sn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
                      map(&ax, xt[i]), bottom + 17, lab);
    }
    sn_buf_puts(b, "</g>\n");
    sn_buf_printf(b,
                  "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#888\" "
                  "stroke-width=\"1\"/>\n",
                  left, top, bottom, right);
    if (c->xlabel) {
        sn_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#333\">",
                      (left + right) / 2, H - 10);
        sn_buf_escape(b, c->xlabel);
        sn_buf_puts(b, "</text>\n");
    }
    if (c->ylabel) {
        sn_buf_printf(b,
                      "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\" "
                      "fill=\"#333\">",
                      (top + bottom) / 2);
        sn_buf_escape(b, c->ylabel);
        sn_buf_puts(b, "</text>\n");
    }
    /* Lines, clipped to the plot area (fixed bounds may cut them). */
    size_t id = b->len;
    sn_buf_printf(b,
                  "<clipPath id=\"clip%zu\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                  "height=\"%.1f\"/></clipPath>\n<g clip-path=\"url(#clip%zu)\" fill=\"none\" "
                  "stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\">\n",
                  id, left - 4, top - 4, right - left + 8, bottom - top + 8, id);
    for (int s = 0; s < c->nseries; s++) {
        const sn_series *se = &c->series[s];
        const char *color = se->color ? se->color : sn_palette[s % 12];
        int open = 0;
        for (int i = 0; i < se->n; i++) {
            int ok = isfinite(se->x[i]) && isfinite(se->y[i]) && (!log_y || se->y[i] > 0);
            if (!ok) {
                if (open) sn_buf_puts(b, "\"/>\n");
                open = 0;
                continue;
            }
            if (!open)
                sn_buf_printf(b, "<path stroke=\"%s\"%s d=\"M", color,
                              se->dashed ? " stroke-dasharray=\"6 4\"" : "");
            else
                sn_buf_puts(b, "L");
            sn_buf_printf(b, "%.1f %.1f", map(&ax, se->x[i]), map(&ay, se->y[i]));
            open = 1;
        }
        if (open) sn_buf_puts(b, "\"/>\n");
        if (se->n <= 40) {
            sn_buf_puts(b, "<g stroke=\"none\">");
            for (int i = 0; i < se->n; i++)
                if (isfinite(se->x[i]) && isfinite(se->y[i]) && (!log_y || se->y[i] > 0))
                    marker(b, map(&ax, se->x[i]), map(&ay, se->y[i]), color);
            sn_buf_puts(b, "</g>\n");
        }
    }
    sn_buf_puts(b, "</g>\n");
    if (isfinite(c->mark_x) && c->mark_x >= ax.lo && c->mark_x <= ax.hi) {
        double mx = map(&ax, c->mark_x);
        sn_buf_printf(b,
                      "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#c0392b\" stroke-width=\"1.5\" "
                      "stroke-dasharray=\"4 3\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"%s\" font-size=\"11\" fill=\"#c0392b\">",
                      mx, top, bottom, mx + (mx > (left + right) / 2 ? -4 : 4), top + 11,
                      mx > (left + right) / 2 ? "end" : "start");
        sn_buf_escape(b, c->mark_label ? c->mark_label : "");
        sn_buf_puts(b, "</text>\n");
    }
    if (!have) {
        sn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">",
                      (left + right) / 2, (top + bottom) / 2);
        sn_buf_puts(b, "no data</text>\n");
    }
    /* Legend. */
    for (int s = 0; rows && s < c->nseries; s++) {
        const sn_series *se = &c->series[s];
        const char *color = se->color ? se->color : sn_palette[s % 12];
        sn_buf_printf(b, "<path d=\"M%.1f %.1fh22\" stroke=\"%s\" stroke-width=\"2.5\"%s/>",
                      pos[s].x, pos[s].y, color, se->dashed ? " stroke-dasharray=\"6 4\"" : "");
        if (se->n <= 40) marker(b, pos[s].x + 11, pos[s].y, color);
        sn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">", pos[s].x + 28, pos[s].y + 4);
        sn_buf_escape(b, se->name ? se->name : "");
        sn_buf_puts(b, "</text>\n");
    }
    sn_buf_puts(b, "</svg>\n");
    free(pos);
}

/* ---- confusion matrix ------------------------------------------------------ */

/* White to dark blue, t in [0, 1]. */
static void blue(char *buf, size_t len, double t) {
    static const double stops[3][3] = {{255, 255, 255}, {107, 174, 214}, {8, 48, 107}};
    double u = t < 0.5 ? t * 2 : (t - 0.5) * 2;
    const double *a = stops[t < 0.5 ? 0 : 1], *c = stops[t < 0.5 ? 1 : 2];
    snprintf(buf, len, "#%02x%02x%02x", (int)(a[0] + u * (c[0] - a[0]) + 0.5),
             (int)(a[1] + u * (c[1] - a[1]) + 0.5), (int)(a[2] + u * (c[2] - a[2]) + 0.5));
}

static const char *name_of(char *const *names, int i, char *buf, size_t len) {
    if (names && names[i]) return names[i];
    snprintf(buf, len, "%d", i);
    return buf;
}

void sn_svg_heatmap(sn_buf *b, const char *title, const long *cm, int K, char *const *names) {
    double cell = 460.0 / K;
    cell = cell > 46 ? 46 : cell < 14 ? 14 : cell;
    char num[16];
    double name_w = 0;
    for (int i = 0; i < K; i++)
        name_w = fmax(name_w, text_width(name_of(names, i, num, sizeof num), 12));
    long maxcount = 1;
    for (int i = 0; i < K * K; i++) maxcount = cm[i] > maxcount ? cm[i] : maxcount;
    double font = cell >= 40 ? 12 : cell >= 30 ? 10.5 : 9;
    int show_counts = cell >= 22 || (cell >= 16 && maxcount < 100);
    double left = 34 + name_w + 10, top = title ? 44 : 14;
    double size = cell * K;
    /* Column names below, rotated by 45 degrees. */
    double below = 14 + name_w * 0.71 + 30;
    double bar_x = left + size + 24;
    int W = (int)(bar_x + 12 + 60), H = (int)(top + size + below);
    svg_open(b, W, H, 12);
    if (title) {
        sn_buf_printf(b,
                      "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" "
                      "font-weight=\"bold\" fill=\"#222\">",
                      W / 2.0);
        sn_buf_escape(b, title);
        sn_buf_puts(b, "</text>\n");
    }
    char color[8];
    for (int t = 0; t < K; t++) {
        long row = 0;
        for (int p = 0; p < K; p++) row += cm[(size_t)t * K + p];
        for (int p = 0; p < K; p++) {
            long v = cm[(size_t)t * K + p];
            double share = row ? (double)v / (double)row : 0;
            blue(color, sizeof color, share);
            double x = left + p * cell, y = top + t * cell;
            sn_buf_printf(b,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                          "fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"1\"><title>true ",
                          x, y, cell, cell, color);
            sn_buf_escape(b, name_of(names, t, num, sizeof num));
            sn_buf_puts(b, ", predicted ");
            sn_buf_escape(b, name_of(names, p, num, sizeof num));
            sn_buf_printf(b, ": %ld (%.1f%% of the class)</title></rect>", v, 100 * share);
            if (show_counts)
                sn_buf_printf(b,
                              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                              "font-size=\"%.1f\" fill=\"%s\">%ld</text>",
                              x + cell / 2, y + cell / 2 + font * 0.36, font,
                              share > 0.45 ? "#ffffff"
                              : v          ? "#222"
                                           : "#bbb",
                              v);
            sn_buf_puts(b, "\n");
        }
    }
    sn_buf_printf(b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                  "stroke=\"#888\"/>\n",
                  left, top, size, size);
    sn_buf_puts(b, "<g fill=\"#333\">");
    for (int i = 0; i < K; i++) {
        const char *nm = name_of(names, i, num, sizeof num);
        sn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 6,
                      top + (i + 0.5) * cell + 4);
        sn_buf_escape(b, nm);
        sn_buf_puts(b, "</text>");
        sn_buf_printf(b,
                      "<text text-anchor=\"end\" transform=\"translate(%.1f %.1f) "
                      "rotate(-45)\">",
                      left + (i + 0.5) * cell + 4, top + size + 10);
        sn_buf_escape(b, nm);
        sn_buf_puts(b, "</text>\n");
    }
    sn_buf_puts(b, "</g>\n");
    sn_buf_printf(b,
                  "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#333\" "
                  "font-weight=\"bold\">predicted class</text>\n",
                  left + size / 2, H - 8);
    sn_buf_printf(b,
                  "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" "
                  "fill=\"#333\" font-weight=\"bold\">true class</text>\n",
                  top + size / 2);
    /* Colour bar: share of the true class. */
    size_t id = b->len;
    sn_buf_printf(b, "<linearGradient id=\"cbar%zu\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">", id);
    for (int i = 0; i <= 10; i++) {
        blue(color, sizeof color, i / 10.0);
        sn_buf_printf(b, "<stop offset=\"%.1f\" stop-color=\"%s\"/>", i / 10.0, color);
    }
    sn_buf_printf(b,
                  "</linearGradient>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"%.1f\" "
                  "fill=\"url(#cbar%zu)\" stroke=\"#888\"/>\n",
                  bar_x, top, size, id);
    for (int i = 0; i <= 4; i++)
        sn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#444\">%d%%</text>",
                      bar_x + 16, top + size * (1 - i / 4.0) + 4, 25 * i);
    sn_buf_printf(b,
                  "\n<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" "
                  "font-size=\"11\" fill=\"#444\">share of the true class</text>\n",
                  bar_x + 58, top + size / 2);
    sn_buf_puts(b, "</svg>\n");
}

/* ---- image grid ------------------------------------------------------------ */

/* One sample [C, H, W] to 8-bit interleaved [H, W, C]. */
static void to_pixels(const float *x, int C, int H, int W, uint8_t *out) {
    size_t n = (size_t)C * H * W;
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
    int unit = lo >= -1e-3f && hi <= 1.001f;
    float scale = unit ? 1.0f : (hi > lo ? 1.0f / (hi - lo) : 0.0f), off = unit ? 0.0f : lo;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H * W; i++) {
            float v = (x[(size_t)c * H * W + i] - off) * scale;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            out[(size_t)i * C + c] = (uint8_t)(v * 255.0f + 0.5f);
        }
}

/* Writes s cut to fit `width` pixels (with an ellipsis). */
static void fitted(sn_buf *b, const char *s, double width, double size) {
    if (text_width(s, size) <= width) {
        sn_buf_escape(b, s);
        return;
    }
    char tmp[128];
    size_t keep = (size_t)(width / (0.6 * size)) - 1, n = 0, chars = 0;
    while (s[n] && chars < keep && n + 4 < sizeof tmp) {
        n++;
        while ((s[n] & 0xc0) == 0x80) n++;
        chars++;
    }
    memcpy(tmp, s, n);
    memcpy(tmp + n, "\xe2\x80\xa6", 4);
    sn_buf_escape(b, tmp);
}

void sn_svg_image_grid(sn_buf *b, const char *title, const float *x, int n, int C, int H, int W,
                       const int *truth, const int *pred, const float *prob, char *const *names,
                       int K) {
    double scale = fmax(1, floor(84.0 / W)), iw = W * scale, ih = H * scale;
    double cw = fmax(iw, 118) + 14, ch = ih + 44;
    int cols = (int)((1240 - 20) / cw);
    if (cols > n) cols = n > 0 ? n : 1;
    int rows = (n + cols - 1) / cols;
    double top = title ? 58 : 32;
    int Wd = (int)(cols * cw + 20), Hd = (int)(top + rows * ch + 6);
    uint8_t *pix = malloc((size_t)C * H * W);
    if (!pix) {
        b->oom = 1;
        return;
    }
    svg_open(b, Wd, Hd, 11);
    if (title) {
        sn_buf_printf(b, "<text x=\"10\" y=\"24\" font-size=\"15\" font-weight=\"bold\" "
                         "fill=\"#222\">");
        sn_buf_escape(b, title);
        sn_buf_puts(b, "</text>\n");
    }
    sn_buf_printf(b, "<text x=\"10\" y=\"%d\" font-size=\"12\" fill=\"#555\">", title ? 44 : 18);
    sn_buf_puts(b,
                "Under each image: <tspan fill=\"#222\" font-weight=\"bold\">true class</tspan>, "
                "then <tspan fill=\"#c0392b\" font-weight=\"bold\">predicted class and its "
                "probability</tspan></text>\n");
    char num[16], cap[160];
    for (int i = 0; i < n; i++) {
        double cx = 10 + (i % cols) * cw, cy = top + (i / cols) * ch;
        double ix = cx + (cw - iw) / 2;
        to_pixels(x + (size_t)i * C * H * W, C, H, W, pix);
        sn_buf_printf(b,
                      "<image x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"",
                      ix, cy, iw, ih);
        sn_png_data_uri(b, pix, W, H, C);
        sn_buf_puts(b, "\"/>");
        sn_buf_printf(b,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                      "stroke=\"#ccc\"/>",
                      ix - 0.5, cy - 0.5, iw + 1, ih + 1);
        int t = truth[i], p = pred[i];
        snprintf(cap, sizeof cap, "%s", t >= 0 && t < K ? name_of(names, t, num, sizeof num) : "?");
        sn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\">",
                      cx + cw / 2, cy + ih + 15);
        fitted(b, cap, cw - 6, 11);
        sn_buf_puts(b, "</text>");
        /* Rounded down: 0.9996 is not shown as a certain 100 %. */
        snprintf(cap, sizeof cap, "%s %.1f%%",
                 p >= 0 && p < K ? name_of(names, p, num, sizeof num) : "?",
                 floor(1000.0 * prob[i]) / 10);
        sn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#c0392b\">",
                      cx + cw / 2, cy + ih + 30);
        fitted(b, cap, cw - 6, 11);
        sn_buf_puts(b, "</text>\n");
    }
    sn_buf_puts(b, "</svg>\n");
    free(pix);
}
