/* PNG (through libpng) and PGM images as samples for predict: pixels
 * scaled to [0, 1] like IDX images, laid out channel by channel (CHW). */
#include "cli.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Grey (from 1) or RGB (from 3) bytes into d's one sample: 3 planes when a
 * model input of `size` values takes that many, else 1, colour made grey
 * with the ITU-R BT.601 weights as CIFAR-10's --grey does (Y = 0.299 R +
 * 0.587 G + 0.114 B), grey repeated. */
static sn_status to_sample(const unsigned char *px, int w, int h, int from, size_t size,
                           sn_dataset *d, sn_error *err) {
    static const float luma[3] = {0.299f, 0.587f, 0.114f};
    size_t plane = (size_t)w * (size_t)h;
    int channels = plane * 3 == size ? 3 : 1;
    sn_status s = sn_dataset_alloc(d, 1, 3, (int[3]){channels, h, w}, 0, 0, err);
    if (s != SN_OK) return s;
    for (size_t i = 0; i < plane; i++) {
        const unsigned char *p = px + i * (size_t)from;
        for (int c = 0; c < channels; c++)
            d->x[(size_t)c * plane + i] =
                from == channels ? p[c] / 255.0f
                : from == 1      ? p[0] / 255.0f
                                 : (luma[0] * p[0] + luma[1] * p[1] + luma[2] * p[2]) / 255.0f;
    }
    return SN_OK;
}

static void png_fail(png_structp p, png_const_charp msg) {
    snprintf((char *)png_get_error_ptr(p), 200, "%s", msg);
    png_longjmp(p, 1);
}
static void png_warn(png_structp p, png_const_charp msg) {
    (void)p, (void)msg;
}

static sn_status png_load(const char *path, size_t size, sn_dataset *d, sn_error *err) {
    char why[200] = "";
    FILE *f = fopen(path, "rb");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, why, png_fail, png_warn);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    unsigned char *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    sn_status s = SN_OK;
    if (!info) {
        s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
    } else if (setjmp(png_jmpbuf(p))) {
        s = sn_fail(err, SN_ERR_FORMAT, "%s: not a readable PNG image: %s", path, why);
    } else {
        png_init_io(p, f);
        png_read_info(p, info);
        png_set_expand(p); /* palette, low-bit grey, tRNS */
        png_set_strip_16(p);
        png_set_strip_alpha(p);
        png_read_update_info(p, info);
        int from = png_get_color_type(p, info) & PNG_COLOR_MASK_COLOR ? 3 : 1;
        png_uint_32 w = png_get_image_width(p, info), h = png_get_image_height(p, info);
        size_t stride = png_get_rowbytes(p, info);
        if (w > 1 << 14 || h > 1 << 14 || stride != (size_t)w * (size_t)from) {
            s = sn_fail(err, SN_ERR_FORMAT, "%s: %ux%u: too large or an unexpected layout", path,
                        (unsigned)w, (unsigned)h);
        } else if (!(px = malloc(stride * h)) || !(rows = malloc(h * sizeof *rows))) {
            s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
        } else {
            for (png_uint_32 y = 0; y < h; y++) rows[y] = px + y * stride;
            png_read_image(p, rows);
            png_read_end(p, NULL);
            s = to_sample(px, (int)w, (int)h, from, size, d, err);
        }
    }
    png_destroy_read_struct(&p, info ? &info : NULL, NULL);
    fclose(f);
    free(px);
    free(rows);
    return s;
}

/* PGM, binary (P5) or plain (P2), maxval up to 65535. */
static int pgm_int(FILE *f, long *v) {
    int c;
    for (;;) { /* white space and # comments */
        c = getc(f);
        if (c == '#')
            while (c != '\n' && c != EOF) c = getc(f);
        else if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
    }
    if (c < '0' || c > '9') return 0;
    *v = 0;
    while (c >= '0' && c <= '9' && *v < 1 << 24) {
        *v = *v * 10 + (c - '0');
        c = getc(f);
    }
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == EOF;
}

static sn_status pgm_load(const char *path, size_t size, sn_dataset *d, sn_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char magic[2] = {0};
    long w = 0, h = 0, max = 0;
    sn_status s = SN_OK;
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '2'))
        s = sn_fail(err, SN_ERR_FORMAT, "%s: not a PGM image (P5 or P2)", path);
    else if (!pgm_int(f, &w) || !pgm_int(f, &h) || !pgm_int(f, &max) || w < 1 || h < 1 ||
             w > 1 << 14 || h > 1 << 14 || max < 1 || max > 65535)
        s = sn_fail(err, SN_ERR_FORMAT, "%s: bad PGM header (width, height, maxval)", path);
    unsigned char *px = s == SN_OK ? malloc((size_t)w * (size_t)h) : NULL;
    if (s == SN_OK && !px) s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
    for (long i = 0; s == SN_OK && i < w * h; i++) {
        long v = 0;
        int ok;
        if (magic[1] == '2') {
            ok = pgm_int(f, &v);
        } else {
            int a = getc(f), b = max > 255 ? getc(f) : 0;
            ok = a != EOF && b != EOF;
            v = max > 255 ? a << 8 | b : a;
        }
        if (!ok || v > max)
            s = sn_fail(err, SN_ERR_FORMAT, "%s: pixel %ld of %ld: %s", path, i + 1, w * h,
                        ok ? "above maxval" : "missing or not a number");
        if (s == SN_OK) px[i] = (unsigned char)((v * 255 + max / 2) / max);
    }
    fclose(f);
    if (s == SN_OK) s = to_sample(px, (int)w, (int)h, 1, size, d, err);
    free(px);
    return s;
}

sn_status cli_image_load(const char *path, size_t size, sn_dataset *d, sn_error *err) {
    size_t n = strlen(path);
    return n > 4 && strcasecmp(path + n - 4, ".png") == 0 ? png_load(path, size, d, err)
                                                          : pgm_load(path, size, d, err);
}
