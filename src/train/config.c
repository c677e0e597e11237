/* The [train] keys of a model spec: one row each in sn_train_keys, which
 * gives the key's name, where a spec writes it, its type, field, range and
 * default. The parser (called by src/model/spec.c), the defaults, the
 * checkpoint's "config" field (src/train/checkpoint.c) and the run.txt lines
 * (sn_train_config_lines) are all made from it. The checkpoint's order and
 * names are those of its format "scratchnet-checkpoint-1": rows are added,
 * never renamed. */
#include "train/config.h"

#include "core/error.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const optimizers[] = {"sgd", "adagrad", "rmsprop", "adam", "adamw", NULL};
static const char *const schedules[] = {"none",   "step",   "multistep", "exponential",
                                        "cosine", "linear", "plateau",   NULL};
static const char *const monitors[] = {"val_loss", "val_acc", "train_loss", "train_acc", NULL};
static const char *const modes[] = {"rel", "abs", NULL};

#define C(f) offsetof(sn_train_config, f)
#define S(f) offsetof(sn_train_config, schedule.f)
#define INF  HUGE_VAL
#define F    SN_KEY_FLOAT
#define I    SN_KEY_INT
#define B    SN_KEY_BOOL
#define HEAD SN_KEY_HEAD
#define TOP  SN_KEY_ALSO_TOP
#define MAY  SN_KEY_MAY_CHANGE

