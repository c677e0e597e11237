/* Early stopping: an over-fitting model (noise labels, a wide MLP with batch
 * norm) trained with a validation set. An epoch hook copies every parameter,
 * running statistics included, after each epoch and records the monitored
 * value; the test then finds the best epoch itself (a loss lower, or an
 * accuracy higher, than every earlier one by more than min_delta) and checks
 * that training stopped `patience` epochs after it and that the weights left
 * in the model are exactly that epoch's. Also: restore=0 keeps the last
 * epoch's weights, a large min_delta stops after patience + 1 epochs, and a
 * val_* monitor without a validation set is an error. */
#include "check.h"
#include "model/model.h"
#include "model_check.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_EPOCHS = 80 };

typedef struct record {
    int epochs;
    double value[MAX_EPOCHS + 1];
    float *weights[MAX_EPOCHS + 1]; /* all parameters, concatenated */
    sn_model *m;
    const char *monitor;
} record;

static size_t total_size(const sn_model *m) {
    size_t n = 0;
    for (int i = 0; i < m->nparams; i++) n += m->params[i]->value.size;
    return n;
}

static void copy_params(const sn_model *m, float *dst) {
    for (int i = 0; i < m->nparams; i++) {
        memcpy(dst, m->params[i]->value.data, m->params[i]->value.size * sizeof(float));
        dst += m->params[i]->value.size;
    }
}

static int on_epoch(void *ctx, const sn_epoch_stats *s) {
    record *r = ctx;
    r->epochs = s->epoch;
    r->value[s->epoch] = strcmp(r->monitor, "val_acc") == 0 ? s->val_acc : s->val_loss;
    r->weights[s->epoch] = malloc(total_size(r->m) * sizeof(float));
    copy_params(r->m, r->weights[s->epoch]);
    return 0;
}

/* Trains with the given early_stop line; returns the best epoch it finds,
 * checks the stopping epoch and the restored weights. */
static int run(const char *es_line, const char *monitor, double min_delta, int patience,
               int restore) {
    char spec[512];
    snprintf(spec, sizeof spec,
             "input 8\ndense 64\nbatchnorm\nrelu\ndense 64\nrelu\ndense 3\nloss softmax_xent\n"
             "[train]\noptimizer adam lr=0.002\nbatch 16\nepochs %d\n%s\n",
             MAX_EPOCHS, es_line);
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "es", 3, &m, &err) == SN_OK);
    if (!m) return -1;
    sn_dataset train, val;
    make_data(&train, 96, 1);
    make_data(&val, 200, 2);
    record r = {0};
    r.m = m;
    r.monitor = monitor;
    sn_train_hooks hooks = {.ctx = &r, .on_epoch = on_epoch};
    CHECK(sn_train(m, &train, &val, NULL, &hooks, NULL, &err) == SN_OK);
    int acc = strcmp(monitor, "val_acc") == 0, best = 0;
    double bv = acc ? -INFINITY : INFINITY;
    min_delta = (float)min_delta; /* the value the trainer holds */
    for (int e = 1; e <= r.epochs; e++) {
        double v = r.value[e];
        if (acc ? v > bv + min_delta : v < bv - min_delta) bv = v, best = e;
    }
    printf("  %-45s best epoch %2d (%s %.4f), stopped after epoch %d\n", es_line, best, monitor, bv,
           r.epochs);
    CHECK(r.epochs < MAX_EPOCHS);       /* it did stop early */
    CHECK(r.epochs == best + patience); /* patience epochs after the best */
    float *now = malloc(total_size(m) * sizeof(float));
    copy_params(m, now);
    int want = restore ? best : r.epochs;
    CHECK(best >= 1 && memcmp(now, r.weights[want], total_size(m) * sizeof(float)) == 0);
    if (best != r.epochs) /* and they are not the last epoch's */
        CHECK(restore == !!memcmp(now, r.weights[r.epochs], total_size(m) * sizeof(float)));
    free(now);
    for (int e = 1; e <= r.epochs; e++) free(r.weights[e]);
    sn_dataset_free(&train);
    sn_dataset_free(&val);
    sn_model_free(m);
    return best;
}

int main(void) {
    int b1 = run("early_stop patience=4", "val_loss", 0, 4, 1);
    CHECK(b1 > 1);
    CHECK(run("early_stop patience=5 monitor=val_acc min_delta=0.001", "val_acc", 0.001, 5, 1) > 1);
    run("early_stop patience=4 restore=0", "val_loss", 0, 4, 0);
    /* Nothing improves by 10: the first epoch is the best, stop at 1 + 2. */
    CHECK(run("early_stop patience=2 min_delta=10", "val_loss", 10, 2, 1) == 1);

    /* Monitoring validation values needs a validation set. */
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 8\ndense 3\nloss softmax_xent\n[train]\n"
                             "early_stop patience=2\n",
                             "es", 1, &m, &err) == SN_OK);
    sn_dataset train;
    make_data(&train, 32, 1);
    if (m) {
        CHECK(sn_train(m, &train, NULL, NULL, NULL, NULL, &err) == SN_ERR_ARG);
        CHECK(strstr(err.msg, "no validation set") != NULL);
        snprintf(m->cfg.monitor, sizeof m->cfg.monitor, "train_loss");
        CHECK(sn_train(m, &train, NULL, NULL, NULL, NULL, &err) == SN_OK);
    }
    sn_dataset_free(&train);
    sn_model_free(m);
    return check_report();
}
