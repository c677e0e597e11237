/* A training run: a spec's model trained on a data set into a run folder
 * (include/scratchnet.h, "training runs"). This file holds what both kinds
 * of run share and the table run; text.c the text run, folder.c the
 * folder's rules, runtxt.c run.txt.
 *
 * A table run: the model built (seeded as asked), the [train] overrides
 * applied, its whole memory weighed and taken, the data split and the input
 * pipeline fitted, the class names set, then the folder locked and a resume
 * checked, then summary.txt, spec.net and run.txt, training (history.csv,
 * checkpoints), model.safetensors, the test set's metrics, run.txt again
 * with "finished", report.html. */
#include "dist/dist.h"
#include "report/report.h"
#include "run/run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sn_run_options_default(sn_run_options *o) {
    memset(o, 0, sizeof *o);
    o->seed = o->epochs = o->batch = -1;
    o->lr = o->val_split = o->minutes = -1;
    o->data_options.csv.header = o->data_options.csv.label_col = -1;
    o->words = o->seq_len = o->sample_every = o->sample_length = -1;
    o->temperature = -1;
    o->checkpoint_every = o->checkpoint_steps = -1;
    o->bucket_kb = o->check_weights = -1;
}

sn_status sn_run_build_model(const char *path, const char *text, long seed, int vocab_size,
                             sn_model **m, sn_error *err) {
    *m = NULL;
    uint64_t sd = seed > 0 ? (uint64_t)seed : 0; /* 0 to the builders: the spec's seed */
    if (!text && seed != 0 && vocab_size <= 0) return sn_model_from_file(path, sd, m, err);
    char *file = NULL, *spec = NULL;
    size_t n = 0;
    sn_status s = text ? SN_OK : sn_text_read_file(path, &file, &n, err);
    const char *src = text ? text : file;
    static const char seed0[] = "\n[train]\nseed 0\n"; /* seed 0 asked for */
    if (s == SN_OK && seed == 0) {
        if ((spec = malloc(strlen(src) + sizeof seed0)))
            src = strcat(strcpy(spec, src), seed0);
        else
            s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
    }
    if (s == SN_OK)
        s = vocab_size > 0 ? sn_text_model_from_spec(src, path, sd, vocab_size, m, err)
                           : sn_model_from_spec(src, path, sd, m, err);
    free(spec);
    sn_free(file);
    return s;
}

void sn_run_ckpt_init(sn_run_ckpt *c, const sn_run_options *o, const char *run_dir, int writer,
                      int epochs) {
    sn_run_checkpoint_path(c->path, sizeof c->path, run_dir);
    snprintf(c->epochs, sizeof c->epochs, "%d", epochs);
    snprintf(c->ranks, sizeof c->ranks, "%d", sn_dist_size());
    c->keys[0] = "cli.args", c->keys[1] = "cli.inputs";
    c->keys[2] = "cli.epochs", c->keys[3] = "cli.ranks";
    c->values[0] = o->record ? o->record : "", c->values[1] = c->inputs;
    c->values[2] = c->epochs, c->values[3] = c->ranks;
    c->ck = (sn_checkpoint_options){.path = writer ? c->path : NULL,
                                    .every_epochs = (int)o->checkpoint_every,
                                    .every_steps = o->checkpoint_steps,
                                    .resume = o->resume ? c->path : NULL,
                                    .nmeta = 4,
                                    .meta_keys = c->keys,
                                    .meta_values = c->values,
                                    .delay_ms = o->checkpoint_delay_ms,
                                    .stop_requested = o->stop_requested,
                                    .stop_ctx = o->stop_ctx};
}

/* ---- the table run ------------------------------------------------------------ */

/* The caller's hooks, and the epoch whose weights the model holds. */
typedef struct table_hooks {
    const sn_train_hooks *user;
    int kept_epoch;
} table_hooks;

void sn_run_pass_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                       double rate) {
    const sn_train_hooks *u = *(const sn_train_hooks **)ctx;
    if (u->on_batch) u->on_batch(u->ctx, epoch, batch, nbatches, loss, acc, rate);
}

static int table_on_epoch(void *ctx, const sn_epoch_stats *e) {
    table_hooks *h = ctx;
    h->kept_epoch = e->kept_epoch;
    return h->user->on_epoch ? h->user->on_epoch(h->user->ctx, e) : 0;
}

