/* CIFAR-10, binary version (Krizhevsky 2009; the "CIFAR-10 binary version"
 * on the data set's page at the University of Toronto, which unpacks to
 * cifar-10-batches-bin/).
 *
 * Files: data_batch_1.bin ... data_batch_5.bin (training, 10000 records
 * each), test_batch.bin (test, 10000), batches.meta.txt (the class names, one
 * per line). A record is 3073 bytes:
 *
 *   byte 0          the label, 0-9
 *   bytes 1..1024   red plane,   32 rows of 32 pixels, top row first
 *   bytes 1025..    green plane
 *   bytes 2049..    blue plane
 *
 * so the image is already channel-major (CHW), as a 3x32x32 sample wants.
 * Pixels are scaled to [0, 1]. Grey scale uses the ITU-R BT.601 luma
 * weights: Y = 0.299 R + 0.587 G + 0.114 B. The size of each file is checked
 * before anything is read; a file that is not a whole number of records, or
 * a label outside 0-9, is an error naming the file, the record and its byte
 * offset. */
#include "core/error.h"
#include "data/dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_SIDE    32
#define CIFAR_PLANE   (CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_PIXELS  (3 * CIFAR_PLANE)
#define CIFAR_RECORD  (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES 10
#define CIFAR_TRAIN   5   /* data_batch_1 .. data_batch_5 */
#define CIFAR_CHUNK   256 /* records per fread */

/* Opens path and checks its size: *records = number of whole records. */
static sn_status cifar_open(const char *path, FILE **f, long *records, sn_error *err) {
    *f = fopen(path, "rb");
    if (!*f) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(*f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(*f);
        *f = NULL;
        return sn_fail(err, SN_ERR_IO, "%s: not a regular file", path);
    }
    long long size = (long long)st.st_size;
    sn_status s = SN_OK;
    if (size == 0) {
        s = sn_fail(err, SN_ERR_FORMAT, "%s: empty file (expected %d-byte CIFAR-10 records)", path,
                    CIFAR_RECORD);
    } else if (size % CIFAR_RECORD != 0) {
        long long whole = size / CIFAR_RECORD;
        s = sn_fail(err, SN_ERR_FORMAT,
                    "%s: %lld bytes is not a whole number of %d-byte CIFAR-10 records (a label "
                    "byte and 3072 pixel bytes): record %lld at byte %lld has only %lld bytes%s",
                    path, size, CIFAR_RECORD, whole, whole * CIFAR_RECORD, size % CIFAR_RECORD,
                    size % (CIFAR_RECORD + 1) == 0
                        ? "; 3074-byte records are CIFAR-100's format, which is not supported"
                        : "");
    } else if (size / CIFAR_RECORD > INT_MAX) {
        s = sn_fail(err, SN_ERR_FORMAT, "%s: %lld bytes is too large", path, size);
    }
    if (s != SN_OK) {
        fclose(*f);
        *f = NULL;
        return s;
    }
    *records = (long)(size / CIFAR_RECORD);
    return SN_OK;
}

/* Reads `take` records from f into x (sample_size floats each) and labels. */
static sn_status cifar_read(FILE *f, const char *path, long take, int grey, float *x, int *labels,
                            sn_error *err) {
    static const float luma[3] = {0.299f, 0.587f, 0.114f};
    const size_t sample = grey ? CIFAR_PLANE : CIFAR_PIXELS;
    unsigned char *buf = sn_alloc(CIFAR_CHUNK, CIFAR_RECORD);
    sn_status s = buf ? SN_OK : sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    for (long r0 = 0; r0 < take && s == SN_OK; r0 += CIFAR_CHUNK) {
        long n = take - r0 < CIFAR_CHUNK ? take - r0 : CIFAR_CHUNK;
        size_t got = fread(buf, 1, (size_t)n * CIFAR_RECORD, f);
        if (got != (size_t)n * CIFAR_RECORD) {
            s = sn_fail(err, SN_ERR_IO, "%s: byte %lld: %s", path,
                        (long long)r0 * CIFAR_RECORD + (long long)got,
                        ferror(f) ? strerror(errno) : "unexpected end of file");
            break;
        }
        for (long i = 0; i < n && s == SN_OK; i++) {
            const unsigned char *rec = buf + (size_t)i * CIFAR_RECORD, *px = rec + 1;
            long r = r0 + i;
            if (rec[0] >= CIFAR_CLASSES) {
                s = sn_fail(err, SN_ERR_FORMAT,
                            "%s: record %ld (byte %lld): label %d is not a CIFAR-10 class (0-9)",
                            path, r, (long long)r * CIFAR_RECORD, rec[0]);
                break;
            }
            labels[r] = rec[0];
            float *out = x + (size_t)r * sample;
            if (grey) {
                for (int p = 0; p < CIFAR_PLANE; p++)
                    out[p] = (luma[0] * px[p] + luma[1] * px[CIFAR_PLANE + p] +
                              luma[2] * px[2 * CIFAR_PLANE + p]) /
                             255.0f;
            } else {
                for (int p = 0; p < CIFAR_PIXELS; p++) out[p] = px[p] / 255.0f;
            }
        }
    }
    sn_free(buf);
    return s;
}

