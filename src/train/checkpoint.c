/* Checkpoints: the whole state of a training loop in one safetensors file,
 * written through src/model/safetensors.c.
 *
 *   tensors (F32)                  what
 *   <l>.<name>                     parameter or buffer `name` of layer l
 *   optimizer.state.<p>.<kind>     the optimizer's state of trained parameter p
 *   best.<l>.<name>                the best epoch's copy (early stopping, keep best)
 *   rnn.<l>.h, rnn.<l>.c           [levels, N, H]: the state recurrent layer l
 *                                  carries into the next batch (absent: zero)
 *
 *   __metadata__                   value (space-separated fields)
 *   format                         "scratchnet-checkpoint-1"
 *   spec, trainer, config          the model's spec, "table" | "text", the
 *                                  configuration (key=value ..., the keys of
 *                                  train/config.c but those that may change)
 *   position                       epoch batch nbatches samples finished
 *   optimizer                      steps base_lr
 *   rng.model, rng.shuffle         state inc has_spare spare (PCG32)
 *   schedule                       plateau_lr best bad_epochs cooldown_left
 *   sums                           sum reg_sum count correct last_lr
 *   early_stop                     best since_best have_best best_epoch
 *   kept                           the statistics of the epoch whose weights
 *                                  are kept: epoch step train_loss train_acc
 *                                  val_loss val_acc test_loss test_acc lr
 *                                  reg_loss skipped (epoch 0: none yet)
 *   elapsed                        wall seconds of training so far
 *   guard                          epoch skipped skipped_rows checked ref_loss
 *                                  ref_steps skip (train/guard.h; skip: the
 *                                  mode it ran in, for information)
 *   guard.last                     why the guard last refused a batch
 *   history                        the history rows so far
 *
 * Integers are decimal, floating-point values C's %a: all round-trip
 * exactly. Writing: sn_st_save to "<path>.tmp" (itself synced and renamed),
 * then rename over <path> and fsync of the folder. sn_st_save adds the CRC-32
 * of every tensor and metadata value (safetensors.h), which sn_st_load
 * checks: a damaged or edited checkpoint is refused naming the tensor or
 * field; loading also refuses a tensor holding NaN or an infinity. */
#define _POSIX_C_SOURCE 200809L /* fsync, open, nanosleep, dirent */
#include "train/checkpoint.h"

#include "model/safetensors.h"
#include "train/config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FORMAT "scratchnet-checkpoint-1"

sn_status sn_ckpt_history_add(sn_ckpt *k, const char *row, sn_error *err) {
    size_t n = strlen(row);
    if (k->history_len + n + 1 > k->history_cap) {
        size_t cap = 2 * (k->history_len + n + 1) + 256;
        char *p = realloc(k->history, cap);
        if (!p) return sn_fail(err, SN_ERR_NOMEM, "checkpoint: out of memory");
        k->history = p;
        k->history_cap = cap;
    }
    memcpy(k->history + k->history_len, row, n + 1);
    k->history_len += n;
    return SN_OK;
}

void sn_ckpt_free(sn_ckpt *k) {
    free(k->history);
    k->history = NULL;
    k->history_len = k->history_cap = 0;
}

/* ---- metadata fields ------------------------------------------------------- */

/* Reads the space-separated fields of one metadata value; the first error
 * is kept in s. */
typedef struct fields {
    const char *path, *key, *p;
    sn_status s;
    sn_error *err;
} fields;

static void fields_open(fields *r, const sn_st_file *f, const char *path, const char *key,
                        sn_error *err) {
    r->path = path, r->key = key, r->err = err, r->s = SN_OK;
    r->p = sn_st_meta(f, key);
    if (!r->p)
        r->s =
            sn_fail(err, SN_ERR_FORMAT, "%s: not a checkpoint: no __metadata__ \"%s\"", path, key);
}

static int fields_bad(fields *r, const char *what, const char *at) {
    if (r->s == SN_OK)
        r->s = sn_fail(r->err, SN_ERR_FORMAT, "%s: __metadata__ \"%s\": expected %s, got '%.40s'",
                       r->path, r->key, what, at);
    return 0;
}

/* The next field into tok (NUL-terminated); 0 at the end or on error. */
static int fields_next(fields *r, char *tok, size_t len, const char *what) {
    if (r->s != SN_OK) return 0;
    while (*r->p == ' ') r->p++;
    size_t n = strcspn(r->p, " ");
    if (n == 0 || n >= len) return fields_bad(r, what, r->p);
    memcpy(tok, r->p, n);
    tok[n] = 0;
    r->p += n;
    return 1;
}