static void table_on_end(void *ctx, const sn_epoch_stats *kept) {
    const sn_train_hooks *u = ((table_hooks *)ctx)->user;
    if (u->on_end) u->on_end(u->ctx, kept);
}

static void apply_overrides(const sn_run_options *o, sn_train_config *c) {
    if (o->seed >= 0) c->seed = (uint64_t)o->seed;
    if (o->epochs > 0) c->epochs = (int)o->epochs;
    if (o->batch > 0) c->batch = (int)o->batch;
    if (o->lr > 0) c->lr = (float)o->lr;
    if (o->val_split >= 0) c->val_split = (float)o->val_split;
    if (o->skip_nonfinite) c->skip_nonfinite = 1;
    if (o->minutes > 0) c->max_seconds = 60 * o->minutes;
    if (o->standardize) c->standardize = 1;
}

/* train and val as training uses them: `all` split by the model's val_split
 * (train borrows `all` without a split; *own_train says when it is a copy),
 * and the model's input pipeline fitted to the training part. */
static sn_status prepare_data(sn_model *m, const sn_dataset *all, sn_dataset *train,
                              sn_dataset *val, int *own_train, sn_error *err) {
    sn_status s = SN_OK;
    *own_train = sn_model_config(m)->val_split > 0;
    if (*own_train)
        s = sn_train_split(m, all, train, val, err);
    else
        *train = *all;
    if (s == SN_OK) s = sn_model_fit_input(m, train, err);
    return s;
}

/* r->result: the test set's figures. */
static void table_result(sn_run_result *r) {
    size_t k = 0, n = sizeof r->result;
    if (!isnan(r->test_acc))
        k += (size_t)snprintf(r->result + k, n - k, "test accuracy: %.2f %%\n", 100 * r->test_acc);
    k += (size_t)snprintf(r->result + k, n - k, "test loss: %.4f\n", r->test_loss);
    if (!isnan(r->test_macro_f1))
        snprintf(r->result + k, n - k, "test macro F1: %.4f\n", r->test_macro_f1);
}

