/* safetensors: save/load round trip, the atomic write, a file built by hand
 * from the format's description, a table of malformed headers, and weight
 * loads that fail on a later tensor and leave the model unchanged. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "model/model.h"
#include "model/safetensors.h"
#include "scratchnet.h"

#include "check.h"
#include "file_bytes.h"
#include "core/error.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[64]; /* scratch folder for this run */

static void path_in_dir(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* Number of entries in the scratch folder whose name contains `part`. */
static int count_files(const char *part) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

static int same_bits(const float *a, const float *b, size_t n) {
    return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

/* 8-byte little-endian length + json + data_len zero bytes (caller frees). */
static unsigned char *make_file(const char *json, size_t data_len, size_t *len) {
    size_t n = strlen(json);
    *len = 8 + n + data_len;
    unsigned char *b = calloc(*len, 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    return b;
}

/* The spec text is stored in metadata: several lines, quotes, tabs,
 * backslashes, a control character and non-ASCII UTF-8 must survive. */
static const char *spec_text = "input\t1x28x28   # \"MNIST\" digits\n"
                               "dense 400 init=he\r\n"
                               "dropout 0.3 \\ path\\to\\x\n"
                               "note \x01\x1f caf\xc3\xa9 \xf0\x9f\x98\x80 /slash\n";

static void test_round_trip(void) {
    sn_error err = {0};
    sn_rng rng;
    sn_rng_seed(&rng, 42, 1);
    int s1[] = {7}, s2[] = {3, 5}, s3[] = {2, 3, 4}, s4[] = {2, 1, 3, 2}, s5[] = {1}, s6[] = {0};
    sn_tensor t[7];
    CHECK(sn_tensor_alloc(&t[0], 1, s1, &err) == SN_OK);
    CHECK(sn_tensor_alloc(&t[1], 2, s2, &err) == SN_OK);
    CHECK(sn_tensor_alloc(&t[2], 3, s3, &err) == SN_OK);
    CHECK(sn_tensor_alloc(&t[3], 4, s4, &err) == SN_OK);
    CHECK(sn_tensor_alloc(&t[4], 1, s5, &err) == SN_OK);
    float scalar = 3.25f, nothing = 0;
    t[5] = sn_tensor_view(&scalar, 0, NULL); /* 0-d */
    t[6] = sn_tensor_view(&nothing, 1, s6);  /* no elements */
    for (int i = 0; i < 5; i++)
        for (size_t k = 0; k < t[i].size; k++) t[i].data[k] = sn_rng_normal(&rng);
    t[0].data[0] = -0.0f;
    t[0].data[1] = 1e-40f; /* subnormal */
    t[0].data[2] = 3.4028235e38f;
    const char *names[7] = {"layers.0.weight", "b", "conv.W", "four_d", "scale", "s", "empty"};
    const sn_tensor *tp[7] = {&t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6]};
    const char *keys[3] = {"spec", "epoch", "empty"};
    const char *values[3] = {spec_text, "12", ""};

    char path[128];
    path_in_dir(path, sizeof path, "model.safetensors");
    CHECK(sn_st_save(path, 7, names, tp, 3, keys, values, &err) == SN_OK);
    CHECK(count_files(".tmp.") == 0);

    sn_st_file f;
    CHECK(sn_st_load(path, &f, &err) == SN_OK);
    CHECK(f.n == 7);
    CHECK(f.nmeta == 4); /* ours and the checksums */
    CHECK(((uintptr_t)f.buf % 64) == 0);
    for (int i = 0; i < 7; i++) {
        const sn_st_entry *e = sn_st_find(&f, names[i]);
        CHECK(e != NULL);
        if (!e) continue;
        CHECK(e == &f.entries[i]); /* header order = given order */
        CHECK(e->ndim == t[i].ndim);
        for (int d = 0; d < e->ndim; d++) CHECK(e->shape[d] == t[i].shape[d]);
        CHECK(e->size == t[i].size);
        CHECK(same_bits(e->data, t[i].data, e->size));
        CHECK(((uintptr_t)e->data % 4) == 0);
    }
    CHECK(sn_st_find(&f, "missing") == NULL);
    CHECK(sn_st_meta(&f, "spec") && strcmp(sn_st_meta(&f, "spec"), spec_text) == 0);
    CHECK(sn_st_meta(&f, "epoch") && strcmp(sn_st_meta(&f, "epoch"), "12") == 0);
    CHECK(sn_st_meta(&f, "empty") && strcmp(sn_st_meta(&f, "empty"), "") == 0);
    CHECK(sn_st_meta(&f, "nope") == NULL);
    sn_st_free(&f);
    CHECK(f.n == 0 && f.entries == NULL && f.buf == NULL);

    /* The file's layout: N a multiple of 8, data right after the header. */
    size_t len = 0;
    unsigned char *bytes = read_all(path, &len);
    CHECK(bytes != NULL);
    if (bytes) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
        size_t data = 0;
        for (int i = 0; i < 7; i++) data += 4 * t[i].size;
        CHECK(n % 8 == 0);
        CHECK(len == 8 + n + data);
        CHECK(bytes[8] == '{');
        free(bytes);
    }

    /* Overwriting an existing file works and leaves no temp file. */
    CHECK(sn_st_save(path, 2, names, tp, 0, NULL, NULL, &err) == SN_OK);
    CHECK(sn_st_load(path, &f, &err) == SN_OK);
    CHECK(f.n == 2 && f.nmeta == 1 && sn_st_meta(&f, "checksums") != NULL);
    sn_st_free(&f);
    CHECK(count_files(".tmp.") == 0);
    remove(path);
    for (int i = 0; i < 5; i++) sn_tensor_free(&t[i]);
}

/* The writer's exact output for a small case, spelled out by hand. */
static void test_writer_bytes(void) {
    sn_error err = {0};
    float x[2] = {1.0f, -2.0f};
    int shape[1] = {2};
    sn_tensor t = sn_tensor_view(x, 1, shape);
    const sn_tensor *tp[1] = {&t};
    const char *names[1] = {"x"}, *keys[1] = {"k"}, *values[1] = {"a\"b\\\n\t\x01"};
    char path[128];
    path_in_dir(path, sizeof path, "small.safetensors");
    CHECK(sn_st_save(path, 1, names, tp, 1, keys, values, &err) == SN_OK);
    /* the checksums, computed here from their description in safetensors.h:
     * x's CRC-32 over "2;" and its little-endian bytes, k's over its value */
    const unsigned char xbytes[10] = {'2', ';', 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0};
    unsigned long cx = crc32(0L, xbytes, 10),
                  ck = crc32(0L, (const Bytef *)values[0], (uInt)strlen(values[0]));
    char header[512];
    snprintf(header, sizeof header,
             "{\"__metadata__\":{\"k\":\"a\\\"b\\\\\\n\\t\\u0001\","
             "\"checksums\":\"crc32\\n%08lx t x\\n%08lx m k\\n\"},"
             "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             cx, ck);
    size_t n = strlen(header), padded = (n + 7) / 8 * 8, len = 0;
    unsigned char *b = read_all(path, &len);
    CHECK(b && len == 8 + padded + 8);
    if (b && len == 8 + padded + 8) {
        CHECK(b[0] == padded && b[1] == 0 && b[7] == 0);
        CHECK(memcmp(b + 8, header, n) == 0);
        for (size_t i = n; i < padded; i++) CHECK(b[8 + i] == ' ');
        const unsigned char data[8] = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0};
        CHECK(memcmp(b + 8 + padded, data, 8) == 0);
    }
    free(b);
    remove(path);
}

/* Checksums: a flipped bit in a tensor, a NaN written over a weight, a changed
 * metadata value, a tensor renamed: each refused naming what changed; a file
 * without checksums (as PyTorch writes) still loads. */
static void test_checksums(void) {
    sn_error err = {0};
    float x[4] = {0.5f, -1.25f, 3.0f, 2.0f}, y[2] = {7.0f, 8.0f};
    int sx[2] = {2, 2}, sy[1] = {2};
    sn_tensor tx = sn_tensor_view(x, 2, sx), ty = sn_tensor_view(y, 1, sy);
    const sn_tensor *tp[2] = {&tx, &ty};
    const char *names[2] = {"w", "b\\odd\nname"}, *keys[2] = {"position", "spec"},
               *values[2] = {"3 0 10 600 0", "input 4"};
    char path[128];
    path_in_dir(path, sizeof path, "sum.safetensors");
    CHECK(sn_st_save(path, 2, names, tp, 2, keys, values, &err) == SN_OK);
    sn_st_file f;
    CHECK(sn_st_load(path, &f, &err) == SN_OK);
    sn_st_free(&f);
    size_t len = 0;
    unsigned char *b = read_all(path, &len);
    CHECK(b != NULL && len > 24);
    if (!b || len <= 24) return;
    size_t data = len - 24; /* w's first float */
    struct {
        const char *what, *find, *repl; /* header edit, or a data edit when find is NULL */
        size_t at;
        unsigned char bytes[4];
        const char *named;
    } cases[] = {
        {"mantissa bit", NULL, NULL, data + 4, {0x01, 0x00, 0xA0, 0xBF}, "tensor \"w\""},
        {"NaN weight", NULL, NULL, data + 8, {0x00, 0x00, 0xC0, 0x7F}, "tensor \"w\""},
        {"last tensor", NULL, NULL, data + 16, {0x00, 0x00, 0xE1, 0x40}, "tensor \"b\\odd\nname\""},
        {"position 3 to 1", "\"3 0 10", "\"1 0 10", 0, {0}, "__metadata__ \"position\""},
        {"spec edited", "input 4", "input 5", 0, {0}, "__metadata__ \"spec\""},
        {"tensor renamed", "\"w\":", "\"v\":", 0, {0}, "\"w\" is missing"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *e = malloc(len);
        memcpy(e, b, len);
        if (cases[c].find) {
            char *hdr = (char *)e + 8, *hit = NULL;
            size_t nf = strlen(cases[c].find);
            for (size_t i = 0; i + nf < len - 8 && !hit; i++)
                if (memcmp(hdr + i, cases[c].find, nf) == 0) hit = hdr + i;
            CHECK(hit != NULL);
            if (hit) memcpy(hit, cases[c].repl, strlen(cases[c].repl));
        } else {
            memcpy(e + cases[c].at, cases[c].bytes, 4);
        }
        CHECK(sn_st_parse(e, len, "edited", &f, &err) == SN_ERR_FORMAT);
        if (!strstr(err.msg, cases[c].named))
            fprintf(stderr, "%s: message '%s' does not name %s\n", cases[c].what, err.msg,
                    cases[c].named);
        CHECK(strstr(err.msg, cases[c].named) != NULL);
        CHECK(f.n == 0 && f.buf == NULL);
        free(e);
    }
    free(b);
    /* a key added by hand is named too */
    const char *extra_json = "{\"__metadata__\":{\"added\":\"1\",\"checksums\":\"crc32\\n\"}}";
    size_t elen;
    unsigned char *e = make_file(extra_json, 0, &elen);
    CHECK(sn_st_parse(e, elen, "added", &f, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "\"added\" has no checksum") != NULL);
    free(e);
    /* without checksums: read as before */
    const char *plain = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    e = make_file(plain, 4, &elen);
    CHECK(sn_st_parse(e, elen, "plain", &f, &err) == SN_OK);
    CHECK(f.n == 1);
    sn_st_free(&f);
    free(e);
    /* the key is ours to write */
    const char *ck[1] = {"checksums"}, *cv[1] = {"x"};
    CHECK(sn_st_save(path, 1, names, tp, 1, ck, cv, &err) == SN_ERR_ARG);
    remove(path);
}

static void test_failed_saves(void) {
    sn_error err = {0};
    float x[3] = {1, 2, 3};
    int shape[1] = {3};
    sn_tensor t = sn_tensor_view(x, 1, shape);
    const sn_tensor *tp[2] = {&t, &t};
    const char *names[2] = {"a", "b"};

    /* Into a folder that does not exist: an error, and nothing is created. */
    char path[128];
    path_in_dir(path, sizeof path, "no_such_folder/m.safetensors");
    CHECK(sn_st_save(path, 1, names, tp, 0, NULL, NULL, &err) == SN_ERR_IO);
    CHECK(strstr(err.msg, "no_such_folder") != NULL);
    CHECK(access(path, F_OK) != 0);

    /* Rename fails (the destination is a folder): the temp file is removed. */
    path_in_dir(path, sizeof path, "a_folder.safetensors");
    CHECK(mkdir(path, 0755) == 0);
    CHECK(sn_st_save(path, 1, names, tp, 0, NULL, NULL, &err) == SN_ERR_IO);
    CHECK(count_files(".tmp.") == 0);
    rmdir(path);

    /* Bad arguments leave an existing file untouched. */
    path_in_dir(path, sizeof path, "keep.safetensors");
    CHECK(sn_st_save(path, 2, names, tp, 0, NULL, NULL, &err) == SN_OK);
    const char *dup_names[2] = {"w", "w"};
    CHECK(sn_st_save(path, 2, dup_names, tp, 0, NULL, NULL, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "duplicate tensor name") != NULL);
    const char *keys[2] = {"k", "k"}, *values[2] = {"1", "2"};
    CHECK(sn_st_save(path, 1, names, tp, 2, keys, values, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "duplicate metadata key") != NULL);
    const char *bad_utf8[1] = {"caf\xe9"};
    CHECK(sn_st_save(path, 1, names, tp, 1, keys, bad_utf8, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "UTF-8") != NULL);
    const char *reserved[1] = {"__metadata__"};
    CHECK(sn_st_save(path, 1, reserved, tp, 0, NULL, NULL, &err) == SN_ERR_ARG);
    char long_name[200];
    memset(long_name, 'n', 128);
    long_name[128] = 0;
    const char *long_names[1] = {long_name};
    CHECK(sn_st_save(path, 1, long_names, tp, 0, NULL, NULL, &err) == SN_ERR_ARG);
    sn_tensor bad = t;
    bad.size = 4; /* does not match the shape */
    const sn_tensor *badp[1] = {&bad};
    CHECK(sn_st_save(path, 1, names, badp, 0, NULL, NULL, &err) == SN_ERR_ARG);
    sn_st_file f;
    CHECK(sn_st_load(path, &f, &err) == SN_OK);
    CHECK(f.n == 2 && sn_st_find(&f, "b") != NULL);
    sn_st_free(&f);
    CHECK(count_files(".tmp.") == 0);
    remove(path);

    /* A path without a folder part (the current folder is synced). */
    snprintf(path, sizeof path, "st_noslash.%ld.safetensors", (long)getpid());
    CHECK(sn_st_save(path, 1, names, tp, 0, NULL, NULL, &err) == SN_OK);
    CHECK(remove(path) == 0);

    /* Loading: a folder, a missing file, a file too short to hold the length. */
    CHECK(sn_st_load(dir, &f, &err) == SN_ERR_IO);
    CHECK(strstr(err.msg, "not a regular file") != NULL);
    path_in_dir(path, sizeof path, "missing.safetensors");
    CHECK(sn_st_load(path, &f, &err) == SN_ERR_IO);
    CHECK(strstr(err.msg, "missing.safetensors") != NULL);
    path_in_dir(path, sizeof path, "short.safetensors");
    write_all(path, (const unsigned char *)"abc", 3);
    CHECK(sn_st_load(path, &f, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "short.safetensors") && strstr(err.msg, "shorter"));
    CHECK(f.n == 0 && f.entries == NULL);
    remove(path);
}

/* A file assembled byte by byte from the format's description: tensors listed
 * out of offset order, pretty-printed JSON, an unknown field, escapes, a
 * scalar, no padding. */
static void test_hand_built(void) {
    const char *json =
        "{\n"
        "  \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [16, 24]},\n"
        "  \"__metadata__\": {\"format\": \"pt\",\n"
        "                   \"note\": \"a\\\"b\\\\c\\nd\\u00e9\\ud83d\\ude00\\/\"},\n"
        "  \"w\": {\"data_offsets\": [0, 16], \"shape\": [2, 2], \"dtype\": \"F32\",\n"
        "        \"extra\": {\"x\": [1.5e3, -2, true, false, null, \"s\"]}},\n"
        "  \"s\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [24, 28]}\n"
        "}\n";
    /* w = [[1, -2], [0.5, 3]], b = [0.25, -1.5], s = 100 */
    const unsigned char data[28] = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00,
                                    0x00, 0x3F, 0x00, 0x00, 0x40, 0x40, 0x00, 0x00, 0x80, 0x3E,
                                    0x00, 0x00, 0xC0, 0xBF, 0x00, 0x00, 0xC8, 0x42};
    size_t len;
    unsigned char *b = make_file(json, sizeof data, &len);
    memcpy(b + len - sizeof data, data, sizeof data);
    sn_st_file f;
    sn_error err = {0};
    CHECK(sn_st_parse(b, len, "hand.safetensors", &f, &err) == SN_OK);
    if (err.msg[0]) fprintf(stderr, "%s\n", err.msg);
    CHECK(f.n == 3);
    const sn_st_entry *w = sn_st_find(&f, "w"), *bias = sn_st_find(&f, "b"),
                      *s = sn_st_find(&f, "s");
    CHECK(w && bias && s);
    if (w && bias && s) {
        CHECK(w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 2 && w->size == 4);
        CHECK(w->data[0] == 1.0f && w->data[1] == -2.0f && w->data[2] == 0.5f &&
              w->data[3] == 3.0f);
        CHECK(bias->ndim == 1 && bias->shape[0] == 2 && bias->size == 2);
        CHECK(bias->data[0] == 0.25f && bias->data[1] == -1.5f);
        CHECK(s->ndim == 0 && s->size == 1 && s->data[0] == 100.0f);
        CHECK(strcmp(f.entries[0].name, "b") == 0); /* header order */
    }
    CHECK(f.nmeta == 2);
    CHECK(sn_st_meta(&f, "format") && strcmp(sn_st_meta(&f, "format"), "pt") == 0);
    const char *want = "a\"b\\c\nd\xc3\xa9\xf0\x9f\x98\x80/";
    CHECK(sn_st_meta(&f, "note") && strcmp(sn_st_meta(&f, "note"), want) == 0);
    sn_st_free(&f);

    /* Robustness: every truncation fails cleanly; byte flips never crash. */
    for (size_t cut = 0; cut < len; cut++) {
        CHECK(sn_st_parse(b, cut, "cut", &f, &err) != SN_OK);
        CHECK(f.n == 0 && f.buf == NULL);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char saved = b[i];
        for (int bit = 0; bit < 8; bit++) {
            b[i] = saved ^ (unsigned char)(1u << bit);
            if (sn_st_parse(b, len, "flip", &f, &err) == SN_OK) sn_st_free(&f);
        }
        b[i] = saved;
    }
    free(b);
}

typedef struct bad_case {
    const char *json;
    size_t data_len;
    const char *want; /* expected in the message; NULL: must parse */
} bad_case;

#define T(shape, offsets) "{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static const bad_case cases[] = {
    {"{}", 0, NULL},
    {"{}     \n\t ", 0, NULL},
    {"{\"a\":" T("[1]", "[0,4]") "}", 4, NULL},
    {"{\"z\":" T("[0]", "[0,0]") ",\"a\":" T("[1]", "[0,4]") "}", 4, NULL},
    {"", 0, "expected '{'"},
    {"hello", 0, "header must be a JSON object"},
    {"[1, 2]", 0, "header must be a JSON object"},
    {"{} x", 0, "trailing characters"},
    {"{}{}", 0, "trailing characters"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing \"dtype\""},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing \"shape\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing \"data_offsets\""},
    {"{\"a\":" T("[-1]", "[0,4]") "}", 4, "negative"},
    {"{\"a\":" T("[1.5]", "[0,4]") "}", 4, "must be an integer"},
    {"{\"a\":" T("[1e2]", "[0,4]") "}", 4, "must be an integer"},
    {"{\"a\":" T("[01]", "[0,4]") "}", 4, "leading zeros"},
    {"{\"a\":" T("[2147483647,2147483647,2147483647,2147483647]", "[0,4]") "}", 4,
     "too many elements"},
    {"{\"a\":" T("[4294967296]", "[0,4]") "}", 4, "too large"},
    {"{\"a\":" T("[99999999999999999999999]", "[0,4]") "}", 4, "too large"},
    {"{\"a\":" T("[1,1,1,1,1]", "[0,4]") "}", 4, "more than 4 dimensions"},
    {"{\"a\":" T("[1]", "[8,4]") "}", 8, "end is before begin"},
    {"{\"a\":" T("[100]", "[0,400]") "}", 4, "past the end of the data"},
    {"{\"a\":" T("[2]", "[0,4]") "}", 4, "needs 8"},
    {"{\"a\":" T("[1]", "[0]") "}", 4, "data_offsets must be [begin, end]"},
    {"{\"a\":" T("[1]", "[0,4,8]") "}", 4, "data_offsets must be [begin, end]"},
    {"{\"a\":" T("[1]", "[-4,0]") "}", 4, "negative"},
    {"{\"a\":" T("[2]", "[0,8]") ",\"b\":" T("[2]", "[4,12]") "}", 12, "overlaps"},
    {"{\"a\":" T("[1]", "[0,4]") ",\"b\":" T("[1]", "[8,12]") "}", 12, "gap"},
    {"{\"a\":" T("[1]", "[4,8]") "}", 8, "gap"},
    {"{\"a\":" T("[1]", "[0,4]") "}", 8, "cover only 4"},
    {"{}", 4, "cover only 0"},
    {"{\"a\":" T("[1]", "[0,4]") ",\"a\":" T("[1]", "[4,8]") "}", 8, "duplicate tensor name"},
    {"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
     "dtype F16 not supported (only F32)"},
    {"{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
     "dtype BF16 not supported (only F32)"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
     "dtype F64 not supported (only F32)"},
    {"{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "expected a string"},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "duplicate field \"dtype\""},
    {"{\"a\":5}", 0, "tensor's description"},
    {"{\"a\":{\"dtype\":\"F32\",\"x\":tru}}", 0, "expected a JSON value"},
    {"{\"a\":{\"dtype\":\"F32\",\"x\":[1,2,]}}", 0, "trailing ','"},
    {"{\"a\":" T("[1]", "[0,4]") ",}", 4, "trailing ','"},
    {"{\"a\" " T("[1]", "[0,4]") "}", 4, "header byte 5: expected ':'"},
    {"{\"a\":" T("[1]", "[0,4]") " \"b\":1}", 4, "expected ',' or '}'"},
    {"{\"a", 0, "unterminated string"},
    {"{\"a\\q\":1}", 0, "invalid escape '\\q'"},
    {"{\"a\\u12G4\":1}", 0, "4 hex digits"},
    {"{\"\\ud800\":1}", 0, "surrogate"},
    {"{\"\\udc00x\":1}", 0, "surrogate"},
    {"{\"\\ud800\\u0041\":1}", 0, "surrogate"},
    {"{\"a\\u0000\":1}", 0, "NUL"},
    {"{\"a\tb\":1}", 0, "control character"},
    {"{\"caf\xe9\":1}", 0, "invalid UTF-8"},
    {"{\"\xed\xa0\x80\":1}", 0, "invalid UTF-8"}, /* an encoded surrogate */
    {"{\"\xc0\xaf\":1}", 0, "invalid UTF-8"},     /* overlong '/' */
    {"{\"__metadata__\":{\"a\":1}}", 0, "must be strings"},
    {"{\"__metadata__\":[]}", 0, "__metadata__ must be an object"},
    {"{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, "duplicate __metadata__ key \"a\""},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate \"__metadata__\""},
};

