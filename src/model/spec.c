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
 * Choosing an optimizer sets PyTorch's defaults for what the spec does not
 * give (lr 1e-3 for adam/adamw, else 1e-2; eps 1e-10 for adagrad, else 1e-8;
 * weight_decay 1e-2 for adamw). Every error names "file:line:" and what was
 * expected. */
#include "model/model.h"
#include "optim/optim.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 16

static void config_defaults(sn_train_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->optimizer, sizeof c->optimizer, "sgd");
    c->lr = 0.01f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->alpha = 0.99f;
    c->batch = 32;
    c->epochs = 10;
    c->seed = 42;
    snprintf(c->monitor, sizeof c->monitor, "val_loss");
    c->restore_best = 1;
    c->max_grad_norm = 1e6f;
    c->max_loss_ratio = 1e4f;
    sn_schedule_config *k = &c->schedule;
    snprintf(k->kind, sizeof k->kind, "none");
    k->gamma = 0.1f;
    k->start_factor = 1.0f / 3.0f;
    k->end_factor = 1.0f;
    k->total_iters = 5;
    k->factor = 0.1f;
    k->patience = 10;
    k->threshold = 1e-4f;
    snprintf(k->monitor, sizeof k->monitor, "val_loss");
    k->warmup_start = 0.01f;
}

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

enum { SET_LR = 1, SET_EPS = 2, SET_WD = 4 };

static int is_monitor(const char *v) {
    return strcmp(v, "val_loss") == 0 || strcmp(v, "val_acc") == 0 ||
           strcmp(v, "train_loss") == 0 || strcmp(v, "train_acc") == 0;
}

/* The keys of a `schedule KIND ...` line. */
static sn_status schedule_key(sn_schedule_config *k, const char *key, const char *val,
                              sn_error *err) {
    double v;
    if (strcmp(key, "monitor") == 0) {
        if (!is_monitor(val))
            return sn_fail(err, SN_ERR_FORMAT,
                           "monitor: expected val_loss, val_acc, train_loss or train_acc, got "
                           "'%s'",
                           val);
        snprintf(k->monitor, sizeof k->monitor, "%s", val);
        return SN_OK;
    }
    if (strcmp(key, "threshold_mode") == 0) {
        if (strcmp(val, "rel") != 0 && strcmp(val, "abs") != 0)
            return sn_fail(err, SN_ERR_FORMAT, "threshold_mode: expected rel or abs, got '%s'",
                           val);
        k->threshold_abs = strcmp(val, "abs") == 0;
        return SN_OK;
    }
    if (strcmp(key, "milestones") == 0) {
        k->nmilestones = 0;
        for (const char *p = val; *p;) {
            char *end;
            errno = 0;
            long e = strtol(p, &end, 10);
            if (end == p || errno || e < 1 || e > (1L << 30) || (*end && *end != ',') ||
                k->nmilestones == 16)
                return sn_fail(err, SN_ERR_FORMAT,
                               "milestones: expected up to 16 positive epochs like 30,80, got "
                               "'%s'",
                               val);
            k->milestones[k->nmilestones++] = (int)e;
            p = *end ? end + 1 : end;
        }
        return SN_OK;
    }
    if (!parse_num(val, &v))
        return sn_fail(err, SN_ERR_FORMAT, "%s: '%s' is not a number", key, val);
    int is_int = v == floor(v) && fabs(v) < 1e9;
    if (strcmp(key, "gamma") == 0 && v > 0)
        k->gamma = (float)v;
    else if (strcmp(key, "step_size") == 0 && is_int && v >= 1)
        k->step_size = (int)v;
    else if (strcmp(key, "t_max") == 0 && is_int && v >= 1)
        k->t_max = (int)v;
    else if (strcmp(key, "eta_min") == 0 && v >= 0)
        k->eta_min = (float)v;
    else if (strcmp(key, "start_factor") == 0 && v > 0 && v <= 1)
        k->start_factor = (float)v;
    else if (strcmp(key, "end_factor") == 0 && v >= 0 && v <= 1)
        k->end_factor = (float)v;
    else if (strcmp(key, "total_iters") == 0 && is_int && v >= 1)
        k->total_iters = (int)v;
    else if (strcmp(key, "factor") == 0 && v > 0 && v < 1)
        k->factor = (float)v;
    else if (strcmp(key, "patience") == 0 && is_int && v >= 0)
        k->patience = (int)v;
    else if (strcmp(key, "threshold") == 0 && v >= 0)
        k->threshold = (float)v;
    else if (strcmp(key, "cooldown") == 0 && is_int && v >= 0)
        k->cooldown = (int)v;
    else if (strcmp(key, "min_lr") == 0 && v >= 0)
        k->min_lr = (float)v;
    else
        return sn_fail(err, SN_ERR_FORMAT, "schedule %s: '%s=%s' is unknown or out of range",
                       k->kind, key, val);
    return SN_OK;
}

