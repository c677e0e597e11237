/* scratchnet train SPEC --data DIR|FILE.csv | --text FILE [options], and
 * scratchnet train --resume RUN_DIR: the options become an sn_run_options,
 * the library trains and writes the run folder (sn_run_train), this verb
 * prints the progress (the bar of cli.c; text runs: bits, perplexity and
 * samples) and the results.
 *
 * Every checkpoint records the command's options, one per line (the spec,
 * --out and --resume left out; --data, --test, --classes and --text made
 * absolute), so that `--resume RUN_DIR` rebuilds the same training from
 * RUN_DIR/spec.net and those options; options given with --resume come
 * after them and win (--epochs to train longer). */
#define _XOPEN_SOURCE 700 /* sigaction, realpath */
#include "cli.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    "  --allreduce auto|shm|mpi  data-parallel: how the gradients are summed: shm, in a\n"
    "                     shared-memory window per machine (hierarchical across machines);\n"
    "                     mpi, MPI_Iallreduce of buckets during backward; auto (default): shm\n"
    "                     when all ranks run on one machine, else mpi\n"
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
    "SIGTERM, SIGHUP and SIGUSR1 stop after the current step (under mpirun: every rank\n"
    "after the same step), write the checkpoint and exit with status 130, 143, 129 or\n"
    "138; a second one exits at once. One training at a time writes a run folder\n"
    "(RUN_DIR/.lock).\n";

static const char *const table_opts[] = {"--data",
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
                                         "--allreduce",
                                         NULL};
static const char *const text_opts[] = {"--text",
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
                                        "--allreduce",
                                        NULL};

const cli_verb cli_verb_train = {"train", cli_train_usage, table_opts, 1, 1};
const cli_verb cli_verb_train_text = {"train", cli_train_usage, text_opts, 0, 1};

/* ---- Ctrl-C, SIGTERM, SIGHUP ---------------------------------------------- */

/* The first of SIGINT (Ctrl-C), SIGTERM (kill, timeout, systemd), SIGHUP
 * (a closed terminal) and SIGUSR1 (which mpirun forwards to every rank
 * without ending them) asks the training to stop after the current step;
 * the verb then exits with 128 + the signal's number. Under mpirun every
 * rank stops after the same step and exits with the status of the signal
 * the ranks agreed on (sn_dist_stopped_together). A second signal exits at
 * once, with the same status (so does mpirun's SIGTERM to the ranks still
 * running once one has exited). */
static volatile sig_atomic_t stop_flag, stop_signal;

static void on_signal(int sig) {
    int agreed = sn_dist_stopped_together(); /* reads an int: safe here */
    if (stop_flag || agreed) {
        static const char msg[] = "\nscratchnet: interrupted again, exiting now\n";
        if (write(2, msg, sizeof msg - 1) < 0) {
        }
        _exit(128 + (agreed ? agreed : stop_signal));
    }
    stop_flag = 1;
    stop_signal = sig;
    static const char msg[] =
        "\nscratchnet: stopping after this step to write a checkpoint (Ctrl-C again to quit "
        "at once)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
}

static void cli_interrupt_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

static int cli_interrupted_status(void) {
    int sig = sn_dist_stopped_together() ? sn_dist_stopped_together() : stop_signal;
    return sig ? 128 + sig : EXIT_INTERRUPTED;
}

/* The signal's number: what the ranks of a data-parallel run agree on. */
static int cli_stop_requested(void *ctx) {
    (void)ctx;
    return stop_flag ? stop_signal : 0;
}

