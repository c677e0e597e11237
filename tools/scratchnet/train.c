/* scratchnet train SPEC --data DIR|FILE.csv [options] */
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

const char cli_train_usage[] =
    "usage: scratchnet train SPEC --data DIR|FILE.csv [options]\n"
    "       scratchnet train SPEC --text FILE [options]\n"
    "       scratchnet train --resume RUN_DIR [--epochs N] [options]\n"
    "\n"
    "Trains the model a spec file describes, evaluates it on the test set and\n"
    "writes model.safetensors, history.csv, summary.txt, spec.net, run.txt, the\n"
    "test set's metrics (metrics.csv, per_class.csv, confusion.csv,\n"
    "misclassified.safetensors) and report.html to a run folder. Options given\n"
    "here override the spec's [train] section.\n"
    "\n"
    "  --data DIR|FILE    IDX folder (train-*/t10k-* files), CIFAR-10 binary folder or a\n"
    "                     numeric CSV\n"
    "  --test FILE.csv    test set for CSV data\n"
    "  -o, --out RUN_DIR  run folder (default runs/<spec name>-<date>-<time>)\n"
    "  --seed N           seed for initialization, shuffling and the split (0 is a seed)\n"
    "  --epochs N         number of epochs (at least 1)\n"
    "  --batch N          mini-batch size (text: parallel streams)\n"
    "  --lr X             learning rate\n"
    "  --val-split F      fraction of the training set held out for validation\n"
    "                     (text: the last fraction of the corpus, default 0.1)\n"
    "  --minutes M        stop training after M minutes (a resumed run counts the time\n"
    "                     its earlier runs used)\n"
    "  --threads N        threads for the kernels (default: all cores; at most 4 per core)\n"
    "  --standardize      scale each feature to mean 0, std 1 (training set statistics)\n"
    "  --skip-nonfinite   skip a batch whose loss or gradient is NaN/inf or explodes\n"
    "                     (max_grad_norm, max_loss_ratio in [train]) instead of stopping;\n"
    "                     history.csv counts them (skipped)\n"
    "  --label-col N      CSV: column of the class label (default: the last)\n"
    "  --target-cols A,B  CSV: regression target columns instead of a label\n"
    "  --header yes|no|auto  CSV: whether the first row is a header (default auto)\n"
    "  --cifar-per-file N CIFAR-10 folder (data_batch_1.bin ... test_batch.bin): read only\n"
    "                     the first N images of each batch file\n"
    "  --grey             CIFAR-10: 1x32x32 grey-scale images, Y = 0.299 R + 0.587 G + 0.114 B\n"
    "                     (ITU-R BT.601), instead of 3x32x32 colour\n"
    "  --classes FILE     class names, one per line (default: DIR/classes.txt, Fashion-MNIST's\n"
    "                     names for a folder called *fashion*, else the label numbers)\n"
    "  --quiet            print only the final result\n"
    "  --checkpoint-every N  write RUN_DIR/checkpoint.safetensors every N epochs\n"
    "  --checkpoint-steps N  ... and every N optimizer steps (mid-epoch)\n"
    "  --resume RUN_DIR   continue the run saved in RUN_DIR/checkpoint.safetensors with its\n"
    "                     spec.net and recorded options (--epochs N to train longer); ends\n"
    "                     with bitwise the weights of an uninterrupted run; refused when the\n"
    "                     spec or the data differ from the checkpoint's\n"
    "  --resume-changed-inputs  resume anyway (run.txt records it)\n"
    "  --force            replace the run RUN_DIR holds (its files are put back if this\n"
    "                     training fails)\n"
    "  --max-memory SIZE  refuse a model that needs more to train (512M, 4G; default: the\n"
    "                     memory available; 'scratchnet summary' shows what a spec needs)\n"
    "  --bucket-kb N      data-parallel (mpirun): gradient all-reduce buckets of N KiB\n"
    "                     (default 256)\n"
    "  --check-weights N  data-parallel: check every N steps that all ranks hold the same\n"
    "                     weights\n"
    "\n"
    "With an MPI build, 'mpirun -np P scratchnet train ...' trains on P processes: each\n"
    "takes its share of every batch, rank 0 writes the run folder (docs/distributed.md).\n"
    "\n"
    "Text models (--text): the spec's network reads token ids ('input 1', then\n"
    "embedding or onehot) and may write 'vocab' for the vocabulary size. Its\n"
    "[text] section and these options set the data; [train] the optimizer,\n"
    "batch, clip, epochs. Losses are mean nats per token. The run folder gets\n"
    "samples.txt too.\n"
    "\n"
    "  --text FILE        the corpus (UTF-8; any file with --level byte)\n"
    "  --level char|byte|word  tokens (default char)\n"
    "  --words K          word level: the K most frequent words (default 5000)\n"
    "  --seq-len T        steps per batch, the truncated BPTT length (default 50)\n"
    "  --sample-every N   print a sample every N epochs (default 1; 0: never)\n"
    "  --sample-length N  tokens per sample (default 200)\n"
    "  --temperature X    of the samples (default 0.8)\n"
    "  --prime TEXT       text the samples start from\n"
    "\n"
    "Options take their value as '--epochs 5' or '--epochs=5'. Ctrl-C (SIGINT),\n"
    "SIGTERM and SIGHUP stop after the current step, write the checkpoint and exit\n"
    "with status 130, 143 or 129; a second one exits at once. One training at a time\n"
    "writes a run folder (RUN_DIR/.lock).\n";

