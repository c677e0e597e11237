/* Finite-difference gradient checks (sn_gradcheck_run) of every layer kind
 * and every loss, on random small shapes, plus the proof that the check
 * works: backward passes broken on purpose here (a flipped bias gradient, a
 * derivative 5 % off, a missing input gradient) are reported, in the layer
 * that is wrong.
 *
 * Tolerance 1e-2 on the relative error |a − n| / max(|a| + |n|, F), F =
 * 1e-4·max(1, |L|)/h (see src/model/gradcheck.c): with h = 1e-2 on float32
 * forward passes the central difference is off by O(h²) (truncation) plus
 * about 1e-7·|L|/h (rounding of the loss), which F keeps near 1e-3 of the
 * error; a gradient that is wrong by 5 % is off by 0.05 / 2.05 ≈ 2.4e-2, a
 * flipped sign by 1. Every case prints its worst error; the largest over all
 * cases is about 1e-3. (Smaller mistakes are the parity tests' job: a
 * gradient 1 % off is 5e-3 here but 1e-2 against a PyTorch fixture.) */
#include "check.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#define TOL     1e-2
#define STEP    1e-2f
#define SAMPLES 24

static sn_rng shapes; /* draws the random small shapes */

static int pick(int lo, int hi) {
    return lo + (int)sn_rng_below(&shapes, (uint32_t)(hi - lo + 1));
}

/* How a case's targets are drawn. */
enum { LABELS, BINARY, TARGETS, PROBS, SOFT };

typedef struct gc_case {
    const char *spec; /* printf format; every %d gets a random size in [2, 5] */
    int targets;
    int train;  /* 1: training mode (batch norm statistics, dropout masks) */
    int seq;    /* > 0: recurrent, T = seq steps; a batch is T·N rows */
    int tokens; /* > 0: inputs are token ids in [0, tokens) */
} gc_case;

/* Every layer kind appears in at least one spec below (checked against the
 * registry in test_every_kind_covered); each loss with labels and targets. */
