/* A text run: a text spec's model trained on a corpus into a run folder.
 *
 * The spec is an ordinary model spec whose layers may write `vocab` for the
 * vocabulary size (known once the corpus is read), plus an optional [text]
 * section for the data settings (sn_text_spec); the run's options override
 * both. The corpus is read and encoded, the model built from the spec with
 * the vocabulary's size (the spec it makes is what the model file stores),
 * its memory weighed, then the folder locked and a resume checked, then
 * spec.net (the spec as written) and run.txt, training (history.csv,
 * samples.txt, checkpoints; the model file rewritten whenever the epoch
 * whose weights training would end with changes, so that an interrupted
 * run leaves its best model behind), model.safetensors, summary.txt with the
 * corpus and the losses, run.txt again with the kept epoch, report.html. */
#include "dist/dist.h"
#include "report/report.h"
#include "run/run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The caller's hooks, samples.txt, the kept epoch and the model file. */
typedef struct text_hooks {
    const sn_train_hooks *user;
    FILE *samples;
    sn_epoch_stats kept; /* the epoch whose weights training ended with */
    const sn_model *m;
    const sn_vocab *v;
    const char *model_path;
    int nmeta;
    const char *const *meta_keys, *const *meta_vals;
    sn_status save_status;
    sn_error save_err;
} text_hooks;

static int on_epoch(void *ctx, const sn_epoch_stats *e) {
    text_hooks *p = ctx;
    if (e->kept_epoch == e->epoch) { /* the weights training would end with */
        if (p->model_path && p->save_status == SN_OK)
            p->save_status = sn_text_model_save(p->m, p->v, p->model_path, p->nmeta, p->meta_keys,
                                                p->meta_vals, &p->save_err);
    }
    return p->user->on_epoch ? p->user->on_epoch(p->user->ctx, e) : 0;
}

static void on_end(void *ctx, const sn_epoch_stats *kept) {
    text_hooks *p = ctx;
    p->kept = *kept;
    if (p->user->on_end) p->user->on_end(p->user->ctx, kept);
}

/* The sample as bytes (byte-level text may hold NULs); a failed write to
 * samples.txt stays in its error flag, checked when the run ends. */
static void on_sample(void *ctx, int epoch, const char *text, size_t len) {
    text_hooks *p = ctx;
    if (p->user->on_sample) p->user->on_sample(p->user->ctx, epoch, text, len);
    if (p->samples) {
        fprintf(p->samples, "---- epoch %d ----\n", epoch);
        fwrite(text, 1, len, p->samples);
        fputs("\n\n", p->samples);
        fflush(p->samples);
    }
}