static int cli_checkpoint_delay_ms(void) {
    const char *v = getenv("SN_CHECKPOINT_TEST_DELAY_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    return ms > 0 && ms < 60000 ? (int)ms : 0;
}

/* ---- recorded options ---------------------------------------------------- */

static int in_list(const char *a, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (strcmp(a, list[i]) == 0) return 1;
    return 0;
}

/* The record of a command line (sn_run_record_join): its options but the
 * spec, --out, --resume and what holds for this command only, the paths made
 * absolute. */
static char *cli_record_args(int argc, char **argv, const char *const *bare_flags) {
    static const char *const this_run[] = {"--quiet", "--force", "--resume-changed-inputs", NULL};
    static const char *const dropped[] = {"--out", "--resume", NULL};
    static const char *const paths[] = {"--data", "--test", "--classes", "--text", NULL};
    const char **keep = calloc((size_t)argc, sizeof *keep);
    char **abs = calloc((size_t)argc, sizeof *abs);
    int n = 0;
    for (int i = 1; keep && abs && i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (a[0] != '-' || a[1] == 0 || in_list(a, this_run)) continue;
        if (!in_list(a, bare_flags)) {
            if (i + 1 >= argc) break;
            v = argv[++i];
            if (in_list(a, dropped)) continue;
        }
        keep[n++] = a;
        if (v) keep[n++] = in_list(a, paths) && (abs[i] = realpath(v, NULL)) ? abs[i] : v;
    }
    char *record = keep && abs ? sn_run_record_join(n, keep) : NULL;
    for (int i = 0; abs && i < argc; i++) free(abs[i]);
    free(abs);
    free(keep);
    return record;
}

/* ---- --resume ------------------------------------------------------------- */

static int cli_has_resume(int argc, char **argv, char **run_dir) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--resume") == 0) {
            *run_dir = argv[i + 1];
            return 1;
        }
    return 0;
}

/* The command line a --resume stands for: argv[0], RUN_DIR/spec.net, the
 * recorded options, --out RUN_DIR, then argv's other options. */
typedef struct cli_resume {
    int argc;
    char **argv, **recorded;
    char spec[1100];
} cli_resume;

static sn_status resume_args(int argc, char **argv, char *run_dir, cli_resume *r, sn_error *err) {
    int n = 0, text;
    memset(r, 0, sizeof *r);
    sn_status s = sn_run_recorded_args(run_dir, &n, &r->recorded, &text, err);
    if (s != SN_OK) return s;
    if (!(r->argv = calloc((size_t)(n + argc + 4), sizeof *r->argv)))
        return sn_fail(err, SN_ERR_NOMEM, "out of memory");
    snprintf(r->spec, sizeof r->spec, "%s/spec.net", run_dir);
    int k = 0;
    r->argv[k++] = argv[0];
    r->argv[k++] = r->spec;
    for (int i = 0; i < n; i++) r->argv[k++] = r->recorded[i];
    r->argv[k++] = "--out";
    r->argv[k++] = run_dir;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--resume") == 0)
            i++;
        else
            r->argv[k++] = argv[i];
    r->argc = k;
    return SN_OK;
}

static void resume_free(cli_resume *r) {
    sn_free(r->recorded);
    free(r->argv);
    r->recorded = r->argv = NULL;
}

/* ---- progress and results ------------------------------------------------- */

/* What the hooks print: the bar (cli.c's hooks take &ui as their
 * cli_progress, its first member) and the text run's lines. */
typedef struct train_ui {
    cli_progress bar;
    const cli_opts *o;
    int signals; /* install the Ctrl-C handler when training starts */
} train_ui;

static void on_start(void *ctx, const sn_run_result *r) {
    train_ui *ui = ctx;
    const cli_opts *o = ui->o;
    const sn_train_config *c = &r->config;
    if (ui->signals) cli_interrupt_install();
    ui->bar.quiet |= r->rank != 0; /* rank 0 of a data-parallel run prints */
    ui->bar.epochs = c->epochs;
    ui->bar.budget_s = c->max_seconds;
    if (o->quiet || r->rank != 0) return;
    if (r->text)
        fprintf(stderr,
                "%s: %ld %s tokens, vocabulary %d; training %ld, validation %ld (last %.0f %%)\n%s",
                o->text, r->ntrain + r->nval, r->level, r->vocab_size, r->ntrain, r->nval,
                100 * r->val_fraction, r->summary);
    else
        fprintf(stderr,
                "%straining on %ld samples (%ld validation, %ld test), %d epochs, batch %d, %s "
                "lr %g, %d threads\n",
                r->summary, r->ntrain, r->nval, r->ntest, c->epochs, c->batch, c->optimizer, c->lr,
                r->threads);
}

static void on_note(void *ctx, const char *text) {
    (void)ctx;
    fprintf(stderr, "scratchnet train: %s\n", text);
}