/* clang-format off */
const sn_train_key sn_train_keys[] = {
/*   name                         line         key          alias      type          field                          range             choices     default       example  flags */
    {"optimizer",                 "optimizer", NULL,        NULL,      SN_KEY_CHOICE, C(optimizer),                 "[]", 0, 0,       optimizers, "sgd",       "adam",      HEAD},
    {"lr",                        NULL,        NULL,        NULL,      F, C(lr),                                    "(]", 0, FLT_MAX, NULL,       "0.01",      "0.25",      0},
    {"momentum",                  NULL,        NULL,        NULL,      F, C(momentum),                              "[)", 0, 1,       NULL,       "0",         "0.9",       0},
    {"nesterov",                  NULL,        NULL,        NULL,      B, C(nesterov),                              "[]", 0, 1,       NULL,       "0",         "1",         0},
    {"decay",                     NULL,        NULL,        NULL,      F, C(decay),                                 "[]", 0, FLT_MAX, NULL,       "0",         "1e-4",      0},
    {"beta1",                     NULL,        NULL,        NULL,      F, C(beta1),                                 "[)", 0, 1,       NULL,       "0.9",       "0.8",       0},
    {"beta2",                     NULL,        NULL,        NULL,      F, C(beta2),                                 "[)", 0, 1,       NULL,       "0.999",     "0.99",      0},
    {"eps",                       NULL,        NULL,        "epsilon", F, C(eps),                                   "(]", 0, FLT_MAX, NULL,       "1e-8",      "1e-6",      0},
    {"weight_decay",              NULL,        NULL,        NULL,      F, C(weight_decay),                          "[]", 0, FLT_MAX, NULL,       "0",         "0.05",      0},
    {"batch",                     NULL,        NULL,        NULL,      I, C(batch),                                 "[]", 1, 1 << 20, NULL,       "32",        "24",        0},
    {"epochs",                    NULL,        NULL,        NULL,      I, C(epochs),                                "[]", 0, 1e7,     NULL,       "10",        "3",         MAY},
    {"val_split",                 NULL,        NULL,        NULL,      F, C(val_split),                             "[)", 0, 1,       NULL,       "0",         "0.2",       0},
    {"patience",                  "early_stop", NULL,       NULL,      I, C(patience),                              "[]", 0, INF,     NULL,       "0",         "4",         TOP},
    {"min_delta",                 "early_stop", NULL,       NULL,      F, C(min_delta),                             "[]", 0, FLT_MAX, NULL,       "0",         "0.01",      TOP},
    {"seed",                      NULL,        NULL,        NULL,      SN_KEY_U64, C(seed),                         "[]", 0, 0,       NULL,       "42",        "7",         0},
    {"dampening",                 NULL,        NULL,        NULL,      F, C(dampening),                             "[]", 0, 1,       NULL,       "0",         "0.1",       0},
    {"alpha",                     NULL,        NULL,        "rho",     F, C(alpha),                                 "[]", 0, 1,       NULL,       "0.99",      "0.95",      0},
    {"centered",                  NULL,        NULL,        NULL,      B, C(centered),                              "[]", 0, 1,       NULL,       "0",         "1",         0},
    {"lr_decay",                  NULL,        NULL,        NULL,      F, C(lr_decay),                              "[]", 0, FLT_MAX, NULL,       "0",         "0.01",      0},
    {"initial_accumulator_value", NULL,        NULL,        NULL,      F, C(initial_accumulator_value),             "[]", 0, FLT_MAX, NULL,       "0",         "0.1",       0},
    {"l1",                        NULL,        NULL,        NULL,      F, C(l1),                                    "[]", 0, FLT_MAX, NULL,       "0",         "1e-5",      0},
    {"l2",                        NULL,        NULL,        NULL,      F, C(l2),                                    "[]", 0, FLT_MAX, NULL,       "0",         "1e-4",      0},
    {"clip_value",                "clip",      "value",     NULL,      F, C(clip_value),                            "[]", 0, FLT_MAX, NULL,       "0",         "5",         0},
    {"clip_norm",                 "clip",      "norm",      NULL,      F, C(clip_norm),                             "[]", 0, FLT_MAX, NULL,       "0",         "1",         0},
    {"monitor",                   "early_stop", NULL,       NULL,      SN_KEY_CHOICE, C(monitor),                   "[]", 0, 0,       monitors,   "val_loss",  "val_acc",   0},
    {"restore_best",              "early_stop", "restore",  NULL,      B, C(restore_best),                          "[]", 0, 1,       NULL,       "1",         "0",         0},
    {"schedule",                  "schedule",  NULL,        NULL,      SN_KEY_CHOICE, S(kind),                      "[]", 0, 0,       schedules,  "none",      "multistep", HEAD},
    {"gamma",                     "schedule",  NULL,        NULL,      F, S(gamma),                                 "(]", 0, FLT_MAX, NULL,       "0.1",       "0.5",       0},
    {"step_size",                 "schedule",  NULL,        NULL,      I, S(step_size),                             "[]", 1, 1e9,     NULL,       "0",         "3",         0},
    {"milestones",                "schedule",  NULL,        NULL,      SN_KEY_LIST, S(milestones),                  "[]", 1, 1 << 30, NULL,       "-",         "3,7,11",    0},
    {"t_max",                     "schedule",  NULL,        NULL,      I, S(t_max),                                 "[]", 1, 1e9,     NULL,       "0",         "50",        0},
    {"eta_min",                   "schedule",  NULL,        NULL,      F, S(eta_min),                               "[]", 0, FLT_MAX, NULL,       "0",         "1e-5",      0},
    {"start_factor",              "schedule",  NULL,        NULL,      F, S(start_factor),                          "(]", 0, 1,       NULL,       "0.333333343", "0.5",     0},
    {"end_factor",                "schedule",  NULL,        NULL,      F, S(end_factor),                            "[]", 0, 1,       NULL,       "1",         "0.25",      0},
    {"total_iters",               "schedule",  NULL,        NULL,      I, S(total_iters),                           "[]", 1, 1e9,     NULL,       "5",         "8",         0},
    {"factor",                    "schedule",  NULL,        NULL,      F, S(factor),                                "()", 0, 1,       NULL,       "0.1",       "0.3",       0},
    {"plateau_patience",          "schedule",  "patience",  NULL,      I, S(patience),                              "[]", 0, 1e9,     NULL,       "10",        "2",         0},
    {"threshold",                 "schedule",  NULL,        NULL,      F, S(threshold),                             "[]", 0, FLT_MAX, NULL,       "1e-4",      "0.01",      0},
    {"threshold_abs",             "schedule",  "threshold_mode", NULL, SN_KEY_MODE, S(threshold_abs),               "[]", 0, 1,       modes,      "rel",       "abs",       0},
    {"cooldown",                  "schedule",  NULL,        NULL,      I, S(cooldown),                              "[]", 0, 1e9,     NULL,       "0",         "1",         0},
    {"min_lr",                    "schedule",  NULL,        NULL,      F, S(min_lr),                                "[]", 0, FLT_MAX, NULL,       "0",         "1e-6",      0},
    {"plateau_monitor",           "schedule",  "monitor",   NULL,      SN_KEY_CHOICE, S(monitor),                   "[]", 0, 0,       monitors,   "val_loss",  "train_loss", 0},
    {"warmup_steps",              "warmup",    "steps",     NULL,      I, S(warmup_steps),                          "[]", 0, 1e9,     NULL,       "0",         "6",         0},
    {"warmup_epochs",             "warmup",    "epochs",    NULL,      I, S(warmup_epochs),                         "[]", 0, 1e9,     NULL,       "0",         "2",         0},
    {"warmup_start",              "warmup",    "start_factor", NULL,   F, S(warmup_start),                          "(]", 0, 1,       NULL,       "0.01",      "0.1",       0},
    {"skip_nonfinite",            NULL,        NULL,        NULL,      B, C(skip_nonfinite),                        "[]", 0, 1,       NULL,       "0",         "1",         MAY},
    {"max_grad_norm",             NULL,        NULL,        NULL,      F, C(max_grad_norm),                         "[]", 0, FLT_MAX, NULL,       "1e6",       "1e5",       0},
    {"max_loss_ratio",            NULL,        NULL,        NULL,      F, C(max_loss_ratio),                        "[]", 0, FLT_MAX, NULL,       "1e4",       "50",        0},
    {"standardize",               NULL,        NULL,        NULL,      B, C(standardize),                           "[]", 0, 1,       NULL,       "0",         "1",         0},
};
/* clang-format on */
const int sn_train_nkeys = (int)(sizeof sn_train_keys / sizeof sn_train_keys[0]);
_Static_assert(sizeof sn_train_keys / sizeof sn_train_keys[0] <= 64,
               "a key is a bit of a uint64_t");