static void test_malformed(void) {
    sn_error err;
    sn_st_file f;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        unsigned char *b = make_file(cases[i].json, cases[i].data_len, &len);
        memset(&err, 0, sizeof err);
        sn_status st = sn_st_parse(b, len, "bad.safetensors", &f, &err);
        if (!cases[i].want) {
            CHECK(st == SN_OK);
            if (st != SN_OK) fprintf(stderr, "case %zu: %s\n", i, err.msg);
            sn_st_free(&f);
        } else {
            int ok = st == SN_ERR_FORMAT && strstr(err.msg, "bad.safetensors") &&
                     strstr(err.msg, cases[i].want);
            CHECK(ok);
            if (!ok) fprintf(stderr, "case %zu: want \"%s\", got: %s\n", i, cases[i].want, err.msg);
            CHECK(f.n == 0 && f.entries == NULL && f.buf == NULL);
        }
        free(b);
    }
}

/* Cases that need bytes the JSON table cannot express. */
static void test_malformed_special(void) {
    sn_error err = {0};
    sn_st_file f;
    unsigned char b[64] = {0};

    CHECK(sn_st_parse(b, 7, "x.st", &f, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "x.st: file is 7 bytes, shorter than") != NULL);
    CHECK(sn_st_parse(NULL, 0, "x.st", &f, &err) == SN_ERR_FORMAT);

    b[0] = 100; /* header length 100 in a 64-byte file */
    CHECK(sn_st_parse(b, sizeof b, "x.st", &f, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "runs past the end of the file") != NULL);

    b[0] = 0;
    b[5] = 1; /* 2^40 */
    CHECK(sn_st_parse(b, sizeof b, "x.st", &f, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "larger than the limit") != NULL);
    memset(b, 0xFF, 8); /* 2^64 - 1: no overflow in 8 + N */
    CHECK(sn_st_parse(b, sizeof b, "x.st", &f, &err) == SN_ERR_FORMAT);

    /* Names of 127 bytes are fine, 128 are too long. */
    for (int n = 127; n <= 128; n++) {
        char json[256] = "{\"";
        memset(json + 2, 'n', (size_t)n);
        snprintf(json + 2 + n, sizeof json - 2 - (size_t)n, "\":" T("[1]", "[0,4]") "}");
        size_t len;
        unsigned char *d = make_file(json, 4, &len);
        sn_status st = sn_st_parse(d, len, "x.st", &f, &err);
        if (n == 127) {
            CHECK(st == SN_OK && f.n == 1 && strlen(f.entries[0].name) == 127);
            sn_st_free(&f);
        } else {
            CHECK(st == SN_ERR_FORMAT && strstr(err.msg, "128 bytes is too long"));
        }
        free(d);
    }

    /* Nesting deeper than the limit, inside a field that is skipped. */
    char deep[400];
    size_t k = (size_t)snprintf(deep, sizeof deep, "{\"a\":{\"x\":");
    for (int i = 0; i < 100; i++) deep[k++] = '[';
    for (int i = 0; i < 100; i++) deep[k++] = ']';
    snprintf(deep + k, sizeof deep - k, "}}");
    size_t len;
    unsigned char *d = make_file(deep, 0, &len);
    CHECK(sn_st_parse(d, len, "deep.st", &f, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "nested too deeply") != NULL);
    free(d);

    /* More than 100000 tensors (all empty, so the layout is valid). */
    size_t cap = 64 * 100002;
    char *many = malloc(cap);
    k = (size_t)snprintf(many, cap, "{");
    for (int i = 0; i <= SN_ST_MAX_TENSORS; i++)
        k += (size_t)snprintf(many + k, cap - k, "%s\"t%d\":" T("[0]", "[0,0]"), i ? "," : "", i);
    snprintf(many + k, cap - k, "}");
    d = make_file(many, 0, &len);
    CHECK(sn_st_parse(d, len, "many.st", &f, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "more than 100000 tensors") != NULL);
    free(d);
    free(many);
}

