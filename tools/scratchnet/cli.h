/* Shared pieces of the command-line tool: option parsing, data loading,
 * progress display. Exit codes: 0 success, 1 runtime error, 2 usage error. */
#ifndef SN_CLI_H
#define SN_CLI_H

#include "scratchnet.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

/* Every option of every verb, in one place (cli.c's table says which kind
 * of value each takes and its range). Unset: NULL, -1 or 0 for flags. */
typedef struct cli_opts {
    const char *positional[16];
    int npositional;
    /* data */
    const char *data;    /* --data DIR (IDX) or FILE.csv */
    const char *test;    /* --test FILE.csv */
    const char *classes; /* --classes FILE: class names, one per line */
    const char *target_cols;
    const char *header;  /* --header yes|no|auto (see cli_header) */
    long label_col;      /* CSV: -1 = last column */
    long cifar_per_file; /* --cifar-per-file N: images read from each batch file */
    int grey;            /* --grey: 1x32x32 grey-scale CIFAR-10 images */
    int standardize;
    /* where results go */
    const char *out; /* -o/--out: run folder, or the file a verb writes */
    int quiet;
    /* training */
    long seed; /* --seed (-1: unset; 0 is a seed) */
    long epochs, batch;
    double lr, val_split;
    long threads; /* 0: all cores */
    int skip_nonfinite;
    long checkpoint_every; /* --checkpoint-every N epochs (0: only on Ctrl-C) */
    long checkpoint_steps; /* --checkpoint-steps N optimizer steps (0: none) */
    /* data-parallel training; -1: unset */
    long bucket_kb;     /* --bucket-kb N: gradient all-reduce buckets (default 256) */
    long check_weights; /* --check-weights N: compare the ranks' weights every N steps */
    const char *resume; /* --resume RUN_DIR */
    /* --allreduce auto|shm|mpi: the gradients' transport (NULL: auto) */
    const char *allreduce;
    /* run folders */
    int force;                 /* --force: replace another run in --out */
    size_t max_memory;         /* --max-memory SIZE (0: the memory available) */
    int resume_changed_inputs; /* --resume-changed-inputs */
    /* text training and sampling */
    const char *text, *level, *prime;
    long words, seq_len, sample_every, sample_length, top_k;
    double minutes, temperature;
    int allow_unk;
    /* evaluation, prediction and reports */
    const char *noise; /* --noise 0,0.1,...: noise standard deviations (eval) */
    long noise_seed;
    int no_clip;         /* --no-clip: noisy pixels are not clipped to [0, 1] */
    const char *format;  /* --format tsv|csv|json (predict) */
    int probs;           /* --probs: every class's probability (predict) */
    const char *columns; /* --columns a,b (plot) */
    const char *title;   /* --title TEXT (plot) */
    /* sweep, gradcheck */
    int dry_run;
    double tol, step;
    long samples;
    int train_mode; /* gradcheck --train */
} cli_opts;

/* What a verb accepts: its name, its --help text, the options it takes
 * (long names, NULL-terminated) and how many positional arguments. */
typedef struct cli_verb {
    const char *name;
    const char *usage;
    const char *const *opts;
    int min_pos, max_pos;
} cli_verb;

/* Parses argv[1..] for verb v: --opt value and --opt=value, aliases (-o
 * for --out, --seq for --seq-len, ...), numbers checked against their
 * range. A usage error prints one line and "see 'scratchnet VERB --help'"
 * to stderr. Returns 0 on success, EXIT_USAGE on errors, -1 when --help was
 * printed. */
int cli_parse(int argc, char **argv, const cli_verb *v, cli_opts *o);
/* argv with every "--opt=value" split in two and aliases replaced by the
 * option's own name, so that code scanning the raw arguments sees one
 * spelling. Returns a new argv (malloc'ed; argv's strings are reused or
 * copied into it), NULL when out of memory. */
char **cli_normalize_args(int argc, char **argv);
/* Levenshtein distance of two short words (99 past 62 characters), for
 * suggestions of a misspelt verb or option. */
int cli_distance(const char *a, const char *b);
/* The options that take no value, NULL-terminated (for cli_record_args). */
const char *const *cli_flag_names(void);
/* A comma-separated list of at most max numbers in [lo, hi] (whole when
 * integer), such as --noise's and --target-cols' values, into v: how many,
 * or -1 when s is not such a list. Option values are read the same way. */