/* The keys of `warmup`, `clip` and `early_stop` lines. */
static sn_status group_key(sn_train_config *c, const char *line, const char *key, const char *val,
                           sn_error *err) {
    double v;
    if (strcmp(line, "early_stop") == 0 && strcmp(key, "monitor") == 0) {
        if (!is_monitor(val))
            return sn_fail(err, SN_ERR_FORMAT,
                           "monitor: expected val_loss, val_acc, train_loss or train_acc, got "
                           "'%s'",
                           val);
        snprintf(c->monitor, sizeof c->monitor, "%s", val);
        return SN_OK;
    }
    if (!parse_num(val, &v))
        return sn_fail(err, SN_ERR_FORMAT, "%s: '%s' is not a number", key, val);
    int is_int = v == floor(v) && fabs(v) < 1e9;
    if (strcmp(line, "warmup") == 0) {
        if (strcmp(key, "epochs") == 0 && is_int && v >= 0)
            c->schedule.warmup_epochs = (int)v;
        else if (strcmp(key, "steps") == 0 && is_int && v >= 0)
            c->schedule.warmup_steps = (int)v;
        else if (strcmp(key, "start_factor") == 0 && v > 0 && v <= 1)
            c->schedule.warmup_start = (float)v;
        else
            goto bad;
    } else if (strcmp(line, "clip") == 0) {
        if (strcmp(key, "value") == 0 && v >= 0)
            c->clip_value = (float)v;
        else if (strcmp(key, "norm") == 0 && v >= 0)
            c->clip_norm = (float)v;
        else
            goto bad;
    } else {
        if (strcmp(key, "patience") == 0 && is_int && v >= 0)
            c->patience = (int)v;
        else if (strcmp(key, "min_delta") == 0 && v >= 0)
            c->min_delta = (float)v;
        else if (strcmp(key, "restore") == 0 && (v == 0 || v == 1))
            c->restore_best = (int)v;
        else
            goto bad;
    }
    return SN_OK;
bad:
    return sn_fail(err, SN_ERR_FORMAT, "%s: '%s=%s' is unknown or out of range", line, key, val);
}

/* PyTorch's defaults of each optimizer, for what the spec has not set. */
static void optimizer_defaults(sn_train_config *c, unsigned set) {
    int adam = strcmp(c->optimizer, "adam") == 0 || strcmp(c->optimizer, "adamw") == 0;
    if (!(set & SET_LR)) c->lr = adam ? 1e-3f : 1e-2f;
    if (!(set & SET_EPS)) c->eps = strcmp(c->optimizer, "adagrad") == 0 ? 1e-10f : 1e-8f;
    if (!(set & SET_WD)) c->weight_decay = strcmp(c->optimizer, "adamw") == 0 ? 1e-2f : 0.0f;
}

/* One [train] line: "key value", "optimizer NAME k=v ...", "schedule KIND
 * k=v ...", or "warmup|clip|early_stop k=v ...". */
