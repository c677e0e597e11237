/* Reading what a run folder holds: CSV tables with a header (history.csv,
 * per_class.csv, robustness.csv, ...) and "key value" files (run.txt).
 *
 * history.csv, as the trainer writes it, has one row per epoch:
 *   epoch,step,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,lr,seconds
 * ("nan" where a set is missing); more columns may follow, so readers look
 * columns up by name. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sn_table_free(sn_table *t) {
    free(t->header);
    free(t->cells);
    free(t->text);
    memset(t, 0, sizeof *t);
}

/* Splits one CSV record starting at *pp in place; returns the number of
 * fields stored into f (up to max; -1 when there are more), leaves *pp at
 * the next record. Quoted fields are unquoted in place. */
static int split_record(char **pp, char **f, int max, int *bad_quote) {
    char *p = *pp;
    int n = 0;
    for (;;) {
        char *start = p, *w = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == 0) {
                    *bad_quote = 1;
                    break;
                }
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            while (*p && *p != ',' && *p != '\n' && *p != '\r') p++;
        } else {
            while (*p && *p != ',' && *p != '\n' && *p != '\r') p++;
            w = p;
        }
        char end = *p;
        *w = 0;
        if (n == max) return -1;
        f[n++] = start;
        if (end == ',') {
            p++;
            continue;
        }
        if (end == '\r') {
            p++;
            if (*p == '\n') p++;
        } else if (end == '\n') {
            p++;
        }
        break;
    }
    *pp = p;
    return n;
}

static int blank_line(const char *p) {
    return *p == '\n' || (*p == '\r' && p[1] == '\n');
}

sn_status sn_table_read(const char *path, sn_table *t, sn_error *err) {
    memset(t, 0, sizeof *t);
    sn_buf b = {0};
    sn_status s = sn_buf_read_file(&b, path, err);
    if (s != SN_OK) {
        sn_buf_free(&b);
        return s;
    }
    t->text = b.p;
    size_t commas = 0, lines = 1;
    for (size_t i = 0; i < b.len; i++) commas += b.p[i] == ',', lines += b.p[i] == '\n';
    if (!*b.p) {
        sn_table_free(t);
        return sn_fail(err, SN_ERR_FORMAT, "%s: empty file (expected a header row)", path);
    }
    t->header = malloc((commas + 1) * sizeof(char *));
    if (!t->header) {
        sn_table_free(t);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    }
    char *p = b.p;
    int bad = 0;
    t->ncols = split_record(&p, t->header, (int)commas + 1, &bad);
    /* At most one row per remaining line, each padded to ncols cells. */
    char **tmp = malloc(lines * (size_t)t->ncols * sizeof *tmp);
    if (!tmp) {
        sn_table_free(t);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    }
    int line = 1;
    size_t ncells = 0;
    while (*p && !bad) {
        line++;
        if (blank_line(p)) {
            p += *p == '\r' ? 2 : 1;
            continue;
        }
        int n = split_record(&p, tmp + ncells, t->ncols, &bad);
        if (n < 0) {
            int ncols = t->ncols;
            free(tmp);
            sn_table_free(t);
            return sn_fail(err, SN_ERR_FORMAT, "%s:%d: more fields than the header's %d", path,
                           line, ncols);
        }
        for (int i = n; i < t->ncols; i++) tmp[ncells + (size_t)i] = "";
        ncells += (size_t)t->ncols;
        t->nrows++;
    }
    if (bad) {
        free(tmp);
        sn_table_free(t);
        return sn_fail(err, SN_ERR_FORMAT, "%s:%d: unterminated quoted field", path, line);
    }
    t->cells = tmp;
    return SN_OK;
}

int sn_table_col(const sn_table *t, const char *name) {
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->header[i], name) == 0) return i;
    return -1;
}

const char *sn_table_str(const sn_table *t, int row, int col) {
    if (row < 0 || row >= t->nrows || col < 0 || col >= t->ncols) return "";
    return t->cells[(size_t)row * (size_t)t->ncols + (size_t)col];
}

double sn_table_num(const sn_table *t, int row, int col) {
    const char *s = sn_table_str(t, row, col);
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end) return NAN;
    return v;
}

void sn_table_column(const sn_table *t, int col, double *out) {
    for (int r = 0; r < t->nrows; r++) out[r] = sn_table_num(t, r, col);
}

/* ---- key value files ------------------------------------------------------ */

void sn_keyvals_free(sn_keyvals *kv) {
    free(kv->keys);
    free(kv->values);
    free(kv->text);
    memset(kv, 0, sizeof *kv);
}

sn_status sn_keyvals_read(const char *path, sn_keyvals *kv, sn_error *err) {
    memset(kv, 0, sizeof *kv);
    sn_buf b = {0};
    sn_status s = sn_buf_read_file(&b, path, err);
    if (s != SN_OK) {
        sn_buf_free(&b);
        return s;
    }
    kv->text = b.p;
    size_t lines = 1;
    for (size_t i = 0; i < b.len; i++) lines += b.p[i] == '\n';
    kv->keys = malloc(lines * sizeof(char *));
    kv->values = malloc(lines * sizeof(char *));
    if (!kv->keys || !kv->values) {
        sn_keyvals_free(kv);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    }
    for (char *p = b.p; p && *p;) {
        char *nl = strchr(p, '\n'), *line = p;
        if (nl) *nl = 0;
        p = nl ? nl + 1 : NULL;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = 0;
        while (*line == ' ' || *line == '\t') line++;
        if (!*line || *line == '#') continue;
        char *v = line;
        while (*v && *v != ' ' && *v != '\t') v++;
        if (*v) *v++ = 0;
        while (*v == ' ' || *v == '\t') v++;
        kv->keys[kv->n] = line;
        kv->values[kv->n] = v;
        kv->n++;
    }
    return SN_OK;
}

const char *sn_keyvals_get(const sn_keyvals *kv, const char *key) {
    for (int i = kv->n - 1; i >= 0; i--)
        if (strcmp(kv->keys[i], key) == 0) return kv->values[i];
    return NULL;
}
