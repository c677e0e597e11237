/* Report building blocks: the CSV table reader, "key value" files, the PNG
 * encoder (decoded here with zlib, chunk by chunk, against the PNG format),
 * tick placement and what the SVG writers put out. Whether the SVGs parse
 * as XML and render is tests/test_report.sh's job. */
#include "check.h"
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];

static const char *write_tmp(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_table(void) {
    sn_table t;
    sn_error err = {0};
    const char *p = write_tmp("h.csv", "epoch,train_loss,name,val_acc\r\n"
                                       "1,0.5,\"a, \"\"quoted\"\" one\",nan\r\n"
                                       "\n"
                                       "2,0.25,plain\n"
                                       "3,,x,0.75");
    CHECK(sn_table_read(p, &t, &err) == SN_OK);
    CHECK(t.ncols == 4 && t.nrows == 3);
    CHECK(sn_table_col(&t, "train_loss") == 1 && sn_table_col(&t, "nope") == -1);
    CHECK(strcmp(sn_table_str(&t, 0, 2), "a, \"quoted\" one") == 0);
    CHECK(sn_table_num(&t, 1, 1) == 0.25);
    CHECK(isnan(sn_table_num(&t, 0, 3))); /* "nan" */
    CHECK(isnan(sn_table_num(&t, 1, 3))); /* padded short row */
    CHECK(isnan(sn_table_num(&t, 2, 1))); /* empty cell */
    CHECK(isnan(sn_table_num(&t, 0, 2))); /* text */
    CHECK(strcmp(sn_table_str(&t, 9, 9), "") == 0);
    double col[3];
    sn_table_column(&t, 0, col);
    CHECK(col[0] == 1 && col[1] == 2 && col[2] == 3);
    sn_table_free(&t);

    p = write_tmp("bad.csv", "a,b\n1,2\n1,2,3\n");
    CHECK(sn_table_read(p, &t, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "bad.csv:3: more fields than the header's 2") != NULL);
    p = write_tmp("quote.csv", "a,b\n\"open,2\n");
    CHECK(sn_table_read(p, &t, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "unterminated quoted field") != NULL);
    p = write_tmp("empty.csv", "");
    CHECK(sn_table_read(p, &t, &err) == SN_ERR_FORMAT);
    CHECK(sn_table_read("/nonexistent/h.csv", &t, &err) == SN_ERR_IO);

    sn_keyvals kv;
    p = write_tmp("run.txt", "# comment\nspec  a b.net \n\n  lr 0.1\nempty\nlr 0.2\r\n");
    CHECK(sn_keyvals_read(p, &kv, &err) == SN_OK);
    CHECK(kv.n == 4);
    CHECK(strcmp(sn_keyvals_get(&kv, "spec"), "a b.net") == 0);
    CHECK(strcmp(sn_keyvals_get(&kv, "lr"), "0.2") == 0); /* the last one wins */
    CHECK(strcmp(sn_keyvals_get(&kv, "empty"), "") == 0);
    CHECK(sn_keyvals_get(&kv, "nope") == NULL);
    sn_keyvals_free(&kv);
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Encodes an image, then decodes it by the PNG specification. */
static void png_roundtrip(int w, int h, int ch) {
    uint8_t *pix = malloc((size_t)w * h * ch);
    for (int i = 0; i < w * h * ch; i++) pix[i] = (uint8_t)(i * 37 + 11);
    sn_buf b = {0};
    sn_png_data_uri(&b, pix, w, h, ch);
    const char *prefix = "data:image/png;base64,";
    CHECK(strncmp(b.p, prefix, strlen(prefix)) == 0);
    const char *s = b.p + strlen(prefix);
    size_t n = strlen(s);
    CHECK(n % 4 == 0);
    uint8_t *png = malloc(n);
    size_t len = 0;
    for (size_t i = 0; i + 3 < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) v[k] = s[i + k] == '=' ? 0 : b64val(s[i + k]);
        uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        png[len++] = (uint8_t)(q >> 16);
        if (s[i + 2] != '=') png[len++] = (uint8_t)(q >> 8);
        if (s[i + 3] != '=') png[len++] = (uint8_t)q;
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECK(memcmp(png, sig, 8) == 0);
    size_t off = 8;
    int crc_ok = 1, saw_end = 0;
    uint8_t *raw = malloc((size_t)(w * ch + 1) * h + 16);
    uLongf rawlen = 0;
    while (off + 12 <= len) {
        uint32_t clen = be32(png + off);
        const uint8_t *type = png + off + 4, *data = png + off + 8;
        crc_ok &= crc32(0, type, clen + 4) == be32(data + clen);
        if (memcmp(type, "IHDR", 4) == 0) {
            CHECK(clen == 13 && be32(data) == (uint32_t)w && be32(data + 4) == (uint32_t)h);
            CHECK(data[8] == 8 && data[9] == (ch == 3 ? 2 : 0) && data[12] == 0);
        } else if (memcmp(type, "IDAT", 4) == 0) {
            rawlen = (uLongf)(w * ch + 1) * h + 16;
            CHECK(uncompress(raw, &rawlen, data, clen) == Z_OK);
        } else if (memcmp(type, "IEND", 4) == 0) {
            saw_end = clen == 0;
        }
        off += 12 + clen;
    }
    CHECK(crc_ok && saw_end && off == len);
    CHECK(rawlen == (uLongf)(w * ch + 1) * h);
    int same = 1;
    for (int y = 0; y < h; y++) {
        same &= raw[(size_t)y * (w * ch + 1)] == 0;
        same &= memcmp(raw + (size_t)y * (w * ch + 1) + 1, pix + (size_t)y * w * ch,
                       (size_t)w * ch) == 0;
    }
    CHECK(same);
    free(raw);
    free(png);
    free(pix);
    sn_buf_free(&b);
}

static void test_ticks(void) {
    double t[64], step;
    int n = sn_nice_ticks(0.31, 0.49, 5, 0, t, 64, &step);
    CHECK_NEAR(step, 0.05, 1e-12);
    CHECK(n == 5 && fabs(t[0] - 0.3) < 1e-12 && fabs(t[n - 1] - 0.5) < 1e-12);
    n = sn_nice_ticks(82.6, 88.3, 5, 0, t, 64, &step);
    CHECK(step == 1 || step == 2);
    CHECK(t[0] <= 82.6 && t[n - 1] >= 88.3);
    n = sn_nice_ticks(1, 3, 6, 1, t, 64, &step);
    CHECK(step == 1 && n == 3 && t[0] == 1 && t[2] == 3); /* epochs: whole numbers */
    n = sn_nice_ticks(1, 2000, 6, 1, t, 64, &step);
    CHECK(step == 500 && t[0] == 0 && t[n - 1] == 2000);
    n = sn_nice_ticks(0.001, 0.001, 5, 0, t, 64, &step); /* flat line: padded */
    CHECK(n >= 2 && t[0] < 0.001 && t[n - 1] > 0.001);
    /* Every step is 1, 2 or 5 times a power of ten, and the ticks cover
     * the range, for ranges over many magnitudes. */
    int ok = 1;
    for (int e = -6; e <= 6; e++)
        for (double lo = 0.13; lo < 3; lo *= 1.7) {
            double a = lo * pow(10, e), b2 = a * 3.3 + pow(10, e);
            n = sn_nice_ticks(a, b2, 5, 0, t, 64, &step);
            double m = step / pow(10, floor(log10(step) + 1e-9));
            ok &= fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9;
            ok &= t[0] <= a + 1e-12 * a && t[n - 1] >= b2 - 1e-12 * b2 && n >= 3 && n <= 11;
        }
    CHECK(ok);
}

static int count(const char *s, const char *what) {
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

static void test_charts(void) {
    double x[5] = {1, 2, 3, 4, 5}, y1[5] = {0.9, 0.7, NAN, 0.5, 0.4},
           y2[5] = {1.0, 0.8, 0.7, 0.65, 0.6};
    sn_series s[2] = {{"train <&>", x, y1, 5, NULL, 0}, {"validation", x, y2, 5, "#123456", 1}};
    sn_chart c = sn_chart_default();
    c.title = "Loss & more";
    c.xlabel = "epoch";
    c.ylabel = "loss";
    c.series = s;
    c.nseries = 2;
    c.x_integer = 1;
    sn_buf b = {0};
    sn_svg_line_chart(&b, &c);
    CHECK(strncmp(b.p, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    CHECK(strstr(b.p, "Loss &amp; more") != NULL);
    CHECK(strstr(b.p, "train &lt;&amp;&gt;") != NULL);
    CHECK(strstr(b.p, "<&>") == NULL);
    /* The NaN splits the first line in two; the second is one dashed path. */
    CHECK(count(b.p, "<path stroke=\"#1f77b4\"") == 2);
    CHECK(count(b.p, "<path stroke=\"#123456\" stroke-dasharray") == 1);
    CHECK(count(b.p, "<circle") == 9 + 2); /* markers and the legend's */
    CHECK(strstr(b.p, ">0.4<") != NULL && strstr(b.p, ">1.0<") != NULL);
    CHECK(strstr(b.p, "</svg>") != NULL);
    sn_buf_free(&b);

    long cm[4] = {5, 1, 0, 7};
    char *names[2] = {"cat", "d\"og"};
    sn_svg_heatmap(&b, "Confusion", cm, 2, names);
    CHECK(count(b.p, "<rect x=") >= 4);
    CHECK(strstr(b.p, ">7</text>") != NULL && strstr(b.p, ">5</text>") != NULL);
    CHECK(strstr(b.p, "d&quot;og") != NULL);
    sn_buf_free(&b);

    float img[2 * 3 * 4];
    for (int i = 0; i < 24; i++) img[i] = (float)i / 23;
    int truth[2] = {0, 1}, pred[2] = {1, 0};
    float prob[2] = {0.9996f, 0.5f};
    sn_svg_image_grid(&b, NULL, img, 2, 1, 3, 4, truth, pred, prob, names, 2);
    CHECK(count(b.p, "<image ") == 2);
    CHECK(count(b.p, "data:image/png;base64,") == 2);
    CHECK(strstr(b.p, "99.9%") != NULL); /* never rounded up to a certain 100 % */
    sn_buf_free(&b);
}

static void test_files(void) {
    sn_buf b = {0};
    sn_error err = {0};
    sn_buf_printf(&b, "%d %s", 42, "x");
    char path[256];
    snprintf(path, sizeof path, "%s/out.txt", tmpdir);
    CHECK(sn_buf_write_file(&b, path, &err) == SN_OK);
    sn_buf r = {0};
    CHECK(sn_buf_read_file(&r, path, &err) == SN_OK);
    CHECK(r.len == 4 && strcmp(r.p, "42 x") == 0);
    CHECK(sn_buf_write_file(&b, "/nonexistent/dir/out.txt", &err) == SN_ERR_IO);
    sn_buf_free(&b);
    sn_buf_free(&r);
    /* A plot of a history file. */
    const char *h = write_tmp("history.csv", "epoch,step,train_loss,train_acc,val_loss\n"
                                             "1,10,0.9,0.5,1.0\n2,20,0.6,0.7,0.8\n");
    snprintf(path, sizeof path, "%s/loss.svg", tmpdir);
    CHECK(sn_plot_csv(h, NULL, NULL, path, &err) == SN_OK);
    CHECK(sn_buf_read_file(&r, path, &err) == SN_OK);
    CHECK(r.p && strstr(r.p, ">train_loss<") && strstr(r.p, ">val_loss<") &&
          !strstr(r.p, ">train_acc<"));
    sn_buf_free(&r);
    CHECK(sn_plot_csv(h, "train_acc,nope", NULL, path, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "no column 'nope'") != NULL);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sn_svg_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_table();
    png_roundtrip(28, 28, 1);
    png_roundtrip(5, 3, 3);
    png_roundtrip(1, 1, 1);
    test_ticks();
    test_charts();
    test_files();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    return check_report();
}