static sn_status parse_train_line(sn_train_config *c, unsigned *set, int n, char **w,
                                  sn_error *err) {
    const char *key = w[0];
    double v;
    char buf[64], *one[2];
    int group =
        strcmp(key, "early_stop") == 0 || strcmp(key, "warmup") == 0 || strcmp(key, "clip") == 0;
    if (strcmp(key, "optimizer") == 0) {
        if (n < 2 || strchr(w[1], '='))
            return sn_fail(err, SN_ERR_FORMAT,
                           "optimizer: expected a name (sgd, adagrad, rmsprop, adam, adamw)");
        if (sn_optim_parse(w[1]) < 0)
            return sn_fail(err, SN_ERR_FORMAT,
                           "unknown optimizer '%s' (expected sgd, adagrad, rmsprop, adam or adamw)",
                           w[1]);
        snprintf(c->optimizer, sizeof c->optimizer, "%s", w[1]);
        optimizer_defaults(c, *set);
        w++, n--;
    } else if (strcmp(key, "schedule") == 0) {
        sn_schedule_config *k = &c->schedule;
        if (n < 2 || strchr(w[1], '='))
            return sn_fail(err, SN_ERR_FORMAT,
                           "schedule: expected a kind (step, multistep, exponential, cosine, "
                           "linear, plateau, none)");
        const char *kinds[] = {"none",   "step",   "multistep", "exponential",
                               "cosine", "linear", "plateau"};
        int found = 0;
        for (int i = 0; i < 7; i++) found |= strcmp(w[1], kinds[i]) == 0;
        if (!found)
            return sn_fail(err, SN_ERR_FORMAT,
                           "unknown schedule '%s' (expected step, multistep, exponential, "
                           "cosine, linear, plateau or none)",
                           w[1]);
        snprintf(k->kind, sizeof k->kind, "%s", w[1]);
        for (int i = 2; i < n; i++) {
            char *eq = strchr(w[i], '=');
            if (!eq) return sn_fail(err, SN_ERR_FORMAT, "expected key=value, got '%s'", w[i]);
            *eq = 0;
            sn_status s = schedule_key(k, w[i], eq + 1, err);
            if (s != SN_OK) return s;
        }
        if (strcmp(k->kind, "step") == 0 && k->step_size < 1)
            return sn_fail(err, SN_ERR_FORMAT, "schedule step: give step_size=EPOCHS");
        if (strcmp(k->kind, "multistep") == 0 && k->nmilestones < 1)
            return sn_fail(err, SN_ERR_FORMAT, "schedule multistep: give milestones=E1,E2,...");
        return SN_OK;
    } else if (group) {
        if (n < 2) return sn_fail(err, SN_ERR_FORMAT, "%s: expected key=value options", key);
        for (int i = 1; i < n; i++) {
            char *eq = strchr(w[i], '=');
            if (!eq) return sn_fail(err, SN_ERR_FORMAT, "expected key=value, got '%s'", w[i]);
            *eq = 0;
            sn_status s = group_key(c, key, w[i], eq + 1, err);
            if (s != SN_OK) return s;
        }
        if (strcmp(key, "early_stop") == 0 && c->patience < 1)
            return sn_fail(err, SN_ERR_FORMAT, "early_stop: give patience=EPOCHS (>= 1)");
        return SN_OK;
    } else if (strcmp(key, "skip_nonfinite") == 0 && n == 2 &&
               (strcmp(w[1], "yes") == 0 || strcmp(w[1], "no") == 0)) {
        c->skip_nonfinite = w[1][0] == 'y';
        return SN_OK;
    } else if (strcmp(key, "standardize") == 0 && n == 2 &&
               (strcmp(w[1], "yes") == 0 || strcmp(w[1], "no") == 0)) {
        c->standardize = w[1][0] == 'y';
        return SN_OK;
    } else {
        /* "lr 0.1", "batch 128", ...: rewrite as the key=value form below. */
        if (n != 2) return sn_fail(err, SN_ERR_FORMAT, "%s: expected one value", key);
        if (!parse_num(w[1], &v))
            return sn_fail(err, SN_ERR_FORMAT, "%s: '%s' is not a number", key, w[1]);
        snprintf(buf, sizeof buf, "%s=%s", key, w[1]);
        one[0] = w[0];
        one[1] = buf;
        w = one, n = 2;
    }
    for (int i = 1; i < n; i++) {
        char *eq = strchr(w[i], '=');
        if (!eq) return sn_fail(err, SN_ERR_FORMAT, "expected key=value, got '%s'", w[i]);
        *eq = 0;
        const char *k = w[i], *val = eq + 1;
        if (!parse_num(val, &v))
            return sn_fail(err, SN_ERR_FORMAT, "%s: '%s' is not a number", k, val);
        int is_int = v == floor(v);
        if (strcmp(k, "lr") == 0 && v > 0)
            c->lr = (float)v, *set |= SET_LR;
        else if (strcmp(k, "momentum") == 0 && v >= 0 && v < 1)
            c->momentum = (float)v;
        else if (strcmp(k, "nesterov") == 0 && (v == 0 || v == 1))
            c->nesterov = (int)v;
        else if (strcmp(k, "dampening") == 0 && v >= 0 && v <= 1)
            c->dampening = (float)v;
        else if (strcmp(k, "decay") == 0 && v >= 0)
            c->decay = (float)v;
        else if (strcmp(k, "beta1") == 0 && v >= 0 && v < 1)
            c->beta1 = (float)v;
        else if (strcmp(k, "beta2") == 0 && v >= 0 && v < 1)
            c->beta2 = (float)v;
        else if ((strcmp(k, "eps") == 0 || strcmp(k, "epsilon") == 0) && v > 0)
            c->eps = (float)v, *set |= SET_EPS;
        else if (strcmp(k, "weight_decay") == 0 && v >= 0)
            c->weight_decay = (float)v, *set |= SET_WD;
        else if ((strcmp(k, "alpha") == 0 || strcmp(k, "rho") == 0) && v >= 0 && v <= 1)
            c->alpha = (float)v;
        else if (strcmp(k, "centered") == 0 && (v == 0 || v == 1))
            c->centered = (int)v;
        else if (strcmp(k, "lr_decay") == 0 && v >= 0)
            c->lr_decay = (float)v;
        else if (strcmp(k, "initial_accumulator_value") == 0 && v >= 0)
            c->initial_accumulator_value = (float)v;
        else if (strcmp(k, "l1") == 0 && v >= 0)
            c->l1 = (float)v;
        else if (strcmp(k, "l2") == 0 && v >= 0)
            c->l2 = (float)v;
        else if (strcmp(k, "batch") == 0 && is_int && v >= 1 && v <= 1 << 20)
            c->batch = (int)v;
        else if (strcmp(k, "epochs") == 0 && is_int && v >= 0 && v <= 1e7)
            c->epochs = (int)v;
        else if (strcmp(k, "val_split") == 0 && v >= 0 && v < 1)
            c->val_split = (float)v;
        else if (strcmp(k, "seed") == 0 && is_int && v >= 0 && v < 1.8e19)
            c->seed = (uint64_t)v;
        else if (strcmp(k, "patience") == 0 && is_int && v >= 0)
            c->patience = (int)v;
        else if (strcmp(k, "min_delta") == 0 && v >= 0)
            c->min_delta = (float)v;
        else if (strcmp(k, "skip_nonfinite") == 0 && (v == 0 || v == 1))
            c->skip_nonfinite = (int)v;
        else if (strcmp(k, "max_grad_norm") == 0 && v >= 0 && v <= FLT_MAX)
            c->max_grad_norm = (float)v;
        else if (strcmp(k, "max_loss_ratio") == 0 && v >= 0 && v <= FLT_MAX)
            c->max_loss_ratio = (float)v;
        else
            return sn_fail(err, SN_ERR_FORMAT, "'%s=%s' is unknown or out of range", k, val);
    }
    return SN_OK;
}