static uint64_t field_u64(fields *r) {
    char tok[64], *end;
    if (!fields_next(r, tok, sizeof tok, "an unsigned 64-bit integer")) return 0;
    errno = 0;
    unsigned long long v = strtoull(tok, &end, 10);
    if (tok[0] == '-' || *end || errno) return (uint64_t)fields_bad(r, "an unsigned integer", tok);
    return (uint64_t)v;
}

static long field_long(fields *r, long lo, long hi) {
    char tok[64], *end;
    if (!fields_next(r, tok, sizeof tok, "an integer")) return lo;
    errno = 0;
    long v = strtol(tok, &end, 10);
    if (*end || errno || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof what, "an integer in [%ld, %ld]", lo, hi);
        fields_bad(r, what, tok);
        return lo;
    }
    return v;
}

static double field_double(fields *r) {
    char tok[64], *end;
    if (!fields_next(r, tok, sizeof tok, "a number")) return 0;
    double v = strtod(tok, &end);
    if (*end) fields_bad(r, "a number", tok);
    return v;
}

static void fields_close(fields *r) {
    while (r->s == SN_OK && *r->p == ' ') r->p++;
    if (r->s == SN_OK && *r->p) fields_bad(r, "no more fields", r->p);
}

static void rng_text(const sn_rng *g, char *buf, size_t len) {
    snprintf(buf, len, "%" PRIu64 " %" PRIu64 " %d %a", g->state, g->inc, g->has_spare,
             (double)g->spare);
}

static sn_rng rng_read(const sn_st_file *f, const char *path, const char *key, sn_status *s,
                       sn_error *err) {
    sn_rng g = {0};
    fields r;
    fields_open(&r, f, path, key, err);
    g.state = field_u64(&r);
    g.inc = field_u64(&r);
    g.has_spare = (int)field_long(&r, 0, 1);
    g.spare = (float)field_double(&r);
    fields_close(&r);
    if (*s == SN_OK) *s = r.s;
    return g;
}

/* ---- the tensors ----------------------------------------------------------- */

/* One tensor of the file and where it goes: an sn_tensor, or (a layer's
 * carried state, sn_layer_state) `levels` pieces of N·H floats `stride`
 * apart. */
typedef struct slot {
    char name[160];
    sn_tensor *t;
    float *rnn;
    int levels, N, H;
    size_t stride;
} slot;

/* Every tensor a checkpoint of this training holds. rnn_n (per layer) is
 * the number of streams of the state to store (0: none). Returns the
 * number of slots written to out (NULL: only counted). */
static int slots(const sn_model *m, sn_optimizer *opt, const sn_tensor *best, const int *rnn_n,
                 slot *out) {
    int n = 0, j = 0;
    for (int i = 0; i < m->nlayers; i++) {
        sn_layer *l = m->layers[i];
        for (int p = 0; p < l->nparams; p++, j++) {
            if (out) {
                snprintf(out[n].name, sizeof out[n].name, "%d.%s", i, l->params[p].name);
                out[n].t = &l->params[p].value;
            }
            n++;
            if (best) {
                if (out) {
                    snprintf(out[n].name, sizeof out[n].name, "best.%d.%s", i, l->params[p].name);
                    out[n].t = (sn_tensor *)&best[j];
                }
                n++;
            }
        }
        sn_layer_state st[SN_MAX_STATES];
        int npieces = l->ops->state && rnn_n[i] > 0 ? l->ops->state(l, st) : 0;
        for (int c = 0; c < npieces; c++, n++) {
            if (!out) continue;
            slot *s = &out[n];
            snprintf(s->name, sizeof s->name, "rnn.%d.%s", i, st[c].name);
            s->t = NULL;
            s->rnn = st[c].data;
            s->levels = st[c].levels, s->N = rnn_n[i], s->H = st[c].width;
            s->stride = st[c].stride;
        }
    }
    for (int i = 0; i < sn_optimizer_num_state(opt); i++) {
        if (out) {
            char name[128];
            out[n].t = sn_optimizer_state(opt, i, name, sizeof name);
            snprintf(out[n].name, sizeof out[n].name, "optimizer.%s", name);
        }
        n++;
    }
    return n;
}

/* ---- writing ---------------------------------------------------------------- */

static sn_status sync_dir_of(const char *path, sn_error *err) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd < 0)
        return sn_fail(err, SN_ERR_IO, "%s: cannot open its folder: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) /* some file systems cannot sync folders */
        return sn_fail(err, SN_ERR_IO, "%s: syncing its folder failed: %s", path, strerror(e));
    return SN_OK;
}

/* Removes what writers killed half-way left behind: "<base>.tmp" and
 * "<base>.tmp.tmp.<pid>" next to path. */
