/* The training run's public API (sn_run_*) without the command line: a
 * table run from a CSV into a fresh folder writes its files (run.txt with
 * what it trained, summary.txt as the result says, spec.net as written,
 * history.csv, model, checkpoint, report); a second new run into it is
 * refused (SN_ERR_ARG) and leaves it alone; a folder locked by another
 * writer is refused (SN_ERR_IO) naming its PID; the checkpoint gives back
 * the caller's record and says the run is finished; a resume to more epochs
 * extends the history, a resume of a finished run is refused; `force`
 * replaces the run and removes its stale files; a text run writes its
 * samples; errors before the folder leave nothing behind. */
#define _DEFAULT_SOURCE /* mkdtemp, flock */
#include "check.h"
#include "scratchnet.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64], path[512];

static const char *at(const char *name) {
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return path;
}

static int exists(const char *name) {
    struct stat st;
    return stat(at(name), &st) == 0;
}

/* The whole file (static buffer; "" when absent). */
static const char *slurp(const char *name) {
    static char buf[1 << 16];
    buf[0] = 0;
    FILE *f = fopen(at(name), "rb");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int lines(const char *name) {
    int n = 0;
    for (const char *p = slurp(name); *p; p++) n += *p == '\n';
    return n;
}

static void put(const char *name, const char *text) {
    FILE *f = fopen(at(name), "w");
    fputs(text, f);
    fclose(f);
}

typedef struct counts {
    int starts, epochs, samples, notes;
    int start_ntrain;
} counts;

static void on_start(void *ctx, const sn_run_result *r) {
    counts *c = ctx;
    c->starts++;
    c->start_ntrain = (int)r->ntrain;
}
static int on_epoch(void *ctx, const sn_epoch_stats *e) {
    (void)e;
    ((counts *)ctx)->epochs++;
    return 0;
}
static void on_sample(void *ctx, int epoch, const char *text, size_t len) {
    (void)epoch, (void)text, (void)len;
    ((counts *)ctx)->samples++;
}
static void on_note(void *ctx, const char *text) {
    (void)text;
    ((counts *)ctx)->notes++;
}

static const char spec[] = "input 2\ndense 16\nrelu\ndense 2\nloss softmax_xent\n[train]\n"
                           "optimizer adam lr=3e-3\nbatch 16\nepochs 2\nval_split 0.1\nseed 3\n";

static void table_options(sn_run_options *o, counts *c, char *spec_path, char *data,
                          char *run_dir) {
    sn_run_options_default(o);
    snprintf(spec_path, 512, "%s/spec.net", tmp);
    snprintf(data, 512, "%s/spiral.csv", tmp);
    snprintf(run_dir, 512, "%s/run", tmp);
    o->spec_path = spec_path;
    o->data = data;
    o->data_options.csv.header = -1;
    o->data_options.csv.label_col = -1;
    o->run_dir = run_dir;
    o->record = "--threads\n1\n";
    o->command = "a test";
    o->checkpoint_every = 1;
    o->hooks.ctx = c;
    o->hooks.on_epoch = on_epoch;
    o->on_start = on_start;
    o->on_note = on_note;
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/sn_run_XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    sn_set_threads(1);
    /* two interleaved spirals, 300 points each */
    FILE *f = fopen(at("spiral.csv"), "w");
    fprintf(f, "x,y,label\n");
    for (int i = 0; i < 600; i++) {
        int c = i % 2;
        double t = 0.5 + (i / 2) / 300.0 * 10, a = t + c * 3.14159265;
        fprintf(f, "%.5f,%.5f,%d\n", t * cos(a) / 10, t * sin(a) / 10, c);
    }
    fclose(f);
    put("spec.net", spec);

    sn_run_options o;
    sn_run_result r;
    sn_error err = {0};
    counts c = {0};
    char spec_path[512], data[512], run_dir[512];
    table_options(&o, &c, spec_path, data, run_dir);

    /* ---- a new run ---- */
    CHECK(sn_run_train(&o, &r, &err) == SN_OK);
    if (err.msg[0]) fprintf(stderr, "%s\n", err.msg);
    CHECK(strcmp(r.run_dir, run_dir) == 0);
    CHECK(c.starts == 1 && c.epochs == 2);
    CHECK(r.ntrain == 540 && r.nval == 60 && r.ntest == 0 && c.start_ntrain == 540);
    CHECK(r.config.epochs == 2 && r.config.batch == 16 && r.kept_epoch == 2);
    CHECK(isnan(r.test_acc) && isnan(r.test_macro_f1));
    CHECK(r.result[0] == 0); /* no test set: no figures */
    const char *files[] = {"run/model.safetensors", "run/checkpoint.safetensors", "run/history.csv",
                           "run/report.html", "run/.lock"};
    for (int i = 0; i < 5; i++) CHECK(exists(files[i]));
    CHECK(!exists("run/.replaced") && !exists("run/run.txt.tmp"));
    CHECK(strcmp(slurp("run/spec.net"), spec) == 0);
    CHECK(strcmp(slurp("run/summary.txt"), r.summary) == 0);
    CHECK(lines("run/history.csv") == 3);
    {
        char want[1200];
        const char *run = slurp("run/run.txt");
        snprintf(want, sizeof want, "\nspec %s\ndata %s\n", spec_path, data);
        CHECK(strstr(run, want) != NULL);
        CHECK(strstr(run, "\ncommand a test\n") != NULL);
        CHECK(strstr(run, "\nepochs 2\n") != NULL);
        CHECK(strstr(run, "\nsamples 540 train, 60 validation, 0 test\n") != NULL);
        CHECK(strstr(run, "\nfinished ") != NULL);
        CHECK(strstr(run, "\nkept_epoch 2\n") != NULL);
    }

    /* ---- what the checkpoint says ---- */
    char *record = NULL;
    int text = -1, done = -1;
    CHECK(sn_run_recorded(run_dir, &record, &text, &err) == SN_OK);
    CHECK(record && strcmp(record, "--threads\n1\n") == 0 && text == 0);
    sn_free(record);
    sn_checkpoint_info info;
    CHECK(sn_run_checkpoint_verify(at("run/checkpoint.safetensors"), &info, &done, &err) == SN_OK);
    CHECK(done == 1 && info.epoch == 3 && strcmp(info.trainer, "table") == 0);

    /* ---- a second new run into it: refused, the folder untouched ---- */
    char model[1 << 12];
    snprintf(model, sizeof model, "%s", slurp("run/history.csv"));
    o.seed = 9;
    CHECK(sn_run_train(&o, &r, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "holds another run") != NULL);
    CHECK(strcmp(slurp("run/history.csv"), model) == 0);

    /* ---- a folder another writer holds: refused, naming its PID ---- */
    int fd = open(at("run/.lock"), O_RDWR);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, "4242\n", 5, 0) == 5);
    o.seed = -1, o.resume = 1, o.epochs = 3;
    CHECK(sn_run_train(&o, &r, &err) == SN_ERR_IO);
    CHECK(strstr(err.msg, "process 4242") != NULL);
    close(fd);

    /* ---- a resume to 3 epochs, then again: nothing to resume ---- */
    c = (counts){0};
    CHECK(sn_run_train(&o, &r, &err) == SN_OK);
    CHECK(c.epochs == 1 && lines("run/history.csv") == 4);
    CHECK(strstr(slurp("run/run.txt"), "\nepochs 3\n") != NULL);
    CHECK(sn_run_train(&o, &r, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "nothing to resume") != NULL);

    /* ---- force: the old run's files go, stale ones included; its record:
     * arguments joined (one a line, \\ and \n escaped) and split back ---- */
    const char *args[] = {"--threads", "1", "--prime", "a\\b\nc\\", ""};
    char *joined = sn_run_record_join(5, args), **back = NULL;
    CHECK(joined && strcmp(joined, "--threads\n1\n--prime\na\\\\b\\nc\\\\\n\n") == 0);
    put("run/robustness.csv", "std,accuracy\n0,0.5\n");
    o.resume = 0, o.force = 1, o.epochs = 1, o.record = joined;
    o.data_options.csv.header = 1; /* recorded for reading the data again */
    CHECK(sn_run_train(&o, &r, &err) == SN_OK);
    CHECK(strstr(slurp("run/run.txt"), "\ntask classification\nheader yes\n") != NULL);
    sn_run_data rd;
    CHECK(sn_run_data_read(run_dir, &rd, &err) == SN_OK);
    CHECK(rd.header == 1 && strcmp(rd.data, data) == 0 && !rd.text && !rd.regression);
    CHECK(!exists("run/robustness.csv") && !exists("run/.replaced"));
    CHECK(lines("run/history.csv") == 2);
    int nback = 0;
    CHECK(sn_run_recorded_args(run_dir, &nback, &back, &text, &err) == SN_OK);
    CHECK(nback == 5 && back && !back[5] && text == 0);
    for (int i = 0; back && i < 5 && i < nback; i++) CHECK(strcmp(back[i], args[i]) == 0);
    sn_free(back);
    sn_free(joined);
    o.record = "--threads\n1\n";

    /* ---- a bad data file: an error naming it, no folder ---- */
    put("bad.csv", "x,y,label\n1,2,0\n1,2\n");
    o.data = at("bad.csv");
    snprintf(run_dir, sizeof run_dir, "%s/never", tmp);
    o.force = 0;
    CHECK(sn_run_train(&o, &r, &err) == SN_ERR_FORMAT);
    CHECK(strstr(err.msg, "bad.csv:3") != NULL);
    CHECK(!exists("never"));

    /* ---- a text run ---- */
    f = fopen(at("corpus.txt"), "w");
    for (int i = 0; i < 40; i++) fprintf(f, "the whale swam and the sea was calm. ");
    fclose(f);
    put("text.net", "input 1\nembedding vocab 8\nrnn 16\ndense vocab\nloss softmax_xent\n[text]\n"
                    "seq 8\nval 0.1\nsample_every 1\nsample_length 20\n[train]\n"
                    "optimizer adam lr=1e-2\nbatch 4\nepochs 2\nseed 1\n");
    char text_spec[512], corpus[512];
    snprintf(text_spec, sizeof text_spec, "%s/text.net", tmp);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", tmp);
    snprintf(run_dir, sizeof run_dir, "%s/text", tmp);
    c = (counts){0};
    err = (sn_error){0};
    table_options(&o, &c, spec_path, data, run_dir);
    snprintf(run_dir, sizeof run_dir, "%s/text", tmp);
    o.spec_path = text_spec, o.text = corpus, o.data = NULL;
    o.hooks.on_sample = on_sample;
    o.val_split = 0.95; /* more than a text run may hold out: refused, no folder */
    CHECK(sn_run_train(&o, &r, &err) == SN_ERR_ARG && strstr(err.msg, "at most 0.9") != NULL);
    CHECK(!exists("text"));
    o.val_split = -1;
    err = (sn_error){0};
    CHECK(sn_run_train(&o, &r, &err) == SN_OK);
    if (err.msg[0]) fprintf(stderr, "%s\n", err.msg);
    CHECK(r.text == 1 && r.vocab_size > 5 && c.starts == 1 && c.epochs == 2 && c.samples == 2);
    CHECK(r.ntrain + r.nval == 40 * 37 && r.kept_epoch >= 1 && !isnan(r.val_loss));
    CHECK(strstr(slurp("text/samples.txt"), "---- epoch 2 ----\n") != NULL);
    CHECK(strstr(slurp("text/run.txt"), "\nlevel char\nseq 8\n") != NULL);
    {
        char want[200]; /* the kept epoch's figures, in summary.txt too */
        snprintf(want, sizeof want,
                 "validation loss %.4f nats/token (%.4f bits), perplexity %.3f\n", r.val_loss,
                 r.val_loss / log(2.0), exp(r.val_loss));
        CHECK(strstr(r.result, want) != NULL && strncmp(r.result, "training loss ", 14) == 0);
        CHECK(strstr(slurp("text/summary.txt"), r.result) != NULL);
    }
    CHECK(exists("text/model.safetensors") && exists("text/checkpoint.safetensors"));
    CHECK(sn_run_recorded(run_dir, &record, &text, &err) == SN_OK && text == 1);
    sn_free(record);
    CHECK(c.notes == 0);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) return 1;
    return check_report();
}
