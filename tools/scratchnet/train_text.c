/* scratchnet train SPEC --text FILE [options]: text models.
 *
 * The spec is an ordinary model spec whose layers may write `vocab` for the
 * vocabulary size (known once the corpus is read), plus an optional [text]
 * section for the data settings; flags override both:
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
 *   sample_every 1          # epochs between printed samples
 *   sample_length 200
 *   temperature 0.8
 *   prime     The whale     # the rest of the line
 *   [train]
 *   optimizer adam lr=2e-3
 *   batch     32            # parallel streams
 *   clip      value=5
 *
 * The library reads the [text] section (sn_text_spec_parse) and builds the
 * model once the vocabulary is known (sn_text_model_from_spec); the spec it
 * makes is what the model file stores. */
#include "cli.h"
#include "dist/dist.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const opts[] = {"--text",
                                   "--level",
                                   "--words",
                                   "--seq-len",
                                   "--val-split",
                                   "--minutes",
                                   "--sample-every",
                                   "--sample-length",
                                   "--temperature",
                                   "--prime",
                                   "--out",
                                   "--skip-nonfinite",
                                   "--seed",
                                   "--epochs",
                                   "--batch",
                                   "--lr",
                                   "--threads",
                                   "--quiet",
                                   "--checkpoint-every",
                                   "--checkpoint-steps",
                                   "--resume",
                                   "--max-memory",
                                   "--resume-changed-inputs",
                                   "--force",
                                   "--bucket-kb",
                                   "--check-weights",
                                   NULL};

const cli_verb cli_verb_train_text = {"train", cli_train_usage, opts, 0, 1};

typedef sn_text_spec text_cfg; /* the spec's [text] section, then the flags */

int cli_wants_text(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--text") == 0) return 1;
    const char *run_dir;
    return cli_has_resume(argc - 1, argv + 1, &run_dir) && cli_resume_is_text(run_dir);
}

/* Returns 0, EXIT_USAGE, or -1 after --help. */
static int parse_args(int argc, char **argv, cli_opts *a) {
    int rc = cli_parse(argc, argv, &cli_verb_train_text, a);
    if (rc == 0 && (!a->npositional || !a->text)) {
        fprintf(stderr, "scratchnet train: %s\nsee 'scratchnet train --help'\n",
                a->npositional ? "--text is required" : "missing SPEC");
        rc = EXIT_USAGE;
    }
    if (rc == 0 && a->val_split > 0.9) {
        fprintf(stderr, "scratchnet train: --val-split: at most 0.9 for text\n");
        rc = EXIT_USAGE;
    }
    return rc;
}

/* ---- progress, samples, run folder ----------------------------------------- */

typedef struct progress {
    cli_progress bar;
    FILE *samples;
    sn_epoch_stats kept; /* the epoch whose weights training ended with */
    /* the model file, rewritten (atomically) whenever the kept epoch changes,
     * so that an interrupted run leaves its best model behind */
    const sn_model *m;
    const sn_vocab *v;
    const char *model_path;
    int nmeta;
    const char *const *meta_keys, *const *meta_vals;
    sn_status save_status;
    sn_error save_err;
} progress;

/* The bar on a terminal, as for table training (tokens/s, the time
 * budget); in a log, one line per epoch. */
static void on_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double tps) {
    progress *p = ctx;
    (void)acc;
    cli_progress_batch(&p->bar, epoch, batch, nbatches, loss, NAN, tps, "tokens/s");
}

static int on_epoch(void *ctx, const sn_epoch_stats *e) {
    progress *p = ctx;
    if (e->kept_epoch == e->epoch) { /* the weights training would end with */
        if (p->model_path && p->save_status == SN_OK)
            p->save_status = sn_text_model_save(p->m, p->v, p->model_path, p->nmeta, p->meta_keys,
                                                p->meta_vals, &p->save_err);
    }
    if (p->bar.quiet) return 0;
    cli_progress_end_line(&p->bar);
    fprintf(stderr, "epoch %d/%d%s  loss %.4f (%.3f bits)", e->epoch, p->bar.epochs,
            e->partial ? " (time budget reached)" : "", e->train_loss, e->train_loss / log(2.0));
    if (!isnan(e->val_loss))
        fprintf(stderr, "  val %.4f (%.3f bits, perplexity %.2f)", e->val_loss,
                e->val_loss / log(2.0), exp(e->val_loss));
    if (e->skipped) fprintf(stderr, "  skipped %d", e->skipped);
    fprintf(stderr, "  lr %.3g  %.0f tokens/s  %.1fs\n", e->lr, e->samples_per_s, e->seconds);
    return 0;
}

static void on_end(void *ctx, const sn_epoch_stats *kept) {
    progress *p = ctx;
    p->kept = *kept;
}