static void remove_leftovers(const char *path) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (slash == dir) snprintf(dir, sizeof dir, "/");
    size_t nb = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, nb) != 0 || strncmp(e->d_name + nb, ".tmp", 4) != 0) continue;
        char full[2200];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        remove(full);
    }
    closedir(d);
}

/* The metadata values of a checkpoint, as text. */
typedef struct meta_texts {
    char config[2048], position[160], optim[96], rng_m[128], rng_s[128], schedule[160];
    char sums[224], early[160], guard[256], kept[512], elapsed[64];
} meta_texts;

/* keys and vals (16 + o->nmeta entries) point into t or at the caller's. */
static void meta_fill(const sn_checkpoint_options *o, const sn_model *m, const sn_optimizer *opt,
                      const sn_schedule *sched, const sn_ckpt *k, meta_texts *t, const char **keys,
                      const char **vals) {
    const sn_guard *g = k->guard;
    sn_train_config_write(&m->cfg, t->config, sizeof t->config);
    snprintf(t->position, sizeof t->position, "%d %d %d %ld %d", k->epoch, k->batch, k->nbatches,
             k->samples, k->finished);
    snprintf(t->optim, sizeof t->optim, "%ld %a", opt->step, (double)opt->lr);
    rng_text(&m->rng, t->rng_m, sizeof t->rng_m);
    rng_text(&k->shuffle, t->rng_s, sizeof t->rng_s);
    snprintf(t->schedule, sizeof t->schedule, "%a %a %d %d", (double)sched->plateau_lr, sched->best,
             sched->bad_epochs, sched->cooldown_left);
    snprintf(t->sums, sizeof t->sums, "%a %a %a %ld %a", k->sum, k->reg_sum, k->count, k->correct,
             (double)k->last_lr);
    snprintf(t->early, sizeof t->early, "%a %d %d %d", k->best, k->since_best, k->have_best,
             k->best_epoch);
    const sn_epoch_stats *e = &k->kept;
    snprintf(t->kept, sizeof t->kept, "%d %ld %a %a %a %a %a %a %a %a %d", e->epoch, e->step,
             e->train_loss, e->train_acc, e->val_loss, e->val_acc, e->test_loss, e->test_acc, e->lr,
             e->reg_loss, e->skipped);
    snprintf(t->elapsed, sizeof t->elapsed, "%a", k->elapsed);
    if (g)
        snprintf(t->guard, sizeof t->guard, "%d %d %ld %d %a %d %d", g->epoch, g->skipped,
                 g->skipped_rows, g->checked, g->ref_loss, g->ref_steps, g->skip);
    else
        snprintf(t->guard, sizeof t->guard, "0 0 0 0 %a 0 %d", (double)NAN, m->cfg.skip_nonfinite);
    const char *kv[15][2] = {{"format", FORMAT},
                             {"spec", m->spec ? m->spec : ""},
                             {"trainer", k->trainer},
                             {"config", t->config},
                             {"position", t->position},
                             {"optimizer", t->optim},
                             {"rng.model", t->rng_m},
                             {"rng.shuffle", t->rng_s},
                             {"schedule", t->schedule},
                             {"sums", t->sums},
                             {"early_stop", t->early},
                             {"guard", t->guard},
                             {"guard.last", g ? g->last : ""},
                             {"kept", t->kept},
                             {"elapsed", t->elapsed}};
    for (int i = 0; i < 15; i++) keys[i] = kv[i][0], vals[i] = kv[i][1];
    for (int i = 0; i < o->nmeta; i++)
        keys[15 + i] = o->meta_keys[i], vals[15 + i] = o->meta_values[i];
    keys[15 + o->nmeta] = "history";
    vals[15 + o->nmeta] = k->history ? k->history : "";
}

/* The n tensors to write: slot i's tensor, or the state it carries copied
 * into rnn[i] ([levels, N, H]). */
static sn_status tensors_of(const slot *sl, int n, const char **names, const sn_tensor **ts,
                            sn_tensor *rnn, sn_error *err) {
    sn_status s = SN_OK;
    for (int i = 0; s == SN_OK && i < n; i++) {
        names[i] = sl[i].name;
        ts[i] = sl[i].t;
        if (sl[i].t) continue;
        int shape[3] = {sl[i].levels, sl[i].N, sl[i].H};
        s = sn_tensor_alloc(&rnn[i], 3, shape, err);
        size_t NH = (size_t)sl[i].N * (size_t)sl[i].H;
        for (int lv = 0; s == SN_OK && lv < sl[i].levels; lv++)
            memcpy(rnn[i].data + (size_t)lv * NH, sl[i].rnn + (size_t)lv * sl[i].stride,
                   NH * sizeof(float));
        ts[i] = &rnn[i];
    }
    return s;
}