#undef F
#undef I
#undef B

static void *field(const sn_train_key *k, sn_train_config *c) {
    return (char *)c + k->offset;
}
static const void *cfield(const sn_train_key *k, const sn_train_config *c) {
    return (const char *)c + k->offset;
}

void sn_train_key_spec_name(const sn_train_key *k, char *buf, size_t len) {
    snprintf(buf, len, "%s", k->key ? k->key : k->name);
}

/* ---- values as text ---------------------------------------------------------- */

/* The fewest digits (at least %g's six) that read back to the same float. */
static void float_text(float v, char *buf, size_t len) {
    for (int p = 6; p < 9; p++) {
        snprintf(buf, len, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
    snprintf(buf, len, "%.9g", (double)v);
}

void sn_train_key_format(const sn_train_key *k, const sn_train_config *c, int form, char *buf,
                         size_t len) {
    const void *p = cfield(k, c);
    int text = form == SN_FORM_TEXT;
    switch (k->type) {
    case SN_KEY_FLOAT:
        if (text)
            float_text(*(const float *)p, buf, len);
        else
            snprintf(buf, len, "%.9g", (double)*(const float *)p);
        break;
    case SN_KEY_INT:
        snprintf(buf, len, "%d", *(const int *)p);
        break;
    case SN_KEY_U64:
        snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p);
        break;
    case SN_KEY_BOOL:
        if (text)
            snprintf(buf, len, "%s", *(const int *)p ? "yes" : "no");
        else
            snprintf(buf, len, "%d", *(const int *)p);
        break;
    case SN_KEY_CHOICE:
        snprintf(buf, len, "%s", (const char *)p);
        break;
    case SN_KEY_MODE:
        if (text)
            snprintf(buf, len, "%s", k->choices[*(const int *)p ? 1 : 0]);
        else
            snprintf(buf, len, "%d", *(const int *)p);
        break;
    case SN_KEY_LIST: {
        const sn_schedule_config *s = &c->schedule;
        size_t at = 0;
        buf[0] = 0;
        for (int i = 0; i < s->nmilestones && i < 16 && at < len; i++)
            at += (size_t)snprintf(buf + at, len - at, "%s%d", i ? "," : "", s->milestones[i]);
        if (s->nmilestones == 0) snprintf(buf, len, "-");
        break;
    }
    }
}

/* "a number in [0, 1)", "an integer >= 1", ... */
static void range_text(const sn_train_key *k, char *buf, size_t len) {
    const char *what = k->type == SN_KEY_INT ? "an integer" : "a number";
    if (k->hi == INF || k->hi == FLT_MAX)
        snprintf(buf, len, "%s %s %g", what, k->bounds[0] == '[' ? ">=" : ">", k->lo);
    else
        snprintf(buf, len, "%s in %c%.10g, %.10g%c", what, k->bounds[0], k->lo, k->hi,
                 k->bounds[1]);
}

/* "a, b, c or d" */
static void choices_text(const char *const *ch, char *buf, size_t len) {
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; ch[i] && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s",
                               i == 0      ? ""
                               : ch[i + 1] ? ", "
                                           : " or ",
                               ch[i]);
}

