/* IDX files (MNIST, EMNIST, Fashion-MNIST), raw or gzip-compressed.
 *
 * Layout, all integers big-endian:
 *   byte 0..1   0x00 0x00
 *   byte 2      data type: 0x08 = unsigned byte (the only one accepted here)
 *   byte 3      number of dimensions D (1 for labels, 3 for images)
 *   byte 4..    D uint32 sizes: labels [n], images [n, rows, cols]
 *   then        the product of the sizes in bytes, row-major, nothing after.
 * So the magic number (bytes 0..3) is 0x00000801 for labels, 0x00000803 for
 * images. zlib's gzread reads plain files unchanged, so both forms share one
 * path. The data is read in growing chunks: a header that claims gigabytes
 * costs nothing until the bytes really arrive. */
#include "core/error.h"
#include "data/dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAX_BYTES   ((size_t)1 << 31) /* largest data block accepted */
#define IDX_FIRST_CHUNK ((size_t)1 << 20)
#define IDX_MAX_READ    ((size_t)1 << 30) /* one gzread call */

typedef struct idx_file {
    const char *path;
    gzFile gz;
    size_t off; /* bytes consumed so far */
} idx_file;

static sn_status idx_open(idx_file *f, const char *path, sn_error *err) {
    f->path = path;
    f->off = 0;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    return SN_OK;
}

/* zlib's error, without the "path: " it starts with. */
static const char *gz_message(idx_file *f, int *zerr) {
    const char *msg = gzerror(f->gz, zerr);
    if (*zerr == Z_ERRNO) return strerror(errno);
    size_t plen = strlen(f->path);
    if (strncmp(msg, f->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0) msg += plen + 2;
    return msg;
}

/* Reads up to len bytes; *got receives the count (short only at end of file). */
static sn_status idx_read(idx_file *f, unsigned char *buf, size_t len, size_t *got, sn_error *err) {
    *got = 0;
    while (*got < len) {
        size_t want = len - *got;
        if (want > IDX_MAX_READ) want = IDX_MAX_READ;
        int r = gzread(f->gz, buf + *got, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *msg = gz_message(f, &zerr);
            return sn_fail(err, zerr == Z_ERRNO ? SN_ERR_IO : SN_ERR_FORMAT, "%s: byte %zu: %s: %s",
                           f->path, f->off + *got,
                           zerr == Z_ERRNO ? "read failed" : "corrupt gzip data", msg);
        }
        *got += (size_t)r;
        if ((size_t)r < want) break;
    }
    f->off += *got;
    /* A gzip stream cut short reads as a short count plus a pending error. */
    if (*got < len) {
        int zerr;
        const char *msg = gz_message(f, &zerr);
        if (zerr != Z_OK)
            return sn_fail(err, SN_ERR_FORMAT, "%s: byte %zu: corrupt or truncated gzip data: %s",
                           f->path, f->off, msg);
    }
    return SN_OK;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads and checks the header of an IDX file with `ndim` dimensions; dims
 * receives the sizes and *bytes their product. */
static sn_status idx_header(idx_file *f, int ndim, uint32_t *dims, size_t *bytes, sn_error *err) {
    const char *what = ndim == 1 ? "a label" : "an image";
    const char *other = ndim == 1 ? "an image" : "a label";
    const uint32_t expect = 0x800u | (uint32_t)ndim;
    size_t hlen = 4 + 4 * (size_t)ndim, got;
    unsigned char h[4 + 4 * 3];
    sn_status s = idx_read(f, h, hlen, &got, err);
    if (s) return s;
    if (got < 4)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: byte %zu: truncated header: file has %zu bytes, an IDX header "
                       "needs %zu",
                       f->path, got, got, hlen);
    uint32_t magic = be32(h);
    if ((magic & 0xFFFF0000u) == 0 && (magic & 0xFFu) == (uint32_t)(4 - ndim) &&
        (magic & 0xFF00u) == 0x0800u)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: byte 0: bad magic 0x%08x (expected 0x%08x for %s file; this "
                       "looks like %s file)",
                       f->path, (unsigned)magic, (unsigned)expect, what, other);
    if ((magic & 0xFFFF0000u) != 0 || (magic & 0xFFu) != (uint32_t)ndim)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: byte 0: bad magic 0x%08x (expected 0x%08x for %s file)", f->path,
                       (unsigned)magic, (unsigned)expect, what);
    if ((magic & 0xFF00u) != 0x0800u)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: byte 2: data type 0x%02x not supported (only 0x08, unsigned byte)",
                       f->path, (unsigned)((magic >> 8) & 0xFFu));
    if (got < hlen)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: byte %zu: truncated header: file has %zu bytes, the header needs %zu",
                       f->path, got, got, hlen);
    size_t total = 1;
    int overflow = 0;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(h + 4 + 4 * i);
        if (dims[i] == 0)
            return sn_fail(err, SN_ERR_FORMAT, "%s: byte %d: dimension %d is 0", f->path, 4 + 4 * i,
                           i);
        if (!overflow && !sn_mul_ok(total, dims[i], &total)) overflow = 1;
    }
    char shape[64];
    if (ndim == 1)
        snprintf(shape, sizeof shape, "%u", (unsigned)dims[0]);
    else
        snprintf(shape, sizeof shape, "%u x %u x %u", (unsigned)dims[0], (unsigned)dims[1],
                 (unsigned)dims[2]);
    if (overflow)
        return sn_fail(err, SN_ERR_FORMAT, "%s: byte 4: dimensions %s overflow the size type",
                       f->path, shape);
    if (total > IDX_MAX_BYTES)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: byte 4: dimensions %s make %zu bytes, over the %zu-byte limit", f->path,
                       shape, total, IDX_MAX_BYTES);
    for (int i = 0; i < ndim; i++) /* sizes are ints from here on */
        if (dims[i] > INT_MAX)
            return sn_fail(err, SN_ERR_FORMAT, "%s: byte %d: dimension %d (%u) overflows an int",
                           f->path, 4 + 4 * i, i, (unsigned)dims[i]);
    *bytes = total;
    return SN_OK;
}