/* The written "<path>.tmp" (s: whether it was) put in place: renamed over
 * path, the folder synced, writers' leftovers removed; else removed. */
static sn_status commit(const sn_checkpoint_options *o, const char *tmp, sn_status s,
                        sn_error *err) {
    if (s == SN_OK && o->delay_ms > 0) {
        struct timespec d = {o->delay_ms / 1000, (long)(o->delay_ms % 1000) * 1000000L};
        while (nanosleep(&d, &d) != 0 && errno == EINTR) {
        }
    }
    if (s == SN_OK && rename(tmp, o->path) != 0)
        s = sn_fail(err, SN_ERR_IO, "%s: cannot rename %s to it: %s", o->path, tmp,
                    strerror(errno));
    if (s == SN_OK) s = sync_dir_of(o->path, err);
    if (s == SN_OK)
        remove_leftovers(o->path);
    else if (tmp)
        remove(tmp);
    return s;
}

sn_status sn_ckpt_save(const sn_checkpoint_options *o, const sn_model *m, sn_optimizer *opt,
                       const sn_schedule *sched, const sn_ckpt *k, const sn_tensor *best,
                       sn_error *err) {
    int rnn_n[SN_MAX_LAYERS] = {0};
    for (int i = 0; i < m->nlayers; i++) {
        sn_layer *l = m->layers[i];
        sn_layer_state st[SN_MAX_STATES];
        if (l->ops->state && l->ops->state(l, st) > 0) rnn_n[i] = st[0].streams;
    }
    int n = slots(m, opt, best, rnn_n, NULL);
    slot *sl = sn_alloc((size_t)n, sizeof *sl);
    const char **names = sn_alloc((size_t)n, sizeof *names);
    const sn_tensor **ts = sn_alloc((size_t)n, sizeof *ts);
    sn_tensor *rnn = sn_alloc((size_t)n, sizeof *rnn);
    int nkeys = 16 + o->nmeta; /* ours, the caller's, then the history */
    const char **keys = sn_alloc((size_t)nkeys, sizeof *keys);
    const char **vals = sn_alloc((size_t)nkeys, sizeof *vals);
    size_t tmp_len = strlen(o->path) + 8;
    char *tmp = sn_alloc(tmp_len, 1);
    meta_texts *t = sn_alloc(1, sizeof *t);
    sn_status s = SN_OK;
    if (!sl || !names || !ts || !rnn || !keys || !vals || !tmp || !t)
        s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", o->path);
    if (s == SN_OK) slots(m, opt, best, rnn_n, sl);
    if (s == SN_OK) s = tensors_of(sl, n, names, ts, rnn, err);
    if (s == SN_OK) {
        meta_fill(o, m, opt, sched, k, t, keys, vals);
        snprintf(tmp, tmp_len, "%s.tmp", o->path);
        s = sn_st_save(tmp, n, names, ts, nkeys, keys, vals, err);
    }
    s = commit(o, tmp, s, err);
    for (int i = 0; rnn && i < n; i++) sn_tensor_free(&rnn[i]);
    sn_free(sl);
    sn_free(names);
    sn_free(ts);
    sn_free(rnn);
    sn_free(keys);
    sn_free(vals);
    sn_free(tmp);
    sn_free(t);
    return s;
}

/* ---- reading ---------------------------------------------------------------- */

/* Checks one tensor of f against its slot (copy = 0) or copies it (1). */
static sn_status take(const sn_st_file *f, const char *path, const slot *sl, int copy,
                      sn_error *err) {
    const sn_st_entry *e = sn_st_find(f, sl->name);
    if (!e) return sn_fail(err, SN_ERR_FORMAT, "%s: tensor '%s' missing", path, sl->name);
    int ndim = sl->t ? sl->t->ndim : 3, shape[4] = {0};
    if (sl->t)
        memcpy(shape, sl->t->shape, sizeof(int) * (size_t)ndim);
    else
        shape[0] = sl->levels, shape[1] = sl->N, shape[2] = sl->H;
    int same = e->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = e->shape[d] == shape[d];
    if (!same) {
        char want[64] = "", got[64] = "";
        for (int d = 0, k = 0; d < ndim; d++)
            k += snprintf(want + k, sizeof want - (size_t)k, "%s%d", d ? "," : "", shape[d]);
        for (int d = 0, k = 0; d < e->ndim; d++)
            k += snprintf(got + k, sizeof got - (size_t)k, "%s%d", d ? "," : "", e->shape[d]);
        return sn_fail(err, SN_ERR_SHAPE, "%s: tensor '%s' has shape [%s], this model needs [%s]",
                       path, sl->name, got, want);
    }
    if (!copy) {
        /* a weight or state that is not a number resumes nothing (a file
         * damaged or edited after its checksums were removed) */
        for (size_t i = 0; i < e->size; i++)
            if (!isfinite(e->data[i]))
                return sn_fail(err, SN_ERR_FORMAT,
                               "%s: tensor '%s' holds %s at element %zu: not a training's state",
                               path, sl->name, isnan(e->data[i]) ? "NaN" : "an infinity", i);
        return SN_OK;
    }
    if (sl->t) {
        memcpy(sl->t->data, e->data, e->size * sizeof(float));
    } else {
        size_t NH = (size_t)sl->N * (size_t)sl->H;
        for (int lv = 0; lv < sl->levels; lv++)
            memcpy(sl->rnn + (size_t)lv * sl->stride, e->data + (size_t)lv * NH,
                   NH * sizeof(float));
    }
    return SN_OK;
}

