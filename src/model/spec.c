/* The model spec parser (*.net files).
 *
 *   input     1x28x28          # per-sample shape, first
 *   flatten
 *   dense     128  init=he l2=1e-4   # one layer per line: kind, arguments, key=value
 *   batchnorm                  # (l1= l2= l1_bias= l2_bias= on any layer with parameters)
 *   relu
 *   dropout   0.2
 *   dense     10
 *   loss      softmax_xent     # last line of the network part
 *   [train]                    # optional: hyper-parameters
 *   optimizer sgd lr=0.1 momentum=0.9 nesterov=1 decay=1e-4
 *   schedule  cosine t_max=50 eta_min=0
 *   warmup    epochs=2 start_factor=0.01
 *   clip      norm=1            # and/or value=5
 *   early_stop patience=5 min_delta=0 monitor=val_loss restore=1
 *   l2        1e-4              # default penalty of every weight tensor
 *   skip_nonfinite yes          # guard: skip bad batches (max_grad_norm, max_loss_ratio)
 *   standardize yes             # inputs to mean 0, std 1 (data/pipeline.c)
 *   batch     128
 *   epochs    10
 *
 * The [train] keys, their ranges and defaults are the table in
 * src/train/config.c. Every error names "file:line:" and what was expected. */
#include "model/model.h"
#include "optim/optim.h"
#include "train/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 32

/* Splits a line in place into words; '#' starts a comment. */
static int split_words(char *line, char **words, int max) {
    int n = 0;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    for (char *p = line; *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        if (n == max) return -1;
        words[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
        if (*p) *p++ = 0;
    }
    return n;
}

static int parse_shape(const char *s, int *ndim, int *shape) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > (1 << 24) || errno || n == 3) return 0;
        shape[n++] = (int)v;
        if (*end == 'x') {
            p = end + 1;
            if (!*p) return 0;
        } else if (*end == 0) {
            p = end;
        } else {
            return 0;
        }
    }
    *ndim = n;
    return n > 0;
}

/* A sample of at most SN_SPEC_MAX_INPUT values, so that the layers' sizes
 * (ints) cannot overflow. */
#define SN_SPEC_MAX_INPUT ((size_t)1 << 30)
static sn_status check_input_size(const char *text, int ndim, const int *shape, sn_error *err) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (!sn_mul_ok(n, (size_t)shape[i], &n))
            return sn_fail(err, SN_ERR_FORMAT, "input: %s overflows the size type", text);
    if (n > SN_SPEC_MAX_INPUT)
        return sn_fail(err, SN_ERR_FORMAT, "input: %s has %zu values, more than the %zu allowed",
                       text, n, SN_SPEC_MAX_INPUT);
    return SN_OK;
}

/* Per-layer penalty options (l1= l2= l1_bias= l2_bias=), read here rather
 * than by each layer: they apply to any layer with parameters. */
static const char *const reg_keys[4] = {"l1", "l2", "l1_bias", "l2_bias"};

static int parse_num(const char *s, double *v);

sn_status sn_model_add_words(sn_model *m, int nwords, char **words, sn_error *err) {
    if (m->nlayers == SN_MAX_LAYERS)
        return sn_fail(err, SN_ERR_FORMAT, "too many layers (at most %d)", SN_MAX_LAYERS);
    sn_layer_ctor ctor = sn_layer_find(words[0]);
    if (!ctor)
        return sn_fail(err, SN_ERR_FORMAT, "unknown layer '%s' (expected one of: %s)", words[0],
                       sn_layer_kinds());
    sn_layer_args a;
    memset(&a, 0, sizeof a);
    a.kind = words[0];
    float reg[4] = {m->cfg.l1, m->cfg.l2, 0, 0};
    int have_reg = 0;
    for (int i = 1; i < nwords; i++) {
        char *eq = strchr(words[i], '=');
        if (eq) {
            int r = -1;
            for (int k = 0; k < 4; k++)
                if ((size_t)(eq - words[i]) == strlen(reg_keys[k]) &&
                    strncmp(words[i], reg_keys[k], (size_t)(eq - words[i])) == 0)
                    r = k;
            if (r >= 0) {
                double v;
                if (!parse_num(eq + 1, &v) || v < 0)
                    return sn_fail(err, SN_ERR_FORMAT, "%s: %s must be a number >= 0, got '%s'",
                                   words[0], reg_keys[r], eq + 1);
                reg[r] = (float)v;
                have_reg = 1;
                continue;
            }
            if (a.nopt == SN_MAX_ARGS) return sn_fail(err, SN_ERR_FORMAT, "too many options");
            *eq = 0;
            a.keys[a.nopt] = words[i];
            a.vals[a.nopt++] = eq + 1;
        } else {
            if (a.npos == SN_MAX_ARGS) return sn_fail(err, SN_ERR_FORMAT, "too many arguments");
            a.pos[a.npos++] = words[i];
        }
    }
    if (m->nlayers == 0) {
        a.in_ndim = m->in_ndim;
        memcpy(a.in_shape, m->in_shape, sizeof a.in_shape);
    } else {
        const sn_layer *prev = m->layers[m->nlayers - 1];
        a.in_ndim = prev->out_ndim;
        memcpy(a.in_shape, prev->out_shape, sizeof a.in_shape);
    }
    a.rng = &m->rng;
    sn_layer *l = NULL;
    sn_status s = ctor(&a, &l, err);
    if (s != SN_OK) return s;
    int trained = 0;
    for (int i = 0; i < l->nparams; i++) {
        sn_param *p = &l->params[i];
        if (p->buffer) continue;
        trained++;
        p->l1 = p->decay ? reg[0] : reg[2];
        p->l2 = p->decay ? reg[1] : reg[3];
    }
    if (have_reg && !trained) {
        sn_layer_free(l);
        return sn_fail(err, SN_ERR_FORMAT, "%s: no parameters to apply l1/l2 to", words[0]);
    }
    l->params_gen = &m->params_gen;
    m->layers[m->nlayers++] = l;
    for (int i = 0; i < l->nparams; i++) m->params[m->nparams++] = &l->params[i];
    return SN_OK;
}