static const char *const opts[] = {"--data",
                                   "--test",
                                   "--out",
                                   "--seed",
                                   "--epochs",
                                   "--batch",
                                   "--lr",
                                   "--val-split",
                                   "--minutes",
                                   "--threads",
                                   "--standardize",
                                   "--skip-nonfinite",
                                   "--label-col",
                                   "--target-cols",
                                   "--header",
                                   "--cifar-per-file",
                                   "--grey",
                                   "--classes",
                                   "--quiet",
                                   "--checkpoint-every",
                                   "--checkpoint-steps",
                                   "--resume",
                                   "--resume-changed-inputs",
                                   "--max-memory",
                                   "--force",
                                   "--bucket-kb",
                                   "--check-weights",
                                   NULL};
const cli_verb cli_verb_train = {"train", cli_train_usage, opts, 1, 1};

static void now_text(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* run.txt: what the run was, "key value" per line, for reports and sweeps. */
static sn_status write_run_txt(const char *dir, const cli_opts *o, const sn_model *m,
                               const char *spec_path, const char *started, const char *finished,
                               int ntrain, int nval, int ntest, const char *changed, int kept,
                               sn_error *err) {
    const sn_train_config *c = sn_model_config((sn_model *)m);
    char text[8192];
    int k = snprintf(text, sizeof text,
                     "# what this run trained, on what, and how (scratchnet train)\n%s"
                     "spec %s\ndata %s\n",
                     started, spec_path, o->data ? o->data : "-");
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (k < (int)sizeof text) k += snprintf(text + k, sizeof text - (size_t)k, __VA_ARGS__);   \
    } while (0)
    if (o->test) ADD("test %s\n", o->test);
    if (o->classes) ADD("classes %s\n", o->classes);
    ADD("task %s\n", o->target_cols ? "regression" : "classification");
    if (o->label_col >= 0) ADD("label_col %ld\n", o->label_col);
    if (o->target_cols) ADD("target_cols %s\n", o->target_cols);
    if (cli_header(o) >= 0) ADD("header %s\n", o->header);
    ADD("optimizer %s\nlr %g\n", c->optimizer, (double)c->lr);
    if (strcmp(c->optimizer, "sgd") == 0)
        ADD("momentum %g\nnesterov %d\ndecay %g\n", (double)c->momentum, c->nesterov,
            (double)c->decay);
    else
        ADD("beta1 %g\nbeta2 %g\neps %g\n", (double)c->beta1, (double)c->beta2, (double)c->eps);
    ADD("weight_decay %g\nbatch %d\nepochs %d\nval_split %g\n", (double)c->weight_decay, c->batch,
        c->epochs, (double)c->val_split);
    char lines[512];
    cli_train_lines(lines, sizeof lines, c);
    ADD("%s", lines);
    ADD("skip_nonfinite %s\nmax_grad_norm %g\nmax_loss_ratio %g\n",
        c->skip_nonfinite ? "yes" : "no", (double)c->max_grad_norm, (double)c->max_loss_ratio);
    ADD("seed %llu\nstandardize %s\nthreads %d\n", (unsigned long long)c->seed,
        c->standardize ? "yes" : "no", sn_get_threads());
    ADD("samples %d train, %d validation, %d test\nparameters %zu\n", ntrain, nval, ntest,
        sn_model_num_params(m));
    if (changed && changed[0]) ADD("resumed_on_changed_inputs %s\n", changed);
    if (finished) ADD("finished %s\n", finished);
    if (kept > 0) ADD("kept_epoch %d\n", kept); /* the epoch whose weights the model holds */
#undef ADD
    return cli_write_text(dir, "run.txt", text, err);
}

static void apply_overrides(const cli_opts *o, sn_train_config *c) {
    if (o->seed >= 0) c->seed = (uint64_t)o->seed;
    if (o->epochs >= 0) c->epochs = (int)o->epochs;
    if (o->batch > 0) c->batch = (int)o->batch;
    if (o->lr > 0) c->lr = (float)o->lr;
    if (o->val_split >= 0) c->val_split = (float)o->val_split;
    if (o->skip_nonfinite) c->skip_nonfinite = 1;
    if (o->minutes > 0) c->max_seconds = 60 * o->minutes;
    if (o->standardize) c->standardize = 1;
}

