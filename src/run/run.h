/* Training runs: the pieces the table run (run.c) and the text run
 * (text.c) share. */
#ifndef SN_RUN_RUN_H
#define SN_RUN_RUN_H

#include "core/error.h"
#include "model/safetensors.h"

#include <stdio.h>

/* ---- the run folder (folder.c) -------------------------------------------- */

/* A run's hold on its folder: the lock and the files a forced run moved
 * aside. */
typedef struct sn_run_folder {
    int lock_fd;         /* -1: not held */
    char replaced[1100]; /* RUN_DIR/.replaced when a forced run moved files there */
} sn_run_folder;

/* Creates RUN_DIR, locks it, removes temporary files of dead writers and,
 * for a new run (resume == 0), refuses a folder holding another run's files
 * unless force (then moves them aside). */
sn_status sn_run_folder_begin(sn_run_folder *f, const char *run_dir, int resume, int force,
                              sn_error *err);
/* Ends the run with status s: the files moved aside are deleted (s: SN_OK or
 * SN_ERR_INTERRUPTED) or put back over the failed run's; the lock is
 * released. A remark for the caller (files put back, or why they could not
 * be) goes into note ("" when none). */
void sn_run_folder_end(sn_run_folder *f, const char *run_dir, sn_status s, char *note, size_t len);
/* Writes text to DIR/NAME whole (DIR/NAME.tmp, then a rename). */
sn_status sn_run_write_text(const char *dir, const char *name, const char *text, sn_error *err);
/* mkdir -p: 0, or -1 with errno set. */
int sn_run_make_dirs(const char *path);
/* runs/<spec file name without extension>-<YYYYMMDD>-<HHMMSS> */
void sn_run_default_dir(char *buf, size_t len, const char *spec);
/* RUN_DIR/checkpoint.safetensors */
void sn_run_checkpoint_path(char *buf, size_t len, const char *run_dir);
/* Loads RUN_DIR's checkpoint into f (sn_st_free it), its path into path. */
sn_status sn_run_checkpoint_load(const char *run_dir, char *path, size_t len, sn_st_file *f,
                                 sn_error *err);

/* ---- what a resume checks (folder.c) --------------------------------------- */

/* What a checkpoint records of the data trained on ("cli.inputs"): the
 * number of samples and the CRC-32 of the sets as loaded, or of the text. */
void sn_run_inputs_of_data(char *buf, size_t len, const sn_dataset *train, const sn_dataset *test);
void sn_run_inputs_of_text(char *buf, size_t len, const char *corpus, size_t n);
/* Before a resume of RUN_DIR to `epochs` epochs: refuses a spec or data
 * other than the checkpoint's (unless allow_changed; `changed` then names
 * what differs, "" if nothing) and a checkpoint of a finished run. */
sn_status sn_run_resume_check(const char *run_dir, const char *spec, const char *inputs, int epochs,
                              int allow_changed, char *changed, size_t len, sn_error *err);

/* ---- run.txt (runtxt.c) --------------------------------------------------- */

/* The lines every run.txt starts with: version, commit (when built from a
 * git checkout), the command line, the start time; a resumed run keeps the
 * first command and start and adds a "resumed" line. */
void sn_run_head(char *buf, size_t len, const char *run_dir, const char *command, int resumed);
/* "YYYY-MM-DD HH:MM:SS", local time */
void sn_run_now_text(char *buf, size_t len);
/* run.txt of a table run: head (sn_run_head), what it trains on, the
 * settings in force; `finished` (NULL: not yet), the inputs a resume found
 * changed ("" or NULL: none) and the kept epoch (0: not yet) at the end. */
sn_status sn_run_txt_table(const char *dir, const sn_run_options *o, const sn_model *m,
                           const char *head, const char *finished, long ntrain, long nval,
                           long ntest, const char *changed, int kept, sn_error *err);
/* run.txt of a text run (its head made afresh: a rewrite keeps the start). */
sn_status sn_run_txt_text(const char *dir, const sn_run_options *o, const sn_text_spec *t,
                          const sn_model *m, int resumed, const char *changed, int kept,
                          sn_error *err);

/* ---- shared by both kinds of run (run.c) ------------------------------------ */

/* The checkpoint options of a run, with the metadata the folder's resume
 * reads back ("cli.args": the record, "cli.inputs", "cli.epochs",
 * "cli.ranks"). */
typedef struct sn_run_ckpt {
    char path[1200], inputs[160], epochs[16], ranks[16];
    const char *keys[4], *values[4];
    sn_checkpoint_options ck;
} sn_run_ckpt;
void sn_run_ckpt_init(sn_run_ckpt *c, const sn_run_options *o, const char *run_dir, int writer,
                      int epochs);

/* An on_batch hook that passes the batch on to the caller's hooks: ctx
 * points to a struct whose first member is `const sn_train_hooks *`, the
 * caller's. */
void sn_run_pass_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                       double rate);

/* The text run of sn_run_train (text.c), into r->run_dir. */
sn_status sn_text_run(const sn_run_options *o, sn_run_result *r, sn_run_folder *folder,
                      sn_error *err);

/* ---- data-parallel runs (dist.c) ------------------------------------------- */

typedef struct sn_dist_training sn_dist_training;
/* 1 on the rank that writes the run folder (rank 0). */
int sn_run_writer(void);
/* Checks that every rank trains the same thing (spec, initial weights, the
 * record, data, and `extra`, e.g. the encoded text) and sets up the gradient
 * reducer; *out stays NULL for one process. On a resume, a checkpoint
 * written by another number of ranks gets a note. With several ranks, ck's
 * stop hook becomes the ranks' agreed one (o->stop_requested polled on each
 * rank at every step: sn_dist_training_set_stop), so that all stop after
 * the same step. */
sn_status sn_run_dist_begin(const sn_run_options *o, const char *run_dir, sn_model *m,
                            const sn_dataset *train, const sn_dataset *test, const void *extra,
                            size_t extra_len, const char *extra_name, sn_checkpoint_options *ck,
                            sn_dist_training **out, sn_error *err);

#endif
