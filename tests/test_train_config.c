/* The [train] keys (src/train/config.c), every one of them, from the table
 * itself: a key added to the table is tested here without a line more.
 *
 * 1. Each key's example value is valid and not its default.
 * 2. A spec setting every key to its example gives exactly those values; a
 *    checkpoint of that training stores them and reads them back; a
 *    training whose configuration differs in one key is refused on resume
 *    naming that key (but for the keys that may change: accepted).
 * 3. A bad value of every key (not a value of its type, outside its range)
 *    is refused naming the file, line and key.
 * 4. The run.txt lines (sn_train_config_lines): one "name value" line per
 *    key, each reading back to the same value.
 * 5. A checkpoint written before a key existed (its config text without
 *    that key) is not checked on that key, and still on every other. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "check.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "optim/optim.h"
#include "train/checkpoint.h"
#include "train/config.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NET "input 6\ndense 4\nloss softmax_xent\n[train]\n" /* [train] on line 4 */

static const sn_train_key *K(int i) {
    return &sn_train_keys[i];
}

static void value(const sn_train_key *k, const sn_train_config *c, char *buf, size_t len) {
    sn_train_key_format(k, c, SN_FORM_CHECKPOINT, buf, len);
}

/* The configuration of defaults with key k at `text`. */
static sn_status with(const sn_train_key *k, const char *text, sn_train_config *c, sn_error *err) {
    sn_train_config_defaults(c);
    return sn_train_key_parse(k, c, text, err);
}

static void test_examples(void) {
    sn_error err = {0};
    for (int i = 0; i < sn_train_nkeys; i++) {
        sn_train_config d, e;
        char a[192], b[192];
        sn_train_config_defaults(&d);
        CHECK(with(K(i), K(i)->example, &e, &err) == SN_OK);
        value(K(i), &d, a, sizeof a);
        value(K(i), &e, b, sizeof b);
        if (strcmp(a, b) == 0) fprintf(stderr, "%s: example = default %s\n", K(i)->name, a);
        CHECK(strcmp(a, b) != 0);
    }
}

/* The [train] lines setting every key to its example: heads with their
 * line's options, then the option lines, then one line per other key. */
static void all_keys_spec(char *buf, size_t len) {
    size_t at = (size_t)snprintf(buf, len, NET);
    const char *done[16];
    int ndone = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < sn_train_nkeys; i++) {
            const char *line = K(i)->line;
            int head = (K(i)->flags & SN_KEY_HEAD) != 0, seen = 0;
            if (pass == 0 ? !head : (head || !line)) continue;
            for (int j = 0; j < ndone; j++) seen |= strcmp(done[j], line) == 0;
            if (seen) continue;
            done[ndone++] = line;
            at += (size_t)snprintf(buf + at, len - at, "%s%s%s", line, head ? " " : "",
                                   head ? K(i)->example : "");
            for (int j = 0; j < sn_train_nkeys; j++)
                if ((j != i || !head) && K(j)->line && strcmp(K(j)->line, line) == 0)
                    at += (size_t)snprintf(buf + at, len - at, " %s=%s",
                                           K(j)->key ? K(j)->key : K(j)->name, K(j)->example);
            at += (size_t)snprintf(buf + at, len - at, "\n");
        }
    for (int i = 0; i < sn_train_nkeys; i++)
        if (!K(i)->line)
            at += (size_t)snprintf(buf + at, len - at, "%s %s\n", K(i)->name, K(i)->example);
}

static int same_key(int i, const sn_train_config *a, const sn_train_config *b) {
    char x[192], y[192];
    value(K(i), a, x, sizeof x);
    value(K(i), b, y, sizeof y);
    if (strcmp(x, y) != 0) fprintf(stderr, "%s: %s, expected %s\n", K(i)->name, x, y);
    return strcmp(x, y) == 0;
}

static sn_status load_with(const char *path, const sn_model *m, const sn_train_config *c,
                           sn_error *err) {
    sn_model *m2 = NULL;
    sn_optimizer *o2 = NULL;
    sn_schedule sc;
    sn_status s = sn_model_from_spec(m->spec, "t.net", 0, &m2, err);
    if (s == SN_OK) s = sn_model_reserve(m2, 8, err);
    sn_train_config oc = m2 ? m2->cfg : *c;
    oc.nesterov = 0; /* the examples' dampening and nesterov exclude each other */
    if (s == SN_OK) s = sn_optimizer_new(m2, &oc, &o2, err);
    if (s == SN_OK) s = sn_schedule_init(&sc, &m2->cfg, 5, err);
    if (s == SN_OK) {
        m2->cfg = *c;
        sn_ckpt k = {.trainer = "table", .nbatches = 5, .samples = 77};
        s = sn_ckpt_load(path, m2, o2, &sc, &k, NULL, err);
        sn_ckpt_free(&k);
    }
    sn_optimizer_free(o2);
    sn_model_free(m2);
    return s;
}