/* train and val as training uses them: `all` split by the model's val_split
 * (train borrows `all` without a split; *own_train says when it is a copy),
 * and the model's input pipeline fitted to the training part: the library's
 * code, as sn_train runs it for any caller. */
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

sn_status cli_train_run(const cli_opts *o, sn_model *m, const char *spec_path,
                        const sn_dataset *all, const sn_dataset *test, const char *run_dir,
                        sn_error *err) {
    sn_dataset train = {0}, val = {0}, tst = {0};
    char path[1200], started[6000], finished[32];
    char **names = NULL;
    int K = sn_model_num_classes(m), kept = 0;
    apply_overrides(o, sn_model_config(m));
    const sn_train_config *c = sn_model_config(m);
    cli_run_head(started, sizeof started, run_dir, o->resume != NULL);
    const int writer = cli_dist_writer(); /* rank 0 of a data-parallel run writes */
    sn_dist_training *dist = NULL;
    int own_train = 0;
    /* the model's whole memory weighed (and taken) before the folder is touched */
    sn_status s = sn_model_reserve(m, c->batch, err);
    if (s == SN_OK) s = prepare_data(m, all, &train, &val, &own_train, err);
    int have_val = s == SN_OK && val.n > 0;
    tst = *test; /* raw: the model standardizes what it is given */
    /* Class names first: a bad classes file should not cost a training. */
    if (s == SN_OK && all->labels)
        s = sn_class_names_load(o->data, o->classes, all, K, &names, err);
    if (s == SN_OK && names) s = sn_model_set_class_names(m, names, K, err);
    /* the folder locked for this run, then what a resume resumes checked */
    if (s == SN_OK && writer) s = cli_run_begin(run_dir, o->resume != NULL, o->force, err);
    char inputs[160], epochs_text[16], changed[32] = "";
    cli_inputs_of_data(inputs, sizeof inputs, all, test);
    snprintf(epochs_text, sizeof epochs_text, "%d", c->epochs);
    if (s == SN_OK && o->resume)
        s = cli_resume_check(run_dir, sn_model_spec(m), inputs, c->epochs, o->resume_changed_inputs,
                             changed, sizeof changed, err);
    if (s == SN_OK)
        s = cli_dist_begin(o->record, o->resume, o->bucket_kb, o->check_weights, m, &train, &tst,
                           NULL, 0, NULL, &dist, err);
    if (s == SN_OK && writer) {
        char summary[8192];
        sn_model_summary(m, summary, sizeof summary);
        if (!o->quiet) fprintf(stderr, "%s", summary);
        s = cli_write_text(run_dir, "summary.txt", summary, err);
        if (s == SN_OK && !o->resume) /* a resume reads it: never half-written then */
            s = cli_write_text(run_dir, "spec.net", sn_model_spec(m), err);
        if (s == SN_OK)
            s = write_run_txt(run_dir, o, m, spec_path, started, NULL, train.n, val.n, tst.n,
                              changed, 0, err);
    }
    if (s == SN_OK) {
        if (!o->quiet && writer)
            fprintf(stderr,
                    "training on %d samples (%d validation, %d test), %d epochs, batch %d, %s "
                    "lr %g, %d threads\n",
                    train.n, val.n, tst.n, c->epochs, c->batch, c->optimizer, c->lr,
                    sn_get_threads());
        cli_progress prog;
        sn_train_hooks hooks = cli_progress_hooks(&prog, o->quiet || !writer, c->epochs);
        if (dist) hooks.dist = sn_dist_training_hooks(dist);
        prog.budget_s = c->max_seconds;
        snprintf(path, sizeof path, "%s/history.csv", run_dir);
        /* checkpoints: RUN_DIR/checkpoint.safetensors (checkpoint.c) */
        char ckpt[1200];
        cli_checkpoint_path(ckpt, sizeof ckpt, run_dir);
        char ranks[16];
        cli_dist_ranks_text(ranks, sizeof ranks);
        const char *ck_keys[] = {"cli.args", "cli.inputs", "cli.epochs", "cli.ranks"},
                   *ck_vals[] = {o->record, inputs, epochs_text, ranks};
        sn_checkpoint_options ck = {.path = writer ? ckpt : NULL,
                                    .every_epochs = (int)o->checkpoint_every,
                                    .every_steps = o->checkpoint_steps,
                                    .resume = o->resume ? ckpt : NULL,
                                    .nmeta = 4,
                                    .meta_keys = ck_keys,
                                    .meta_values = ck_vals,
                                    .delay_ms = cli_checkpoint_delay_ms(),
                                    .stop_requested = cli_stop_requested};
        if (o->record) cli_interrupt_install();
        s = sn_train_checkpointed(m, &train, have_val ? &val : NULL, tst.n ? &tst : NULL, &hooks,
                                  writer ? path : NULL, o->record ? &ck : NULL, err);
        kept = prog.kept_epoch;
        sn_dist_training_free(dist);
        dist = NULL;
    }
    sn_dist_training_free(dist); /* after an error before training */
    if (!writer) {               /* the other ranks are done: rank 0 writes the rest */
        sn_class_names_free(names, K);
        if (own_train) sn_dataset_free(&train);
        sn_dataset_free(&val);
        return s;
    }
    if (s == SN_OK) {
        snprintf(path, sizeof path, "%s/model.safetensors", run_dir);
        s = sn_model_save(m, path, err);
    }
    if (s == SN_OK && tst.n) {
        double loss, acc;
        s = sn_evaluate(m, &tst, c->batch, &loss, &acc, err);
        if (s == SN_OK && !isnan(acc)) printf("test accuracy: %.2f %%\n", 100 * acc);
        if (s == SN_OK) printf("test loss: %.4f\n", loss);
    }
    if (s == SN_OK && tst.n && tst.labels) {
        s = sn_run_write_eval(run_dir, m, &tst, names, 40, err);
        sn_table t;
        snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
        if (s == SN_OK && sn_table_read(path, &t, NULL) == SN_OK) {
            for (int r = 0; r < t.nrows; r++)
                if (strcmp(sn_table_str(&t, r, 0), "macro_f1") == 0)
                    printf("test macro F1: %.4f\n", sn_table_num(&t, r, 1));
            sn_table_free(&t);
        }
    }
    if (s == SN_OK) {
        now_text(finished, sizeof finished);
        s = write_run_txt(run_dir, o, m, spec_path, started, finished, train.n, val.n, tst.n,
                          changed, kept, err);
    }
    if (s == SN_OK) {
        s = sn_report_write(run_dir, NULL, err);
        if (s == SN_OK && !o->quiet) fprintf(stderr, "report: %s/report.html\n", run_dir);
    }
    if (s == SN_OK && !o->quiet) fprintf(stderr, "run folder: %s\n", run_dir);
    cli_run_end(run_dir, s);
    sn_class_names_free(names, K);
    if (own_train) sn_dataset_free(&train);
    sn_dataset_free(&val);
    return s;
}