static int parse_num(const char *s, double *v) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && *end == 0 && errno == 0 && isfinite(*v);
}

static int in_range(const sn_train_key *k, double v) {
    double hi = k->hi == INF && k->type == SN_KEY_INT ? 2147483647.0 : k->hi;
    int lo_ok = k->bounds[0] == '[' ? v >= k->lo : v > k->lo;
    int hi_ok = k->bounds[1] == ']' ? v <= hi : v < hi;
    return lo_ok && hi_ok;
}

static sn_status parse_list(const sn_train_key *k, sn_train_config *c, const char *val,
                            const char *name, sn_error *err) {
    sn_schedule_config *s = &c->schedule;
    int n = 0, ms[16];
    if (strcmp(val, "-") != 0)
        for (const char *p = val;;) {
            char *end;
            errno = 0;
            long e = strtol(p, &end, 10);
            if (end == p || errno || !in_range(k, (double)e) || (*end && *end != ',') || n == 16)
                return sn_fail(err, SN_ERR_FORMAT,
                               "%s: expected up to 16 positive epochs like 30,80, got '%s'", name,
                               val);
            ms[n++] = (int)e;
            if (!*end) break;
            p = end + 1;
        }
    memcpy(s->milestones, ms, sizeof(int) * (size_t)n);
    s->nmilestones = n;
    return SN_OK;
}

static int choice_index(const char *const *ch, const char *val) {
    for (int i = 0; ch[i]; i++)
        if (strcmp(ch[i], val) == 0) return i;
    return -1;
}

/* Names, or for a MODE also its index (a checkpoint's form). */
static sn_status parse_choice(const sn_train_key *k, void *p, const char *val, const char *name,
                              sn_error *err) {
    int i = choice_index(k->choices, val);
    if (k->type == SN_KEY_MODE && i < 0 && (strcmp(val, "0") == 0 || strcmp(val, "1") == 0))
        i = val[0] - '0';
    if (i < 0) {
        char list[160];
        choices_text(k->choices, list, sizeof list);
        if (k->flags & SN_KEY_HEAD)
            return sn_fail(err, SN_ERR_FORMAT, "unknown %s '%s' (expected %s)", name, val, list);
        return sn_fail(err, SN_ERR_FORMAT, "%s: expected %s, got '%s'", name, list, val);
    }
    if (k->type == SN_KEY_MODE)
        *(int *)p = i;
    else
        snprintf((char *)p, 16, "%s", k->choices[i]);
    return SN_OK;
}

