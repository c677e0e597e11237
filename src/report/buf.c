/* A growable string and whole-file reads and writes. */
#include "report/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int reserve(sn_buf *b, size_t more) {
    if (b->oom) return 0;
    if (b->len + more + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) {
        if (cap > ((size_t)1 << 40)) {
            b->oom = 1;
            return 0;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void sn_buf_put(sn_buf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sn_buf_puts(sn_buf *b, const char *s) {
    sn_buf_put(b, s, strlen(s));
}

void sn_buf_printf(sn_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || !reserve(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)k;
}

void sn_buf_csv_field(sn_buf *b, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        sn_buf_puts(b, s);
        return;
    }
    sn_buf_puts(b, "\"");
    for (const char *p = s; *p; p++) sn_buf_puts(b, *p == '"' ? "\"\"" : (char[2]){*p, 0});
    sn_buf_puts(b, "\"");
}

void sn_buf_escape(sn_buf *b, const char *s) {
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            sn_buf_puts(b, "&amp;");
            break;
        case '<':
            sn_buf_puts(b, "&lt;");
            break;
        case '>':
            sn_buf_puts(b, "&gt;");
            break;
        case '"':
            sn_buf_puts(b, "&quot;");
            break;
        case '\'':
            sn_buf_puts(b, "&#39;");
            break;
        default:
            /* Control characters are not allowed in XML 1.0. */
            if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
                sn_buf_puts(b, " ");
            else
                sn_buf_put(b, p, 1);
        }
    }
}

void sn_buf_free(sn_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

sn_status sn_buf_write_file(const sn_buf *b, const char *path, sn_error *err) {
    if (b->oom) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return sn_fail(err, SN_ERR_ARG, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    size_t n = b->len ? fwrite(b->p, 1, b->len, f) : 0;
    int bad = n != b->len;
    bad |= fflush(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return sn_fail(err, SN_ERR_IO, "%s: write error: %s", path, strerror(e));
    }
    return SN_OK;
}

sn_status sn_buf_read_file(sn_buf *b, const char *path, sn_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) sn_buf_put(b, chunk, got);
    int bad = ferror(f);
    fclose(f);
    if (bad) return sn_fail(err, SN_ERR_IO, "%s: read error", path);
    if (b->oom) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    if (!b->p) sn_buf_put(b, "", 0);
    if (b->p && strlen(b->p) != b->len)
        return sn_fail(err, SN_ERR_FORMAT, "%s: byte %zu: NUL byte in a text file", path,
                       strlen(b->p));
    return SN_OK;
}