static int parse_num(const char *s, double *v) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && *end == 0 && errno == 0 && isfinite(*v);
}

/* Where the parser stands. */
typedef struct spec_state {
    sn_model *m;
    enum { NET, LOSS_SEEN, TRAIN, TEXT } part;
    int have_input, have_loss;
    uint64_t set; /* [train] keys given explicitly */
} spec_state;

/* A line of the network part: the input, a layer or the loss. */
static sn_status net_line(spec_state *p, int n, char **w, sn_error *err) {
    sn_model *m = p->m;
    if (strcmp(w[0], "input") == 0) {
        if (p->have_input) return sn_fail(err, SN_ERR_FORMAT, "a second 'input' line");
        p->have_input = 1;
        if (n != 2 || !parse_shape(w[1], &m->in_ndim, m->in_shape))
            return sn_fail(err, SN_ERR_FORMAT, "input: expected a shape such as 784 or 1x28x28");
        return check_input_size(w[1], m->in_ndim, m->in_shape, err);
    }
    if (!p->have_input)
        return sn_fail(err, SN_ERR_FORMAT,
                       "expected 'input SHAPE' (e.g. 'input 1x28x28') before '%s'", w[0]);
    if (p->part == LOSS_SEEN)
        return sn_fail(err, SN_ERR_FORMAT,
                       "'%s' after the loss line (the loss comes last, then [train])", w[0]);
    if (strcmp(w[0], "loss") == 0) {
        p->have_loss = 1;
        p->part = LOSS_SEEN;
        if (n != 2)
            return sn_fail(err, SN_ERR_FORMAT,
                           "loss: expected one name (mse, bce, bce_logits, softmax_xent)");
        return sn_loss_parse(w[1], &m->loss, err);
    }
    for (int i = 1; i < n; i++)
        if (strcmp(w[i], "vocab") == 0)
            return sn_fail(err, SN_ERR_FORMAT,
                           "%s: 'vocab' stands for the vocabulary size, known once a corpus is "
                           "read: build this model with sn_text_model_from_spec (or 'scratchnet "
                           "train SPEC --text FILE')",
                           w[0]);
    return sn_model_add_words(m, n, w, err);
}

/* One line of n > 0 words: pass 0 reads the [train] section, pass 1 the
 * network; both the section headers. */
static sn_status spec_line(spec_state *p, int pass, int n, char **w, sn_error *err) {
    if (strcmp(w[0], "[train]") == 0 || strcmp(w[0], "[text]") == 0) {
        p->part = strcmp(w[0], "[train]") == 0 ? TRAIN : TEXT;
        if (n != 1) return sn_fail(err, SN_ERR_FORMAT, "unexpected text after %s", w[0]);
        return SN_OK;
    }
    if (w[0][0] == '[')
        return sn_fail(err, SN_ERR_FORMAT, "unknown section '%s' (expected [train] or [text])",
                       w[0]);
    if (p->part == TEXT) return SN_OK;
    if (p->part == TRAIN)
        return pass == 0 ? sn_train_config_parse_line(&p->m->cfg, &p->set, n, w, err) : SN_OK;
    return pass == 1 ? net_line(p, n, w, err) : SN_OK;
}