/* rnn_n[i]: the streams of layer i's stored state, from the file. */
static sn_status rnn_streams(const sn_st_file *f, const char *path, const sn_model *m, int *rnn_n,
                             sn_error *err) {
    for (int i = 0; i < m->nlayers; i++) {
        char name[64];
        snprintf(name, sizeof name, "rnn.%d.h", i);
        const sn_st_entry *e = sn_st_find(f, name);
        rnn_n[i] = 0;
        if (!e) continue;
        sn_layer *l = m->layers[i];
        sn_layer_state st[SN_MAX_STATES];
        if (!l->ops->state || l->ops->state(l, st) < 1)
            return sn_fail(err, SN_ERR_FORMAT,
                           "%s: tensor '%s': layer %d (%s) carries no state (not recurrent)", path,
                           name, i, l->desc);
        if (e->ndim != 3 || e->shape[1] < 1 || e->shape[1] > st[0].max_streams)
            return sn_fail(err, SN_ERR_SHAPE,
                           "%s: tensor '%s': expected [levels, streams <= %d, H] (layer %d, %s)",
                           path, name, st[0].max_streams, i, l->desc);
        rnn_n[i] = e->shape[1];
    }
    return SN_OK;
}

/* The kind of training and its configuration: those of this training? */
static sn_status check_kind(const char *path, const sn_st_file *f, const sn_model *m,
                            const sn_ckpt *k, sn_error *err) {
    const char *fmt = sn_st_meta(f, "format"), *trainer = sn_st_meta(f, "trainer");
    if (!fmt || strcmp(fmt, FORMAT) != 0)
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: not a scratchnet checkpoint (__metadata__ "
                       "\"format\" is %s%s%s, expected \"" FORMAT "\")",
                       path, fmt ? "\"" : "", fmt ? fmt : "missing", fmt ? "\"" : "");
    if (!trainer || (strcmp(trainer, "table") && strcmp(trainer, "text")))
        return sn_fail(err, SN_ERR_FORMAT, "%s: __metadata__ \"trainer\" must be table or text",
                       path);
    if (k->trainer && strcmp(trainer, k->trainer) != 0)
        return sn_fail(err, SN_ERR_ARG, "%s: a checkpoint of %s training, this is %s training",
                       path, trainer, k->trainer);
    const char *config = sn_st_meta(f, "config");
    if (!config) return sn_fail(err, SN_ERR_FORMAT, "%s: no __metadata__ \"config\"", path);
    /* only the keys config.c marks SN_KEY_MAY_CHANGE may differ */
    if (k->nbatches > 0) return sn_train_config_check(config, &m->cfg, path, err);
    return SN_OK;
}

/* Everything a checkpoint holds besides its tensors, read and checked. */
typedef struct saved {
    sn_ckpt c;
    long steps; /* the optimizer's */
    double lr;
    sn_rng rm;                /* the model's generator */
    double plateau_lr, sbest; /* the schedule's bookkeeping */
    int bad, cool;
    sn_guard gs; /* the guard's running state */
    const char *glast, *history;
} saved;

