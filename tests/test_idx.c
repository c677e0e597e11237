/* IDX loader: good files (raw and gzip) load exactly; each malformed file
 * gives an error whose message says what and where. */
#include "check.h"
#include "core/error.h"
#include "data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char dir[64];
static char paths[64][256];
static int npaths;

static const char *path_of(const char *name) {
    snprintf(paths[npaths], sizeof paths[0], "%s/%s", dir, name);
    return paths[npaths++];
}

/* Writes bytes to dir/name, gzip-compressed when gz != 0; returns the path. */
static const char *write_file(const char *name, const unsigned char *b, size_t n, int gz) {
    const char *p = path_of(name);
    gzFile f = gzopen(p, gz ? "wb" : "wbT");
    if (!f) {
        perror(p);
        exit(1);
    }
    if (n) gzwrite(f, b, (unsigned)n);
    gzclose(f);
    return p;
}

static size_t put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* An image file: magic, [n, rows, cols], then n*rows*cols bytes (i*7+3 mod 256). */
static size_t make_images(unsigned char *b, uint32_t magic, uint32_t n, uint32_t rows,
                          uint32_t cols, size_t data) {
    size_t k = put32(b, magic);
    k += put32(b + k, n);
    k += put32(b + k, rows);
    k += put32(b + k, cols);
    for (size_t i = 0; i < data; i++) b[k++] = (unsigned char)(i * 7 + 3);
    return k;
}

static size_t make_labels(unsigned char *b, uint32_t n, const unsigned char *labels, size_t m) {
    size_t k = put32(b, 0x00000801);
    k += put32(b + k, n);
    memcpy(b + k, labels, m);
    return k + m;
}

static int has(const sn_error *e, const char *words) {
    return strstr(e->msg, words) != NULL;
}

/* Loads images expecting failure with `code`; returns 1 when all `words` are in the message. */
static int image_fails(const char *path, sn_status code, const char *w1, const char *w2) {
    sn_dataset d;
    sn_error e = {0};
    sn_status s = sn_idx_load_images(path, &d, &e);
    int ok = s == code && e.code == code && d.x == NULL && has(&e, path) && has(&e, w1) &&
             (!w2 || has(&e, w2));
    if (!ok) fprintf(stderr, "  %s: status %d, message: %s\n", path, (int)s, e.msg);
    return ok;
}

static void test_good_images(void) {
    static unsigned char b[1024];
    size_t n = make_images(b, 0x00000803, 3, 2, 4, 3 * 2 * 4);
    for (int gz = 0; gz < 2; gz++) {
        const char *p = write_file(gz ? "img.gz" : "img", b, n, gz);
        sn_dataset d;
        sn_error e = {0};
        CHECK(sn_idx_load_images(p, &d, &e) == SN_OK);
        CHECK(d.n == 3 && d.ndim == 3 && d.shape[0] == 1 && d.shape[1] == 2 && d.shape[2] == 4);
        CHECK(d.sample_size == 8 && d.labels == NULL && d.targets == NULL);
        int exact = 1;
        for (int i = 0; i < 24; i++) exact &= d.x[i] == (float)(unsigned char)(i * 7 + 3) / 255.0f;
        CHECK(exact);
        sn_dataset_free(&d);
        CHECK(d.x == NULL && d.n == 0);
    }
    /* 0 and 255 map to exactly 0 and 1. */
    n = make_images(b, 0x00000803, 1, 1, 2, 0);
    b[n++] = 0;
    b[n++] = 255;
    sn_dataset d;
    CHECK(sn_idx_load_images(write_file("img01", b, n, 0), &d, NULL) == SN_OK);
    CHECK(d.x[0] == 0.0f && d.x[1] == 1.0f);
    sn_dataset_free(&d);
}

static void test_good_labels(void) {
    static const unsigned char lab[6] = {3, 0, 9, 1, 1, 4};
    unsigned char b[64];
    size_t n = make_labels(b, 6, lab, 6);
    for (int gz = 0; gz < 2; gz++) {
        int *l, cnt, k;
        sn_error e = {0};
        CHECK(sn_idx_load_labels(write_file(gz ? "lab.gz" : "lab", b, n, gz), &l, &cnt, &k, &e) ==
              SN_OK);
        CHECK(cnt == 6 && k == 10);
        int same = 1;
        for (int i = 0; i < 6; i++) same &= l[i] == lab[i];
        CHECK(same);
        sn_free(l);
    }
}

