/* Run folders: one writer at a time, no stale files taken for new ones, and
 * a resume that checks what it resumes.
 *
 * - A training holds an exclusive flock(2) on RUN_DIR/.lock (which holds its
 *   PID) from its start to its end; a second training into the folder is
 *   refused at once, naming that PID.
 * - Holding the lock, it removes the temporary files that writers killed
 *   half-way left behind: NAME.tmp, and NAME.tmp.PID when process PID is
 *   gone.
 * - A new run (not a resume) into a folder that holds another run's files is
 *   refused; with `force` those files are moved aside into RUN_DIR/.replaced/
 *   first, so that no old checkpoint, robustness.csv or metrics can be taken
 *   for the new run's. When the new run fails (a full disk, say), its files
 *   are removed and the old ones put back: the folder holds the previous run
 *   whole, never a mix. When it succeeds, or stops on a signal with its own
 *   checkpoint, the old files are deleted. A run killed outright leaves
 *   .replaced/ behind; the next new run puts it back before anything else.
 * - Checkpoints record (__metadata__) the CRC-32 of the data the training
 *   read and the number of epochs it was to run; a resume compares them (and
 *   the spec, stored whole) with what it would train on, refuses any
 *   difference unless resume_changed_inputs, and says there is nothing to
 *   resume when the checkpoint is of a finished run, unless more epochs are asked
 *   for. */
#define _XOPEN_SOURCE 700 /* kill, flock via sys/file.h */
#define _DEFAULT_SOURCE
#include "run/run.h"
#include "model/safetensors.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <zlib.h>

/* The files a training writes into its folder (and eval --noise's). */
static const char *const run_files[] = {"model.safetensors", "checkpoint.safetensors",
                                        "history.csv",       "run.txt",
                                        "summary.txt",       "spec.net",
                                        "metrics.csv",       "per_class.csv",
                                        "confusion.csv",     "misclassified.safetensors",
                                        "robustness.csv",    "report.html",
                                        "samples.txt",       NULL};

/* Moves every run file of `from` into `to` (which is made); 0 or -1. */
static int move_run_files(const char *from, const char *to) {
    if (mkdir(to, 0777) != 0 && errno != EEXIST) return -1;
    for (int i = 0; run_files[i]; i++) {
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/%s", from, run_files[i]);
        snprintf(b, sizeof b, "%s/%s", to, run_files[i]);
        if (rename(a, b) != 0 && errno != ENOENT) return -1;
    }
    return 0;
}

/* Removes every run file of dir; 0 or -1. */
static int remove_run_files(const char *dir) {
    for (int i = 0; run_files[i]; i++) {
        char a[1200];
        snprintf(a, sizeof a, "%s/%s", dir, run_files[i]);
        if (remove(a) != 0 && errno != ENOENT) return -1;
    }
    return 0;
}

/* Puts the files of RUN_DIR/.replaced back, over a failed run's. */
static sn_status put_back(const char *run_dir, const char *aside, sn_error *err) {
    if (remove_run_files(run_dir) != 0 || move_run_files(aside, run_dir) != 0 || rmdir(aside) != 0)
        return sn_fail(err, SN_ERR_IO, "%s: cannot put the previous run's files back from %s: %s",
                       run_dir, aside, strerror(errno));
    return SN_OK;
}