/* Position, optimizer, generators and schedule. */
static sn_status read_position(const char *path, const sn_st_file *f, const sn_ckpt *k, saved *v,
                               sn_error *err) {
    sn_ckpt *c = &v->c;
    sn_status s = SN_OK;
    fields r;
    fields_open(&r, f, path, "position", err);
    c->epoch = (int)field_long(&r, 1, 100000000);
    c->batch = (int)field_long(&r, 0, 0x7fffffff);
    c->nbatches = (int)field_long(&r, 0, 0x7fffffff);
    c->samples = field_long(&r, 0, 0x7fffffffffffffffL);
    c->finished = (int)field_long(&r, 0, 1);
    fields_close(&r);
    s = r.s;
    if (s == SN_OK && c->batch > c->nbatches)
        s = sn_fail(err, SN_ERR_FORMAT, "%s: __metadata__ \"position\": batch %d of %d", path,
                    c->batch, c->nbatches);
    if (s == SN_OK && k->nbatches > 0 && (c->nbatches != k->nbatches || c->samples != k->samples))
        s = sn_fail(err, SN_ERR_ARG,
                    "%s: the checkpoint was made with %ld training %s in %d batches per epoch, "
                    "this training has %ld in %d: not the same data or batch size",
                    path, c->samples,
                    k->trainer && !strcmp(k->trainer, "text") ? "tokens" : "samples", c->nbatches,
                    k->samples, k->nbatches);
    if (s == SN_OK) {
        fields_open(&r, f, path, "optimizer", err);
        v->steps = field_long(&r, 0, 0x7fffffffffffffffL);
        v->lr = field_double(&r);
        fields_close(&r);
        s = r.s;
    }
    v->rm = rng_read(f, path, "rng.model", &s, err);
    c->shuffle = rng_read(f, path, "rng.shuffle", &s, err);
    if (s == SN_OK) {
        fields_open(&r, f, path, "schedule", err);
        v->plateau_lr = field_double(&r);
        v->sbest = field_double(&r);
        v->bad = (int)field_long(&r, 0, 0x7fffffff);
        v->cool = (int)field_long(&r, 0, 0x7fffffff);
        fields_close(&r);
        s = r.s;
    }
    return s;
}

/* The epoch's sums, early stopping, the kept epoch and the time used. */
static sn_status read_sums(const char *path, const sn_st_file *f, saved *v, sn_error *err) {
    sn_ckpt *c = &v->c;
    sn_status s = SN_OK;
    fields r;
    if (s == SN_OK) {
        fields_open(&r, f, path, "sums", err);
        c->sum = field_double(&r);
        c->reg_sum = field_double(&r);
        c->count = field_double(&r);
        c->correct = field_long(&r, 0, 0x7fffffffffffffffL);
        c->last_lr = (float)field_double(&r);
        fields_close(&r);
        s = r.s;
    }
    if (s == SN_OK) {
        fields_open(&r, f, path, "early_stop", err);
        c->best = field_double(&r);
        c->since_best = (int)field_long(&r, 0, 0x7fffffff);
        c->have_best = (int)field_long(&r, 0, 1);
        c->best_epoch = (int)field_long(&r, 0, 100000000);
        fields_close(&r);
        s = r.s;
    }
    if (s == SN_OK) {
        sn_epoch_stats *e = &c->kept;
        fields_open(&r, f, path, "kept", err);
        e->epoch = (int)field_long(&r, 0, 100000000);
        e->step = field_long(&r, 0, 0x7fffffffffffffffL);
        e->train_loss = field_double(&r), e->train_acc = field_double(&r);
        e->val_loss = field_double(&r), e->val_acc = field_double(&r);
        e->test_loss = field_double(&r), e->test_acc = field_double(&r);
        e->lr = field_double(&r), e->reg_loss = field_double(&r);
        e->skipped = (int)field_long(&r, 0, 0x7fffffff);
        e->kept_epoch = e->epoch;
        fields_close(&r);
        s = r.s;
    }
    if (s == SN_OK) {
        fields_open(&r, f, path, "elapsed", err);
        c->elapsed = field_double(&r);
        fields_close(&r);
        s = r.s;
        if (s == SN_OK && !(c->elapsed >= 0))
            s = sn_fail(err, SN_ERR_FORMAT, "%s: __metadata__ \"elapsed\": %g seconds", path,
                        c->elapsed);
    }
    return s;
}

/* The guard's running state and the history rows. */
static sn_status read_guard(const char *path, const sn_st_file *f, saved *v, sn_error *err) {
    sn_status s = SN_OK;
    fields r;
    if (s == SN_OK) {
        fields_open(&r, f, path, "guard", err);
        v->gs.epoch = (int)field_long(&r, 0, 100000000);
        v->gs.skipped = (int)field_long(&r, 0, 0x7fffffff);
        v->gs.skipped_rows = field_long(&r, 0, 0x7fffffffffffffffL);
        v->gs.checked = (int)field_long(&r, 0, 0x7fffffff);
        v->gs.ref_loss = field_double(&r);
        v->gs.ref_steps = (int)field_long(&r, 0, SN_GUARD_REF_STEPS);
        (void)field_long(&r, 0, 1); /* the mode it ran in: may change (scratchnet.h) */
        fields_close(&r);
        s = r.s;
        if (s == SN_OK && v->gs.skipped > v->gs.checked)
            s = sn_fail(err, SN_ERR_FORMAT,
                        "%s: __metadata__ \"guard\": %d batches skipped of %d checked", path,
                        v->gs.skipped, v->gs.checked);
    }
    v->glast = sn_st_meta(f, "guard.last");
    if (s == SN_OK && !v->glast)
        s = sn_fail(err, SN_ERR_FORMAT, "%s: no __metadata__ \"guard.last\"", path);
    v->history = sn_st_meta(f, "history");
    if (s == SN_OK && !v->history)
        s = sn_fail(err, SN_ERR_FORMAT, "%s: no __metadata__ \"history\"", path);

    return s;
}