static void test_bad_images(void) {
    static unsigned char b[1024];
    size_t n = make_images(b, 0x00000803, 2, 3, 3, 18);

    CHECK(image_fails(write_file("short-hdr", b, 10, 0), SN_ERR_FORMAT, "truncated header",
                      "byte 10"));
    CHECK(image_fails(write_file("short-magic", b, 2, 0), SN_ERR_FORMAT, "truncated header", NULL));
    CHECK(image_fails(write_file("empty", b, 0, 0), SN_ERR_FORMAT, "truncated header", NULL));
    CHECK(image_fails(write_file("short-data", b, n - 5, 0), SN_ERR_FORMAT, "truncated data",
                      "expected 18 bytes"));
    CHECK(image_fails(write_file("short-data.gz", b, n - 5, 1), SN_ERR_FORMAT, "got 13", NULL));

    unsigned char t[1100];
    memcpy(t, b, n);
    memcpy(t + n, "junk", 4);
    CHECK(image_fails(write_file("trailing", t, n + 4, 0), SN_ERR_FORMAT, "4 trailing bytes",
                      "byte 34"));
    CHECK(image_fails(write_file("trailing.gz", t, n + 4, 1), SN_ERR_FORMAT, "trailing", NULL));

    memcpy(t, b, n);
    put32(t, 0x12345678);
    CHECK(image_fails(write_file("magic", t, n, 0), SN_ERR_FORMAT,
                      "byte 0: bad magic 0x12345678 (expected 0x00000803", NULL));
    put32(t, 0x00000801);
    CHECK(image_fails(write_file("labels-as-images", t, n, 0), SN_ERR_FORMAT, "bad magic",
                      "looks like a label file"));
    put32(t, 0x00000D03);
    CHECK(image_fails(write_file("float-type", t, n, 0), SN_ERR_FORMAT, "byte 2: data type 0x0d",
                      "not supported"));

    for (int dim = 0; dim < 3; dim++) {
        memcpy(t, b, n);
        put32(t + 4 + 4 * dim, 0);
        char name[32], want[64];
        snprintf(name, sizeof name, "zero-dim%d", dim);
        snprintf(want, sizeof want, "byte %d: dimension %d is 0", 4 + 4 * dim, dim);
        CHECK(image_fails(write_file(name, t, n, 0), SN_ERR_FORMAT, want, NULL));
    }

    n = make_images(t, 0x00000803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 16);
    CHECK(image_fails(write_file("overflow", t, n, 0), SN_ERR_FORMAT, "overflow",
                      "4294967295 x 4294967295 x 4294967295"));
    n = make_images(t, 0x00000803, 65536, 256, 256, 16);
    CHECK(image_fails(write_file("huge", t, n, 0), SN_ERR_FORMAT, "limit", NULL));
    /* 2 GB claimed, 16 bytes present: fails at once, without allocating 2 GB. */
    n = make_images(t, 0x00000803, 1000, 1000, 2000, 16);
    CHECK(
        image_fails(write_file("claims-2gb", t, n, 0), SN_ERR_FORMAT, "truncated data", "got 16"));
    CHECK(image_fails(write_file("claims-2gb.gz", t, n, 1), SN_ERR_FORMAT, "truncated data", NULL));

    /* A gzip file cut in half. */
    static unsigned char big[16 + 4096];
    n = make_images(big, 0x00000803, 4, 32, 32, 4096);
    const char *gp = write_file("cut.gz", big, n, 1);
    FILE *f = fopen(gp, "rb");
    unsigned char z[8192];
    size_t zn = fread(z, 1, sizeof z, f);
    fclose(f);
    sn_dataset d;
    sn_error e = {0};
    CHECK(sn_idx_load_images(write_file("cut2.gz", z, zn / 2, 0), &d, &e) == SN_ERR_FORMAT);
    CHECK(has(&e, "cut2.gz") && (has(&e, "gzip") || has(&e, "truncated")));

    char missing[128];
    snprintf(missing, sizeof missing, "%s/no-such-file", dir);
    CHECK(image_fails(missing, SN_ERR_IO, "cannot open", "No such file"));
    CHECK(image_fails(dir, SN_ERR_IO, "read failed", NULL) ||
          image_fails(dir, SN_ERR_FORMAT, "read failed", NULL));
}

