/* Numeric CSV: one sample per line, fields split by a one-character
 * delimiter (no quoting). Spaces and tabs around a field are ignored, CRLF
 * line endings and a UTF-8 byte-order mark are accepted, blank lines are
 * skipped. Options number columns from 0; messages number lines and columns
 * from 1, as editors do. */
#include "core/error.h"
#include "data/dataset.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_MAX_CLASSES 65536
#define CSV_MAX_FIELD   127 /* longer fields are not numbers */

enum { ROLE_FEATURE = -1, ROLE_LABEL = -2 }; /* >= 0: index of a target */

typedef struct buf {
    void *p;
    size_t len, cap; /* in elements */
} buf;

static int buf_push(buf *b, const void *v, size_t size) {
    if (b->len == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 1024, bytes;
        if (!sn_mul_ok(ncap, size, &bytes)) return 0;
        void *np = realloc(b->p, bytes);
        if (!np) return 0;
        b->p = np;
        b->cap = ncap;
    }
    memcpy((char *)b->p + b->len * size, v, size);
    b->len++;
    return 1;
}

static sn_status read_all(const char *path, char **out, size_t *len, sn_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *nb = cap <= SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
        if (!nb) free(b);
        b = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    int e = errno;
    fclose(f);
    if (!b) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (bad) {
        free(b);
        return sn_fail(err, SN_ERR_IO, "%s: read failed: %s", path, strerror(e));
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return SN_OK;
}

/* Parses one trimmed field: 0 a finite float32, 1 not a number, 2 out of range. */
static int parse_num(const char *s, size_t len, double *v) {
    char tmp[CSV_MAX_FIELD + 1];
    if (len == 0 || len > CSV_MAX_FIELD) return 1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    *v = strtod(tmp, &end);
    if (end != tmp + len) return 1;
    if (!isfinite(*v) || fabs(*v) > FLT_MAX) return 2;
    return 0;
}

typedef struct field {
    const char *s;
    size_t len;
} field;

/* Splits [p, end) at delim into trimmed fields; returns the count (fields
 * beyond `max` are counted, not stored). */
static size_t split(const char *p, const char *end, char delim, field *fs, size_t max) {
    size_t n = 0;
    for (;;) {
        const char *q = p;
        while (q < end && *q != delim) q++;
        const char *a = p, *b = q;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (n < max) fs[n] = (field){a, (size_t)(b - a)};
        n++;
        if (q == end) return n;
        p = q + 1;
    }
}

static size_t count_fields(const char *p, const char *end, char delim) {
    size_t n = 1;
    for (; p < end; p++) n += *p == delim;
    return n;
}

/* Maps each column to its role; checks the options against the column count. */
static sn_status assign_roles(const char *path, const sn_csv_options *o, size_t ncols, int *role,
                              sn_error *err) {
    if (o->num_target_cols < 0 || o->num_target_cols > 16)
        return sn_fail(err, SN_ERR_ARG, "%s: num_target_cols %d not in 0..16", path,
                       o->num_target_cols);
    if (o->label_col < -1)
        return sn_fail(err, SN_ERR_ARG, "%s: label column %d is negative", path, o->label_col);
    if (o->label_col >= 0 && o->num_target_cols > 0)
        return sn_fail(err, SN_ERR_ARG, "%s: both a label column and target columns given", path);
    for (size_t j = 0; j < ncols; j++) role[j] = ROLE_FEATURE;
    if (o->features_only) return SN_OK;
    int label = o->label_col;
    if (label < 0 && o->num_target_cols == 0) label = (int)ncols - 1;
    if (label >= 0) {
        if ((size_t)label >= ncols)
            return sn_fail(err, SN_ERR_ARG,
                           "%s: label column %d out of range (%zu columns, numbered from 0)", path,
                           label, ncols);
        role[label] = ROLE_LABEL;
    }
    for (int t = 0; t < o->num_target_cols; t++) {
        int c = o->target_cols[t];
        if (c < 0 || (size_t)c >= ncols)
            return sn_fail(err, SN_ERR_ARG,
                           "%s: target column %d out of range (%zu columns, numbered from 0)", path,
                           c, ncols);
        if (role[c] != ROLE_FEATURE)
            return sn_fail(err, SN_ERR_ARG, "%s: target column %d given twice", path, c);
        role[c] = t;
    }
    if (ncols <= (size_t)(label >= 0 ? 1 : o->num_target_cols))
        return sn_fail(
            err, SN_ERR_FORMAT,
            "%s: no feature columns (%zu column%s, none left after the label or targets)", path,
            ncols, ncols == 1 ? "" : "s");
    return SN_OK;
}

/* Shows a field in a message: at most 40 characters. */
#define SHOW(f) (int)((f).len > 40 ? 40 : (f).len), (f).s, ((f).len > 40 ? "..." : "")

sn_status sn_csv_load(const char *path, const sn_csv_options *opt, sn_dataset *out, sn_error *err) {
    if (!path || !out) return sn_fail(err, SN_ERR_ARG, "sn_csv_load: NULL argument");
    memset(out, 0, sizeof *out);
    sn_csv_options o = {.header = -1, .label_col = -1, .num_target_cols = 0, .delimiter = ','};
    if (opt) o = *opt;
    if (o.delimiter == 0) o.delimiter = ',';
    if (o.delimiter == '\n' || o.delimiter == '\r')
        return sn_fail(err, SN_ERR_ARG, "%s: the delimiter cannot be a line break", path);

    char *text = NULL;
    size_t len = 0;
    sn_status s = read_all(path, &text, &len, err);
    if (s) return s;
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;

    buf xs = {0}, labs = {0}, tgts = {0};
    field *fs = NULL;
    int *role = NULL;
    size_t ncols = 0, nrows = 0, nfeat = 0;
    int first_line = 0, max_label = -1, line = 0;
    for (; p < end; p++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *le = eol;
        if (le > p && le[-1] == '\r') le--;
        line++;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t')) q++;
        if (q == le) { /* blank line */
            p = eol;
            continue;
        }
        size_t n = count_fields(p, le, o.delimiter);
        if (!first_line) {
            first_line = line;
            ncols = n;
            fs = malloc(ncols * sizeof *fs);
            role = malloc(ncols * sizeof *role);
            if (!fs || !role) {
                s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
                goto fail;
            }
            s = assign_roles(path, &o, ncols, role, err);
            if (s) goto fail;
            for (size_t j = 0; j < ncols; j++) nfeat += role[j] == ROLE_FEATURE;
            if (nfeat > INT_MAX) { /* the sample shape is an int */
                s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: %zu columns overflow an int", path, line,
                            ncols);
                goto fail;
            }
            split(p, le, o.delimiter, fs, ncols);
            int header = o.header;
            if (header < 0) {
                header = 0;
                for (size_t j = 0; j < ncols && !header; j++) {
                    double v;
                    header = parse_num(fs[j].s, fs[j].len, &v) == 1;
                }
            }
            if (header) {
                p = eol;
                continue;
            }
        } else if (n != ncols) {
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: %zu columns, expected %zu (as on line %d)",
                        path, line, n, ncols, first_line);
            goto fail;
        } else {
            split(p, le, o.delimiter, fs, ncols);
        }
        if (nrows == INT_MAX) {
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: too many rows", path, line);
            goto fail;
        }
        float trow[16];
        for (size_t j = 0; j < ncols; j++) {
            double v;
            int r = parse_num(fs[j].s, fs[j].len, &v);
            int ok = 1;
            if (r == 1 && fs[j].len == 0)
                s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: column %zu: empty field", path, line,
                            j + 1);
            else if (r == 1)
                s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: column %zu: '%.*s%s' is not a number", path,
                            line, j + 1, SHOW(fs[j]));
            else if (r == 2)
                s = sn_fail(err, SN_ERR_FORMAT,
                            "%s:%d: column %zu: '%.*s%s' is not a finite float32 number", path,
                            line, j + 1, SHOW(fs[j]));
            else if (role[j] == ROLE_LABEL && v < 0)
                s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: column %zu: label '%.*s%s' is negative",
                            path, line, j + 1, SHOW(fs[j]));
            else if (role[j] == ROLE_LABEL && v != floor(v))
                s = sn_fail(err, SN_ERR_FORMAT,
                            "%s:%d: column %zu: label '%.*s%s' is not an integer", path, line,
                            j + 1, SHOW(fs[j]));
            else if (role[j] == ROLE_LABEL && v >= CSV_MAX_CLASSES)
                s = sn_fail(err, SN_ERR_FORMAT,
                            "%s:%d: column %zu: label '%.*s%s' is too large (at most %d)", path,
                            line, j + 1, SHOW(fs[j]), CSV_MAX_CLASSES - 1);
            if (r != 0 || s) goto fail;
            float fv = (float)v;
            if (role[j] == ROLE_FEATURE) {
                ok = buf_push(&xs, &fv, sizeof fv);
            } else if (role[j] == ROLE_LABEL) {
                int lv = (int)v;
                if (lv > max_label) max_label = lv;
                ok = buf_push(&labs, &lv, sizeof lv);
            } else {
                trow[role[j]] = fv;
            }
            if (!ok) {
                s = sn_fail(err, SN_ERR_NOMEM, "%s:%d: out of memory", path, line);
                goto fail;
            }
        }
        for (int t = 0; t < o.num_target_cols; t++) { /* in target_cols order */
            if (!buf_push(&tgts, &trow[t], sizeof(float))) {
                s = sn_fail(err, SN_ERR_NOMEM, "%s:%d: out of memory", path, line);
                goto fail;
            }
        }
        nrows++;
        p = eol;
    }
    if (nrows == 0) {
        s = sn_fail(err, SN_ERR_FORMAT, "%s: no data rows", path);
        goto fail;
    }
    /* Rows are in the growable buffers; move them into aligned storage. */
    out->x = sn_alloc(xs.len, sizeof(float));
    if (!out->x) goto nomem;
    memcpy(out->x, xs.p, xs.len * sizeof(float));
    if (labs.len) {
        out->labels = sn_alloc(labs.len, sizeof(int));
        if (!out->labels) goto nomem;
        memcpy(out->labels, labs.p, labs.len * sizeof(int));
        out->num_classes = max_label + 1;
    } else if (o.num_target_cols > 0) {
        out->targets = sn_alloc(tgts.len, sizeof(float));
        if (!out->targets) goto nomem;
        memcpy(out->targets, tgts.p, tgts.len * sizeof(float));
        out->num_targets = o.num_target_cols;
    }
    out->n = (int)nrows;
    out->ndim = 1;
    out->shape[0] = (int)nfeat;
    out->shape[1] = out->shape[2] = 1;
    out->sample_size = nfeat;
    s = SN_OK;
    goto done;
nomem:
    s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
fail:
    sn_dataset_free(out);
done:
    free(xs.p);
    free(labs.p);
    free(tgts.p);
    free(fs);
    free(role);
    free(text);
    return s;
}