static sn_status parse_value(const sn_train_key *k, sn_train_config *c, const char *val, int check,
                             sn_error *err) {
    char name[64], range[96];
    sn_train_key_spec_name(k, name, sizeof name);
    void *p = field(k, c);
    double v;
    switch (k->type) {
    case SN_KEY_CHOICE:
    case SN_KEY_MODE:
        return parse_choice(k, p, val, name, err);
    case SN_KEY_LIST:
        return parse_list(k, c, val, name, err);
    case SN_KEY_BOOL:
        if (strcmp(val, "yes") == 0 || strcmp(val, "1") == 0)
            *(int *)p = 1;
        else if (strcmp(val, "no") == 0 || strcmp(val, "0") == 0)
            *(int *)p = 0;
        else
            return sn_fail(err, SN_ERR_FORMAT, "%s: expected yes or no (1 or 0), got '%s'", name,
                           val);
        return SN_OK;
    case SN_KEY_U64: {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(val, &end, 10);
        if (end != val && *end == 0 && !errno && val[0] != '-') {
            *(uint64_t *)p = (uint64_t)u;
            return SN_OK;
        }
        if (parse_num(val, &v) && v == floor(v) && v >= 0 && v < 1.8e19) {
            *(uint64_t *)p = (uint64_t)v;
            return SN_OK;
        }
        return sn_fail(err, SN_ERR_FORMAT, "%s: expected an unsigned 64-bit integer, got '%s'",
                       name, val);
    }
    case SN_KEY_FLOAT:
    case SN_KEY_INT:
        break;
    }
    if (!parse_num(val, &v))
        return sn_fail(err, SN_ERR_FORMAT, "%s: '%s' is not a number", name, val);
    if (check && (!in_range(k, v) || (k->type == SN_KEY_INT && v != floor(v)))) {
        range_text(k, range, sizeof range);
        return sn_fail(err, SN_ERR_FORMAT, "%s=%s: expected %s", name, val, range);
    }
    if (k->type == SN_KEY_INT)
        *(int *)p = (int)v;
    else
        *(float *)p = (float)v;
    return SN_OK;
}

sn_status sn_train_key_parse(const sn_train_key *k, sn_train_config *c, const char *val,
                             sn_error *err) {
    return parse_value(k, c, val, 1, err);
}

void sn_train_config_defaults(sn_train_config *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < sn_train_nkeys; i++) /* defaults may lie outside the range (0: unset) */
        (void)parse_value(&sn_train_keys[i], c, sn_train_keys[i].def, 0, NULL);
}

/* ---- the [train] section --------------------------------------------------- */

static int key_index(const char *name) {
    for (int i = 0; i < sn_train_nkeys; i++)
        if (strcmp(sn_train_keys[i].name, name) == 0) return i;
    return -1;
}

/* The key `word` of line `line` (NULL: a line of its own or the optimizer's
 * options). */
static int find_key(const char *line, const char *word) {
    for (int i = 0; i < sn_train_nkeys; i++) {
        const sn_train_key *k = &sn_train_keys[i];
        if (k->flags & SN_KEY_HEAD) continue;
        const char *key = k->key ? k->key : k->name;
        int here =
            line ? k->line && strcmp(k->line, line) == 0 : !k->line || (k->flags & SN_KEY_ALSO_TOP);
        if (here && (strcmp(key, word) == 0 || (k->alias && strcmp(k->alias, word) == 0))) return i;
    }
    return -1;
}

static int find_head(const char *word) {
    for (int i = 0; i < sn_train_nkeys; i++)
        if ((sn_train_keys[i].flags & SN_KEY_HEAD) && strcmp(sn_train_keys[i].line, word) == 0)
            return i;
    return -1;
}

static int is_group(const char *word) {
    for (int i = 0; i < sn_train_nkeys; i++)
        if (sn_train_keys[i].line && strcmp(sn_train_keys[i].line, word) == 0) return 1;
    return 0;
}