/* Loads files[0..nfiles) (up to `limit` records each) into one data set. */
static sn_status cifar_load(const char *const *files, int nfiles, int limit, int grey,
                            sn_dataset *out, sn_error *err) {
    memset(out, 0, sizeof *out);
    long take[CIFAR_TRAIN], total = 0;
    sn_status s = SN_OK;
    for (int i = 0; i < nfiles && s == SN_OK; i++) {
        FILE *f;
        s = cifar_open(files[i], &f, &take[i], err);
        if (s != SN_OK) break;
        fclose(f);
        if (limit > 0 && take[i] > limit) take[i] = limit;
        if (total + take[i] > INT_MAX)
            s = sn_fail(err, SN_ERR_FORMAT, "%s: more than %d images in total", files[i], INT_MAX);
        total += take[i];
    }
    if (s != SN_OK) return s;
    sn_dataset d;
    memset(&d, 0, sizeof d);
    d.n = (int)total;
    d.ndim = 3;
    d.shape[0] = grey ? 1 : 3, d.shape[1] = CIFAR_SIDE, d.shape[2] = CIFAR_SIDE;
    d.sample_size = grey ? CIFAR_PLANE : CIFAR_PIXELS;
    d.num_classes = CIFAR_CLASSES;
    d.pixels = 1;
    d.x = sn_alloc((size_t)total, d.sample_size * sizeof(float));
    d.labels = sn_alloc((size_t)total, sizeof(int));
    if (!d.x || !d.labels) {
        sn_dataset_free(&d);
        return sn_fail(err, SN_ERR_NOMEM, "CIFAR-10: cannot allocate %ld images", total);
    }
    long at = 0;
    for (int i = 0; i < nfiles && s == SN_OK; i++) {
        FILE *f;
        long records;
        s = cifar_open(files[i], &f, &records, err);
        if (s == SN_OK && records < take[i])
            s = sn_fail(err, SN_ERR_IO, "%s: the file shrank while being read", files[i]);
        if (s == SN_OK)
            s = cifar_read(f, files[i], take[i], grey, d.x + (size_t)at * d.sample_size,
                           d.labels + at, err);
        if (f) fclose(f);
        at += take[i];
    }
    if (s != SN_OK) {
        sn_dataset_free(&d);
        return s;
    }
    *out = d;
    return SN_OK;
}

sn_status sn_cifar_load_file(const char *path, int limit, int grey, sn_dataset *out,
                             sn_error *err) {
    if (!path || !out) return sn_fail(err, SN_ERR_ARG, "sn_cifar_load_file: NULL argument");
    const char *files[1] = {path};
    return cifar_load(files, 1, limit, grey, out, err);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* dir itself, or dir/cifar-10-batches-bin when dir holds the unpacked folder. */
static void batches_dir(const char *dir, char *buf, size_t len) {
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/cifar-10-batches-bin", dir);
    snprintf(buf, len, "%s", exists(probe) ? probe : dir);
}

sn_status sn_cifar_load_dir(const char *dir, const char *split, int per_file_limit, int grey,
                            sn_dataset *out, sn_error *err) {
    if (!dir || !split || !out) return sn_fail(err, SN_ERR_ARG, "sn_cifar_load_dir: NULL argument");
    memset(out, 0, sizeof *out);
    char base[4096], paths[CIFAR_TRAIN][4200];
    const char *files[CIFAR_TRAIN];
    int n;
    batches_dir(dir, base, sizeof base);
    if (strcmp(split, "train") == 0) {
        for (n = 0; n < CIFAR_TRAIN; n++)
            snprintf(paths[n], sizeof paths[n], "%s/data_batch_%d.bin", base, n + 1);
    } else if (strcmp(split, "test") == 0) {
        snprintf(paths[0], sizeof paths[0], "%s/test_batch.bin", base);
        n = 1;
    } else {
        return sn_fail(err, SN_ERR_ARG, "CIFAR-10: split must be \"train\" or \"test\", got \"%s\"",
                       split);
    }
    for (int i = 0; i < n; i++) {
        files[i] = paths[i];
        if (!exists(paths[i]))
            return sn_fail(err, SN_ERR_IO,
                           "%s: missing (a CIFAR-10 binary folder holds data_batch_1.bin ... "
                           "data_batch_5.bin and test_batch.bin)",
                           paths[i]);
    }
    return cifar_load(files, n, per_file_limit, grey, out, err);
}

sn_status sn_cifar_class_names(const char *dir, char names[10][32], sn_error *err) {
    char base[4096], path[4200], line[256];
    batches_dir(dir, base, sizeof base);
    snprintf(path, sizeof path, "%s/batches.meta.txt", base);
    FILE *f = fopen(path, "r");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int count = 0, lineno = 0;
    sn_status s = SN_OK;
    while (s == SN_OK && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: line too long for a class name", path, lineno);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            line[--len] = 0;
        if (len == 0) continue;
        if (len > 31)
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: class name longer than 31 bytes", path, lineno);
        else if (count == CIFAR_CLASSES)
            s = sn_fail(err, SN_ERR_FORMAT, "%s:%d: more than %d class names", path, lineno,
                        CIFAR_CLASSES);
        else
            memcpy(names[count++], line, len + 1);
    }
    if (s == SN_OK && ferror(f)) s = sn_fail(err, SN_ERR_IO, "%s: read error", path);
    if (s == SN_OK && count < CIFAR_CLASSES)
        s = sn_fail(err, SN_ERR_FORMAT, "%s: %d class names, expected %d", path, count,
                    CIFAR_CLASSES);
    fclose(f);
    return s;
}