/* Everything checked and the tensors copied: the remaining state. */
static void apply(const saved *v, sn_model *m, sn_optimizer *opt, sn_schedule *sched, sn_ckpt *k,
                  const int *rnn_n, char *history) {
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i]->ops->restore_state)
            m->layers[i]->ops->restore_state(m->layers[i], rnn_n[i]);
    m->rng = v->rm;
    sn_optimizer_set_steps(opt, v->steps);
    sn_optimizer_set_lr(opt, (float)v->lr);
    sched->plateau_lr = (float)v->plateau_lr;
    sched->best = v->sbest;
    sched->bad_epochs = v->bad;
    sched->cooldown_left = v->cool;
    sn_guard *g = k->guard;
    if (g) {
        const sn_guard *gs = &v->gs;
        g->epoch = gs->epoch, g->skipped = gs->skipped, g->skipped_rows = gs->skipped_rows;
        g->checked = gs->checked, g->ref_loss = gs->ref_loss, g->ref_steps = gs->ref_steps;
        snprintf(g->last, sizeof g->last, "%s", v->glast);
    }
    sn_ckpt_free(k);
    *k = v->c;
    k->guard = g;
    k->history_len = strlen(v->history);
    k->history_cap = k->history_len + 1;
    k->history = history;
    memcpy(k->history, v->history, k->history_cap);
}

static sn_status load(const char *path, const sn_st_file *f, sn_model *m, sn_optimizer *opt,
                      sn_schedule *sched, sn_ckpt *k, sn_tensor *best, sn_error *err) {
    sn_model_params_changed(m); /* the weights are written below */
    saved *v = sn_alloc(1, sizeof *v);
    if (!v) return sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    v->c.trainer = k->trainer;
    sn_status s = check_kind(path, f, m, k, err);
    if (s == SN_OK) s = read_position(path, f, k, v, err);
    if (s == SN_OK) s = read_sums(path, f, v, err);
    if (s == SN_OK) s = read_guard(path, f, v, err);

    /* Tensors: all checked first, then copied; nothing else in the file. */
    int rnn_n[SN_MAX_LAYERS] = {0};
    if (s == SN_OK) s = rnn_streams(f, path, m, rnn_n, err);
    int n = s == SN_OK ? slots(m, opt, best, rnn_n, NULL) : 0;
    slot *sl = s == SN_OK ? sn_alloc((size_t)n + 1, sizeof *sl) : NULL;
    if (s == SN_OK && !sl) s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    if (s == SN_OK) slots(m, opt, best, rnn_n, sl);
    for (int i = 0; s == SN_OK && i < n; i++) s = take(f, path, &sl[i], 0, err);
    for (int i = 0; s == SN_OK && f->n != n && i < f->n; i++) {
        int known = 0;
        for (int j = 0; j < n && !known; j++) known = !strcmp(f->entries[i].name, sl[j].name);
        if (!known)
            s = sn_fail(err, SN_ERR_FORMAT,
                        "%s: tensor '%s' belongs to nothing in this model and optimizer", path,
                        f->entries[i].name);
    }
    char *history = NULL;
    if (s == SN_OK && !(history = malloc(strlen(v->history) + 1)))
        s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; s == SN_OK && i < n; i++) take(f, path, &sl[i], 1, err);
    sn_free(sl);
    if (s == SN_OK)
        apply(v, m, opt, sched, k, rnn_n, history);
    else
        free(history);
    sn_free(v);
    return s;
}

sn_status sn_ckpt_load(const char *path, sn_model *m, sn_optimizer *opt, sn_schedule *sched,
                       sn_ckpt *k, sn_tensor *best, sn_error *err) {
    sn_st_file f;
    sn_status s = sn_st_load(path, &f, err);
    if (s == SN_OK) s = load(path, &f, m, opt, sched, k, best, err);
    sn_st_free(&f);
    return s;
}