/* sn_st_load_any: tensors of other dtypes are kept with their byte sizes
 * (data NULL, raw pointing at their bytes); F32 ones read as usual. */
static void test_any_dtype(void) {
    char path[128];
    path_in_dir(path, sizeof path, "any.safetensors");
    /* I64 [1] (8 bytes), F32 [2] (8), F16 [3] (6), BF16 [1] (2), U8 [2] (2) */
    const char *json = "{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                       "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[22,24]},"
                       "\"u\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[24,26]}}";
    size_t len;
    unsigned char *b = make_file(json, 26, &len);
    unsigned char *data = b + 8 + strlen(json);
    data[0] = 37; /* n = 37 */
    float w[2] = {1.5f, -2.0f};
    memcpy(data + 8, w, sizeof w); /* little-endian host assumed by make_file's users */
    data[25] = 9;
    write_all(path, b, len);
    sn_st_file f;
    sn_error err = {0};
    CHECK(sn_st_load(path, &f, &err) == SN_ERR_FORMAT &&
          strstr(err.msg, "dtype I64 not supported"));
    CHECK(sn_st_load_any(path, &f, &err) == SN_OK && f.n == 5);
    const sn_st_entry *n = sn_st_find(&f, "n"), *we = sn_st_find(&f, "w"), *h = sn_st_find(&f, "h"),
                      *u = sn_st_find(&f, "u");
    CHECK(n && !n->data && !strcmp(n->dtype, "I64") && n->ndim == 0 && n->size == 1 &&
          ((const unsigned char *)n->raw)[0] == 37);
    CHECK(we && we->data && !strcmp(we->dtype, "F32") && we->data[0] == 1.5f &&
          we->data[1] == -2.0f);
    CHECK(h && !h->data && !strcmp(h->dtype, "F16") && h->size == 3);
    CHECK(u && !u->data && ((const unsigned char *)u->raw)[1] == 9);
    sn_st_free(&f);
    free(b);

    /* wrong byte counts for the dtype, an unknown dtype, F32 at an odd offset */
    static const struct {
        const char *json;
        size_t data;
        const char *msg;
    } bad[] = {
        {"{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
         "shape [2] of I64 needs 16"},
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
         "shape [2] of F16 needs 4"},
        {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "unknown dtype Q4"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
         6, "multiple of 4"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = make_file(bad[i].json, bad[i].data, &len);
        write_all(path, b, len);
        free(b);
        CHECK(sn_st_load_any(path, &f, &err) == SN_ERR_FORMAT && strstr(err.msg, bad[i].msg));
        if (!strstr(err.msg, bad[i].msg)) fprintf(stderr, "case %zu: %s\n", i, err.msg);
    }
    remove(path);
}