/* PyTorch's defaults of each optimizer, for what the spec has not set. */
static void optimizer_defaults(sn_train_config *c, uint64_t set) {
    int adam = strcmp(c->optimizer, "adam") == 0 || strcmp(c->optimizer, "adamw") == 0;
    if (!(set & (1ull << key_index("lr")))) c->lr = adam ? 1e-3f : 1e-2f;
    if (!(set & (1ull << key_index("eps"))))
        c->eps = strcmp(c->optimizer, "adagrad") == 0 ? 1e-10f : 1e-8f;
    if (!(set & (1ull << key_index("weight_decay"))))
        c->weight_decay = strcmp(c->optimizer, "adamw") == 0 ? 1e-2f : 0.0f;
}

/* key=value words of line `line` (NULL: the optimizer's options). */
static sn_status parse_options(sn_train_config *c, uint64_t *set, const char *line, int n, char **w,
                               sn_error *err) {
    for (int i = 0; i < n; i++) {
        char *eq = strchr(w[i], '=');
        if (!eq) return sn_fail(err, SN_ERR_FORMAT, "expected key=value, got '%s'", w[i]);
        *eq = 0;
        int j = find_key(line, w[i]);
        if (j < 0) {
            *eq = '=';
            char keys[256] = "";
            for (int k = 0, at = 0; line && k < sn_train_nkeys; k++)
                if (sn_train_keys[k].line && !strcmp(sn_train_keys[k].line, line) &&
                    !(sn_train_keys[k].flags & SN_KEY_HEAD) && at < (int)sizeof keys)
                    at += snprintf(keys + at, sizeof keys - (size_t)at, "%s%s", at ? ", " : "",
                                   sn_train_keys[k].key ? sn_train_keys[k].key
                                                        : sn_train_keys[k].name);
            return sn_fail(err, SN_ERR_FORMAT, "%s%s'%s' is unknown%s%s%s", line ? line : "",
                           line ? ": " : "", w[i], line ? " (keys: " : "", keys, line ? ")" : "");
        }
        sn_status s = sn_train_key_parse(&sn_train_keys[j], c, eq + 1, err);
        if (s != SN_OK) return s;
        *set |= 1ull << j;
    }
    return SN_OK;
}

/* What a line's values must satisfy together. */
static sn_status check_line(const sn_train_config *c, const char *line, sn_error *err) {
    const sn_schedule_config *k = &c->schedule;
    if (strcmp(line, "schedule") == 0 && strcmp(k->kind, "step") == 0 && k->step_size < 1)
        return sn_fail(err, SN_ERR_FORMAT, "schedule step: give step_size=EPOCHS");
    if (strcmp(line, "schedule") == 0 && strcmp(k->kind, "multistep") == 0 && k->nmilestones < 1)
        return sn_fail(err, SN_ERR_FORMAT, "schedule multistep: give milestones=E1,E2,...");
    if (strcmp(line, "early_stop") == 0 && c->patience < 1)
        return sn_fail(err, SN_ERR_FORMAT, "early_stop: give patience=EPOCHS (>= 1)");
    return SN_OK;
}

sn_status sn_train_config_parse_line(sn_train_config *c, uint64_t *set, int n, char **w,
                                     sn_error *err) {
    const char *word = w[0];
    int h = find_head(word);
    if (h >= 0) { /* "optimizer NAME k=v ...", "schedule KIND k=v ..." */
        const sn_train_key *k = &sn_train_keys[h];
        char list[160];
        choices_text(k->choices, list, sizeof list);
        if (n < 2 || strchr(w[1], '='))
            return sn_fail(err, SN_ERR_FORMAT, "%s: expected one of %s first", word, list);
        sn_status s = sn_train_key_parse(k, c, w[1], err);
        if (s != SN_OK) return s;
        *set |= 1ull << h;
        if (k->offset == offsetof(sn_train_config, optimizer)) {
            optimizer_defaults(c, *set);
            return parse_options(c, set, NULL, n - 2, w + 2, err);
        }
        s = parse_options(c, set, word, n - 2, w + 2, err);
        return s == SN_OK ? check_line(c, word, err) : s;
    }
    if (is_group(word)) { /* "warmup|clip|early_stop k=v ..." */
        if (n < 2) return sn_fail(err, SN_ERR_FORMAT, "%s: expected key=value options", word);
        sn_status s = parse_options(c, set, word, n - 1, w + 1, err);
        return s == SN_OK ? check_line(c, word, err) : s;
    }
    int j = find_key(NULL, word); /* "key value" */
    if (j < 0) return sn_fail(err, SN_ERR_FORMAT, "'%s' is not a [train] key", word);
    if (n != 2) return sn_fail(err, SN_ERR_FORMAT, "%s: expected one value", word);
    sn_status s = sn_train_key_parse(&sn_train_keys[j], c, w[1], err);
    if (s == SN_OK) *set |= 1ull << j;
    return s;
}