sn_status sn_ckpt_interrupted(const sn_checkpoint_options *o, const sn_ckpt *k, long step,
                              sn_error *err) {
    if (o && o->path)
        return sn_fail(err, SN_ERR_INTERRUPTED,
                       "stopped at epoch %d after batch %d of %d (step %ld); checkpoint: %s",
                       k->epoch, k->batch, k->nbatches, step, o->path);
    return sn_fail(err, SN_ERR_INTERRUPTED,
                   "stopped at epoch %d after batch %d of %d (step %ld); no checkpoint written",
                   k->epoch, k->batch, k->nbatches, step);
}

/* ---- verification ----------------------------------------------------------- */

sn_status sn_checkpoint_verify(const char *path, sn_checkpoint_info *info, sn_error *err) {
    memset(info, 0, sizeof *info);
    sn_st_file f;
    sn_status s = sn_st_load(path, &f, err);
    if (s != SN_OK) return s;
    sn_model *m = NULL;
    sn_optimizer *opt = NULL;
    sn_tensor *best = NULL;
    sn_ckpt k = {0};
    sn_schedule sched;
    memset(&sched, 0, sizeof sched);
    const char *spec = sn_st_meta(&f, "spec"), *config = sn_st_meta(&f, "config");
    if (!spec || !config)
        s = sn_fail(err, SN_ERR_FORMAT, "%s: not a scratchnet checkpoint (no __metadata__ \"%s\")",
                    path, spec ? "config" : "spec");
    if (s == SN_OK) {
        char name[1100];
        snprintf(name, sizeof name, "%s (embedded spec)", path);
        s = sn_model_from_spec(spec, name, 0, &m, err);
    }
    if (s == SN_OK) {
        /* the optimizer the checkpoint's state is for */
        sn_train_config c = m->cfg;
        uint64_t present;
        s = sn_train_config_read(config, &c, &present, err);
        if (s == SN_OK) s = sn_optimizer_new(m, &c, &opt, err);
        if (s != SN_OK) sn_wrap(err, "%s: __metadata__ \"config\"", path);
    }
    /* room for any stored recurrent state */
    int rows = 1;
    for (int i = 0; i < f.n; i++)
        if (strncmp(f.entries[i].name, "rnn.", 4) == 0 && f.entries[i].ndim == 3 &&
            f.entries[i].shape[1] > rows && f.entries[i].shape[1] <= 1 << 20)
            rows = f.entries[i].shape[1];
    if (s == SN_OK) s = sn_model_reserve(m, rows, err);
    int has_best = 0;
    for (int i = 0; i < f.n && !has_best; i++)
        has_best = strncmp(f.entries[i].name, "best.", 5) == 0;
    if (s == SN_OK && has_best) {
        best = sn_alloc((size_t)(m->nparams ? m->nparams : 1), sizeof *best);
        if (!best) s = sn_fail(err, SN_ERR_NOMEM, "%s: out of memory", path);
        for (int i = 0; s == SN_OK && i < m->nparams; i++)
            s = sn_tensor_alloc(&best[i], m->params[i]->value.ndim, m->params[i]->value.shape, err);
    }
    if (s == SN_OK) s = load(path, &f, m, opt, &sched, &k, best, err);
    if (s == SN_OK) {
        snprintf(info->trainer, sizeof info->trainer, "%s", sn_st_meta(&f, "trainer"));
        info->epoch = k.epoch;
        info->batch = k.batch;
        info->nbatches = k.nbatches;
        info->step = sn_optimizer_steps(opt);
        info->finished = k.finished;
    }
    for (int i = 0; best && m && i < m->nparams; i++) sn_tensor_free(&best[i]);
    sn_free(best);
    sn_ckpt_free(&k);
    sn_optimizer_free(opt);
    sn_model_free(m);
    sn_st_free(&f);
    return s;
}

sn_status sn_ckpt_point(const sn_checkpoint_options *o, const sn_model *m, sn_optimizer *opt,
                        const sn_schedule *sched, const sn_ckpt *k, const sn_tensor *best, int halt,
                        sn_error *err) {
    sn_status s = o ? sn_ckpt_save(o, m, opt, sched, k, best, err) : SN_OK;
    if (s == SN_OK && halt) s = sn_ckpt_interrupted(o, k, sn_optimizer_steps(opt), err);
    return s;
}

int sn_ckpt_due(const sn_checkpoint_options *o, int epoch, int epochs, int stop) {
    if (!o || (o->every_epochs <= 0 && o->every_steps <= 0)) return 0;
    return stop || epoch >= epochs || (o->every_epochs > 0 && epoch % o->every_epochs == 0);
}

int sn_ckpt_stop_requested(const sn_checkpoint_options *o) {
    return o && o->stop_requested && o->stop_requested(o->stop_ctx);
}