/* What a whole spec must have. */
static sn_status spec_complete(const spec_state *p, const char *name, sn_error *err) {
    const sn_model *m = p->m;
    if (!p->have_input) return sn_fail(err, SN_ERR_FORMAT, "%s: no 'input SHAPE' line", name);
    if (m->nlayers == 0) return sn_fail(err, SN_ERR_FORMAT, "%s: no layers after 'input'", name);
    if (!p->have_loss)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: no 'loss' line after the layers (expected e.g. 'loss softmax_xent')",
                       name);
    const sn_layer *last = m->layers[m->nlayers - 1];
    if (last->out_ndim != 1)
        return sn_fail(err, SN_ERR_SHAPE,
                       "%s: the last layer's output has %d dimensions; the loss needs a vector "
                       "(add 'flatten' and 'dense')",
                       name, last->out_ndim);
    if (m->loss == SN_LOSS_SOFTMAX_XENT && last->out_shape[0] < 2)
        return sn_fail(err, SN_ERR_SHAPE,
                       "%s: softmax_xent needs at least 2 outputs, the last layer has %d", name,
                       last->out_shape[0]);
    return SN_OK;
}

/* Both passes over the lines (the [train] section first: its seed
 * initializes the weights); *lineno: where it stopped. */
static sn_status spec_passes(spec_state *p, const char *text, char *copy, size_t len, uint64_t seed,
                             int *lineno, sn_error *err) {
    sn_status s = SN_OK;
    for (int pass = 0; pass < 2 && s == SN_OK; pass++) {
        memcpy(copy, text, len + 1);
        p->part = NET;
        *lineno = 0;
        for (char *save = copy; s == SN_OK && save;) {
            char *line = save, *nl = strchr(line, '\n');
            save = nl ? nl + 1 : NULL;
            if (nl) *nl = 0;
            ++*lineno;
            char *w[MAX_WORDS];
            int n = split_words(line, w, MAX_WORDS);
            if (n < 0) s = sn_fail(err, SN_ERR_FORMAT, "too many words on the line");
            if (n > 0) s = spec_line(p, pass, n, w, err);
        }
        if (pass == 0 && s == SN_OK) {
            if (seed) p->m->cfg.seed = seed;
            sn_rng_seed(&p->m->rng, p->m->cfg.seed, 0x5eed);
        }
    }
    return s;
}

sn_status sn_model_from_spec(const char *text, const char *name, uint64_t seed, sn_model **out,
                             sn_error *err) {
    *out = NULL;
    size_t len = strlen(text);
    sn_model *m = sn_alloc(1, sizeof *m);
    char *copy = sn_alloc(len + 1, 1);
    if (m) m->spec = sn_alloc(len + 1, 1);
    if (!m || !copy || !m->spec) {
        sn_free(copy);
        sn_model_free(m);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(m->spec, text, len);
    sn_train_config_defaults(&m->cfg);
    /* A [text] section (text_spec.c) is checked here and skipped below. */
    sn_text_spec text_part;
    sn_status s = strstr(text, "[text]") ? sn_text_spec_parse(text, name, &text_part, err) : SN_OK;
    spec_state p = {.m = m};
    int lineno = 0;
    if (s == SN_OK) {
        s = spec_passes(&p, text, copy, len, seed, &lineno, err);
        if (s != SN_OK)
            sn_wrap(err, "%s:%d", name, lineno);
        else
            s = spec_complete(&p, name, err);
    }
    sn_free(copy);
    if (s != SN_OK) {
        sn_model_free(m);
        return s;
    }
    *out = m;
    return SN_OK;
}

sn_status sn_model_from_file(const char *path, uint64_t seed, sn_model **out, sn_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    sn_status s = SN_OK;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            if (cap > (1u << 24)) {
                s = sn_fail(err, SN_ERR_FORMAT, "%s: larger than 16 MiB, not a spec", path);
                break;
            }
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(text, cap);
            if (!t) {
                s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            text = t;
        }
        size_t got = fread(text + len, 1, 4096, f);
        len += got;
        if (got < 4096) break;
    }
    if (s == SN_OK && ferror(f)) s = sn_fail(err, SN_ERR_IO, "%s: read error", path);
    fclose(f);
    if (s == SN_OK) {
        text[len] = 0;
        if (strlen(text) != len)
            s = sn_fail(err, SN_ERR_FORMAT, "%s: byte %zu: NUL byte in a text file", path,
                        strlen(text));
        else
            s = sn_model_from_spec(text, path, seed, out, err);
    }
    free(text);
    return s;
}
