/* Text specs: an ordinary model spec whose layers may write `vocab` for the
 * vocabulary size (known once the corpus is read), plus a [text] section
 * for the data:
 *
 *   input     1
 *   embedding vocab 64
 *   lstm      256
 *   dense     vocab
 *   loss      softmax_xent
 *   [text]
 *   level     char          # char | byte | word
 *   words     5000          # word level: the K most frequent words
 *   seq       50            # steps per batch (truncated BPTT length)
 *   val       0.1           # hold out the last fraction of the text
 *   minutes   30            # training time budget
 *   sample_every 1          # epochs between samples
 *   sample_length 200
 *   temperature 0.8
 *   prime     The whale     # the rest of the line
 *   [train]
 *   ...
 *
 * sn_text_model_from_spec blanks the [text] lines (line numbers stay right)
 * and replaces every whole word `vocab` by the size before the spec parser
 * builds the network; the resulting text is the model's spec (what its file
 * stores). */
#include "core/error.h"
#include "model/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sn_text_spec_default(sn_text_spec *t) {
    memset(t, 0, sizeof *t);
    sn_text_options_default(&t->o);
    t->o.sample_every = 1;
    t->level = SN_TEXT_CHAR;
    t->words = 5000;
    t->val = 0.1;
}

/* One "key value" line of [text] (comments already cut, but for prime). */
static sn_status text_line(sn_text_spec *t, char *line, sn_error *err) {
    char *key = line + strspn(line, " \t");
    char *val = key + strcspn(key, " \t");
    if (*val) *val++ = 0;
    val += strspn(val, " \t");
    size_t n = strlen(val);
    while (n && (val[n - 1] == ' ' || val[n - 1] == '\t' || val[n - 1] == '\r')) val[--n] = 0;
    if (strcmp(key, "prime") == 0) {
        snprintf(t->prime, sizeof t->prime, "%s", val);
        return SN_OK;
    }
    char *hash = strchr(val, '#');
    if (hash) *hash = 0;
    n = strlen(val);
    while (n && (val[n - 1] == ' ' || val[n - 1] == '\t')) val[--n] = 0;
    if (strcmp(key, "level") == 0) return sn_text_level_parse(val, &t->level, err);
    char *end;
    errno = 0;
    double x = strtod(val, &end);
    if (end == val || *end || errno || !isfinite(x))
        return sn_fail(err, SN_ERR_FORMAT, "%s: expected a number, got '%s'", key, val);
    int integral = x == floor(x);
    if (strcmp(key, "words") == 0 && integral && x >= 1 && x <= 1 << 24)
        t->words = (int)x;
    else if (strcmp(key, "seq") == 0 && integral && x >= 1 && x <= 1 << 16)
        t->o.seq_len = (int)x;
    else if (strcmp(key, "val") == 0 && x >= 0 && x <= 0.9)
        t->val = x;
    else if (strcmp(key, "minutes") == 0 && x > 0)
        t->minutes = x;
    else if (strcmp(key, "sample_every") == 0 && integral && x >= 0)
        t->o.sample_every = (int)fmin(x, 1 << 30);
    else if (strcmp(key, "sample_length") == 0 && integral && x >= 0 && x <= 1 << 24)
        t->o.sample_length = (int)x;
    else if (strcmp(key, "temperature") == 0 && x >= 0 && x <= 100)
        t->o.temperature = (float)x;
    else
        return sn_fail(err, SN_ERR_FORMAT,
                       "'%s %s' is unknown or out of range (keys: level, words, seq, val, "
                       "minutes, sample_every, sample_length, temperature, prime)",
                       key, val);
    return SN_OK;
}

/* Parses the [text] section of spec into t and, when blank != NULL, writes
 * spec with that section's lines blanked into it (same length). */
static sn_status text_section(const char *spec, const char *name, sn_text_spec *t, char *blank,
                              sn_error *err) {
    int in_text = 0, lineno = 0;
    for (const char *line = spec; line && *line; lineno++) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        char *w = buf + strspn(buf, " \t");
        int drop = 0;
        if (w[0] == '[') {
            in_text = strncmp(w, "[text]", 6) == 0;
            drop = in_text;
        } else if (in_text) {
            char *hash = strchr(w, '#');
            int empty = w[0] == 0 || w[0] == '#' || w[0] == '\r';
            if (!empty && hash && strncmp(w, "prime", 5) != 0) *hash = 0;
            if (!empty && text_line(t, w, err) != SN_OK)
                return sn_wrap(err, "%s:%d: [text]", name, lineno + 1);
            drop = 1;
        }
        if (blank && drop) memset(blank + (line - spec), ' ', len);
        line = nl ? nl + 1 : NULL;
    }
    t->o.prime = t->prime[0] ? t->prime : NULL;
    return SN_OK;
}

sn_status sn_text_spec_parse(const char *spec, const char *name, sn_text_spec *t, sn_error *err) {
    if (!spec || !t) return sn_fail(err, SN_ERR_ARG, "sn_text_spec_parse: NULL argument");
    sn_text_spec_default(t);
    return text_section(spec, name ? name : "spec", t, NULL, err);
}

/* 1 when spec[i..i+5) is the whole word `vocab`. */
static int vocab_at(const char *spec, size_t i) {
    const char *p = spec + i;
    return strncmp(p, "vocab", 5) == 0 && (i == 0 || strchr(" \t\n", p[-1])) &&
           (p[5] == 0 || strchr(" \t\r\n#", p[5]));
}

int sn_spec_has_vocab(const char *spec) {
    for (const char *p = strstr(spec, "vocab"); p; p = strstr(p + 5, "vocab"))
        if (vocab_at(spec, (size_t)(p - spec))) return 1;
    return 0;
}

sn_status sn_text_model_from_spec(const char *spec, const char *name, uint64_t seed, int vocab_size,
                                  sn_model **out, sn_error *err) {
    *out = NULL;
    if (!spec) return sn_fail(err, SN_ERR_ARG, "sn_text_model_from_spec: NULL spec");
    if (!name) name = "spec";
    if (vocab_size < 1)
        return sn_fail(err, SN_ERR_ARG, "%s: vocabulary size %d < 1", name, vocab_size);
    size_t n = strlen(spec), count = 0;
    char *blank = malloc(n + 1);
    if (!blank) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", name);
    memcpy(blank, spec, n + 1);
    sn_text_spec t;
    sn_text_spec_default(&t);
    sn_status s = text_section(spec, name, &t, blank, err);
    for (const char *p = strstr(blank, "vocab"); p; p = strstr(p + 5, "vocab")) count++;
    char *text = s == SN_OK ? malloc(n + 1 + count * 16) : NULL, num[16];
    if (s == SN_OK && !text) s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", name);
    if (s == SN_OK) {
        snprintf(num, sizeof num, "%d", vocab_size);
        size_t k = 0, numlen = strlen(num);
        for (size_t i = 0; blank[i];) {
            if (vocab_at(blank, i)) {
                memcpy(text + k, num, numlen);
                k += numlen;
                i += 5;
            } else {
                text[k++] = blank[i++];
            }
        }
        text[k] = 0;
        s = sn_model_from_spec(text, name, seed, out, err);
    }
    free(text);
    free(blank);
    return s;
}