static void test_bad_labels(void) {
    unsigned char b[64], lab[4] = {1, 2, 3, 4};
    int *l, cnt, k;
    sn_error e = {0};
    size_t n = make_labels(b, 4, lab, 4);
    put32(b, 0x00000803);
    CHECK(sn_idx_load_labels(write_file("lab-magic", b, n, 0), &l, &cnt, &k, &e) == SN_ERR_FORMAT);
    CHECK(has(&e, "expected 0x00000801 for a label file") && has(&e, "image file"));
    CHECK(l == NULL && cnt == 0);
    n = make_labels(b, 5, lab, 4);
    CHECK(sn_idx_load_labels(write_file("lab-short", b, n, 1), &l, &cnt, &k, &e) == SN_ERR_FORMAT);
    CHECK(has(&e, "truncated data") && has(&e, "expected 5 bytes"));
    n = make_labels(b, 3, lab, 4);
    CHECK(sn_idx_load_labels(write_file("lab-long", b, n, 0), &l, &cnt, &k, &e) == SN_ERR_FORMAT);
    CHECK(has(&e, "1 trailing byte after") && has(&e, "byte 11"));
    n = make_labels(b, 0, lab, 0);
    CHECK(sn_idx_load_labels(write_file("lab-zero", b, n, 0), &l, &cnt, &k, &e) == SN_ERR_FORMAT);
    CHECK(has(&e, "dimension 0 is 0"));
}

static void test_dir(void) {
    static unsigned char b[1024];
    unsigned char lab[3] = {2, 0, 1}, lb[64];
    size_t n = make_images(b, 0x00000803, 3, 2, 2, 12);
    size_t m = make_labels(lb, 3, lab, 3);
    write_file("train-images-idx3-ubyte.gz", b, n, 1);
    write_file("train-labels-idx1-ubyte", lb, m, 0);
    write_file("t10k-images.idx3-ubyte", b, n, 0);
    write_file("t10k-labels.idx1-ubyte.gz", lb, m, 1);
    for (int k = 0; k < 2; k++) {
        sn_dataset d;
        sn_error e = {0};
        CHECK(sn_idx_load_dir(dir, k ? "t10k" : "train", &d, &e) == SN_OK);
        CHECK(d.n == 3 && d.num_classes == 3 && d.labels && d.labels[0] == 2 && d.labels[2] == 1);
        CHECK(d.shape[1] == 2 && d.shape[2] == 2 && d.x[11] == (float)(11 * 7 + 3) / 255.0f);
        sn_dataset_free(&d);
    }

    sn_dataset d;
    sn_error e = {0};
    CHECK(sn_idx_load_dir(dir, "nope", &d, &e) == SN_ERR_IO);
    CHECK(has(&e, "nope-images-idx3-ubyte") && has(&e, "nope-images.idx3-ubyte"));

    m = make_labels(lb, 2, lab, 2);
    write_file("bad-images-idx3-ubyte", b, n, 0);
    write_file("bad-labels-idx1-ubyte", lb, m, 0);
    CHECK(sn_idx_load_dir(dir, "bad", &d, &e) == SN_ERR_FORMAT);
    CHECK(has(&e, "2 labels, but") && has(&e, "has 3 images") && has(&e, "bad-labels-idx1-ubyte"));
    CHECK(d.x == NULL && d.labels == NULL);

    write_file("nolab-images-idx3-ubyte", b, n, 0);
    CHECK(sn_idx_load_dir(dir, "nolab", &d, &e) == SN_ERR_IO);
    CHECK(has(&e, "no nolab labels file"));
}

int main(void) {
    strcpy(dir, "/tmp/sn_test_idx_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_good_images();
    test_good_labels();
    test_bad_images();
    test_bad_labels();
    test_dir();
    for (int i = 0; i < npaths; i++) unlink(paths[i]);
    if (rmdir(dir) != 0) perror(dir);
    return check_report();
}
