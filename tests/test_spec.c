/* The spec parser: a good spec builds the expected layers and [train]
 * values; every kind of mistake is reported with file:line and what was
 * expected. */
#include "check.h"
#include "model/model.h"

#include <string.h>

static const char good[] = "# a comment\n"
                           "input 1x28x28\n"
                           "flatten\n"
                           "dense 64 init=xavier   # trailing comment\n"
                           "relu\n"
                           "dense 10\n"
                           "loss softmax_xent\n"
                           "\n"
                           "[train]\n"
                           "optimizer sgd lr=0.5 momentum=0.9 nesterov=1 decay=1e-3\n"
                           "batch 64\n"
                           "epochs 3\n"
                           "val_split 0.2\n"
                           "seed 9\n";

/* Builds `text` and checks that it fails with a message containing `want`. */
static void expect_error(const char *text, const char *want) {
    sn_model *m = NULL;
    sn_error err = {0};
    sn_status s = sn_model_from_spec(text, "t.net", 0, &m, &err);
    CHECK(s != SN_OK);
    CHECK(m == NULL);
    if (!strstr(err.msg, want)) {
        fprintf(stderr, "  message '%s' lacks '%s'\n", err.msg, want);
        CHECK(0);
    }
}

int main(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(good, "good.net", 0, &m, &err) == SN_OK);
    if (m) {
        CHECK(m->nlayers == 4);
        CHECK(m->in_ndim == 3 && m->in_shape[0] == 1 && m->in_shape[2] == 28);
        CHECK(m->layers[1]->out_shape[0] == 64);
        CHECK(m->layers[1]->params[0].value.shape[1] == 784);
        CHECK(m->loss == SN_LOSS_SOFTMAX_XENT);
        CHECK(strcmp(m->cfg.optimizer, "sgd") == 0);
        CHECK_NEAR(m->cfg.lr, 0.5, 1e-7);
        CHECK_NEAR(m->cfg.momentum, 0.9, 1e-7);
        CHECK(m->cfg.nesterov == 1);
        CHECK_NEAR(m->cfg.decay, 1e-3, 1e-9);
        CHECK(m->cfg.batch == 64 && m->cfg.epochs == 3 && m->cfg.seed == 9);
        CHECK_NEAR(m->cfg.val_split, 0.2, 1e-7);
        CHECK(sn_model_num_params(m) == 784 * 64 + 64 + 64 * 10 + 10);
        CHECK(strcmp(sn_model_spec(m), good) == 0);
        sn_model_free(m);
    }

    /* The same seed gives the same weights; another seed others. */
    sn_model *a = NULL, *b = NULL, *c = NULL;
    sn_model_from_spec(good, "a", 5, &a, &err);
    sn_model_from_spec(good, "b", 5, &b, &err);
    sn_model_from_spec(good, "c", 6, &c, &err);
    CHECK(a && b && c);
    if (a && b && c) {
        const sn_tensor *wa = &a->params[0]->value;
        CHECK(memcmp(wa->data, b->params[0]->value.data, wa->size * 4) == 0);
        CHECK(memcmp(wa->data, c->params[0]->value.data, wa->size * 4) != 0);
    }
    sn_model_free(a);
    sn_model_free(b);
    sn_model_free(c);

    expect_error("input 4\nfoo 3\nloss mse\n", "t.net:2: unknown layer 'foo'");
    expect_error("input 4\ndense abc\nloss mse\n", "t.net:2: dense: number of units must be a "
                                                   "positive integer, got 'abc'");
    expect_error("input 4\ndense -3\nloss mse\n", "t.net:2:");
    expect_error("input 4\ndense\nloss mse\n", "t.net:2: dense: missing number of units");
    expect_error("input 4\ndense 3 init=magic\nloss mse\n", "t.net:2: unknown init 'magic'");
    expect_error("input 4\ndense 3 colour=red\nloss mse\n", "t.net:2: dense: unknown option "
                                                            "'colour'");
    expect_error("input 4\ndense 3 4\nloss mse\n", "t.net:2: dense: unexpected argument '4'");
    expect_error("input 4\ndense 3\n", "t.net: no 'loss' line");
    expect_error("dense 3\nloss mse\n", "t.net:1: expected 'input SHAPE'");
    expect_error("input 4x\ndense 3\nloss mse\n", "t.net:1: input: expected a shape");
    expect_error("input 0\ndense 3\nloss mse\n", "t.net:1: input: expected a shape");
    expect_error("input 4\nloss mse\n", "t.net: no layers");
    expect_error("input 4\ndense 3\nloss hinge\n", "t.net:3:");
    expect_error("input 4\ndense 3\nloss mse\ndense 2\n", "t.net:4: 'dense' after the loss line");
    expect_error("input 4\ndense 1\nloss softmax_xent\n", "softmax_xent needs at least 2 outputs");
    expect_error("input 1x4x4\nrelu\nloss mse\n", "the last layer's output has 3 dimensions");
    expect_error("input 4\ndense 3\nloss mse\n[train]\nepochs ten\n",
                 "t.net:5: epochs: 'ten' is not a number");
    expect_error("input 4\ndense 3\nloss mse\n[train]\nbatch 0\n",
                 "t.net:5: batch=0: expected an integer in [1, 1048576]");
    expect_error("input 4\ndense 3\nloss mse\n[train]\noptimizer lbfgs\n",
                 "t.net:5: unknown optimizer 'lbfgs'");
    expect_error("input 4\ndense 3\nloss mse\n[train]\noptimizer sgd lr=fast\n",
                 "t.net:5: lr: 'fast' is not a number");
    expect_error("input 4\ndense 3\nloss mse\n[model]\n", "t.net:4: unknown section '[model]'");

    /* The training toolkit's keys. */
    const char *toolkit = "input 2x4x4\nbatchnorm momentum=0.2 eps=1e-3\nflatten\n"
                          "dense 8 l1=0.001 l2_bias=0.5\nbatchnorm\nrelu\ndropout 0.25\ndense 3\n"
                          "loss softmax_xent\n[train]\noptimizer rmsprop lr=0.02 rho=0.95 "
                          "centered=1 momentum=0.5\nschedule multistep milestones=3,7,11 "
                          "gamma=0.5\nwarmup epochs=2 start_factor=0.1\nclip value=5 norm=2\n"
                          "early_stop patience=4 min_delta=0.01 monitor=val_acc restore=0\n"
                          "l2 0.03\n";
    CHECK(sn_model_from_spec(toolkit, "t.net", 0, &m, &err) == SN_OK);
    if (m) {
        const sn_train_config *c = &m->cfg;
        CHECK(m->nlayers == 7 && m->nparams == 4 + 2 + 4 + 2);
        CHECK(strcmp(m->layers[0]->ops->kind, "batchnorm") == 0);
        CHECK(strcmp(m->layers[5]->ops->kind, "dropout") == 0);
        CHECK(m->params[2]->buffer && m->params[3]->buffer && !m->params[0]->buffer);
        CHECK(sn_model_num_params(m) == 2 * 2 + 32 * 8 + 8 + 2 * 8 + 8 * 3 + 3);
        CHECK(strcmp(c->optimizer, "rmsprop") == 0 && c->centered == 1);
        CHECK_NEAR(c->lr, 0.02, 1e-8);
        CHECK_NEAR(c->alpha, 0.95, 1e-7);
        CHECK_NEAR(c->momentum, 0.5, 1e-7);
        CHECK(strcmp(c->schedule.kind, "multistep") == 0 && c->schedule.nmilestones == 3);
        CHECK(c->schedule.milestones[2] == 11);
        CHECK_NEAR(c->schedule.gamma, 0.5, 1e-7);
        CHECK(c->schedule.warmup_epochs == 2);
        CHECK_NEAR(c->schedule.warmup_start, 0.1, 1e-7);
        CHECK(c->clip_value == 5.0f && c->clip_norm == 2.0f);
        CHECK(c->patience == 4 && c->restore_best == 0 && strcmp(c->monitor, "val_acc") == 0);
        CHECK_NEAR(c->min_delta, 0.01, 1e-8);
        /* dense 8: its own l1, the [train] l2; its bias only l2_bias. */
        CHECK(m->params[4]->l1 == 0.001f && m->params[4]->l2 == 0.03f);
        CHECK(m->params[5]->l1 == 0.0f && m->params[5]->l2 == 0.5f);
        CHECK(m->params[10]->l2 == 0.03f && m->params[11]->l2 == 0.0f);
        sn_model_free(m);
    }
    expect_error("input 4\ndense 3\nloss mse\n[train]\noptimizer adamax\n",
                 "t.net:5: unknown optimizer 'adamax' (expected sgd, adagrad, rmsprop, adam or "
                 "adamw)");
    expect_error("input 4\ndense 3\nloss mse\n[train]\nschedule cosine t_max=ten\n",
                 "t.net:5: t_max: 'ten' is not a number");
    expect_error("input 4\ndense 3\nloss mse\n[train]\nschedule plateau patience=x\n",
                 "t.net:5: patience: 'x' is not a number");
    expect_error("input 4\ndense 3\nloss mse\n[train]\nschedule step\n",
                 "t.net:5: schedule step: give step_size");
    expect_error("input 4\ndense 3\nloss mse\n[train]\nclip norm\n", "t.net:5: expected key=value");
    expect_error("input 4\ndense 3\nloss mse\n[train]\nearly_stop patience=2 monitor=f1\n",
                 "t.net:5: monitor: expected val_loss, val_acc, train_loss or train_acc");
    expect_error("input 4\ndense 3 l2=-1\nloss mse\n", "t.net:2: dense: l2 must be a number >= 0");
    expect_error("input 4\nrelu l1=0.1\ndense 3\nloss mse\n",
                 "t.net:2: relu: no parameters to apply l1/l2 to");

    /* File errors name the path. */
    CHECK(sn_model_from_file("/nonexistent/x.net", 0, &m, &err) == SN_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/x.net") != NULL);
    return check_report();
}