static const gc_case cases[] = {
    {"input %d\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %dx%d\ndense %d\ndense %d\nloss softmax_xent\n", LABELS, 0, 0, 0},
    {"input %dx%dx%d\nflatten\ndense %d\nloss softmax_xent\n", LABELS, 0, 0, 0},
    {"input %d\ndense %d\nsigmoid\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %d\ndense %d\ntanh\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %d\ndense %d\nrelu\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %d\ndense %d\nleaky_relu\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %d\ndense %d\nleaky_relu alpha=0.2\ndense %d\nloss softmax_xent\n", LABELS, 0, 0, 0},
    {"input %d\ndense %d\nsilu\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %d\ndense %d\ngelu\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %d\ndense %d\ngelu approx=tanh\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %d\ndense %d\ngelu_tanh\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %d\ndense %d\nsoftmax\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %d\ndense %d\nsoftmax\nloss bce\n", PROBS, 0, 0, 0},
    /* losses */
    {"input %d\ndense %d\nloss mse\n", LABELS, 0, 0, 0},
    {"input %d\ndense 1\nloss mse\n", BINARY, 0, 0, 0},
    {"input %d\ndense %d\nsigmoid\nloss bce\n", PROBS, 0, 0, 0},
    {"input %d\ndense %d\nsigmoid\nloss bce\n", LABELS, 0, 0, 0},
    {"input %d\ndense 1\nsigmoid\nloss bce\n", BINARY, 0, 0, 0},
    {"input %d\ndense %d\nloss bce_logits\n", PROBS, 0, 0, 0},
    {"input %d\ndense 1\nloss bce_logits\n", BINARY, 0, 0, 0},
    {"input %d\ndense %d\nloss softmax_xent\n", LABELS, 0, 0, 0},
    {"input %d\ndense %d\nloss softmax_xent\n", SOFT, 0, 0, 0},
    /* a deeper stack */
    {"input %dx%d\nflatten\ndense %d\ntanh\ndense %d\nsilu\ndense %d\ngelu\ndense %d\n"
     "loss softmax_xent\n",
     LABELS, 0, 0, 0},
    /* layers with training-mode behaviour, in both modes */
    {"input %d\ndense %d\nbatchnorm\ntanh\ndense %d\nloss softmax_xent\n", LABELS, 1, 0, 0},
    {"input %d\ndense %d\nbatchnorm\ntanh\ndense %d\nloss softmax_xent\n", LABELS, 0, 0, 0},
    {"input %d\ndense %d\ndropout 0.3\ndense %d\nloss mse\n", TARGETS, 1, 0, 0},
    {"input %d\ndense %d\ndropout 0.3\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    /* convolutions and pooling */
    {"input %dx5x5\nconv2d %d 3 pad=1\ntanh\nflatten\ndense %d\nloss softmax_xent\n", LABELS, 0, 0,
     0},
    {"input %dx6x6\nconv2d %d 3 stride=2 pad=same\nbatchnorm\nsilu\nflatten\ndense %d\n"
     "loss softmax_xent\n",
     LABELS, 1, 0, 0},
    {"input %dx6x6\nconv2d %d 3\nmaxpool 2\nflatten\ndense %d\nloss softmax_xent\n", LABELS, 0, 0,
     0},
    {"input %dx5x5\navgpool 2 stride=1 pad=1\nflatten\ndense %d\nloss mse\n", TARGETS, 0, 0, 0},
    {"input %dx4x4\nconv2d %d 2\nglobal_avgpool\nflatten\ndense %d\nloss softmax_xent\n", LABELS, 0,
     0, 0},
    /* recurrent layers through T = 3 or 4 steps (backprop through time; also
     * stacked, with dropout between levels, and on token inputs). tests/
     * test_rnn.c, test_lstm.c and test_gru.c check carried state. */
    {"input %d\nrnn %d\ndense %d\nloss softmax_xent\n", LABELS, 0, 3, 0},
    {"input %d\nrnn %d act=relu layers=2\ndense %d\nloss mse\n", TARGETS, 0, 4, 0},
    {"input %d\nlstm %d\ndense %d\nloss softmax_xent\n", LABELS, 0, 3, 0},
    {"input %d\nlstm %d layers=2 dropout=0.3\ndense %d\nloss mse\n", TARGETS, 1, 3, 0},
    {"input %d\ngru %d layers=2\ndense %d\nloss softmax_xent\n", LABELS, 0, 4, 0},
    {"input 1\nembedding 7 %d\nlstm %d\ndense %d\nloss softmax_xent\n", LABELS, 0, 3, 7},
    {"input 1\nonehot 6\nrnn %d act=relu\ndense %d\nloss softmax_xent\n", LABELS, 0, 3, 6},
    {"input 1\nembedding 5 %d\nflatten\ndense %d\nloss mse\n", TARGETS, 0, 0, 5},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

/* The spec with its %d filled by random sizes. */
static void fill_spec(const char *fmt, char *out, size_t len) {
    size_t k = 0;
    for (const char *p = fmt; *p && k + 8 < len; p++) {
        if (p[0] == '%' && p[1] == 'd') {
            k += (size_t)snprintf(out + k, len - k, "%d", pick(2, 5));
            p++;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = 0;
}

/* Random inputs N(0, 1) (or token ids below `tokens`) and targets of the
 * chosen kind for n samples. */
static void make_data(sn_model *m, int n, int kind, int tokens, float **x, int **labels,
                      float **targets, sn_rng *r) {
    size_t in = sn_model_input_size(m);
    int K = sn_model_output_size(m);
    *x = malloc(in * (size_t)n * sizeof(float));
    *labels = malloc((size_t)n * sizeof(int));
    *targets = malloc((size_t)K * (size_t)n * sizeof(float));
    for (size_t i = 0; i < in * (size_t)n; i++)
        (*x)[i] = tokens ? (float)sn_rng_below(r, (uint32_t)tokens) : sn_rng_normal(r);
    for (int i = 0; i < n; i++) {
        (*labels)[i] = (int)sn_rng_below(r, kind == BINARY || K == 1 ? 2 : (uint32_t)K);
        float sum = 0;
        for (int k = 0; k < K; k++) {
            float v = kind == TARGETS ? sn_rng_normal(r) : 0.05f + 0.9f * sn_rng_uniform(r);
            (*targets)[i * K + k] = v;
            sum += v;
        }
        if (kind == SOFT)
            for (int k = 0; k < K; k++) (*targets)[i * K + k] /= sum;
    }
}

static void print_result(const sn_model *m, const sn_gradcheck_result *r) {
    for (int l = 0; l < m->nlayers; l++) {
        printf("    %-2d %-34s params ", l, m->layers[l]->desc);
        if (r->param[l] < 0)
            printf("%-9s", "-");
        else
            printf("%-9.2e", r->param[l]);
        printf(" input %.2e\n", r->input[l]);
    }
    printf("    loss %-34s output %.2e\n", sn_loss_name(m->loss), r->output);
}

/* Builds the spec, checks it, returns the result (model freed). */
static int run_case(const char *spec, const gc_case *c, int n, uint64_t seed,
                    sn_gradcheck_result *r) {
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "gradcheck", seed, &m, &err) != SN_OK) {
        fprintf(stderr, "spec failed: %s\n%s", err.msg, spec);
        CHECK(0);
        return 0;
    }
    if (c->seq) {
        sn_model_set_seq_len(m, c->seq, NULL);
        n *= c->seq;
    }
    sn_rng rd;
    sn_rng_seed(&rd, seed, 7);
    float *x, *t;
    int *labels;
    make_data(m, n, c->targets, c->tokens, &x, &labels, &t, &rd);
    int use_labels = c->targets == LABELS || c->targets == BINARY;
    sn_status s = sn_gradcheck_run(m, x, n, use_labels ? labels : NULL, use_labels ? NULL : t, STEP,
                                   SAMPLES, c->train, r, &err);
    CHECK(s == SN_OK);
    if (s != SN_OK) fprintf(stderr, "gradcheck failed: %s\n", err.msg);
    if (s != SN_OK || !(r->worst <= TOL)) {
        fprintf(stderr, "worst error %.3g (layer %d) in:\n%s", r->worst, r->worst_layer, spec);
        print_result(m, r);
    }
    free(x);
    free(t);
    free(labels);
    sn_model_free(m);
    return s == SN_OK;
}

static void test_cases(void) {
    double overall = 0;
    for (int c = 0; c < NCASES; c++) {
        /* Two draws of shapes and batch sizes per case. */
        for (int rep = 0; rep < 2; rep++) {
            char spec[512];
            fill_spec(cases[c].spec, spec, sizeof spec);
            int n = pick(1, 4);
            if (cases[c].train && n < 3) n = 3; /* batch statistics of 2 samples are ±1 */
            sn_gradcheck_result r;
            if (!run_case(spec, &cases[c], n, (uint64_t)(100 + c), &r)) continue;
            CHECK(r.worst <= TOL);
            overall = r.worst > overall ? r.worst : overall;
            char first[64];
            snprintf(first, sizeof first, "%s", strchr(spec, '\n') + 1);
            for (char *p = first; *p; p++) *p = *p == '\n' ? ' ' : *p;
            printf("case %2d.%d n=%d%s %-5s worst %.2e  %.48s\n", c, rep, n,
                   cases[c].seq ? (cases[c].seq == 3 ? " T=3" : " T=4") : "",
                   cases[c].train ? "train" : "eval", r.worst, first);
        }
    }
    printf("largest error over all cases: %.2e (tolerance %.0e)\n", overall, TOL);
}

/* Every kind the registry knows appears as a layer line in some case. */
static void test_every_kind_covered(void) {
    char kinds[1024];
    snprintf(kinds, sizeof kinds, "%s", sn_layer_kinds());
    for (char *k = strtok(kinds, ", "); k; k = strtok(NULL, ", ")) {
        int found = 0;
        for (int c = 0; c < NCASES && !found; c++) {
            for (const char *line = cases[c].spec; line && !found; line = strchr(line, '\n')) {
                if (*line == '\n') line++;
                size_t len = strlen(k);
                found = strncmp(line, k, len) == 0 && (line[len] == ' ' || line[len] == '\n');
            }
        }
        if (!found)
            fprintf(stderr, "layer kind '%s' has no gradient check: add a case to %s\n", k,
                    __FILE__);
        CHECK(found);
    }
}

/* ---- backward passes broken on purpose ------------------------------------- */

static const sn_layer_ops *orig_ops;
static sn_layer_ops broken_ops;
static int breakage;

/* The original backward, then one deliberate mistake. */
static void broken_backward(sn_layer *l, const sn_tensor *x, const sn_tensor *y,
                            const sn_tensor *dy, sn_tensor *dx) {
    orig_ops->backward(l, x, y, dy, dx);
    if (breakage == 0) { /* dense: the bias gradient's sign flipped */
        sn_tensor *db = &l->params[1].grad;
        for (size_t i = 0; i < db->size; i++) db->data[i] = -db->data[i];
    } else if (breakage == 1 && dx) { /* activation: the derivative 5 % too large */
        for (size_t i = 0; i < dx->size; i++) dx->data[i] *= 1.05f;
    } else if (breakage == 2 && dx) { /* dense: no input gradient passed down */
        memset(dx->data, 0, dx->size * sizeof(float));
    } /* 3: not broken */
}

/* Runs the check on `spec` (default "dense tanh dense") with layer `which`
 * broken. */
static void check_broken(int which, int kind_of_break, sn_gradcheck_result *r, const char *spec) {
    if (!spec) spec = "input 5\ndense 6\ntanh\ndense 4\nloss softmax_xent\n";
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec(spec, "broken", 5, &m, &err) == SN_OK);
    if (!m) return;
    orig_ops = m->layers[which]->ops;
    broken_ops = *orig_ops;
    broken_ops.backward = broken_backward;
    m->layers[which]->ops = &broken_ops;
    breakage = kind_of_break;
    sn_rng rd;
    sn_rng_seed(&rd, 9, 1);
    float *x, *t;
    int *labels;
    make_data(m, 3, LABELS, 0, &x, &labels, &t, &rd);
    CHECK(sn_gradcheck_run(m, x, 3, labels, NULL, STEP, SAMPLES, 0, r, &err) == SN_OK);
    print_result(m, r);
    if (r->kinks) printf("    (%ld entries on kinks skipped)\n", r->kinks);
    m->layers[which]->ops = orig_ops;
    free(x);
    free(t);
    free(labels);
    sn_model_free(m);
}

static void test_broken_backward_detected(void) {
    sn_gradcheck_result r;
    /* The flipped bias gradient of the last dense layer: error 1 there, and
     * nowhere else (its input gradient is right). */
    printf("dense layer 2 with the bias gradient's sign flipped:\n");
    check_broken(2, 0, &r, NULL);
    CHECK(r.kinks == 0); /* the kink rule excuses nothing at smooth points */
    CHECK(r.param[2] > 0.5);
    CHECK(r.worst_layer == 2);
    CHECK(r.input[2] < TOL && r.param[0] < TOL && r.input[0] < TOL && r.output < TOL);

    /* tanh's derivative 5 % too large: its input gradient is off, and so is
     * everything below it; the layer above and the loss are clean. */
    printf("tanh (layer 1) with a derivative 5 %% too large:\n");
    check_broken(1, 1, &r, NULL);
    CHECK(r.kinks == 0);
    CHECK(r.input[1] > TOL);
    CHECK(r.param[0] > TOL && r.input[0] > TOL);
    CHECK(r.input[2] < TOL && r.param[2] < TOL && r.output < TOL);
    CHECK(r.worst > TOL);

    /* The first dense layer passing down no gradient: only dL/dx is wrong. */
    printf("dense layer 2 passing down a zero input gradient:\n");
    check_broken(2, 2, &r, NULL);
    CHECK(r.kinks == 0);
    CHECK(r.input[2] > 0.5 && r.input[0] > 0.5);
    CHECK(r.param[2] < TOL);

    /* ReLU before max pooling ties zeros in a window: no derivative exists
     * there, those entries are skipped and the rest pass; but max pooling's
     * gradient 5 % off is still caught. */
    const char *cnn = "input 1x6x6\nconv2d 3 3 pad=1\nrelu\nmaxpool 2\nflatten\ndense 4\n"
                      "loss softmax_xent\n";
    printf("conv, relu, maxpool (ties at 0), unbroken:\n");
    check_broken(4, 3, &r, cnn);
    CHECK(r.kinks > 0);
    CHECK(r.worst < TOL);
    printf("the same with max pooling's input gradient 5 %% too large:\n");
    check_broken(2, 1, &r, cnn);
    CHECK(r.input[2] > TOL && r.input[0] > TOL && r.param[0] > TOL);
    CHECK(r.input[3] < TOL && r.param[4] < TOL);

    /* The same model unbroken passes. */
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 5\ndense 6\ntanh\ndense 4\nloss softmax_xent\n", "ok", 5, &m,
                             &err) == SN_OK);
    if (m) {
        sn_rng rd;
        sn_rng_seed(&rd, 9, 1);
        float *x, *t;
        int *labels;
        make_data(m, 3, LABELS, 0, &x, &labels, &t, &rd);
        CHECK(sn_gradcheck_run(m, x, 3, labels, NULL, STEP, SAMPLES, 0, &r, &err) == SN_OK);
        CHECK(r.worst < TOL);
        /* The old interface reports the same numbers. */
        double worst[SN_MAX_LAYERS], wi;
        CHECK(sn_gradcheck(m, x, 3, labels, NULL, STEP, SAMPLES, worst, &wi, &err) == SN_OK);
        CHECK(worst[0] == r.param[0] && worst[1] == 0 && wi == r.input[0]);
        free(x);
        free(t);
        free(labels);
        sn_model_free(m);
    }
}