int cli_numbers(const char *s, double lo, double hi, int integer, double *v, int max);
/* MODEL, or RUN_DIR/model.safetensors when arg is a folder. */
void cli_model_path(const char *arg, char *buf, size_t len);
/* Fills o's unset data options (--data: the run's test set or data,
 * --classes, --label-col, --header, --target-cols) from RUN_DIR/run.txt,
 * read into *run (o points into it). */
sn_status cli_run_defaults(const char *dir, cli_opts *o, sn_run_data *run, sn_error *err);
/* Keeps the command line as typed (shell-quoted) for run.txt;
 * cli_command_text returns it ("" before). */
void cli_command_line(int argc, char **argv);
const char *cli_command_text(void);
/* A PNG (by its name) or PGM image as a one-sample set, pixels scaled to
 * [0, 1]: 3 planes (RGB) when a model input of `size` values takes them,
 * else 1 (image.c). */
sn_status cli_image_load(const char *path, size_t size, sn_dataset *d, sn_error *err);

extern const char cli_train_usage[];
extern const cli_verb cli_verb_train, cli_verb_train_text, cli_verb_generate, cli_verb_eval,
    cli_verb_predict, cli_verb_report, cli_verb_plot, cli_verb_summary, cli_verb_sweep,
    cli_verb_gradcheck, cli_verb_checkpoint, cli_verb_import_weights;

/* --test, --cifar-per-file, --grey, --header, --label-col and
 * --target-cols as sn_data_load's options. */
sn_status cli_data_options(const cli_opts *o, sn_data_options *d, sn_error *err);
/* Loads the training set (and the test set) named by --data / --test. For a
 * directory: IDX train and t10k files. For a CSV: --test or none. */
sn_status cli_load_data(const cli_opts *o, sn_dataset *train, sn_dataset *test, int need_train,
                        sn_error *err);

/* Progress hooks for sn_train: a bar redrawn in place on a terminal (the
 * epoch's batches, the run's elapsed time and the ETA of the whole run), one
 * plain line per epoch otherwise, nothing with --quiet. */
typedef struct cli_progress {
    int quiet, tty, epochs, drawn;
    double last_draw, start, budget_s; /* budget_s: a time budget (0: none) */
    long done0;                        /* batches done before this process */
} cli_progress;
/* Draws the bar (rate in `unit`, e.g. "samples/s"); the text trainer's
 * hooks call it too. */
void cli_progress_batch(cli_progress *p, int epoch, int batch, int nbatches, double loss,
                        double acc, double rate, const char *unit);
/* Clears the bar's line (before other output). */
void cli_progress_end_line(cli_progress *p);
sn_train_hooks cli_progress_hooks(cli_progress *p, int quiet, int epochs);

/* The verbs. main.c parses a verb's options with cli_parse and runs it;
 * `train` parses its own (a --resume stands for a recorded command line)
 * and goes to cmd_train_text when its arguments include --text. */
int cmd_train(int argc, char **argv);
int cmd_train_text(int argc, char **argv);
int cli_wants_text(int argc, char **argv);
int cmd_eval(cli_opts *o);
int cmd_predict(cli_opts *o);
int cmd_report(cli_opts *o);
int cmd_plot(cli_opts *o);
int cmd_summary(cli_opts *o);
int cmd_sweep(cli_opts *o);
int cmd_gradcheck(cli_opts *o);
int cmd_generate(cli_opts *o);
int cmd_checkpoint(cli_opts *o);
int cmd_import_weights(cli_opts *o);

/* The exit status of a training stopped by a signal (SIGINT, SIGTERM,
 * SIGHUP): 128 + its number. */
#define EXIT_INTERRUPTED 130

/* Trains a table model (the spec file spec_path, or spec_text when not
 * NULL) on `all` and evaluates it on `test` (may be empty) into run_dir as
 * `train` does, with o's options, printing progress unless o->quiet
 * (train.c; the library's sn_run_train). */
sn_status cli_train_run(const cli_opts *o, const char *spec_path, const char *spec_text,
                        const sn_dataset *all, const sn_dataset *test, const char *run_dir,
                        sn_error *err);

#endif
