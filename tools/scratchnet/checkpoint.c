/* Checkpoints on the command line: Ctrl-C, the options a run records for
 * --resume, and `scratchnet checkpoint RUN_DIR|FILE`.
 *
 * A training run keeps RUN_DIR/checkpoint.safetensors (written on Ctrl-C,
 * and every --checkpoint-every epochs / --checkpoint-steps steps). Its
 * __metadata__ "cli.args" holds the command's options, one per line (the
 * spec, --out and --resume left out; --data, --test, --classes and --text
 * made absolute), so that `scratchnet train --resume RUN_DIR` rebuilds the
 * same training from RUN_DIR/spec.net and those options; options given
 * with --resume come after them and win (--epochs to train longer). */
#define _XOPEN_SOURCE 700 /* sigaction, realpath */
#include "cli.h"
#include "model/safetensors.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Ctrl-C, SIGTERM, SIGHUP ---------------------------------------------- */

/* The first of SIGINT (Ctrl-C), SIGTERM (kill, timeout, systemd) and SIGHUP
 * (a closed terminal) asks the training to stop after the current step; the
 * verb then exits with 128 + the signal's number. A second one exits at
 * once. */
static volatile sig_atomic_t stop_flag, stop_signal;

static void on_signal(int sig) {
    if (stop_flag) {
        static const char msg[] = "\nscratchnet: interrupted again, exiting now\n";
        if (write(2, msg, sizeof msg - 1) < 0) {
        }
        _exit(128 + sig);
    }
    stop_flag = 1;
    stop_signal = sig;
    static const char msg[] =
        "\nscratchnet: stopping after this step to write a checkpoint (Ctrl-C again to quit "
        "at once)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
}

void cli_interrupt_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int cli_interrupted_status(void) {
    return stop_signal ? 128 + stop_signal : EXIT_INTERRUPTED;
}

int cli_stop_requested(void *ctx) {
    (void)ctx;
    return stop_flag != 0;
}

int cli_checkpoint_delay_ms(void) {
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

/* Appends s, escaped (\\ and \n), and a newline. */
static int put_arg(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t need = *len + 2 * strlen(s) + 2;
    if (need > *cap) {
        size_t c = 2 * need + 64;
        char *p = realloc(*buf, c);
        if (!p) return 0;
        *buf = p, *cap = c;
    }
    for (; *s; s++) {
        if (*s == '\\' || *s == '\n') (*buf)[(*len)++] = '\\';
        (*buf)[(*len)++] = *s == '\n' ? 'n' : *s;
    }
    (*buf)[(*len)++] = '\n';
    (*buf)[*len] = 0;
    return 1;
}

char *cli_record_args(int argc, char **argv, const char *const *bare_flags) {
    static const char *const dropped[] = {"--out", "--resume", NULL};
    static const char *const paths[] = {"--data", "--test", "--classes", "--text", NULL};
    size_t len = 0, cap = 1;
    char *buf = calloc(1, 1);
    int ok = buf != NULL;
    for (int i = 1; ok && i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == 0 || strcmp(a, "--quiet") == 0 || strcmp(a, "--force") == 0 ||
            strcmp(a, "--resume-changed-inputs") == 0)
            continue; /* the spec, and what holds for this command only */
        if (in_list(a, bare_flags)) {
            ok = put_arg(&buf, &len, &cap, a);
            continue;
        }
        if (i + 1 >= argc) break;
        const char *v = argv[++i];
        if (in_list(a, dropped)) continue;
        char abs[PATH_MAX];
        if (in_list(a, paths) && realpath(v, abs)) v = abs;
        ok = put_arg(&buf, &len, &cap, a) && put_arg(&buf, &len, &cap, v);
    }
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *cli_train_prologue(int *argc, char ***argv, const char *const *bare_flags, cli_resume *r,
                         const char **run_dir, int *rc) {
    *run_dir = NULL;
    if (cli_has_resume(*argc, *argv, run_dir)) { /* the recorded options, then ours */
        sn_error err = {0};
        if (cli_resume_args(*argc, *argv, r, &err) != SN_OK) {
            fprintf(stderr, "scratchnet train: %s\n", err.msg);
            *rc = EXIT_RUNTIME;
            return NULL;
        }
        *argc = r->argc, *argv = r->argv;
    }
    char *record = cli_record_args(*argc, *argv, bare_flags);
    if (!record) {
        fprintf(stderr, "scratchnet train: out of memory\n");
        *rc = EXIT_RUNTIME;
    }
    return record;
}

int cli_has_resume(int argc, char **argv, const char **run_dir) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--resume") == 0) {
            *run_dir = argv[i + 1];
            return 1;
        }
    return 0;
}

void cli_checkpoint_path(char *buf, size_t len, const char *run_dir) {
    snprintf(buf, len, "%s/checkpoint.safetensors", run_dir);
}

