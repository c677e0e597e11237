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
    expect_error("input 4\ndense 3\nloss mse\n[train]\nbatch 0\n", "t.net:5: 'batch=0' is unknown "
                                                                   "or out of range");
    expect_error("input 4\ndense 3\nloss mse\n[train]\noptimizer lbfgs\n",
                 "t.net:5: unknown optimizer 'lbfgs'");
    expect_error("input 4\ndense 3\nloss mse\n[train]\noptimizer sgd lr=fast\n",
                 "t.net:5: lr: 'fast' is not a number");
    expect_error("input 4\ndense 3\nloss mse\n[model]\n", "t.net:4: unknown section '[model]'");

    /* File errors name the path. */
    CHECK(sn_model_from_file("/nonexistent/x.net", 0, &m, &err) == SN_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/x.net") != NULL);
    return check_report();
}