/* "NAME.tmp" or "NAME.tmp.PID" with PID no longer running. */
static int stale_temporary(const char *name) {
    const char *t = strstr(name, ".tmp");
    while (t && strstr(t + 1, ".tmp")) t = strstr(t + 1, ".tmp");
    if (!t || t == name) return 0;
    if (t[4] == 0) return 1;
    if (t[4] != '.' || !isdigit((unsigned char)t[5])) return 0;
    char *end;
    long pid = strtol(t + 5, &end, 10);
    if (*end || pid <= 0) return 0;
    return pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

static sn_status remove_stale_temporaries(const char *dir, sn_error *err) {
    DIR *d = opendir(dir);
    if (!d)
        return sn_fail(err, SN_ERR_IO, "%s: cannot read the run folder: %s", dir, strerror(errno));
    struct dirent *e;
    sn_status s = SN_OK;
    while (s == SN_OK && (e = readdir(d)) != NULL) {
        if (!stale_temporary(e->d_name)) continue;
        char path[2400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (remove(path) != 0 && errno != ENOENT)
            s = sn_fail(err, SN_ERR_IO, "%s: cannot remove this temporary file of a dead run: %s",
                        path, strerror(errno));
    }
    closedir(d);
    return s;
}

static sn_status take_lock(sn_run_folder *f, const char *dir, sn_error *err) {
    char path[1100], text[32];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        text[n > 0 ? n : 0] = 0;
        close(fd);
        long pid = strtol(text, NULL, 10);
        if (e == EWOULDBLOCK && pid > 0)
            return sn_fail(err, SN_ERR_IO,
                           "%s: another training (process %ld) is writing this run folder; wait "
                           "for it to end or choose another --out",
                           dir, pid);
        return sn_fail(err, SN_ERR_IO, "%s: cannot lock: %s", path,
                       e == EWOULDBLOCK ? "held by another process" : strerror(e));
    }
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return sn_fail(err, SN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    f->lock_fd = fd;
    return SN_OK;
}

/* A run that failed before it had a model or a checkpoint left only its
 * description: run.txt without a "finished" line, spec.net, summary.txt,
 * history.csv. */
static int failed_run(const char *dir) {
    char path[1100], line[512];
    struct stat st;
    static const char *const results[] = {"model.safetensors", "checkpoint.safetensors",
                                          "robustness.csv",    "metrics.csv",
                                          "samples.txt",       NULL};
    for (int i = 0; results[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, results[i]);
        if (stat(path, &st) == 0) return 0;
    }
    snprintf(path, sizeof path, "%s/run.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int finished = 0;
    while (fgets(line, sizeof line, f)) finished |= strncmp(line, "finished ", 9) == 0;
    fclose(f);
    return !finished;
}

sn_status sn_run_folder_begin(sn_run_folder *f, const char *run_dir, int resume, int force,
                              sn_error *err) {
    if (strlen(run_dir) > SN_RUN_MAX_DIR)
        return sn_fail(err, SN_ERR_ARG, "--out: the path is %zu bytes long, at most %d allowed",
                       strlen(run_dir), SN_RUN_MAX_DIR);
    if (sn_run_make_dirs(run_dir) != 0)
        return sn_fail(err, SN_ERR_IO, "%s: cannot create the run folder: %s", run_dir,
                       strerror(errno));
    if (f->lock_fd < 0) {
        sn_status s = take_lock(f, run_dir, err);
        if (s != SN_OK) return s;
    }
    sn_status s = remove_stale_temporaries(run_dir, err);
    char aside[1100];
    struct stat st;
    snprintf(aside, sizeof aside, "%s/.replaced", run_dir);
    f->replaced[0] = 0;
    if (s == SN_OK && stat(aside, &st) == 0) {
        if (resume) /* the forced run that died is resumed: it may still fail */
            snprintf(f->replaced, sizeof f->replaced, "%s", aside);
        else /* it died: the folder's run is the one it was to replace */
            s = put_back(run_dir, aside, err);
    }
    if (s != SN_OK || resume) return s;
    if (!force && failed_run(run_dir)) { /* nothing in it worth keeping */
        if (remove_run_files(run_dir) != 0)
            return sn_fail(err, SN_ERR_IO, "%s: cannot remove a failed run's files: %s", run_dir,
                           strerror(errno));
        return SN_OK;
    }
    char found[512] = "";
    size_t k = 0;
    for (int i = 0; run_files[i]; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", run_dir, run_files[i]);
        if (stat(path, &st) != 0) continue;
        if (force) {
            if (move_run_files(run_dir, aside) != 0)
                return sn_fail(err, SN_ERR_IO, "%s: cannot move the previous run's files aside: %s",
                               run_dir, strerror(errno));
            snprintf(f->replaced, sizeof f->replaced, "%s", aside);
            return SN_OK;
        }
        if (k < sizeof found - 64) {
            k += (size_t)snprintf(found + k, sizeof found - k, "%s%s", k ? ", " : "", run_files[i]);
        }
    }
    if (k)
        return sn_fail(err, SN_ERR_ARG,
                       "%s holds another run (%s): 'scratchnet train --resume %s' continues it, "
                       "--force replaces it, or choose another --out",
                       run_dir, found, run_dir);
    return SN_OK;
}

void sn_run_folder_end(sn_run_folder *f, const char *run_dir, sn_status s, char *note, size_t len) {
    note[0] = 0;
    if (f->replaced[0]) {
        sn_error err = {0};
        if (s == SN_OK || s == SN_ERR_INTERRUPTED) { /* the new run stands: the old goes */
            remove_run_files(f->replaced);
            rmdir(f->replaced);
        } else if (put_back(run_dir, f->replaced, &err) == SN_OK) {
            snprintf(note, len, "%s: the failed run's files removed, the previous run's put back",
                     run_dir);
        } else {
            snprintf(note, len, "%s", err.msg);
        }
        f->replaced[0] = 0;
    }
    if (f->lock_fd >= 0) close(f->lock_fd); /* releases the lock */
    f->lock_fd = -1;
}

/* ---- what a resume checks ------------------------------------------------ */

static void dataset_line(char *buf, size_t len, const char *what, const sn_dataset *d) {
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    if (d->n > 0) {
        crc = sn_crc32(crc, d->x, (size_t)d->n * d->sample_size * sizeof *d->x);
        if (d->labels) crc = sn_crc32(crc, d->labels, (size_t)d->n * sizeof *d->labels);
        if (d->targets)
            crc = sn_crc32(crc, d->targets,
                           (size_t)d->n * (size_t)d->num_targets * sizeof *d->targets);
    }
    snprintf(buf, len, "%s %d %08lx", what, d->n, (unsigned long)crc);
}

void sn_run_inputs_of_data(char *buf, size_t len, const sn_dataset *train, const sn_dataset *test) {
    char a[64], b[64];
    dataset_line(a, sizeof a, "train", train);
    dataset_line(b, sizeof b, "test", test);
    snprintf(buf, len, "%s\n%s\n", a, b);
}

void sn_run_inputs_of_text(char *buf, size_t len, const char *corpus, size_t n) {
    uint32_t crc = sn_crc32((uint32_t)crc32(0L, Z_NULL, 0), corpus, n);
    snprintf(buf, len, "text %zu %08lx\n", n, (unsigned long)crc);
}

/* 1 when a checkpoint's "position" is after its last epoch (of `epochs`),
 * 2 when early stopping ended it, else 0; *epoch: the last epoch done. */
static int checkpoint_finished(const char *position, int epochs, int *epoch) {
    /* "epoch batch nbatches samples finished": after epoch E, "E+1 0 ..." */
    int e = 0, batch = 0, nb = 0, fin = 0;
    long samples = 0;
    *epoch = 0;
    if (!position || sscanf(position, "%d %d %d %ld %d", &e, &batch, &nb, &samples, &fin) != 5)
        return 0;
    *epoch = batch == 0 ? e - 1 : e;
    if (fin) return 2;
    return batch == 0 && e - 1 >= epochs && epochs > 0;
}

/* The first line where two texts differ, for messages. */
static int first_difference(const char *a, const char *b, char *wa, char *wb, size_t len) {
    for (int line = 1;; line++) {
        size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
        if (na != nb || strncmp(a, b, na) != 0) {
            snprintf(wa, len, "%.*s", (int)na, a);
            snprintf(wb, len, "%.*s", (int)nb, b);
            return line;
        }
        if (!a[na] || !b[nb]) return line;
        a += na + 1;
        b += nb + 1;
    }
}

/* The length of a spec's network part: up to its [train] section, whose
 * settings the checkpoint's configuration checks (the epochs may change). */
static size_t network_part(const char *spec) {
    for (const char *p = spec; *p; p += strcspn(p, "\n"), p += *p == '\n') {
        const char *q = p + strspn(p, " \t");
        if (strncmp(q, "[train]", 7) == 0) return (size_t)(p - spec);
    }
    return strlen(spec);
}

sn_status sn_run_resume_check(const char *run_dir, const char *spec, const char *inputs, int epochs,
                              int allow_changed, char *changed, size_t len, sn_error *err) {
    changed[0] = 0;
    char path[1200];
    sn_st_file f;
    sn_status s = sn_run_checkpoint_load(run_dir, path, sizeof path, &f, err);
    if (s != SN_OK) return s;
    const char *was_spec = sn_st_meta(&f, "spec"), *was_inputs = sn_st_meta(&f, "cli.inputs");
    const char *position = sn_st_meta(&f, "position");
    size_t k = 0;
    char why[600] = "";
    size_t nw = was_spec ? network_part(was_spec) : 0, ns = network_part(spec);
    if (was_spec && (nw != ns || strncmp(was_spec, spec, ns) != 0)) {
        char a[120], b[120];
        int line = first_difference(was_spec, spec, a, b, sizeof a);
        k += (size_t)snprintf(why + k, sizeof why - k,
                              "the spec differs from the checkpoint's (line %d: '%s' was '%s')",
                              line, b, a);
        snprintf(changed + strlen(changed), len - strlen(changed), "%sspec", changed[0] ? "," : "");
    }
    if (!was_inputs || strcmp(was_inputs, inputs) != 0) {
        char a[120] = "not recorded", b[120];
        if (was_inputs)
            first_difference(was_inputs, inputs, a, b, sizeof a);
        else
            snprintf(b, sizeof b, "%.*s", (int)strcspn(inputs, "\n"), inputs);
        k += (size_t)snprintf(why + k, sizeof why - k,
                              "%sthe data differs from what the checkpoint was trained on "
                              "(samples and CRC-32: %s, then %s)",
                              k ? "; " : "", b, a);
        snprintf(changed + strlen(changed), len - strlen(changed), "%sdata", changed[0] ? "," : "");
    }
    if (k && !allow_changed) {
        s = sn_fail(err, SN_ERR_ARG, "--resume %s: %s; --resume-changed-inputs resumes anyway",
                    run_dir, why);
    } else {
        int epoch = 0;
        int fin = checkpoint_finished(position, epochs, &epoch);
        if (fin)
            s = sn_fail(err, SN_ERR_ARG,
                        "--resume %s: nothing to resume: the run finished (%s %d)%s", run_dir,
                        fin == 2 ? "early stopping ended it at epoch" : "epochs done:", epoch,
                        fin == 2 ? "" : "; --epochs N with a larger N trains it longer");
    }
    sn_st_free(&f);
    return s;
}

/* ---- files of the folder ---------------------------------------------------- */

sn_status sn_run_write_text(const char *dir, const char *name, const char *text, sn_error *err) {
    /* One fixed temporary name (not one per process): a run killed in the
     * middle of this leaves a NAME.tmp that the next write of NAME reuses. */
    char path[1200], tmp[1210];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return sn_fail(err, SN_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return sn_fail(err, SN_ERR_IO, "%s: write error", path);
    }
    return SN_OK;
}

int sn_run_make_dirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

void sn_run_default_dir(char *buf, size_t len, const char *spec) {
    const char *base = strrchr(spec, '/');
    char name[512];
    snprintf(name, sizeof name, "%s", base ? base + 1 : spec);
    char *dot = strrchr(name, '.');
    if (dot) *dot = 0;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(buf, len, "runs/%s-%04d%02d%02d-%02d%02d%02d", name, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void sn_run_checkpoint_path(char *buf, size_t len, const char *run_dir) {
    snprintf(buf, len, "%s/checkpoint.safetensors", run_dir);
}

sn_status sn_run_checkpoint_load(const char *run_dir, char *path, size_t len, sn_st_file *f,
                                 sn_error *err) {
    sn_run_checkpoint_path(path, len, run_dir);
    return sn_st_load(path, f, err);
}

/* ---- what a checkpoint says about its run ------------------------------------ */

sn_status sn_run_recorded(const char *run_dir, char **record, int *text, sn_error *err) {
    char path[1200];
    *record = NULL;
    *text = 0;
    sn_st_file f;
    sn_status s = sn_run_checkpoint_load(run_dir, path, sizeof path, &f, err);
    if (s != SN_OK) return s;
    const char *args = sn_st_meta(&f, "cli.args"), *trainer = sn_st_meta(&f, "trainer");
    *text = trainer && strcmp(trainer, "text") == 0;
    if (!args)
        s = sn_fail(err, SN_ERR_FORMAT,
                    "%s: no recorded options (__metadata__ \"cli.args\"): not written by "
                    "scratchnet train",
                    path);
    else if (!(*record = sn_alloc(strlen(args) + 1, 1)))
        s = sn_fail(err, SN_ERR_NOMEM, "out of memory");
    else
        memcpy(*record, args, strlen(args) + 1);
    sn_st_free(&f);
    return s;
}

char *sn_run_record_join(int n, const char *const *args) {
    size_t len = 1;
    for (int i = 0; i < n; i++) len += 2 * strlen(args[i]) + 1;
    char *buf = sn_alloc(len, 1), *p = buf;
    for (int i = 0; buf && i < n; i++) {
        for (const char *a = args[i]; *a; a++) {
            if (*a == '\\' || *a == '\n') *p++ = '\\';
            *p++ = *a == '\n' ? 'n' : *a;
        }
        *p++ = '\n';
    }
    if (buf) *p = 0;
    return buf;
}

sn_status sn_run_recorded_args(const char *run_dir, int *n, char ***args, int *text,
                               sn_error *err) {
    char *record = NULL;
    *n = 0, *args = NULL;
    sn_status s = sn_run_recorded(run_dir, &record, text, err);
    if (s != SN_OK) return s;
    size_t len = strlen(record), lines = 0;
    for (size_t i = 0; i < len; i++) lines += record[i] == '\n';
    char **v = sn_alloc((lines + 1) * sizeof *v + len + 1, 1); /* the pointers, then the text */
    if (!v) {
        sn_free(record);
        return sn_fail(err, SN_ERR_NOMEM, "out of memory");
    }
    char *out = (char *)(v + lines + 1), *start = out;
    for (const char *p = record; *p; p++) { /* unescaped, one argument a line */
        if (*p == '\n') {
            *out++ = 0;
            v[(*n)++] = start;
            start = out;
        } else if (*p == '\\' && p[1]) {
            p++;
            *out++ = *p == 'n' ? '\n' : *p;
        } else {
            *out++ = *p;
        }
    }
    v[*n] = NULL;
    *args = v;
    sn_free(record);
    return SN_OK;
}

sn_status sn_run_checkpoint_verify(const char *path, sn_checkpoint_info *info, int *done,
                                   sn_error *err) {
    *done = 0;
    sn_status s = sn_checkpoint_verify(path, info, err);
    if (s != SN_OK) return s;
    /* finished: after the last epoch of the run that wrote it */
    sn_st_file f;
    int epoch = 0;
    if (sn_st_load(path, &f, NULL) == SN_OK) {
        const char *ep = sn_st_meta(&f, "cli.epochs");
        *done = checkpoint_finished(sn_st_meta(&f, "position"), ep ? atoi(ep) : 0, &epoch);
        sn_st_free(&f);
    }
    return SN_OK;
}