/* Text runs: the bar in tokens/s on a terminal; one line per epoch with
 * bits and perplexity; the samples on stdout. */
static void text_on_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                          double tps) {
    (void)acc;
    cli_progress_batch(ctx, epoch, batch, nbatches, loss, NAN, tps, "tokens/s");
}

static int text_on_epoch(void *ctx, const sn_epoch_stats *e) {
    cli_progress *p = ctx;
    if (p->quiet) return 0;
    cli_progress_end_line(p);
    fprintf(stderr, "epoch %d/%d%s  loss %.4f (%.3f bits)", e->epoch, p->epochs,
            e->partial ? " (time budget reached)" : "", e->train_loss, e->train_loss / log(2.0));
    if (!isnan(e->val_loss))
        fprintf(stderr, "  val %.4f (%.3f bits, perplexity %.2f)", e->val_loss,
                e->val_loss / log(2.0), exp(e->val_loss));
    if (e->skipped) fprintf(stderr, "  skipped %d", e->skipped);
    fprintf(stderr, "  lr %.3g  %.0f tokens/s  %.1fs\n", e->lr, e->samples_per_s, e->seconds);
    return 0;
}

static void text_on_sample(void *ctx, int epoch, const char *text, size_t len) {
    cli_progress *p = ctx;
    cli_progress_end_line(p); /* the sample starts on a line of its own */
    if (!p->quiet) {
        printf("---- sample after epoch %d ----\n", epoch);
        fwrite(text, 1, len, stdout);
        printf("\n----\n");
    }
    fflush(stdout);
}

static void print_results(const cli_opts *o, const sn_run_result *r) {
    if (r->rank != 0) return;
    fputs(r->result, stdout);
    if (r->text)
        printf("model: %s/model.safetensors (weights of epoch %d)\n", r->run_dir, r->kept_epoch);
    else if (!o->quiet)
        fprintf(stderr, "report: %s/report.html\nrun folder: %s\n", r->run_dir, r->run_dir);
}

/* ---- the verb ---------------------------------------------------------------- */

static void run_options(const cli_opts *o, sn_run_options *r) {
    sn_run_options_default(r);
    r->run_dir = o->out;
    r->spec_path = o->positional[0];
    r->resume = o->resume != NULL;
    r->resume_changed_inputs = o->resume_changed_inputs;
    r->force = o->force;
    r->seed = o->seed, r->epochs = o->epochs, r->batch = o->batch;
    r->lr = o->lr, r->val_split = o->val_split, r->minutes = o->minutes;
    r->standardize = o->standardize, r->skip_nonfinite = o->skip_nonfinite;
    r->data = o->data, r->classes = o->classes;
    r->text = o->text, r->level = o->level, r->prime = o->prime;
    r->words = o->words, r->seq_len = o->seq_len;
    r->sample_every = o->sample_every, r->sample_length = o->sample_length;
    r->temperature = o->temperature;
    r->checkpoint_every = o->checkpoint_every, r->checkpoint_steps = o->checkpoint_steps;
    r->checkpoint_delay_ms = cli_checkpoint_delay_ms();
    r->stop_requested = cli_stop_requested;
    r->bucket_kb = o->bucket_kb, r->check_weights = o->check_weights;
    r->allreduce = !o->allreduce || strcmp(o->allreduce, "auto") == 0 ? SN_ALLREDUCE_AUTO
                   : strcmp(o->allreduce, "shm") == 0                 ? SN_ALLREDUCE_SHM
                                                                      : SN_ALLREDUCE_MPI;
    r->command = cli_command_text();
    r->on_start = on_start;
    r->on_note = on_note;
}

/* Trains with o's options (record: what checkpoints record, NULL: no
 * checkpoints), printing as the verb does; *r and err say how it went. */