/* ---- a weight load that fails changes nothing ---------------------------- */

/* "input 4, dense 3, relu, dense 2": 0.weight [3, 4], 0.bias [3],
 * 2.weight [2, 3], 2.bias [2]. */
static const char *small_spec = "input 4\ndense 3\nrelu\ndense 2\nloss mse\n";

/* Every parameter value of m, in order, into buf (at most cap floats);
 * returns the count. */
static size_t param_values(const sn_model *m, float *buf, size_t cap) {
    size_t n = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            const sn_tensor *t = &m->layers[i]->params[p].value;
            if (n + t->size <= cap) memcpy(buf + n, t->data, t->size * sizeof(float));
            n += t->size;
        }
    return n;
}

/* Saves the tensors named in `names` (NULL-terminated), each with the shape
 * given in `dims` (ndim, d0, d1 per tensor), values 1 + 0.25·k (none of them
 * the model's initial values), plus the metadata pairs in `meta`
 * (NULL-terminated). */
static void save_tensors(const char *path, const char *const *names, const int (*dims)[3],
                         const char *const *meta) {
    static float values[64];
    for (int k = 0; k < 64; k++) values[k] = 1.0f + 0.25f * (float)k;
    sn_tensor t[8];
    const sn_tensor *tp[8];
    int n = 0, nmeta = 0;
    while (names[n]) {
        t[n] = sn_tensor_view(values, dims[n][0], &dims[n][1]);
        tp[n] = &t[n];
        n++;
    }
    const char *keys[4], *vals[4];
    for (; meta && meta[2 * nmeta]; nmeta++) {
        keys[nmeta] = meta[2 * nmeta];
        vals[nmeta] = meta[2 * nmeta + 1];
    }
    sn_error err = {0};
    CHECK(sn_st_save(path, n, names, tp, nmeta, keys, vals, &err) == SN_OK);
}