/* ---- the checkpoint's form and run.txt ---------------------------------------- */

void sn_train_config_write(const sn_train_config *c, char *buf, size_t len) {
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < sn_train_nkeys && at < len; i++) {
        const sn_train_key *k = &sn_train_keys[i];
        if (k->flags & SN_KEY_MAY_CHANGE) continue;
        char v[192];
        sn_train_key_format(k, c, SN_FORM_CHECKPOINT, v, sizeof v);
        at += (size_t)snprintf(buf + at, len - at, "%s%s=%s", at ? " " : "", k->name, v);
    }
}

sn_status sn_train_config_read(const char *text, sn_train_config *c, uint64_t *present,
                               sn_error *err) {
    *present = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, " ");
        char word[256];
        if (n >= sizeof word) n = sizeof word - 1;
        memcpy(word, p, n);
        word[n] = 0;
        p += n;
        while (*p == ' ') p++;
        if (n == 0) continue;
        char *eq = strchr(word, '=');
        int j = -1;
        if (eq) *eq = 0, j = key_index(word);
        if (j < 0 || (sn_train_keys[j].flags & SN_KEY_MAY_CHANGE))
            return sn_fail(err, SN_ERR_FORMAT, "unknown setting '%s'", word);
        sn_status s = parse_value(&sn_train_keys[j], c, eq + 1, 0, err);
        if (s != SN_OK) return s;
        *present |= 1ull << j;
    }
    return SN_OK;
}

sn_status sn_train_config_check(const char *text, const sn_train_config *c, const char *what,
                                sn_error *err) {
    sn_train_config saved = *c;
    uint64_t present;
    sn_status s = sn_train_config_read(text, &saved, &present, err);
    if (s != SN_OK) {
        sn_wrap(err, "%s: __metadata__ \"config\"", what);
        return s;
    }
    for (int i = 0; i < sn_train_nkeys; i++) {
        const sn_train_key *k = &sn_train_keys[i];
        char a[192], b[192];
        if (!(present & (1ull << i))) continue;
        sn_train_key_format(k, &saved, SN_FORM_CHECKPOINT, a, sizeof a);
        sn_train_key_format(k, c, SN_FORM_CHECKPOINT, b, sizeof b);
        if (strcmp(a, b) != 0) {
            char may[160] = "";
            for (int j = 0, at = 0; j < sn_train_nkeys; j++)
                if (sn_train_keys[j].flags & SN_KEY_MAY_CHANGE)
                    at += snprintf(may + at, sizeof may - (size_t)at, "%s%s", at ? " and " : "",
                                   sn_train_keys[j].name);
            return sn_fail(err, SN_ERR_ARG,
                           "%s: the checkpoint was made with %s=%s, this training has %s=%s (only "
                           "%s may change on resume)",
                           what, k->name, a, k->name, b, may);
        }
    }
    return SN_OK;
}

size_t sn_train_config_lines(const sn_train_config *c, char *buf, size_t len) {
    size_t at = 0;
    if (len) buf[0] = 0;
    for (int i = 0; i < sn_train_nkeys; i++) {
        char v[192];
        sn_train_key_format(&sn_train_keys[i], c, SN_FORM_TEXT, v, sizeof v);
        int w = snprintf(at < len ? buf + at : NULL, at < len ? len - at : 0, "%s %s\n",
                         sn_train_keys[i].name, v);
        at += (size_t)w;
    }
    return at;
}