static sn_status train(const cli_opts *o, sn_run_options *ro, const char *record, sn_run_result *r,
                       sn_error *err) {
    train_ui ui = {.o = o, .signals = record != NULL};
    ro->record = record;
    if (o->text) {
        cli_progress_hooks(&ui.bar, o->quiet, 0);
        ro->hooks = (sn_train_hooks){.ctx = &ui,
                                     .on_batch = text_on_batch,
                                     .on_epoch = text_on_epoch,
                                     .on_sample = text_on_sample};
    } else {
        ro->hooks = cli_progress_hooks(&ui.bar, o->quiet, 0);
    }
    sn_status s = sn_run_train(ro, r, err);
    if (s == SN_OK) print_results(o, r);
    return s;
}

sn_status cli_train_run(const cli_opts *o, const char *spec_path, const char *spec_text,
                        const sn_dataset *all, const sn_dataset *test, const char *run_dir,
                        sn_error *err) {
    sn_run_options ro;
    sn_run_result r;
    run_options(o, &ro);
    ro.spec_path = spec_path, ro.spec_text = spec_text, ro.run_dir = run_dir;
    ro.train = all, ro.test = test;
    sn_status s = cli_data_options(o, &ro.data_options, err);
    return s == SN_OK ? train(o, &ro, NULL, &r, err) : s;
}

int cli_wants_text(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--text") == 0) return 1;
    char *run_dir, *record = NULL;
    int text = 0;
    if (cli_has_resume(argc - 1, argv + 1, &run_dir) &&
        sn_run_recorded(run_dir, &record, &text, NULL) == SN_OK)
        sn_free(record);
    return text;
}

/* Both forms of the verb: with --resume RUN_DIR, the command line it stands
 * for; then the options, the data (tables), the run. */
static int train_verb(int argc, char **argv, int text) {
    cli_opts o;
    cli_resume res = {0};
    sn_error err = {0};
    char *resume_dir = NULL;
    if (cli_has_resume(argc, argv, &resume_dir)) { /* the recorded options, then ours */
        if (resume_args(argc, argv, resume_dir, &res, &err) != SN_OK) {
            fprintf(stderr, "scratchnet train: --resume %s: %s\n", resume_dir, err.msg);
            resume_free(&res);
            return EXIT_RUNTIME;
        }
        argc = res.argc, argv = res.argv;
    }
    char *record = cli_record_args(argc, argv, cli_flag_names());
    int rc = record ? cli_parse(argc, argv, text ? &cli_verb_train_text : &cli_verb_train, &o)
                    : EXIT_RUNTIME;
    o.resume = resume_dir;
    if (!record) fprintf(stderr, "scratchnet train: out of memory\n");
    if (rc == 0 && text && (!o.npositional || !o.text)) {
        fprintf(stderr, "scratchnet train: %s\nsee 'scratchnet train --help'\n",
                o.npositional ? "--text is required" : "missing SPEC");
        rc = EXIT_USAGE;
    }
    if (rc == 0 && !text && !o.data) {
        fprintf(stderr,
                "scratchnet train: --data is required (or --text FILE for a text model)\nsee "
                "'scratchnet train --help'\n");
        rc = EXIT_USAGE;
    }
    if (rc) {
        sn_free(record);
        resume_free(&res);
        return rc < 0 ? 0 : rc;
    }
    sn_set_threads((int)o.threads);
    sn_set_memory_limit(o.max_memory);
    sn_run_options ro;
    sn_run_result r;
    run_options(&o, &ro);
    sn_status s = text ? SN_OK : cli_data_options(&o, &ro.data_options, &err);
    if (s == SN_OK) s = train(&o, &ro, record, &r, &err);
    /* a stop: rank 0 says where (and the checkpoint); the others nothing */
    if (s != SN_OK && (s != SN_ERR_INTERRUPTED || sn_dist_rank() == 0))
        fprintf(stderr, "scratchnet train: %s\n", err.msg);
    if (s == SN_ERR_INTERRUPTED && sn_dist_rank() == 0)
        fprintf(stderr, "resume with: scratchnet train --resume %s\n", r.run_dir);
    sn_free(record);
    resume_free(&res);
    return s == SN_OK ? 0 : s == SN_ERR_INTERRUPTED ? cli_interrupted_status() : EXIT_RUNTIME;
}

int cmd_train(int argc, char **argv) {
    return train_verb(argc, argv, 0);
}

int cmd_train_text(int argc, char **argv) {
    return train_verb(argc, argv, 1);
}