/* Loads path into a fresh model and checks the status, that the message
 * holds `msg`, and that every parameter is bitwise what it was before and
 * the input pipeline still absent. */
static void check_load_fails(const char *path, sn_status want, const char *msg) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(small_spec, "small", 5, &m, &err) == SN_OK);
    if (!m) return;
    float before[32], after[32];
    size_t n = param_values(m, before, 32);
    CHECK(n == 23);
    sn_status s = sn_model_load_weights(m, path, &err);
    CHECK(s == want && strstr(err.msg, msg) && strstr(err.msg, path));
    if (s != want || !strstr(err.msg, msg))
        fprintf(stderr, "expected status %d and '%s'; got %d: %s\n", (int)want, msg, (int)s,
                err.msg);
    CHECK(param_values(m, after, 32) == n && same_bits(before, after, n));
    CHECK(!sn_model_standardizes(m) && !sn_model_class_names(m));
    sn_model_free(m);
}

static void test_failed_load_changes_nothing(void) {
    char path[128];
    path_in_dir(path, sizeof path, "partial.safetensors");
    static const int good[][3] = {{2, 3, 4}, {1, 3, 0}, {2, 2, 3}, {1, 2, 0}};
    const char *all[] = {"0.weight", "0.bias", "2.weight", "2.bias", NULL};

    /* the file the failing ones are made from loads, and changes every value */
    save_tensors(path, all, good, NULL);
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(small_spec, "small", 5, &m, &err) == SN_OK);
    float before[32], after[32];
    if (m) {
        size_t n = param_values(m, before, 32);
        CHECK(sn_model_load_weights(m, path, &err) == SN_OK);
        CHECK(param_values(m, after, 32) == n);
        for (size_t k = 0; k < n; k++) CHECK(after[k] != before[k]);
        sn_model_free(m);
    }

    /* the last layer's weight has the wrong shape */
    static const int bad_shape[][3] = {{2, 3, 4}, {1, 3, 0}, {2, 3, 3}, {1, 2, 0}};
    save_tensors(path, all, bad_shape, NULL);
    check_load_fails(path, SN_ERR_SHAPE, "tensor '2.weight' has shape [3, 3]; layer 2");

    /* the last tensor is missing */
    const char *three[] = {"0.weight", "0.bias", "2.weight", NULL};
    save_tensors(path, three, good, NULL);
    check_load_fails(path, SN_ERR_FORMAT, "tensor '2.bias' missing");

    /* a tensor the model does not have, after all of its own */
    static const int extra_dims[][3] = {{2, 3, 4}, {1, 3, 0}, {2, 2, 3}, {1, 2, 0}, {1, 2, 0}};
    const char *extra[] = {"0.weight", "0.bias", "2.weight", "2.bias", "4.bias", NULL};
    save_tensors(path, extra, extra_dims, NULL);
    check_load_fails(path, SN_ERR_FORMAT, "tensor '4.bias' is not a parameter of the model");

    /* valid standardization tensors, then bad metadata of the input pipeline */
    static const int pre_dims[][3] = {{2, 3, 4}, {1, 3, 0}, {2, 2, 3},
                                      {1, 2, 0}, {1, 4, 0}, {1, 4, 0}};
    const char *pre[] = {"0.weight",        "0.bias",         "2.weight", "2.bias",
                         "preprocess.mean", "preprocess.std", NULL};
    const char *bad_range[] = {"input.range", "1 0", NULL};
    save_tensors(path, pre, pre_dims, bad_range);
    check_load_fails(path, SN_ERR_FORMAT, "input.range: expected 'LO HI', got '1 0'");
    const char *bad_classes[] = {"input.range", "0 1", "classes", "a\nb\nc", NULL};
    save_tensors(path, pre, pre_dims, bad_classes);
    check_load_fails(path, SN_ERR_FORMAT, "classes: 3 names for a model of 2 classes");

    /* the last tensor's bytes cut off: refused when the file is read */
    save_tensors(path, all, good, NULL);
    size_t len;
    unsigned char *b = read_all(path, &len);
    CHECK(b && len > 8);
    if (b) write_all(path, b, len - 4);
    free(b);
    check_load_fails(path, SN_ERR_FORMAT, "] run past the end of the data (");

    /* the last tensor of another dtype, which only sn_st_load_any reads */
    const char *json = "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
                       "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]},"
                       "\"2.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[60,84]},"
                       "\"2.bias\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[84,92]}}";
    b = make_file(json, 92, &len);
    if (b) write_all(path, b, len);
    free(b);
    check_load_fails(path, SN_ERR_FORMAT, "tensor '2.bias' has dtype I32");
    remove(path);
}

int main(void) {
    snprintf(dir, sizeof dir, "st_test.%ld", (long)getpid());
    if (mkdir(dir, 0755) != 0) {
        fprintf(stderr, "cannot create %s\n", dir);
        return 1;
    }
    test_round_trip();
    test_writer_bytes();
    test_checksums();
    test_failed_saves();
    test_hand_built();
    test_malformed();
    test_malformed_special();
    test_any_dtype();
    test_failed_load_changes_nothing();
    CHECK(count_files("") == 2); /* only "." and ".." are left */
    rmdir(dir);
    return check_report();
}
