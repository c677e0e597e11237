/* Damaged and edited checkpoints: a flipped mantissa bit in a weight, a NaN
 * written over one, the "position" field changed from epoch 3 to 1, the spec
 * edited: each is refused by sn_checkpoint_verify and sn_ckpt_load with the
 * tensor or field named, and the model is left untouched. A NaN weight in a
 * file whose checksums were rewritten to match is refused too. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "check.h"
#include "file_bytes.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "optim/optim.h"
#include "train/checkpoint.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static const char spec[] = "input 6\ndense 10\nrelu\ndense 4\nloss softmax_xent\n"
                           "[train]\noptimizer adam lr=1e-2\nbatch 8\n";

/* The byte offset of the first float of tensor `name` in the file. */
static size_t data_offset(const unsigned char *b, size_t len, const char *name) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    char key[160];
    snprintf(key, sizeof key, "\"%s\":{", name);
    const char *hdr = (const char *)b + 8, *at = NULL;
    for (size_t i = 0; i + strlen(key) < n && !at; i++)
        if (memcmp(hdr + i, key, strlen(key)) == 0) at = hdr + i;
    const char *off = at ? strstr(at, "\"data_offsets\":[") : NULL;
    CHECK(off != NULL);
    size_t begin = off ? (size_t)strtoul(off + 16, NULL, 10) : 0;
    CHECK(8 + n + begin + 4 <= len);
    return 8 + (size_t)n + begin;
}

/* Replaces the first `find` in the header with `repl` (same length). */
static int edit_header(unsigned char *b, size_t len, const char *find, const char *repl) {
    size_t nf = strlen(find);
    for (size_t i = 8; i + nf < len; i++)
        if (memcmp(b + i, find, nf) == 0) {
            memcpy(b + i, repl, nf);
            return 1;
        }
    return 0;
}

int main(void) {
    snprintf(dir, sizeof dir, "integrity_test.%ld", (long)getpid());
    CHECK(mkdir(dir, 0755) == 0);
    sn_error err = {0};
    sn_model *m = NULL;
    sn_optimizer *o = NULL;
    CHECK(sn_model_from_spec(spec, "spec", 1, &m, &err) == SN_OK);
    if (!m) return check_report();
    CHECK(sn_model_reserve(m, 8, &err) == SN_OK);
    CHECK(sn_optimizer_new(m, &m->cfg, &o, &err) == SN_OK);
    sn_schedule sc;
    CHECK(sn_schedule_init(&sc, &m->cfg, 5, &err) == SN_OK);
    sn_ckpt k = {.trainer = "table", .epoch = 3, .batch = 2, .nbatches = 5, .samples = 40};
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    sn_checkpoint_options opt;
    memset(&opt, 0, sizeof opt);
    opt.path = path;
    CHECK(sn_ckpt_save(&opt, m, o, &sc, &k, NULL, &err) == SN_OK);
    sn_checkpoint_info info;
    CHECK(sn_checkpoint_verify(path, &info, &err) == SN_OK && info.epoch == 3);

    size_t len = 0;
    unsigned char *good = read_all(path, &len);
    CHECK(good != NULL);
    if (!good) return check_report();
    size_t w = data_offset(good, len, "0.weight");
    struct {
        const char *what;
        int kind; /* 0: flip a mantissa bit, 1: NaN, 2: header edit */
        const char *find, *repl, *named;
    } cases[] = {
        {"mantissa bit", 0, NULL, NULL, "tensor \"0.weight\""},
        {"NaN weight", 1, NULL, NULL, "tensor \"0.weight\""},
        {"position 3 to 1", 2, "\"position\":\"3 ", "\"position\":\"1 ", "\"position\""},
        {"relu to tanh", 2, "relu", "tanh", "\"spec\""},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *b = malloc(len);
        memcpy(b, good, len);
        if (cases[c].kind == 0) b[w + 4] ^= 0x01;
        if (cases[c].kind == 1) memcpy(b + w + 8, "\x00\x00\xc0\x7f", 4);
        if (cases[c].kind == 2) CHECK(edit_header(b, len, cases[c].find, cases[c].repl));
        write_all(bad, b, len);
        free(b);
        int refused = sn_checkpoint_verify(bad, &info, &err) != SN_OK;
        CHECK(refused);
        if (!refused || !strstr(err.msg, cases[c].named))
            fprintf(stderr, "%s: %s\n", cases[c].what, refused ? err.msg : "accepted");
        CHECK(strstr(err.msg, cases[c].named) != NULL);
        float w0 = m->params[0]->value.data[1];
        sn_ckpt k2 = {.trainer = "table", .nbatches = 5, .samples = 40};
        CHECK(sn_ckpt_load(bad, m, o, &sc, &k2, NULL, &err) != SN_OK);
        CHECK(strstr(err.msg, cases[c].named) != NULL);
        CHECK(m->params[0]->value.data[1] == w0);
        sn_ckpt_free(&k2);
    }

    /* NaN with checksums that match: the load itself refuses it */
    sn_st_file f;
    CHECK(sn_st_load(path, &f, &err) == SN_OK);
    const sn_tensor *ts[64];
    sn_tensor views[64];
    const char *names[64], *keys[64], *vals[64];
    int nk = 0;
    for (int i = 0; i < f.n && i < 64; i++) {
        views[i] = sn_tensor_view(f.entries[i].data, f.entries[i].ndim, f.entries[i].shape);
        ts[i] = &views[i];
        names[i] = f.entries[i].name;
    }
    for (int i = 0; i < f.nmeta && nk < 64; i++)
        if (strcmp(f.meta_keys[i], SN_ST_CHECKSUM_KEY) != 0)
            keys[nk] = f.meta_keys[i], vals[nk++] = f.meta_values[i];
    const sn_st_entry *e = sn_st_find(&f, "0.weight");
    CHECK(e != NULL);
    if (e) e->data[5] = 0.0f / 0.0f;
    CHECK(sn_st_save(bad, f.n, names, ts, nk, keys, vals, &err) == SN_OK);
    sn_st_free(&f);
    CHECK(sn_checkpoint_verify(bad, &info, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "'0.weight' holds NaN at element 5") != NULL);

    remove(bad);
    remove(path);
    rmdir(dir);
    free(good);
    sn_optimizer_free(o);
    sn_model_free(m);
    return check_report();
}