static void test_roundtrip(const char *dir) {
    static char spec[8192];
    sn_error err = {0};
    all_keys_spec(spec, sizeof spec);
    sn_model *m = NULL;
    sn_status s = sn_model_from_spec(spec, "t.net", 0, &m, &err);
    if (s != SN_OK) fprintf(stderr, "%s\n%s\n", spec, err.msg);
    CHECK(s == SN_OK);
    if (!m) return;
    for (int i = 0; i < sn_train_nkeys; i++) { /* the spec's values */
        sn_train_config e = m->cfg;
        CHECK(sn_train_key_parse(K(i), &e, K(i)->example, &err) == SN_OK);
        CHECK(same_key(i, &m->cfg, &e));
    }
    /* a checkpoint stores them */
    sn_optimizer *o = NULL;
    sn_schedule sc;
    char path[256];
    snprintf(path, sizeof path, "%s/c.ckpt", dir);
    CHECK(sn_model_reserve(m, 8, &err) == SN_OK);
    sn_train_config oc = m->cfg;
    oc.nesterov = 0; /* the examples' dampening and nesterov exclude each other */
    CHECK(sn_optimizer_new(m, &oc, &o, &err) == SN_OK);
    CHECK(sn_schedule_init(&sc, &m->cfg, 5, &err) == SN_OK);
    sn_ckpt k = {.trainer = "table", .epoch = 1, .nbatches = 5, .samples = 77};
    sn_checkpoint_options opt;
    memset(&opt, 0, sizeof opt);
    opt.path = path;
    CHECK(o && sn_ckpt_save(&opt, m, o, &sc, &k, NULL, &err) == SN_OK);
    sn_st_file f;
    CHECK(sn_st_load(path, &f, &err) == SN_OK);
    const char *text = sn_st_meta(&f, "config");
    CHECK(text != NULL);
    sn_train_config back;
    sn_train_config_defaults(&back);
    uint64_t present = 0;
    CHECK(text && sn_train_config_read(text, &back, &present, &err) == SN_OK);
    for (int i = 0; i < sn_train_nkeys; i++) {
        int may = (K(i)->flags & SN_KEY_MAY_CHANGE) != 0;
        CHECK(((present >> i) & 1) == !may);
        if (!may) CHECK(same_key(i, &back, &m->cfg));
    }
    sn_st_free(&f);
    /* resumed with the same configuration; with one key other: refused by
     * name, unless the key may change */
    CHECK(load_with(path, m, &m->cfg, &err) == SN_OK);
    for (int i = 0; i < sn_train_nkeys; i++) {
        sn_train_config c = m->cfg;
        char one[256];
        uint64_t got;
        snprintf(one, sizeof one, "%s=%s", K(i)->name, K(i)->def); /* any default, unchecked */
        if (K(i)->flags & SN_KEY_MAY_CHANGE)
            CHECK(sn_train_key_parse(K(i), &c, K(i)->def, &err) == SN_OK);
        else
            CHECK(sn_train_config_read(one, &c, &got, &err) == SN_OK && got == 1ull << i);
        char name[64];
        snprintf(name, sizeof name, "with %s=", K(i)->name);
        s = load_with(path, m, &c, &err);
        if (K(i)->flags & SN_KEY_MAY_CHANGE) {
            CHECK(s == SN_OK);
        } else {
            CHECK(s == SN_ERR_ARG && strstr(err.msg, name) != NULL);
            if (s != SN_ERR_ARG || !strstr(err.msg, name))
                fprintf(stderr, "%s: %d %s\n", K(i)->name, s, err.msg);
        }
    }
    sn_optimizer_free(o);
    sn_model_free(m);
    remove(path);
}

/* Values that key k must refuse: not of its type, and just outside its
 * range at each end it has. */
static int bad_values(const sn_train_key *k, char out[][48]) {
    int n = 0;
    snprintf(out[n++], 48, "bogus");
    switch (k->type) {
    case SN_KEY_BOOL:
        snprintf(out[n++], 48, "2");
        break;
    case SN_KEY_U64:
        snprintf(out[n++], 48, "-1");
        break;
    case SN_KEY_LIST:
        snprintf(out[n++], 48, "3,0");
        break;
    case SN_KEY_FLOAT:
    case SN_KEY_INT:
        snprintf(out[n++], 48, "%.10g", k->bounds[0] == '[' ? k->lo - 1 : k->lo);
        if (k->hi != HUGE_VAL)
            snprintf(out[n++], 48, "%.10g",
                     k->bounds[1] == ']' ? (k->hi == FLT_MAX ? 1e39 : k->hi + 1) : k->hi);
        if (k->type == SN_KEY_INT) snprintf(out[n++], 48, "%.10g", k->lo + 1.5);
        break;
    default:
        break;
    }
    return n;
}