static sn_status table_run(const sn_run_options *o, sn_model *m, const sn_dataset *all,
                           const sn_dataset *test, sn_run_result *r, sn_run_folder *folder,
                           sn_error *err) {
    sn_dataset train = {0}, val = {0}, tst = {0}, none = {0};
    const char *run_dir = r->run_dir;
    char path[1200], head[6000], finished[32];
    char **names = NULL;
    int K = sn_model_num_classes(m);
    apply_overrides(o, sn_model_config(m));
    const sn_train_config *c = sn_model_config(m);
    sn_run_head(head, sizeof head, run_dir, o->command, o->resume);
    const int writer = sn_run_writer(); /* rank 0 of a data-parallel run writes */
    sn_dist_training *dist = NULL;
    int own_train = 0;
    tst = test ? *test : none; /* raw: the model standardizes what it is given */
    const char *data = o->data ? o->data : "data";
    sn_status s = sn_data_check_labels(m, data, o->data_options.test, all, &tst, err);
    /* the model's whole memory weighed (and taken) before the folder is touched */
    if (s == SN_OK) s = sn_model_reserve(m, c->batch, err);
    if (s == SN_OK) s = prepare_data(m, all, &train, &val, &own_train, err);
    int have_val = s == SN_OK && val.n > 0;
    /* Class names first: a bad classes file should not cost a training. */
    if (s == SN_OK && all->labels)
        s = sn_class_names_load(o->data, o->classes, all, K, &names, err);
    if (s == SN_OK && names) s = sn_model_set_class_names(m, names, K, err);
    /* the folder locked for this run, then what a resume resumes checked */
    if (s == SN_OK && writer) s = sn_run_folder_begin(folder, run_dir, o->resume, o->force, err);
    sn_run_ckpt ck;
    sn_run_ckpt_init(&ck, o, run_dir, writer, c->epochs);
    sn_run_inputs_of_data(ck.inputs, sizeof ck.inputs, all, &tst);
    char changed[32] = "";
    if (s == SN_OK && o->resume)
        s = sn_run_resume_check(run_dir, sn_model_spec(m), ck.inputs, c->epochs,
                                o->resume_changed_inputs, changed, sizeof changed, err);
    if (s == SN_OK)
        s = sn_run_dist_begin(o, run_dir, m, &train, &tst, NULL, 0, NULL, &ck.ck, &dist, err);
    r->ntrain = train.n, r->nval = val.n, r->ntest = tst.n;
    r->config = *c;
    r->threads = sn_get_threads();
    sn_model_summary(m, r->summary, sizeof r->summary);
    if (s == SN_OK && writer) {
        s = sn_run_write_text(run_dir, "summary.txt", r->summary, err);
        if (s == SN_OK && !o->resume) /* a resume reads it: never half-written then */
            s = sn_run_write_text(run_dir, "spec.net", sn_model_spec(m), err);
        if (s == SN_OK)
            s = sn_run_txt_table(run_dir, o, m, head, NULL, train.n, val.n, tst.n, changed, 0, err);
    }
    table_hooks th = {.user = &o->hooks};
    if (s == SN_OK) {
        if (o->on_start) o->on_start(o->hooks.ctx, r);
        sn_train_hooks hooks = {.ctx = &th,
                                .on_batch = sn_run_pass_batch,
                                .on_epoch = table_on_epoch,
                                .on_end = table_on_end,
                                .dist = dist ? sn_dist_training_hooks(dist) : NULL};
        snprintf(path, sizeof path, "%s/history.csv", run_dir);
        s = sn_train_checkpointed(m, &train, have_val ? &val : NULL, tst.n ? &tst : NULL, &hooks,
                                  writer ? path : NULL, o->record ? &ck.ck : NULL, err);
        r->kept_epoch = th.kept_epoch;
    }
    sn_dist_training_free(dist);
    if (s == SN_OK && writer) { /* the other ranks are done: rank 0 writes the rest */
        snprintf(path, sizeof path, "%s/model.safetensors", run_dir);
        s = sn_model_save(m, path, err);
        if (s == SN_OK && tst.n)
            s = sn_evaluate(m, &tst, c->batch, &r->test_loss, &r->test_acc, err);
        if (s == SN_OK && tst.n && tst.labels)
            s = sn_run_write_eval_f1(run_dir, m, &tst, names, 40, &r->test_macro_f1, err);
        if (s == SN_OK && tst.n) table_result(r);
        if (s == SN_OK) {
            sn_run_now_text(finished, sizeof finished);
            s = sn_run_txt_table(run_dir, o, m, head, finished, train.n, val.n, tst.n, changed,
                                 th.kept_epoch, err);
        }
        if (s == SN_OK) s = sn_report_write(run_dir, NULL, err);
    }
    sn_class_names_free(names, K);
    if (own_train) sn_dataset_free(&train);
    sn_dataset_free(&val);
    return s;
}

/* ---- the entry point ------------------------------------------------------------ */

sn_status sn_run_train(const sn_run_options *o, sn_run_result *r, sn_error *err) {
    memset(r, 0, sizeof *r);
    r->train_loss = r->val_loss = r->test_loss = r->test_acc = r->test_macro_f1 = NAN;
    r->rank = sn_dist_rank(), r->ranks = sn_dist_size();
    r->text = o->text != NULL;
    if (!o->spec_path) return sn_fail(err, SN_ERR_ARG, "no spec (sn_run_options.spec_path)");
    if (!o->text && !o->train && !o->data)
        return sn_fail(err, SN_ERR_ARG, "no data (sn_run_options.data, train or text)");
    if (o->run_dir)
        snprintf(r->run_dir, sizeof r->run_dir, "%s", o->run_dir);
    else
        sn_run_default_dir(r->run_dir, sizeof r->run_dir, o->spec_path);
    sn_run_folder folder = {.lock_fd = -1};
    sn_status s;
    if (o->text) {
        s = sn_text_run(o, r, &folder, err);
    } else {
        sn_model *m = NULL;
        sn_dataset train = {0}, test = {0};
        s = sn_run_build_model(o->spec_path, o->spec_text, o->seed, 0, &m, err);
        if (s == SN_OK && !o->train)
            s = sn_data_load(o->data, &o->data_options, &train, &test, err);
        if (s == SN_OK)
            s = o->train ? table_run(o, m, o->train, o->test, r, &folder, err)
                         : table_run(o, m, &train, &test, r, &folder, err);
        sn_dataset_free(&train);
        sn_dataset_free(&test);
        sn_model_free(m);
    }
    char note[1200];
    sn_run_folder_end(&folder, r->run_dir, s, note, sizeof note);
    if (note[0] && o->on_note) o->on_note(o->hooks.ctx, note);
    return s;
}