/* The sample as bytes (byte-level text may hold NULs); a failed write to
 * samples.txt stays in its error flag, checked when the run ends. */
static void on_sample(void *ctx, int epoch, const char *text, size_t len) {
    progress *p = ctx;
    cli_progress_end_line(&p->bar); /* the sample starts on a line of its own */
    if (!p->bar.quiet) {
        printf("---- sample after epoch %d ----\n", epoch);
        fwrite(text, 1, len, stdout);
        printf("\n----\n");
    }
    fflush(stdout);
    if (p->samples) {
        fprintf(p->samples, "---- epoch %d ----\n", epoch);
        fwrite(text, 1, len, p->samples);
        fputs("\n\n", p->samples);
        fflush(p->samples);
    }
}

/* run.txt: the settings of the run, "key value" per line (as train.c's). */
static sn_status write_run_txt(const char *dir, const cli_opts *a, const text_cfg *t,
                               const sn_model *m, int resumed, const char *changed, int kept,
                               sn_error *err) {
    const sn_train_config *c = sn_model_config((sn_model *)m);
    char text[8192], head[6000], lines[512];
    cli_run_head(head, sizeof head, dir, resumed);
    cli_train_lines(lines, sizeof lines, c);
    int k = snprintf(
        text, sizeof text,
        "# what this run trained, on what, and how (scratchnet train --text)\n%s"
        "spec %s\ntext %s\nlevel %s\nseq %d\noptimizer %s\nlr %g\nbatch %d\nepochs %d\n"
        "seed %llu\nthreads %d\nskip_nonfinite %s\nmax_grad_norm %g\nmax_loss_ratio %g\n%s",
        head, a->positional[0], a->text, sn_text_level_name(t->level), t->o.seq_len, c->optimizer,
        (double)c->lr, c->batch, c->epochs, (unsigned long long)c->seed, sn_get_threads(),
        c->skip_nonfinite ? "yes" : "no", (double)c->max_grad_norm, (double)c->max_loss_ratio,
        lines);
    if (changed[0] && k > 0 && k < (int)sizeof text)
        k += snprintf(text + k, sizeof text - (size_t)k, "resumed_on_changed_inputs %s\n", changed);
    if (kept > 0 && k > 0 && k < (int)sizeof text) /* the epoch whose weights the model holds */
        snprintf(text + k, sizeof text - (size_t)k, "kept_epoch %d\n", kept);
    return cli_write_text(dir, "run.txt", text, err);
}

/* ---- the verb ------------------------------------------------------------- */

static void apply_args(const cli_opts *a, text_cfg *t, sn_train_config *c) {
    if (a->words > 0) t->words = (int)a->words;
    if (a->seq_len > 0) t->o.seq_len = (int)a->seq_len;
    if (a->val_split >= 0) t->val = a->val_split;
    if (a->minutes > 0) t->minutes = a->minutes;
    if (a->sample_every >= 0) t->o.sample_every = (int)a->sample_every;
    if (a->sample_length >= 0) t->o.sample_length = (int)a->sample_length;
    if (a->temperature >= 0) t->o.temperature = (float)a->temperature;
    if (a->prime) snprintf(t->prime, sizeof t->prime, "%s", a->prime);
    if (c) {
        if (a->seed >= 0) c->seed = (uint64_t)a->seed;
        if (a->epochs >= 0) c->epochs = (int)a->epochs;
        if (a->batch > 0) c->batch = (int)a->batch;
        if (a->lr > 0) c->lr = (float)a->lr;
        if (a->skip_nonfinite) c->skip_nonfinite = 1;
        if (t->minutes > 0) c->max_seconds = 60 * t->minutes;
    }
}

