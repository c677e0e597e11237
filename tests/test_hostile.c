/* Hostile input, reached from C: every truncation of a valid safetensors
 * file, IDX file and vocabulary is refused cleanly; corrupted header bytes
 * never lead outside the buffer; deep nesting is refused without recursing;
 * sizes that overflow are refused before anything is allocated; weights
 * that do not fit a model are named with both shapes. (The command line's
 * side is tests/test_bad_inputs.sh.) */
#include "check.h"
#include "core/error.h"
#include "data/dataset.h"
#include "model/safetensors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static int has(const sn_error *e, const char *what) {
    return strstr(e->msg, what) != NULL;
}

static const char *path_in_dir(const char *name) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* A safetensors file: 8-byte length, header, data (made by hand, so that
 * the test does not depend on our writer). */
static size_t make_st(unsigned char *out, const char *header, const void *data, size_t n) {
    size_t h = strlen(header);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(out + 8, header, h);
    memcpy(out + 8 + h, data, n);
    return 8 + h + n;
}

static const char good_header[] =
    "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,1],"
    "\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";

static void test_sizes(void) {
    size_t r = 7;
    CHECK(sn_mul_ok(SIZE_MAX, 1, &r) && r == SIZE_MAX);
    CHECK(sn_mul_ok(0, SIZE_MAX, &r) && r == 0);
    r = 7;
    CHECK(!sn_mul_ok(SIZE_MAX / 2 + 1, 2, &r) && r == 7);
    CHECK(!sn_mul_ok((size_t)1 << 32, (size_t)1 << 32, &r));
    CHECK(sn_alloc(SIZE_MAX / 4 + 1, 4) == NULL);
}

static void test_st_truncations(void) {
    const float x[3] = {1, 2, 3};
    unsigned char b[512];
    size_t n = make_st(b, good_header, x, sizeof x);
    sn_st_file f;
    sn_error e = {0};
    CHECK(sn_st_parse(b, n, "good", &f, &e) == SN_OK && f.n == 2);
    CHECK(f.n == 2 && f.entries[1].data[0] == 3.0f);
    sn_st_free(&f);
    int refused = 0, clean = 0;
    for (size_t len = 0; len < n; len++) {
        memset(&e, 0, sizeof e);
        unsigned char *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        memcpy(copy, b, len);
        sn_status s = sn_st_parse(copy, len, "cut", &f, &e);
        refused += s == SN_ERR_FORMAT;
        clean += f.n == 0 && f.buf == NULL && has(&e, "cut");
        sn_st_free(&f);
        free(copy);
    }
    CHECK(refused == (int)n);
    CHECK(clean == (int)n);
}

/* Every header byte replaced by bytes that matter to the parser: whatever
 * parses must describe tensors inside the data buffer. */
static void test_st_corruptions(void) {
    const float x[3] = {1, 2, 3};
    unsigned char b[512];
    size_t n = make_st(b, good_header, x, sizeof x), h = strlen(good_header);
    static const unsigned char subst[] = {'{', '}', '[', ']',  '"', ',', ':',  '0',
                                          '9', '-', 'e', '\\', ' ', 0,   0x80, 0xFF};
    int bad = 0;
    for (size_t i = 8; i < 8 + h; i++) {
        for (size_t k = 0; k < sizeof subst; k++) {
            unsigned char *copy = malloc(n);
            memcpy(copy, b, n);
            copy[i] = subst[k];
            sn_st_file f;
            sn_error e = {0};
            sn_status s = sn_st_parse(copy, n, "corrupt", &f, &e);
            if (s != SN_OK && s != SN_ERR_FORMAT) bad++;
            if (s == SN_OK) {
                size_t total = 0;
                for (int t = 0; t < f.n; t++) total += f.entries[t].size;
                if (total * 4 != sizeof x) bad++;
            }
            sn_st_free(&f);
            free(copy);
        }
    }
    CHECK(bad == 0);
}

static void test_st_limits(void) {
    unsigned char b[64];
    sn_st_file f;
    sn_error e = {0};
    /* header length: one byte past the file, 2^64 - 1, just over the limit */
    size_t n = make_st(b, "{}      ", "", 0);
    b[0]++;
    CHECK(sn_st_parse(b, n, "len", &f, &e) == SN_ERR_FORMAT && has(&e, "runs past the end"));
    memset(b, 0xFF, 8);
    CHECK(sn_st_parse(b, n, "len", &f, &e) == SN_ERR_FORMAT && has(&e, "larger than the limit"));
    uint64_t over = (uint64_t)SN_ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(over >> (8 * i));
    CHECK(sn_st_parse(b, n, "len", &f, &e) == SN_ERR_FORMAT && has(&e, "larger than the limit"));

    /* 100000 nested arrays in a field the format does not define */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 128);
    size_t k =
        (size_t)sprintf(deep, "{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],"
                              "\"x\":");
    memset(deep + k, '[', depth);
    memset(deep + k + depth, ']', depth);
    strcpy(deep + k + 2 * depth, "}}");
    unsigned char *file = malloc(strlen(deep) + 16);
    float one = 1;
    n = make_st(file, deep, &one, 4);
    CHECK(sn_st_parse(file, n, "deep", &f, &e) == SN_ERR_FORMAT && has(&e, "nested too deeply"));
    free(file);
    free(deep);

    /* shape products that overflow 64 bits, and ones that only overflow int */
    char hdr[256];
    snprintf(hdr, sizeof hdr,
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647,2147483647],"
             "\"data_offsets\":[0,4]}}");
    unsigned char big[512];
    n = make_st(big, hdr, &one, 4);
    CHECK(sn_st_parse(big, n, "shape", &f, &e) == SN_ERR_FORMAT && has(&e, "too many elements"));
    snprintf(hdr, sizeof hdr,
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[2147483648],\"data_offsets\":[0,4]}}");
    n = make_st(big, hdr, &one, 4);
    CHECK(sn_st_parse(big, n, "shape", &f, &e) == SN_ERR_FORMAT && has(&e, "too large"));
}