static void test_bad_values(void) {
    sn_error err = {0};
    for (int i = 0; i < sn_train_nkeys; i++) {
        char bad[8][48], spec[512], key[64];
        sn_train_key_spec_name(K(i), key, sizeof key);
        int nbad = bad_values(K(i), bad);
        for (int b = 0; b < nbad; b++) {
            const char *line = K(i)->line;
            if (!line)
                snprintf(spec, sizeof spec, NET "%s %s\n", key, bad[b]);
            else if (K(i)->flags & SN_KEY_HEAD)
                snprintf(spec, sizeof spec, NET "%s %s\n", line, bad[b]);
            else if (strcmp(line, "schedule") == 0)
                snprintf(spec, sizeof spec, NET "schedule none %s=%s\n", key, bad[b]);
            else
                snprintf(spec, sizeof spec, NET "%s %s=%s\n", line, key, bad[b]);
            sn_model *m = NULL;
            sn_status s = sn_model_from_spec(spec, "t.net", 0, &m, &err);
            int named = s == SN_ERR_FORMAT && strncmp(err.msg, "t.net:5: ", 9) == 0 &&
                        strstr(err.msg, key) != NULL;
            if (!named) fprintf(stderr, "%s=%s: %d '%s'\n", K(i)->name, bad[b], s, err.msg);
            CHECK(named);
            sn_model_free(m);
        }
    }
}

static void test_lines(void) {
    sn_error err = {0};
    sn_train_config c, back;
    sn_train_config_defaults(&c);
    for (int i = 0; i < sn_train_nkeys; i++)
        CHECK(sn_train_key_parse(K(i), &c, K(i)->example, &err) == SN_OK);
    char buf[8192];
    size_t need = sn_train_config_lines(&c, buf, sizeof buf);
    CHECK(need == strlen(buf));
    sn_train_config_defaults(&back);
    char *p = buf;
    int lines = 0;
    for (int i = 0; i < sn_train_nkeys && *p; i++, lines++) {
        char *nl = strchr(p, '\n'), *sp = strchr(p, ' ');
        CHECK(nl && sp && sp < nl);
        if (!nl || !sp || sp > nl) break;
        *nl = 0, *sp = 0;
        CHECK(strcmp(p, K(i)->name) == 0);
        CHECK(sn_train_key_parse(K(i), &back, sp + 1, &err) == SN_OK);
        CHECK(same_key(i, &back, &c));
        p = nl + 1;
    }
    CHECK(lines == sn_train_nkeys && *p == 0);
    /* a short buffer: cut, terminated, the whole length returned */
    char small[16];
    CHECK(sn_train_config_lines(&c, small, sizeof small) == need && strlen(small) == 15);
}

/* text without its word "name=...". */
static void drop_key(char *text, const char *name) {
    size_t n = strlen(name);
    for (char *p = text; *p;) {
        size_t w = strcspn(p, " ");
        if (w > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            memmove(p, p + w + (p[w] == ' '), strlen(p + w + (p[w] == ' ')) + 1);
            if (*p == 0 && p > text) p[-1] = 0;
            return;
        }
        p += w + (p[w] == ' ');
    }
}

static void test_older_text(void) {
    sn_error err = {0};
    sn_train_config c;
    sn_train_config_defaults(&c);
    char all[4096], text[4096];
    sn_train_config_write(&c, all, sizeof all);
    for (int i = 0; i < sn_train_nkeys; i++) {
        if (K(i)->flags & SN_KEY_MAY_CHANGE) continue;
        int j = (i + 1) % sn_train_nkeys; /* another key, checked */
        while (K(j)->flags & SN_KEY_MAY_CHANGE) j = (j + 1) % sn_train_nkeys;
        snprintf(text, sizeof text, "%s", all);
        drop_key(text, K(i)->name);
        CHECK(strlen(text) < strlen(all));
        sn_train_config other = c;
        CHECK(sn_train_key_parse(K(i), &other, K(i)->example, &err) == SN_OK);
        CHECK(sn_train_config_check(text, &other, "old", &err) == SN_OK);
        CHECK(sn_train_config_check(all, &other, "old", &err) == SN_ERR_ARG);
        CHECK(sn_train_key_parse(K(j), &other, K(j)->example, &err) == SN_OK);
        char named[64];
        snprintf(named, sizeof named, "with %s=", K(j)->name);
        CHECK(sn_train_config_check(text, &other, "old", &err) == SN_ERR_ARG &&
              strstr(err.msg, named) != NULL);
    }
}

int main(void) {
    char dir[] = "/tmp/sn_train_config_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_examples();
    test_roundtrip(dir);
    test_bad_values();
    test_lines();
    test_older_text();
    rmdir(dir);
    return check_report();
}