sn_status cli_resume_args(int argc, char **argv, cli_resume *r, sn_error *err) {
    memset(r, 0, sizeof *r);
    const char *run_dir = NULL;
    cli_has_resume(argc, argv, &run_dir);
    char path[1200];
    cli_checkpoint_path(path, sizeof path, run_dir);
    sn_st_file f;
    sn_status s = sn_st_load(path, &f, err);
    if (s != SN_OK) return sn_wrap(err, "--resume %s", run_dir);
    const char *args = sn_st_meta(&f, "cli.args");
    if (!args) {
        sn_st_free(&f);
        return sn_fail(err, SN_ERR_FORMAT,
                       "%s: no recorded options (__metadata__ \"cli.args\"): not written by "
                       "scratchnet train",
                       path);
    }
    size_t n = strlen(args);
    r->text = malloc(n + 1);
    r->argv = calloc(n + (size_t)argc + 8, sizeof *r->argv);
    snprintf(r->spec, sizeof r->spec, "%s/spec.net", run_dir);
    snprintf(r->run_dir, sizeof r->run_dir, "%s", run_dir);
    if (!r->text || !r->argv) {
        sn_st_free(&f);
        cli_resume_free(r);
        return sn_fail(err, SN_ERR_NOMEM, "out of memory");
    }
    int k = 0;
    r->argv[k++] = argv[0];
    r->argv[k++] = r->spec;
    char *out = r->text, *start = out;
    for (const char *p = args; *p; p++) { /* unescape, one argument per line */
        if (*p == '\n') {
            *out++ = 0;
            r->argv[k++] = start;
            start = out;
        } else if (*p == '\\' && p[1]) {
            p++;
            *out++ = *p == 'n' ? '\n' : *p;
        } else {
            *out++ = *p;
        }
    }
    sn_st_free(&f);
    r->argv[k++] = "--out";
    r->argv[k++] = r->run_dir;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--resume") == 0) {
            i++;
            continue;
        }
        r->argv[k++] = argv[i];
    }
    r->argc = k;
    return SN_OK;
}

void cli_resume_free(cli_resume *r) {
    free(r->text);
    free(r->argv);
    r->text = NULL;
    r->argv = NULL;
}

/* ---- scratchnet checkpoint ---------------------------------------------- */

static const char usage[] =
    "usage: scratchnet checkpoint RUN_DIR|FILE\n"
    "\n"
    "Checks a training checkpoint (RUN_DIR/checkpoint.safetensors) whole: its\n"
    "checksums, format, every recorded value and every tensor against the model\n"
    "its spec builds, and says where its training stands. Exit status 0 when it can be\n"
    "resumed (scratchnet train --resume RUN_DIR), 1 otherwise.\n";

static const char *const opts[] = {NULL};
const cli_verb cli_verb_checkpoint = {"checkpoint", usage, opts, 1, 1};

int cmd_checkpoint(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, &cli_verb_checkpoint, &o);
    if (rc) return rc < 0 ? 0 : rc;
    char path[1200];
    size_t n = strlen(o.positional[0]);
    if (n > 12 && strcmp(o.positional[0] + n - 12, ".safetensors") == 0)
        snprintf(path, sizeof path, "%s", o.positional[0]);
    else
        cli_checkpoint_path(path, sizeof path, o.positional[0]);
    sn_error err = {0};
    sn_checkpoint_info info;
    if (sn_checkpoint_verify(path, &info, &err) != SN_OK) {
        fprintf(stderr, "scratchnet checkpoint: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    /* finished: after the last epoch of the run that wrote it */
    sn_st_file f;
    int done = 0, epoch = 0;
    if (sn_st_load(path, &f, NULL) == SN_OK) {
        const char *ep = sn_st_meta(&f, "cli.epochs");
        done = cli_checkpoint_finished(sn_st_meta(&f, "position"), ep ? atoi(ep) : 0, &epoch);
        sn_st_free(&f);
    }
    printf("%s: %s training, epoch %d, %d of %d batches done, step %ld%s: ok\n", path, info.trainer,
           info.epoch, info.batch, info.nbatches, info.step,
           done == 2 ? " (stopped early: finished, nothing to resume)"
           : done    ? " (finished: all epochs done; resume only with --epochs N larger)"
                     : "");
    return 0;
}

int cli_resume_is_text(const char *run_dir) {
    char path[1200];
    cli_checkpoint_path(path, sizeof path, run_dir);
    sn_st_file f;
    if (sn_st_load(path, &f, NULL) != SN_OK) return 0;
    const char *t = sn_st_meta(&f, "trainer");
    int text = t && strcmp(t, "text") == 0;
    sn_st_free(&f);
    return text;
}