int cmd_train(int argc, char **argv) {
    cli_opts o;
    cli_resume res = {0};
    const char *resume_dir = NULL;
    int rc = 0;
    char *record = cli_train_prologue(&argc, &argv, cli_flag_names(), &res, &resume_dir, &rc);
    if (!record) {
        cli_resume_free(&res);
        return rc;
    }
    rc = cli_parse(argc, argv, &cli_verb_train, &o);
    o.resume = resume_dir;
    o.record = record;
    if (rc) {
        free(record);
        cli_resume_free(&res);
        return rc < 0 ? 0 : rc;
    }
    if (!o.data) {
        fprintf(stderr,
                "scratchnet train: --data is required (or --text FILE for a text model)\nsee "
                "'scratchnet train --help'\n");
        free(record);
        cli_resume_free(&res);
        return EXIT_USAGE;
    }
    sn_set_threads((int)o.threads);
    sn_set_memory_limit(o.max_memory);

    sn_error err = {0};
    sn_model *m = NULL;
    sn_dataset all = {0}, test = {0};
    char run_dir[1024];
    sn_status s = cli_build_model(o.positional[0], NULL, o.seed, &m, &err);
    if (s == SN_OK) s = cli_load_data(&o, &all, &test, 1, &err);
    if (s == SN_OK) s = cli_check_labels(&o, m, &all, &test, &err);
    if (s == SN_OK) {
        if (o.out)
            snprintf(run_dir, sizeof run_dir, "%s", o.out);
        else
            cli_default_run_dir(run_dir, sizeof run_dir, o.positional[0]);
        s = cli_train_run(&o, m, o.positional[0], &all, &test, run_dir, &err);
    }
    if (s != SN_OK) fprintf(stderr, "scratchnet train: %s\n", err.msg);
    if (s == SN_ERR_INTERRUPTED)
        fprintf(stderr, "resume with: scratchnet train --resume %s\n", run_dir);
    sn_dataset_free(&all);
    sn_dataset_free(&test);
    sn_model_free(m);
    free(record);
    cli_resume_free(&res);
    return s == SN_OK ? 0 : s == SN_ERR_INTERRUPTED ? cli_interrupted_status() : EXIT_RUNTIME;
}