sn_status sn_model_from_spec(const char *text, const char *name, uint64_t seed, sn_model **out,
                             sn_error *err) {
    *out = NULL;
    sn_model *m = sn_alloc(1, sizeof *m);
    size_t len = strlen(text);
    char *copy = sn_alloc(len + 1, 1);
    m = m && copy ? m : (sn_free(m), NULL);
    if (!m) {
        sn_free(copy);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(copy, text, len);
    config_defaults(&m->cfg);
    m->spec = sn_alloc(len + 1, 1);
    if (!m->spec) {
        sn_free(copy);
        sn_model_free(m);
        return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(m->spec, text, len);

    /* A [text] section (text_spec.c) is checked here and skipped below. */
    sn_text_spec text_part;
    sn_status s = strstr(text, "[text]") ? sn_text_spec_parse(text, name, &text_part, err) : SN_OK;
    if (s != SN_OK) {
        sn_free(copy);
        sn_model_free(m);
        return s;
    }
    /* First pass: the [train] section (its seed initializes the weights). */
    enum { NET, LOSS_SEEN, TRAIN, TEXT } part = NET;
    int lineno = 0, have_input = 0, have_loss = 0, pass;
    unsigned set = 0; /* [train] values given explicitly */
    for (pass = 0; pass < 2 && s == SN_OK; pass++) {
        memcpy(copy, text, len + 1);
        part = NET;
        lineno = 0;
        char *save = copy;
        while (s == SN_OK && save) {
            char *line = save;
            char *nl = strchr(line, '\n');
            save = nl ? nl + 1 : NULL;
            if (nl) *nl = 0;
            lineno++;
            char *w[MAX_WORDS];
            int n = split_words(line, w, MAX_WORDS);
            if (n < 0) {
                s = sn_fail(err, SN_ERR_FORMAT, "too many words on the line");
                break;
            }
            if (n == 0) continue;
            if (strcmp(w[0], "[train]") == 0) {
                if (n != 1) s = sn_fail(err, SN_ERR_FORMAT, "unexpected text after [train]");
                part = TRAIN;
                continue;
            }
            if (strcmp(w[0], "[text]") == 0) {
                if (n != 1) s = sn_fail(err, SN_ERR_FORMAT, "unexpected text after [text]");
                part = TEXT;
                continue;
            }
            if (w[0][0] == '[') {
                s = sn_fail(err, SN_ERR_FORMAT, "unknown section '%s' (expected [train] or [text])",
                            w[0]);
                break;
            }
            if (part == TEXT) continue;
            if (part == TRAIN) {
                if (pass == 0) s = parse_train_line(&m->cfg, &set, n, w, err);
                continue;
            }
            if (pass == 0) continue;
            if (strcmp(w[0], "input") == 0) {
                if (have_input)
                    s = sn_fail(err, SN_ERR_FORMAT, "a second 'input' line");
                else if (n != 2 || !parse_shape(w[1], &m->in_ndim, m->in_shape))
                    s = sn_fail(err, SN_ERR_FORMAT,
                                "input: expected a shape such as 784 or 1x28x28");
                else
                    s = check_input_size(w[1], m->in_ndim, m->in_shape, err);
                have_input = 1;
            } else if (!have_input) {
                s = sn_fail(err, SN_ERR_FORMAT,
                            "expected 'input SHAPE' (e.g. 'input 1x28x28') before '%s'", w[0]);
            } else if (part == LOSS_SEEN) {
                s = sn_fail(err, SN_ERR_FORMAT,
                            "'%s' after the loss line (the loss comes last, then [train])", w[0]);
            } else if (strcmp(w[0], "loss") == 0) {
                if (n != 2)
                    s = sn_fail(err, SN_ERR_FORMAT,
                                "loss: expected one name (mse, bce, bce_logits, softmax_xent)");
                else
                    s = sn_loss_parse(w[1], &m->loss, err);
                have_loss = 1;
                part = LOSS_SEEN;
            } else {
                for (int i = 1; i < n && s == SN_OK; i++)
                    if (strcmp(w[i], "vocab") == 0)
                        s = sn_fail(err, SN_ERR_FORMAT,
                                    "%s: 'vocab' stands for the vocabulary size, known once a "
                                    "corpus is read: build this model with "
                                    "sn_text_model_from_spec (or 'scratchnet train SPEC --text "
                                    "FILE')",
                                    w[0]);
                if (s == SN_OK) s = sn_model_add_words(m, n, w, err);
            }
        }
        if (pass == 0 && s == SN_OK) {
            if (seed) m->cfg.seed = seed;
            sn_rng_seed(&m->rng, m->cfg.seed, 0x5eed);
        }
    }
    if (s != SN_OK) {
        sn_wrap(err, "%s:%d", name, lineno);
    } else if (!have_input) {
        s = sn_fail(err, SN_ERR_FORMAT, "%s: no 'input SHAPE' line", name);
    } else if (m->nlayers == 0) {
        s = sn_fail(err, SN_ERR_FORMAT, "%s: no layers after 'input'", name);
    } else if (!have_loss) {
        s = sn_fail(err, SN_ERR_FORMAT,
                    "%s: no 'loss' line after the layers (expected e.g. 'loss softmax_xent')",
                    name);
    } else {
        const sn_layer *last = m->layers[m->nlayers - 1];
        if (last->out_ndim != 1)
            s = sn_fail(err, SN_ERR_SHAPE,
                        "%s: the last layer's output has %d dimensions; the loss needs a vector "
                        "(add 'flatten' and 'dense')",
                        name, last->out_ndim);
        else if (m->loss == SN_LOSS_SOFTMAX_XENT && last->out_shape[0] < 2)
            s = sn_fail(err, SN_ERR_SHAPE,
                        "%s: softmax_xent needs at least 2 outputs, the last layer has %d", name,
                        last->out_shape[0]);
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