static void apply_options(const sn_run_options *o, sn_text_spec *t, sn_train_config *c) {
    if (o->words > 0) t->words = (int)o->words;
    if (o->seq_len > 0) t->o.seq_len = (int)o->seq_len;
    if (o->val_split >= 0) t->val = o->val_split;
    if (o->minutes > 0) t->minutes = o->minutes;
    if (o->sample_every >= 0) t->o.sample_every = (int)o->sample_every;
    if (o->sample_length >= 0) t->o.sample_length = (int)o->sample_length;
    if (o->temperature >= 0) t->o.temperature = (float)o->temperature;
    if (o->prime) snprintf(t->prime, sizeof t->prime, "%s", o->prime);
    if (c) {
        if (o->seed >= 0) c->seed = (uint64_t)o->seed;
        if (o->epochs > 0) c->epochs = (int)o->epochs;
        if (o->batch > 0) c->batch = (int)o->batch;
        if (o->lr > 0) c->lr = (float)o->lr;
        if (o->skip_nonfinite) c->skip_nonfinite = 1;
        if (t->minutes > 0) c->max_seconds = 60 * t->minutes;
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* r->result: the kept epoch's losses. */
static void text_result(sn_run_result *r) {
    double train_loss = r->train_loss, val_loss = r->val_loss;
    int k = snprintf(r->result, sizeof r->result, "training loss %.4f nats/token (%.4f bits)\n",
                     train_loss, train_loss / log(2.0));
    if (r->nval)
        snprintf(r->result + k, sizeof r->result - (size_t)k,
                 "validation loss %.4f nats/token (%.4f bits), perplexity %.3f\n", val_loss,
                 val_loss / log(2.0), exp(val_loss));
}

/* summary.txt of a finished text run: the model's summary, the corpus, the
 * time and the kept epoch's losses. */
static sn_status write_summary(const char *run_dir, const sn_run_options *o, const sn_run_result *r,
                               size_t nids, sn_error *err) {
    char text[8192 + 1024];
    snprintf(text, sizeof text,
             "%scorpus %s: %zu %s tokens, vocabulary %d; training %ld, validation %ld\n"
             "training time %.1f minutes; weights of epoch %d\n%s",
             r->summary, o->text, nids, r->level, r->vocab_size, r->ntrain, r->nval, r->minutes,
             r->kept_epoch, r->result);
    return sn_run_write_text(run_dir, "summary.txt", text, err);
}

sn_status sn_text_run(const sn_run_options *o, sn_run_result *r, sn_run_folder *folder,
                      sn_error *err) {
    const int writer = sn_run_writer(); /* rank 0 of a data-parallel run writes */
    const char *run_dir = r->run_dir;
    sn_dist_training *dist = NULL;
    sn_text_spec t;
    sn_text_spec_default(&t);
    char *orig = NULL, *corpus = NULL;
    size_t spec_len = 0, corpus_len = 0, nids = 0;
    int *ids = NULL;
    sn_vocab *v = NULL;
    sn_model *m = NULL;
    text_hooks p = {.user = &o->hooks};
    p.kept.train_loss = p.kept.val_loss = NAN; /* until training ends */
    char opts[160], model_path[1200], path[1200], changed[32] = "";
    const char *keys[2] = {"text_level", "text_options"}, *vals[2] = {NULL, opts};
    sn_status s = SN_OK;
    if (o->spec_text) {
        if (!(orig = sn_alloc(strlen(o->spec_text) + 1, 1)))
            s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
        else
            memcpy(orig, o->spec_text, strlen(o->spec_text) + 1);
    } else {
        s = sn_text_read_file(o->spec_path, &orig, &spec_len, err);
    }
    if (s == SN_OK) s = sn_text_spec_parse(orig, o->spec_path, &t, err);
    if (s == SN_OK && o->level) s = sn_text_level_parse(o->level, &t.level, err);
    apply_options(o, &t, NULL);
    if (s == SN_OK && t.val > 0.9)
        s = sn_fail(err, SN_ERR_ARG, "val_split %g: a text run holds out at most 0.9 of the text",
                    t.val);
    if (s == SN_OK) s = sn_text_read_file(o->text, &corpus, &corpus_len, err);
    if (s == SN_OK && (s = sn_vocab_build(corpus, corpus_len, t.level, t.words, &v, err)))
        sn_wrap(err, "%s", o->text);
    if (s == SN_OK && (s = sn_vocab_encode(v, corpus, corpus_len, &ids, &nids, err)))
        sn_wrap(err, "%s", o->text);
    if (s == SN_OK) s = sn_run_build_model(o->spec_path, orig, o->seed, sn_vocab_size(v), &m, err);
    if (s == SN_OK) {
        apply_options(o, &t, sn_model_config(m));
        t.o.prime = t.prime[0] ? t.prime : NULL;
    }
    size_t nval = s == SN_OK ? (size_t)llround(t.val * (double)nids) : 0;
    /* the model's whole memory weighed (and taken) before the folder is touched */
    if (s == SN_OK) s = sn_model_reserve(m, t.o.seq_len * sn_model_config(m)->batch, err);
    sn_run_ckpt ck;
    if (s == SN_OK) {
        const sn_train_config *c = sn_model_config(m);
        /* the folder locked for this run, then what a resume resumes checked */
        if (writer) s = sn_run_folder_begin(folder, run_dir, o->resume, o->force, err);
        sn_run_ckpt_init(&ck, o, run_dir, writer, c->epochs);
        sn_run_inputs_of_text(ck.inputs, sizeof ck.inputs, corpus, corpus_len);
        if (s == SN_OK && o->resume)
            s = sn_run_resume_check(run_dir, sn_model_spec(m), ck.inputs, c->epochs,
                                    o->resume_changed_inputs, changed, sizeof changed, err);
        if (s == SN_OK && !o->resume && writer) /* what a resume builds the model from */
            s = sn_run_write_text(run_dir, "spec.net", orig, err);
        if (s == SN_OK && writer)
            s = sn_run_txt_text(run_dir, o, &t, m, o->resume, changed, 0, err);
    }
    if (s == SN_OK)
        s = sn_run_dist_begin(o, run_dir, m, NULL, NULL, ids, nids * sizeof *ids, "encoded text",
                              &ck.ck, &dist, err);
    if (s == SN_OK && writer) {
        snprintf(path, sizeof path, "%s/samples.txt", run_dir);
        p.samples = fopen(path, o->resume ? "a" : "w");
        if (!p.samples) s = sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    if (s == SN_OK) {
        r->ntrain = (long)(nids - nval), r->nval = (long)nval;
        r->vocab_size = sn_vocab_size(v);
        r->level = sn_text_level_name(t.level);
        r->val_fraction = t.val;
        r->config = *sn_model_config(m);
        r->threads = sn_get_threads();
        sn_model_summary(m, r->summary, sizeof r->summary);
        if (o->on_start) o->on_start(o->hooks.ctx, r);
        snprintf(opts, sizeof opts, "seq=%d val=%g words=%d", t.o.seq_len, t.val, t.words);
        vals[0] = sn_text_level_name(t.level);
        snprintf(model_path, sizeof model_path, "%s/model.safetensors", run_dir);
        p.m = m, p.v = v, p.model_path = writer ? model_path : NULL;
        p.nmeta = 2, p.meta_keys = keys, p.meta_vals = vals;
        snprintf(path, sizeof path, "%s/history.csv", run_dir);
        sn_train_hooks hooks = {.ctx = &p,
                                .on_batch = sn_run_pass_batch,
                                .on_epoch = on_epoch,
                                .on_sample = on_sample,
                                .on_end = on_end,
                                .dist = dist ? sn_dist_training_hooks(dist) : NULL};
        double t0 = now_s();
        s = sn_text_train_checkpointed(m, v, ids, nids - nval, nval ? ids + nids - nval : NULL,
                                       nval, &t.o, &hooks, writer ? path : NULL, &ck.ck, err);
        sn_dist_training_free(dist);
        dist = NULL;
        r->minutes = (now_s() - t0) / 60;
        r->kept_epoch = p.kept.epoch;
        r->train_loss = p.kept.train_loss, r->val_loss = p.kept.val_loss;
        text_result(r);
        if (s == SN_OK && p.save_status != SN_OK) {
            s = p.save_status;
            if (err) *err = p.save_err;
        }
        if (s == SN_OK && writer) { /* the other ranks are done: rank 0 writes the rest */
            s = sn_text_model_save(m, v, model_path, 2, keys, vals, err);
            if (s == SN_OK) s = write_summary(run_dir, o, r, nids, err);
            if (s == SN_OK) /* again, with the kept epoch (run.txt keeps its start) */
                s = sn_run_txt_text(run_dir, o, &t, m, 1, changed, p.kept.epoch, err);
            if (s == SN_OK && (fflush(p.samples) != 0 || ferror(p.samples)))
                s = sn_fail(err, SN_ERR_IO, "%s/samples.txt: write error: %s", run_dir,
                            strerror(errno));
            if (s == SN_OK) s = sn_report_write(run_dir, NULL, err);
        }
    }
    sn_dist_training_free(dist); /* after an error before training */
    if (p.samples && fclose(p.samples) != 0 && s == SN_OK)
        s = sn_fail(err, SN_ERR_IO, "%s/samples.txt: write error: %s", run_dir, strerror(errno));
    sn_model_free(m);
    sn_vocab_free(v);
    sn_free(ids);
    sn_free(corpus);
    sn_free(orig);
    return s;
}