/* Reads exactly `bytes` data bytes (into a malloc'ed *out) and checks that
 * nothing follows them. */
static sn_status idx_body(idx_file *f, size_t bytes, unsigned char **out, sn_error *err) {
    size_t start = f->off, have = 0, cap = 0, got;
    unsigned char *buf = NULL;
    sn_status s = SN_OK;
    *out = NULL;
    while (have < bytes) {
        if (have == cap) {
            size_t ncap = cap ? cap * 2 : IDX_FIRST_CHUNK;
            if (ncap > bytes) ncap = bytes;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                s = sn_fail(err, SN_ERR_NOMEM, "%s: cannot allocate %zu bytes", f->path, ncap);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        s = idx_read(f, buf + have, cap - have, &got, err);
        if (s) goto fail;
        have += got;
        if (have < cap) break;
    }
    if (have < bytes) {
        s = sn_fail(err, SN_ERR_FORMAT,
                    "%s: byte %zu: truncated data: expected %zu bytes after the %zu-byte "
                    "header, got %zu",
                    f->path, start + have, bytes, start, have);
        goto fail;
    }
    unsigned char extra[4096];
    size_t trailing = 0;
    do {
        s = idx_read(f, extra, sizeof extra, &got, err);
        if (s) goto fail;
        trailing += got;
    } while (got == sizeof extra && trailing < ((size_t)1 << 24));
    if (trailing) {
        s = sn_fail(err, SN_ERR_FORMAT, "%s: byte %zu: %s%zu trailing byte%s after the data",
                    f->path, start + bytes, got == sizeof extra ? "more than " : "", trailing,
                    trailing == 1 ? "" : "s");
        goto fail;
    }
    *out = buf;
    return SN_OK;
fail:
    free(buf);
    return s;
}

sn_status sn_idx_load_images(const char *path, sn_dataset *out, sn_error *err) {
    if (!path || !out) return sn_fail(err, SN_ERR_ARG, "sn_idx_load_images: NULL argument");
    memset(out, 0, sizeof *out);
    idx_file f;
    sn_status s = idx_open(&f, path, err);
    if (s) return s;
    uint32_t dims[3] = {0};
    size_t bytes = 0;
    unsigned char *raw = NULL;
    s = idx_header(&f, 3, dims, &bytes, err);
    if (!s) s = idx_body(&f, bytes, &raw, err);
    gzclose(f.gz);
    if (s) return s;
    float *x = sn_alloc(bytes, sizeof(float));
    if (!x) {
        free(raw);
        return sn_fail(err, SN_ERR_NOMEM, "%s: cannot allocate %zu floats", path, bytes);
    }
    for (size_t i = 0; i < bytes; i++) x[i] = (float)raw[i] / 255.0f;
    free(raw);
    out->n = (int)dims[0];
    out->ndim = 3;
    out->shape[0] = 1;
    out->shape[1] = (int)dims[1];
    out->shape[2] = (int)dims[2];
    out->sample_size = (size_t)dims[1] * dims[2];
    out->x = x;
    out->pixels = 1;
    return SN_OK;
}

sn_status sn_idx_load_labels(const char *path, int **labels, int *n, int *num_classes,
                             sn_error *err) {
    if (!path || !labels || !n || !num_classes)
        return sn_fail(err, SN_ERR_ARG, "sn_idx_load_labels: NULL argument");
    *labels = NULL;
    *n = *num_classes = 0;
    idx_file f;
    sn_status s = idx_open(&f, path, err);
    if (s) return s;
    uint32_t count = 0;
    size_t bytes = 0;
    unsigned char *raw = NULL;
    s = idx_header(&f, 1, &count, &bytes, err);
    if (!s) s = idx_body(&f, bytes, &raw, err);
    gzclose(f.gz);
    if (s) return s;
    int *lab = sn_alloc(bytes, sizeof(int));
    if (!lab) {
        free(raw);
        return sn_fail(err, SN_ERR_NOMEM, "%s: cannot allocate %zu labels", path, bytes);
    }
    int max = 0;
    for (size_t i = 0; i < bytes; i++) {
        lab[i] = raw[i];
        if (lab[i] > max) max = lab[i];
    }
    free(raw);
    *labels = lab;
    *n = (int)count;
    *num_classes = max + 1;
    return SN_OK;
}

/* Finds the first existing regular file among dir/{split}-{kind}{sep}idx{d}-ubyte[.gz]
 * with sep '-' (standard) and '.' (some mirrors). */
static sn_status idx_find(const char *dir, const char *split, const char *kind, int d, char *path,
                          size_t cap, sn_error *err) {
    static const char *const forms[] = {"%s/%s-%s-idx%d-ubyte", "%s/%s-%s-idx%d-ubyte.gz",
                                        "%s/%s-%s.idx%d-ubyte", "%s/%s-%s.idx%d-ubyte.gz"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        int len = snprintf(path, cap, forms[i], dir, split, kind, d);
        if (len < 0 || (size_t)len >= cap)
            return sn_fail(err, SN_ERR_ARG, "%s: path too long", dir);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return SN_OK;
    }
    return sn_fail(err, SN_ERR_IO,
                   "%s: no %s %s file: looked for %s-%s-idx%d-ubyte, %s-%s.idx%d-ubyte (each "
                   "also with .gz)",
                   dir, split, kind, split, kind, d, split, kind, d);
}

sn_status sn_idx_load_dir(const char *dir, const char *split, sn_dataset *out, sn_error *err) {
    if (!dir || !split || !out) return sn_fail(err, SN_ERR_ARG, "sn_idx_load_dir: NULL argument");
    memset(out, 0, sizeof *out);
    char ipath[4096], lpath[4096];
    sn_status s = idx_find(dir, split, "images", 3, ipath, sizeof ipath, err);
    if (!s) s = idx_find(dir, split, "labels", 1, lpath, sizeof lpath, err);
    if (s) return s;
    sn_dataset d;
    s = sn_idx_load_images(ipath, &d, err);
    if (s) return s;
    int *labels, n, k;
    s = sn_idx_load_labels(lpath, &labels, &n, &k, err);
    if (s) {
        sn_dataset_free(&d);
        return s;
    }
    if (n != d.n) {
        s = sn_fail(err, SN_ERR_FORMAT, "%s: %d labels, but %s has %d images", lpath, n, ipath,
                    d.n);
        sn_free(labels);
        sn_dataset_free(&d);
        return s;
    }
    d.labels = labels;
    d.num_classes = k;
    *out = d;
    return SN_OK;
}