/* The check leaves the model as it was: parameters, buffers, generator. */
static void test_leaves_model_alone(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 4\ndense 5\nbatchnorm\ndropout 0.5\ndense 3\nloss mse\n", "k",
                             2, &m, &err) == SN_OK);
    if (!m) return;
    sn_model_reserve(m, 4, &err);
    size_t total = 0;
    for (int i = 0; i < m->nparams; i++) total += m->params[i]->value.size;
    float *before = malloc(total * sizeof(float)), x[16], t[12];
    for (int i = 0, k = 0; i < m->nparams; k += (int)m->params[i]->value.size, i++)
        memcpy(before + k, m->params[i]->value.data, m->params[i]->value.size * sizeof(float));
    for (int i = 0; i < 16; i++) x[i] = (float)(i % 5) - 2.0f;
    for (int i = 0; i < 12; i++) t[i] = (float)(i % 3);
    sn_rng rng = m->rng;
    sn_gradcheck_result r;
    CHECK(sn_gradcheck_run(m, x, 4, NULL, t, STEP, 8, 1, &r, &err) == SN_OK);
    CHECK(r.worst < TOL);
    int same = 1;
    for (int i = 0, k = 0; i < m->nparams; k += (int)m->params[i]->value.size, i++)
        same &= memcmp(before + k, m->params[i]->value.data,
                       m->params[i]->value.size * sizeof(float)) == 0;
    CHECK(same);
    CHECK(memcmp(&rng, &m->rng, sizeof rng) == 0);
    /* Bad arguments are errors, not crashes. */
    CHECK(sn_gradcheck_run(m, x, 0, NULL, t, STEP, 8, 0, &r, &err) == SN_ERR_ARG);
    CHECK(sn_gradcheck_run(m, x, 4, NULL, NULL, STEP, 8, 0, &r, &err) == SN_ERR_ARG);
    CHECK(sn_gradcheck_run(m, x, 4, NULL, t, 0.0f, 8, 0, &r, &err) == SN_ERR_ARG);
    free(before);
    sn_model_free(m);
}

int main(void) {
    sn_rng_seed(&shapes, 2024, 3);
    test_every_kind_covered();
    test_cases();
    test_broken_backward_detected();
    test_leaves_model_alone();
    return check_report();
}
