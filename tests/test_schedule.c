/* Learning-rate schedules against PyTorch's lr_scheduler
 * (tests/parity/fixtures/toolkit_schedule, from tests/parity/gen_toolkit.py):
 * the LR of every optimizer step over 25 epochs of 3 steps, for step,
 * multistep, exponential, cosine (past T_max), linear up and down, warm-up
 * combined with cosine and step, and reduce-on-plateau (min/relative with
 * cooldown and min_lr, max/absolute) fed the same monitored values. Each case
 * is built from the [train] lines PyTorch's settings came from (element-wise
 * bound 1e-6 relative to the LR's size). Then: the LR reaches the trainer's
 * history, and configuration errors. */
#include "fixture.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EPOCHS = 25, SPE = 3 };

/* A model whose [train] section holds lr 0.1, 25 epochs and the case's lines
 * (';' separates lines in the fixture's metadata). */
static sn_model *with_lines(const char *lines, sn_error *err) {
    char spec[512];
    int k = snprintf(spec, sizeof spec, "input 1\ndense 1\nloss mse\n[train]\nlr 0.1\nepochs 25\n");
    for (const char *p = lines; *p && k < (int)sizeof spec - 2; p++)
        spec[k++] = *p == ';' ? '\n' : *p;
    spec[k++] = '\n';
    spec[k] = 0;
    sn_model *m = NULL;
    sn_model_from_spec(spec, "schedule", 1, &m, err);
    return m;
}

static void schedule_case(const sn_st_file *f, const char *c) {
    char key[64];
    snprintf(key, sizeof key, "%s.spec", c);
    const char *lines = sn_st_meta(f, key);
    const sn_st_entry *ref = fixture_find(f, "%s.lr", c), *metric = fixture_find(f, "%s.metric", c);
    sn_error err = {0};
    sn_model *m = lines ? with_lines(lines, &err) : NULL;
    sn_schedule s;
    if (!m || !ref || ref->size != EPOCHS * SPE ||
        sn_schedule_init(&s, &m->cfg, SPE, &err) != SN_OK) {
        fprintf(stderr, "%s: %s\n", c, err.msg);
        CHECK(0);
        sn_model_free(m);
        return;
    }
    float lr[EPOCHS * SPE];
    for (int e = 0; e < EPOCHS; e++) {
        for (int j = 0; j < SPE; j++) lr[e * SPE + j] = sn_schedule_lr(&s, e, (long)e * SPE + j);
        if (metric) sn_schedule_observe(&s, metric->data[e]);
    }
    char what[96];
    snprintf(what, sizeof what, "%s: lr per step", c);
    double worst = fixture_compare(what, lr, EPOCHS * SPE, ref, 1);
    printf("  %-16s worst element-wise error %.2e\n", c, worst);
    sn_model_free(m);
}

static void test_fixture_cases(void) {
    sn_st_file f;
    if (!fixture_open(&f, "toolkit_schedule.safetensors")) return;
    char *list = strdup(sn_st_meta(&f, "cases") ? sn_st_meta(&f, "cases") : "");
    int n = 0;
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        schedule_case(&f, c);
        n++;
    }
    CHECK(n >= 10);
    free(list);
    sn_st_free(&f);
}

/* The trainer applies the schedule: history.csv's lr column is the LR of
 * each epoch's last step, here a step schedule halving every 2 epochs, with
 * the optimizer's 1/t decay on top. */
static void test_trainer_history(void) {
    const char *spec = "input 2\ndense 2\nloss softmax_xent\n[train]\noptimizer sgd lr=0.4 "
                       "decay=0.5\nschedule step step_size=2 gamma=0.5\nbatch 4\nepochs 5\n";
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "h", 1, &m, &err) == SN_OK);
    if (!m) return;
    float x[16] = {0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1};
    int labels[8] = {0, 1, 1, 0, 0, 1, 1, 0};
    sn_dataset d = {.n = 8,
                    .ndim = 1,
                    .shape = {2},
                    .sample_size = 2,
                    .x = x,
                    .labels = labels,
                    .num_classes = 2};
    char path[] = "/tmp/sn-schedule-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(sn_train(m, &d, NULL, NULL, NULL, path, &err) == SN_OK);
    FILE *fh = fopen(path, "r");
    char line[512];
    int rows = 0;
    CHECK(fh && fgets(line, sizeof line, fh) && strstr(line, ",lr,") && strstr(line, "reg_loss"));
    while (fh && fgets(line, sizeof line, fh)) {
        int epoch;
        long step;
        double v[8];
        if (sscanf(line, "%d,%ld,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &epoch, &step, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6]) != 9)
            break;
        /* 2 steps per epoch: the last step of epoch e is t = 2e − 1. */
        double want = 0.4 * pow(0.5, (epoch - 1) / 2) / (1 + 0.5 * (2 * epoch - 1));
        CHECK_NEAR(v[6], want, 1e-5);
        CHECK(step == 2L * epoch);
        rows++;
    }
    CHECK(rows == 5);
    if (fh) fclose(fh);
    unlink(path);
    sn_model_free(m);
}

static void expect_error(const char *lines, const char *want) {
    sn_error err = {0};
    sn_model *m = with_lines(lines, &err);
    sn_schedule s;
    sn_status st = m ? sn_schedule_init(&s, &m->cfg, SPE, &err) : err.code;
    CHECK(st != SN_OK);
    if (!strstr(err.msg, want)) fprintf(stderr, "  message '%s' lacks '%s'\n", err.msg, want);
    CHECK(strstr(err.msg, want) != NULL);
    sn_model_free(m);
}

static void test_errors(void) {
    expect_error("schedule sawtooth", "unknown schedule 'sawtooth'");
    expect_error("schedule step", "step_size");
    expect_error("schedule multistep milestones=5,x", "milestones");
    expect_error("schedule multistep", "milestones");
    expect_error("schedule cosine t_max=0", "t_max=0");
    expect_error("schedule plateau factor=2", "factor=2");
    expect_error("schedule plateau monitor=val_f1", "monitor");
    expect_error("schedule linear start_factor=0", "start_factor=0");
    expect_error("warmup epochs=-1", "epochs=-1");
    expect_error("warmup", "warmup: expected key=value");
    expect_error("clip size=3", "clip: 'size=3'");
    expect_error("early_stop min_delta=0.1", "patience");
    expect_error("early_stop patience=3 monitor=loss", "monitor");
    /* Multistep milestones must increase (checked when training starts). */
    expect_error("schedule multistep milestones=9,4", "increase");
    /* Cosine's half period defaults to the number of epochs. */
    sn_error err = {0};
    sn_model *m = with_lines("schedule cosine", &err);
    sn_schedule s;
    CHECK(m && sn_schedule_init(&s, &m->cfg, SPE, &err) == SN_OK);
    if (m) {
        CHECK(s.c.t_max == 25);
        CHECK_NEAR(sn_schedule_lr(&s, 25, 0), 0.0, 1e-9);
        CHECK_NEAR(sn_schedule_lr(&s, 0, 0), 0.1, 1e-8);
    }
    sn_model_free(m);
}

int main(void) {
    test_fixture_cases();
    test_trainer_history();
    test_errors();
    return check_report();
}
