/* The text training loop against PyTorch (tests/parity/gen_text.py): a
 * small char-level LSTM (embedding, LSTM, dense) trained by sn_text_train
 * for 2 epochs of 26 Adam steps on 4 streams of 10-step batches, with the
 * state carried between batches and reset at each epoch, gradients clipped
 * by value. Every step's loss and each epoch's validation loss must be
 * within 1e-4 (relative) of PyTorch's float64 trajectory; the final weights
 * within 1e-5 (norm-wise). The vocabulary comes from sn_vocab_build on the
 * same text (code points in increasing order, as Python's sorted(set())). */
#include "fixture.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 256

static double means[MAX_STEPS], val_losses[8];
static int nsteps, nepochs, batches_per_epoch;

static void on_batch(void *ctx, int epoch, int batch, int nbatches, double loss, double acc,
                     double tps) {
    (void)ctx, (void)epoch, (void)acc, (void)tps;
    batches_per_epoch = nbatches;
    (void)batch;
    if (nsteps < MAX_STEPS) means[nsteps++] = loss;
}

static int on_epoch(void *ctx, const sn_epoch_stats *s) {
    (void)ctx;
    if (nepochs < 8) val_losses[nepochs++] = s->val_loss;
    return 0;
}

int main(void) {
    sn_st_file f, init;
    if (!fixture_open(&f, "rnn_trajectory.safetensors")) return check_report();
    if (!fixture_open(&init, "rnn_trajectory_init.safetensors")) return check_report();
    const char *text = sn_st_meta(&f, "text"), *spec = sn_st_meta(&f, "spec");
    const char *seq = sn_st_meta(&f, "seq"), *nv = sn_st_meta(&f, "n_val");
    CHECK(text && spec && seq && nv);
    if (!text || !spec || !seq || !nv) return check_report();
    sn_error err = {0};
    sn_vocab *v = NULL;
    sn_model *m = NULL;
    int *ids = NULL;
    size_t n = 0, n_val = (size_t)atol(nv);
    CHECK(sn_vocab_build(text, strlen(text), SN_TEXT_CHAR, 0, &v, &err) == SN_OK);
    CHECK(sn_vocab_encode(v, text, strlen(text), &ids, &n, &err) == SN_OK);
    CHECK(sn_model_from_spec(spec, "trajectory", 1, &m, &err) == SN_OK);
    if (!v || !ids || !m) {
        fprintf(stderr, "%s\n", err.msg);
        return check_report();
    }
    const sn_st_entry *emb = sn_st_find(&init, "0.weight");
    CHECK(emb && emb->shape[0] == sn_vocab_size(v));
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/parity/fixtures/rnn_trajectory_init.safetensors",
             SN_SOURCE_DIR);
    CHECK(sn_model_load_weights(m, path, &err) == SN_OK);

    sn_text_options o;
    sn_text_options_default(&o);
    o.seq_len = atoi(seq);
    o.keep_best = 0; /* PyTorch ends with the last weights */
    sn_train_hooks hooks = {.on_batch = on_batch, .on_epoch = on_epoch};
    sn_set_threads(1);
    CHECK(sn_text_train(m, v, ids, n - n_val, ids + n - n_val, n_val, &o, &hooks, NULL, &err) ==
          SN_OK);

    /* Step losses from the running means the hook reports: batch b of an
     * epoch has rows_b = T_b·N tokens, the mean after it covers R_b. */
    const sn_st_entry *ref = sn_st_find(&f, "loss"), *vref = sn_st_find(&f, "val_loss");
    CHECK(ref && (int)ref->size == nsteps && nsteps >= 50);
    int N = m->cfg.batch, T = o.seq_len;
    size_t S = (n - n_val - 1) / (size_t)N;
    double worst = 0;
    for (int i = 0; ref && i < nsteps && i < (int)ref->size; i++) {
        int b = i % batches_per_epoch;
        double R = 0, Rprev = 0, rows = 0;
        for (int j = 0; j <= b; j++) {
            size_t t0 = (size_t)j * T;
            rows = (double)((S - t0 < (size_t)T ? S - t0 : (size_t)T) * N);
            Rprev = R;
            R += rows;
        }
        double step = b == 0 ? means[i] : (means[i] * R - means[i - 1] * Rprev) / rows;
        double e = fabs(step - ref->data[i]) / fabs(ref->data[i]);
        if (e > worst) worst = e;
    }
    printf("%d steps: worst relative loss difference from PyTorch %.2e (bound 1e-4); "
           "first %.5f, last %.5f\n",
           nsteps, worst, ref ? ref->data[0] : 0.0, ref ? ref->data[ref->size - 1] : 0.0);
    CHECK(worst <= 1e-4);
    CHECK(vref && (int)vref->size == nepochs);
    for (int e = 0; vref && e < nepochs && e < (int)vref->size; e++) {
        printf("epoch %d validation loss %.6f, PyTorch %.6f\n", e + 1, val_losses[e],
               vref->data[e]);
        CHECK(fabs(val_losses[e] - vref->data[e]) <= 1e-4 * vref->data[e]);
    }
    double wworst = 0;
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            const sn_param *par = &m->layers[i]->params[p];
            const sn_st_entry *w = fixture_find(&f, "final.%d.%s", i, par->name);
            CHECK(w && w->size == par->value.size);
            if (!w || w->size != par->value.size) continue;
            double e = fixture_err_norm(par->value.data, w->data, w->size);
            if (e > wworst) wworst = e;
        }
    }
    printf("final weights: worst norm-wise difference %.2e (bound 1e-5)\n", wworst);
    CHECK(wworst <= 1e-5);
    sn_free(ids);
    sn_vocab_free(v);
    sn_model_free(m);
    sn_st_free(&f);
    sn_st_free(&init);
    return check_report();
}