int cmd_train_text(int argc, char **argv) {
    cli_opts a;
    cli_resume res = {0};
    const char *resume_dir = NULL;
    int rc = 0;
    char *record = cli_train_prologue(&argc, &argv, cli_flag_names(), &res, &resume_dir, &rc);
    if (!record) {
        cli_resume_free(&res);
        return rc;
    }
    rc = parse_args(argc, argv, &a);
    if (rc) {
        free(record);
        cli_resume_free(&res);
        return rc < 0 ? 0 : rc;
    }
    sn_set_threads((int)a.threads);
    sn_set_memory_limit(a.max_memory);
    const int writer = cli_dist_writer(); /* rank 0 of a data-parallel run writes */
    sn_dist_training *dist = NULL;
    text_cfg t;
    sn_text_spec_default(&t);

    sn_error err = {0};
    char *orig = NULL, *corpus = NULL, *seeded = NULL;
    size_t spec_len = 0, corpus_len = 0, nids = 0;
    int *ids = NULL;
    sn_vocab *v = NULL;
    sn_model *m = NULL;
    progress p;
    memset(&p, 0, sizeof p);
    cli_progress_hooks(&p.bar, a.quiet || !writer, 0);
    p.kept.train_loss = p.kept.val_loss = NAN; /* until training ends */
    char opts[160], model_path[1200];
    const char *keys[2] = {"text_level", "text_options"}, *vals[2] = {NULL, opts};
    char run_dir[1024], path[1200], inputs[96] = "", epochs_text[16] = "", changed[32] = "";
    sn_status s = sn_text_read_file(a.positional[0], &orig, &spec_len, &err);
    if (s == SN_OK) s = sn_text_spec_parse(orig, a.positional[0], &t, &err);
    if (s == SN_OK && a.level) s = sn_text_level_parse(a.level, &t.level, &err);
    apply_args(&a, &t, NULL);
    if (s == SN_OK) s = sn_text_read_file(a.text, &corpus, &corpus_len, &err);
    if (s == SN_OK && (s = sn_vocab_build(corpus, corpus_len, t.level, t.words, &v, &err)))
        sn_wrap(&err, "%s", a.text);
    if (s == SN_OK && (s = sn_vocab_encode(v, corpus, corpus_len, &ids, &nids, &err)))
        sn_wrap(&err, "%s", a.text);
    if (s == SN_OK && a.seed == 0) { /* 0 to the library means "the spec's seed" */
        static const char seed0[] = "\n[train]\nseed 0\n";
        if ((seeded = malloc(strlen(orig) + sizeof seed0)))
            strcat(strcpy(seeded, orig), seed0);
        else
            s = sn_fail(&err, SN_ERR_NOMEM, "out of memory");
    }
    if (s == SN_OK)
        s = sn_text_model_from_spec(seeded ? seeded : orig, a.positional[0],
                                    a.seed > 0 ? (uint64_t)a.seed : 0, sn_vocab_size(v), &m, &err);
    if (s == SN_OK) {
        apply_args(&a, &t, sn_model_config(m));
        t.o.prime = t.prime[0] ? t.prime : NULL;
        p.bar.epochs = sn_model_config(m)->epochs;
        p.bar.budget_s = sn_model_config(m)->max_seconds;
    }
    size_t nval = s == SN_OK ? (size_t)llround(t.val * (double)nids) : 0;
    /* the model's whole memory weighed (and taken) before the folder is touched */
    if (s == SN_OK) s = sn_model_reserve(m, t.o.seq_len * sn_model_config(m)->batch, &err);
    if (s == SN_OK) {
        if (a.out)
            snprintf(run_dir, sizeof run_dir, "%s", a.out);
        else
            cli_default_run_dir(run_dir, sizeof run_dir, a.positional[0]);
        /* the folder locked for this run, then what a resume resumes checked */
        if (writer) s = cli_run_begin(run_dir, resume_dir != NULL, a.force, &err);
        cli_inputs_of_text(inputs, sizeof inputs, corpus, corpus_len);
        snprintf(epochs_text, sizeof epochs_text, "%d", sn_model_config(m)->epochs);
        if (s == SN_OK && resume_dir)
            s = cli_resume_check(run_dir, sn_model_spec(m), inputs, sn_model_config(m)->epochs,
                                 a.resume_changed_inputs, changed, sizeof changed, &err);
        if (s == SN_OK && !resume_dir && writer) /* what --resume builds the model from */
            s = cli_write_text(run_dir, "spec.net", orig, &err);
        if (s == SN_OK && writer)
            s = write_run_txt(run_dir, &a, &t, m, resume_dir != NULL, changed, 0, &err);
    }
    if (s == SN_OK)
        s = cli_dist_begin(record, resume_dir, a.bucket_kb, a.check_weights, m, NULL, NULL, ids,
                           nids * sizeof *ids, "encoded text", &dist, &err);
    if (s == SN_OK && writer) {
        snprintf(path, sizeof path, "%s/samples.txt", run_dir);
        p.samples = fopen(path, resume_dir ? "a" : "w");
        if (!p.samples)
            s = sn_fail(&err, SN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    if (s == SN_OK) {
        char summary[8192];
        sn_model_summary(m, summary, sizeof summary);
        if (!a.quiet && writer)
            fprintf(stderr,
                    "%s: %zu %s tokens, vocabulary %d; training %zu, validation %zu (last %.0f "
                    "%%)\n%s",
                    a.text, nids, sn_text_level_name(t.level), sn_vocab_size(v), nids - nval, nval,
                    100 * t.val, summary);
        snprintf(opts, sizeof opts, "seq=%d val=%g words=%d", t.o.seq_len, t.val, t.words);
        vals[0] = sn_text_level_name(t.level);
        snprintf(model_path, sizeof model_path, "%s/model.safetensors", run_dir);
        p.m = m, p.v = v, p.model_path = writer ? model_path : NULL;
        p.nmeta = 2, p.meta_keys = keys, p.meta_vals = vals;
        snprintf(path, sizeof path, "%s/history.csv", run_dir);
        sn_train_hooks hooks = {.ctx = &p,
                                .on_batch = on_batch,
                                .on_epoch = on_epoch,
                                .on_sample = on_sample,
                                .on_end = on_end,
                                .dist = dist ? sn_dist_training_hooks(dist) : NULL};
        double t0 = cli_now();
        char ckpt[1200]; /* checkpoints (checkpoint.c) */
        cli_checkpoint_path(ckpt, sizeof ckpt, run_dir);
        char ranks[16];
        cli_dist_ranks_text(ranks, sizeof ranks);
        const char *ck_keys[] = {"cli.args", "cli.inputs", "cli.epochs", "cli.ranks"},
                   *ck_vals[] = {record, inputs, epochs_text, ranks};
        sn_checkpoint_options ck = {.path = writer ? ckpt : NULL,
                                    .every_epochs = (int)a.checkpoint_every,
                                    .every_steps = a.checkpoint_steps,
                                    .resume = resume_dir ? ckpt : NULL,
                                    .nmeta = 4,
                                    .meta_keys = ck_keys,
                                    .meta_values = ck_vals,
                                    .delay_ms = cli_checkpoint_delay_ms(),
                                    .stop_requested = cli_stop_requested};
        cli_interrupt_install();
        s = sn_text_train_checkpointed(m, v, ids, nids - nval, nval ? ids + nids - nval : NULL,
                                       nval, &t.o, &hooks, writer ? path : NULL, &ck, &err);
        sn_dist_training_free(dist);
        dist = NULL;
        double minutes = (cli_now() - t0) / 60;
        if (s == SN_OK && p.save_status != SN_OK) {
            s = p.save_status;
            err = p.save_err;
        }
        if (s == SN_OK && writer) { /* the other ranks are done: rank 0 writes the rest */
            double val_loss = p.kept.val_loss, train_loss = p.kept.train_loss;
            s = sn_text_model_save(m, v, model_path, 2, keys, vals, &err);
            char text[8192 + 512];
            int k = snprintf(text, sizeof text, "%s", summary);
            k += snprintf(text + k, sizeof text - (size_t)k,
                          "corpus %s: %zu %s tokens, vocabulary %d; training %zu, validation %zu\n"
                          "training time %.1f minutes; weights of epoch %d\n"
                          "training loss %.4f nats/token (%.4f bits)\n",
                          a.text, nids, sn_text_level_name(t.level), sn_vocab_size(v), nids - nval,
                          nval, minutes, p.kept.epoch, train_loss, train_loss / log(2.0));
            if (nval)
                snprintf(text + k, sizeof text - (size_t)k,
                         "validation loss %.4f nats/token (%.4f bits), perplexity %.3f\n", val_loss,
                         val_loss / log(2.0), exp(val_loss));
            if (s == SN_OK) s = cli_write_text(run_dir, "summary.txt", text, &err);
            if (s == SN_OK) /* again, with the kept epoch (run.txt keeps its start) */
                s = write_run_txt(run_dir, &a, &t, m, 1, changed, p.kept.epoch, &err);

            if (s == SN_OK && (fflush(p.samples) != 0 || ferror(p.samples)))
                s = sn_fail(&err, SN_ERR_IO, "%s/samples.txt: write error: %s", run_dir,
                            strerror(errno));
            if (s == SN_OK) s = sn_report_write(run_dir, NULL, &err);
            if (s == SN_OK) {
                if (nval)
                    printf("validation loss %.4f nats/token (%.4f bits), perplexity %.3f (epoch "
                           "%d)\n",
                           val_loss, val_loss / log(2.0), exp(val_loss), p.kept.epoch);
                else
                    printf("training loss %.4f nats/token (%.4f bits) (epoch %d)\n", train_loss,
                           train_loss / log(2.0), p.kept.epoch);
                printf("model: %s/model.safetensors\n", run_dir);
            }
        }
    }
    sn_dist_training_free(dist); /* after an error before training */
    if (p.samples && fclose(p.samples) != 0 && s == SN_OK)
        s = sn_fail(&err, SN_ERR_IO, "%s/samples.txt: write error: %s", run_dir, strerror(errno));
    if (s != SN_OK) fprintf(stderr, "scratchnet train: %s\n", err.msg);
    sn_model_free(m);
    sn_vocab_free(v);
    sn_free(ids);
    sn_free(corpus);
    sn_free(orig);
    free(seeded);
    if (s == SN_ERR_INTERRUPTED)
        fprintf(stderr, "resume with: scratchnet train --resume %s\n", run_dir);
    free(record);
    cli_resume_free(&res);
    if (writer) cli_run_end(run_dir, s);
    return s == SN_OK ? 0 : s == SN_ERR_INTERRUPTED ? cli_interrupted_status() : EXIT_RUNTIME;
}