static void test_idx(void) {
    unsigned char b[64] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    for (int i = 16; i < 28; i++) b[i] = (unsigned char)(i * 9);
    const char *p = path_in_dir("images");
    sn_dataset d;
    sn_error e = {0};
    write_bytes(p, b, 28);
    CHECK(sn_idx_load_images(p, &d, &e) == SN_OK && d.n == 2 && d.sample_size == 6);
    CHECK(d.x && d.x[11] == (float)(27 * 9 % 256) / 255.0f);
    sn_dataset_free(&d);
    int refused = 0;
    for (size_t len = 0; len < 28; len++) {
        write_bytes(p, b, len);
        memset(&e, 0, sizeof e);
        refused += sn_idx_load_images(p, &d, &e) == SN_ERR_FORMAT && has(&e, "truncated") &&
                   has(&e, "images") && d.x == NULL;
    }
    CHECK(refused == 28);
    /* 1 x 2^31 x 1: within the byte limit, but a dimension no int holds */
    unsigned char h[16] = {0, 0, 8, 3, 0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 1};
    write_bytes(p, h, 16);
    CHECK(sn_idx_load_images(p, &d, &e) == SN_ERR_FORMAT && has(&e, "byte 8") &&
          has(&e, "overflows an int"));
}

static void test_vocab(void) {
    const char text[] = "the cat saw the dog; the dog saw a cat.\n\nThe end";
    sn_vocab *v = NULL, *w = NULL;
    sn_error e = {0};
    char *s = NULL;
    CHECK(sn_vocab_build(text, strlen(text), SN_TEXT_WORD, 100, &v, &e) == SN_OK);
    CHECK(v && sn_vocab_serialize(v, &s, &e) == SN_OK);
    if (!s) return;
    CHECK(sn_vocab_parse(s, &w, &e) == SN_OK && w && sn_vocab_size(w) == sn_vocab_size(v));
    sn_vocab_free(w);
    size_t n = strlen(s);
    int refused = 0;
    for (size_t len = 0; len < n; len++) {
        char *copy = malloc(len + 1);
        memcpy(copy, s, len);
        copy[len] = 0;
        w = NULL;
        refused += sn_vocab_parse(copy, &w, &e) == SN_ERR_FORMAT && w == NULL;
        free(copy);
    }
    CHECK(refused == (int)n);
    /* a count far above the lines that follow is refused before allocating */
    CHECK(sn_vocab_parse("scratchnet-vocab-1 char 16777216\na\nb\n", &w, &e) == SN_ERR_FORMAT &&
          has(&e, "16777216 tokens announced, but only 2 lines follow"));
    sn_free(s);
    sn_vocab_free(v);
}

static void test_spec_and_weights(void) {
    sn_model *m = NULL, *other = NULL;
    sn_error e = {0};
    CHECK(sn_model_from_spec("input 16777216x16777216x16777216\nflatten\ndense 2\nloss mse\n",
                             "big.net", 0, &m, &e) == SN_ERR_FORMAT &&
          has(&e, "big.net:1: input: 16777216x16777216x16777216 overflows"));
    CHECK(sn_model_from_spec("input 32768x32769\nflatten\ndense 2\nloss mse\n", "wide.net", 0, &m,
                             &e) == SN_ERR_FORMAT &&
          has(&e, "has 1073774592 values"));

    const char *path = path_in_dir("w.safetensors");
    CHECK(sn_model_from_spec("input 4\ndense 3\nrelu\ndense 2\nloss mse\n", "a", 1, &m, &e) ==
          SN_OK);
    CHECK(m && sn_model_save(m, path, &e) == SN_OK);
    CHECK(sn_model_from_spec("input 5\ndense 3\nrelu\ndense 2\nloss mse\n", "b", 1, &other, &e) ==
          SN_OK);
    CHECK(other && sn_model_load_weights(other, path, &e) == SN_ERR_SHAPE &&
          has(&e, "tensor '0.weight' has shape [3, 4]") && has(&e, "expects [3, 5]"));
    sn_model_free(other);
    other = NULL;
    CHECK(sn_model_from_spec("input 4\ndense 3\nloss mse\n", "c", 1, &other, &e) == SN_OK);
    CHECK(other && sn_model_load_weights(other, path, &e) == SN_ERR_FORMAT &&
          has(&e, "tensor '2.") && has(&e, "is not a parameter of the model"));
    sn_model_free(other);
    other = NULL;
    CHECK(sn_model_from_spec("input 4\ndense 3\nrelu\ndense 2\nrelu\ndense 2\nloss mse\n", "d", 1,
                             &other, &e) == SN_OK);
    CHECK(other && sn_model_load_weights(other, path, &e) == SN_ERR_FORMAT &&
          has(&e, "tensor '4.weight' missing"));
    sn_model_free(other);
    sn_model_free(m);
    unlink(path);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/sn_hostile_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_sizes();
    test_st_truncations();
    test_st_corruptions();
    test_st_limits();
    test_idx();
    test_vocab();
    test_spec_and_weights();
    unlink(path_in_dir("images"));
    rmdir(dir);
    return check_report();
}
