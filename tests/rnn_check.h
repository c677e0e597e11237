/* Checks shared by test_rnn.c, test_lstm.c and test_gru.c:
 *
 *   rnn_parity       the layer against PyTorch's nn.RNN / nn.LSTM / nn.GRU on
 *                    the fixtures of tests/parity/gen_rnn.py: outputs, final
 *                    states, input and parameter gradients over consecutive
 *                    batches with the state carried (norm-wise bound 1e-5);
 *   rnn_gradcheck    finite differences through whole sequences (T > 1),
 *                    with a carried initial state, in both modes;
 *   rnn_chunking     one pass over 2T steps equals two passes of T steps with
 *                    carry_state between them; reset_state and a change of N
 *                    start from zero;
 *   rnn_threads      1, 2 and 3 threads (1, 2 and 3 ranges of the 37 streams
 *                    in the time loops, or, with large recurrent weights, 2
 *                    and 3 ranges of hidden units per step) give bitwise the
 *                    same outputs, final state, input gradient and parameter
 *                    gradients;
 *   rnn_single_steps T passes of one step each (the path for sampling) give
 *                    bitwise the outputs and final state of one pass of T
 *                    steps. */
#ifndef SN_TEST_RNN_CHECK_H
#define SN_TEST_RNN_CHECK_H

#include "fixture.h"
#include "layers/recurrent.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

/* The layer lines of a spec on one line, for messages. */
static const char *spec_line(const char *spec) {
    static char buf[256];
    const char *p = strchr(spec, '\n');
    snprintf(buf, sizeof buf, "%s", p ? p + 1 : spec);
    for (char *q = buf; *q; q++) *q = *q == '\n' ? ' ' : *q;
    return buf;
}

static int meta_int(const sn_st_file *f, const char *c, const char *key) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", c, key);
    const char *v = sn_st_meta(f, k);
    return v ? atoi(v) : -1;
}

/* Level k's rows of a [levels][max_rows·H] state buffer. */
static float *state_rows(const sn_recurrent *r, float *buf, int k) {
    return buf + (size_t)k * r->max_rows * r->H;
}

static void parity_case(const sn_st_file *f, const char *c) {
    char key[128];
    snprintf(key, sizeof key, "%s.spec", c);
    const char *spec = sn_st_meta(f, key);
    int T = meta_int(f, c, "T"), N = meta_int(f, c, "N"), B = meta_int(f, c, "batches");
    sn_model *m = NULL;
    sn_error err = {0};
    if (!spec || T < 1 || N < 1 || B < 1 || sn_model_from_spec(spec, c, 1, &m, &err) != SN_OK) {
        fprintf(stderr, "%s: bad case: %s\n", c, err.msg);
        CHECK(0);
        return;
    }
    CHECK(sn_model_reserve(m, T * N, &err) == SN_OK);
    sn_model_set_seq_len(m, T, NULL);
    sn_layer *l = m->layers[0];
    sn_recurrent *r = (sn_recurrent *)l;
    int I = r->I, H = r->H, L = r->levels;
    for (int p = 0; p < l->nparams; p++) {
        const sn_st_entry *e = fixture_find(f, "%s.%s", c, l->params[p].name);
        CHECK(e && e->size == l->params[p].value.size);
        if (e && e->size == l->params[p].value.size)
            memcpy(l->params[p].value.data, e->data, e->size * sizeof(float));
    }
    /* the initial state, as a carried one */
    const sn_st_entry *h0 = fixture_find(f, "%s.h0", c), *c0 = fixture_find(f, "%s.c0", c);
    CHECK(h0 && h0->size == (size_t)L * N * H);
    CHECK(!r->cell->has_cell || (c0 && c0->size == (size_t)L * N * H));
    for (int k = 0; k < L && h0; k++) {
        memcpy(state_rows(r, r->h0, k), h0->data + (size_t)k * N * H, (size_t)N * H * 4);
        if (r->cell->has_cell && c0)
            memcpy(state_rows(r, r->c0, k), c0->data + (size_t)k * N * H, (size_t)N * H * 4);
    }
    r->state_n = N;

    const sn_st_entry *x = fixture_find(f, "%s.x", c), *dy = fixture_find(f, "%s.dy", c);
    const sn_st_entry *y = fixture_find(f, "%s.y", c), *dx = fixture_find(f, "%s.dx", c);
    size_t xs = (size_t)T * N * I, ys = (size_t)T * N * H;
    if (!x || !dy || !y || !dx || x->size != B * xs || dy->size != B * ys) {
        fprintf(stderr, "%s: tensors missing\n", c);
        CHECK(0);
        sn_model_free(m);
        return;
    }
    char what[160];
    for (int b = 0; b < B; b++) {
        sn_tensor xin = sn_tensor_view(x->data + b * xs, 2, (int[]){T * N, I});
        sn_tensor yout = sn_tensor_view(m->act[1].data, 2, (int[]){T * N, H});
        sn_tensor dyt = sn_tensor_view(dy->data + b * ys, 2, (int[]){T * N, H});
        sn_tensor dxt = sn_tensor_view(m->grad[0].data, 2, (int[]){T * N, I});
        l->ops->forward(l, &xin, &yout, 0);
        sn_st_entry yb = *y, dxb = *dx;
        yb.data += b * ys, yb.size = ys;
        dxb.data += b * xs, dxb.size = xs;
        snprintf(what, sizeof what, "%s batch %d: y", c, b);
        fixture_compare(what, yout.data, ys, &yb, 0);
        l->ops->backward(l, &xin, &yout, &dyt, &dxt);
        snprintf(what, sizeof what, "%s batch %d: dx", c, b);
        fixture_compare(what, dxt.data, xs, &dxb, 0);
        sn_model_carry_state(m);
    }
    for (int p = 0; p < l->nparams; p++) {
        snprintf(what, sizeof what, "%s: d %s", c, l->params[p].name);
        fixture_compare(what, l->params[p].grad.data, l->params[p].grad.size,
                        fixture_find(f, "%s.%s.grad", c, l->params[p].name), 0);
    }
    float *hn = calloc((size_t)L * N * H, sizeof(float)), *cn = calloc((size_t)L * N * H, 4);
    for (int k = 0; k < L; k++) {
        memcpy(hn + (size_t)k * N * H, state_rows(r, r->hT, k), (size_t)N * H * 4);
        if (r->cell->has_cell)
            memcpy(cn + (size_t)k * N * H, state_rows(r, r->cT, k), (size_t)N * H * 4);
    }
    snprintf(what, sizeof what, "%s: final h", c);
    fixture_compare(what, hn, (size_t)L * N * H, fixture_find(f, "%s.hn", c), 0);
    if (r->cell->has_cell) {
        snprintf(what, sizeof what, "%s: final c", c);
        fixture_compare(what, cn, (size_t)L * N * H, fixture_find(f, "%s.cn", c), 0);
    }
    free(hn);
    free(cn);
    sn_model_free(m);
}

static void rnn_parity(const char *file) {
    sn_st_file f;
    if (!fixture_open(&f, file)) return;
    const char *cases = sn_st_meta(&f, "cases");
    CHECK(cases != NULL);
    char list[1024];
    snprintf(list, sizeof list, "%s", cases ? cases : "");
    int n = 0;
    for (char *c = strtok(list, ","); c; c = strtok(NULL, ","), n++) parity_case(&f, c);
    printf("%s: %d PyTorch cases\n", file, n);
    CHECK(n >= 5);
    sn_st_free(&f);
}

/* Finite differences of a sequence model on T steps of N streams, starting
 * from a carried state (a first pass on other inputs) when `carried`. */
static void rnn_gradcheck(const char *spec, int T, int N, int carried, int train) {
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "seq", 7, &m, &err) != SN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(0);
        return;
    }
    int R = T * N, K = sn_model_output_size(m);
    size_t in = sn_model_input_size(m) * (size_t)R;
    float *x = malloc(in * sizeof(float)), *x0 = malloc(in * sizeof(float));
    int *labels = malloc((size_t)R * sizeof(int));
    sn_rng g;
    sn_rng_seed(&g, 5, (uint64_t)T * 100 + (uint64_t)N);
    int ids = m->layers[0]->ops->kind[0] == 'e' || m->layers[0]->ops->kind[0] == 'o';
    for (size_t i = 0; i < in; i++) {
        x[i] = ids ? (float)sn_rng_below(&g, 5) : sn_rng_normal(&g);
        x0[i] = ids ? (float)sn_rng_below(&g, 5) : sn_rng_normal(&g);
    }
    for (int i = 0; i < R; i++) labels[i] = (int)sn_rng_below(&g, (uint32_t)K);
    CHECK(sn_model_reserve(m, R, &err) == SN_OK);
    sn_model_set_seq_len(m, T, NULL);
    if (carried) {
        sn_model_forward(m, x0, R, 0, NULL);
        sn_model_carry_state(m);
    }
    sn_gradcheck_result res;
    CHECK(sn_gradcheck_run(m, x, R, labels, NULL, 1e-2f, 24, train, &res, &err) == SN_OK);
    int first = ids ? 1 : 0; /* token ids have no gradient */
    double worst = 0;
    for (int l = 0; l < m->nlayers; l++) {
        if (res.param[l] > worst) worst = res.param[l];
        if (l >= first && res.input[l] > worst) worst = res.input[l];
    }
    printf("gradcheck T=%d N=%d %s %s: worst %.2e  %s\n", T, N, carried ? "carried" : "zero   ",
           train ? "train" : "eval ", worst, spec_line(spec));
    CHECK(worst < 1e-2);
    free(x);
    free(x0);
    free(labels);
    sn_model_free(m);
}

/* One pass over 2T steps against two passes of T steps with the state
 * carried; reset_state and a different N start from zero again. */
static void rnn_chunking(const char *spec) {
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "chunk", 3, &m, &err) != SN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(0);
        return;
    }
    int T = 5, N = 3, R = 2 * T * N, K = sn_model_output_size(m);
    size_t I = sn_model_input_size(m);
    float *x = malloc(I * R * sizeof(float)), *whole = malloc((size_t)K * R * sizeof(float));
    float *part = malloc((size_t)K * R * sizeof(float));
    sn_rng g;
    sn_rng_seed(&g, 9, 9);
    for (size_t i = 0; i < I * R; i++) x[i] = sn_rng_normal(&g);
    CHECK(sn_model_reserve(m, R, &err) == SN_OK);
    sn_model_set_seq_len(m, 2 * T, NULL);
    sn_model_forward(m, x, R, 0, NULL);
    memcpy(whole, sn_model_output(m)->data, (size_t)K * R * sizeof(float));
    sn_model_set_seq_len(m, T, NULL);
    sn_model_reset_state(m);
    for (int half = 0; half < 2; half++) {
        sn_model_forward(m, x + half * I * T * N, T * N, 0, NULL);
        const sn_tensor *y = sn_model_output(m);
        memcpy(part + (size_t)half * K * T * N, y->data, (size_t)K * T * N * sizeof(float));
        sn_model_carry_state(m);
    }
    double worst = 0;
    for (int i = 0; i < K * R; i++) worst = fmax(worst, fabs(whole[i] - part[i]));
    printf("chunking %s: max difference %.2e\n", spec_line(spec), worst);
    CHECK(worst < 1e-5);
    /* After a reset the first half gives the same outputs again. */
    sn_model_reset_state(m);
    sn_model_forward(m, x, T * N, 0, NULL);
    const sn_tensor *y = sn_model_output(m);
    CHECK(fixture_err_norm(y->data, part, (size_t)K * T * N) < 1e-6);
    sn_model_carry_state(m);
    /* A pass with another number of streams starts from zero. */
    sn_model_set_seq_len(m, 1, NULL);
    sn_model_forward(m, x, N + 1, 0, NULL);
    y = sn_model_output(m);
    float *fresh = malloc((size_t)K * (N + 1) * sizeof(float));
    memcpy(fresh, y->data, (size_t)K * (N + 1) * sizeof(float));
    sn_model_reset_state(m);
    sn_model_forward(m, x, N + 1, 0, NULL);
    y = sn_model_output(m);
    CHECK(memcmp(fresh, y->data, (size_t)K * (N + 1) * sizeof(float)) == 0);
    free(fresh);
    free(x);
    free(whole);
    free(part);
    sn_model_free(m);
}

/* Outputs, final states, input and parameter gradients of one training
 * pass with carried state, on 1, 2 and 3 threads: bitwise equal. With
 * onehot, each row of x is one-hot: the input weights' gradient is then a
 * pass over the rows by token, which a team runs on thread 0 beside the
 * recurrent weights' product when that product has 2^20 multiply-adds or
 * more (sn_rnn_weight_grads). */
static void rnn_threads_x(const char *spec, int onehot) {
    enum { T = 4, N = 37, R = T * N };
    float *first = NULL;
    size_t len = 0;
    int same = 1, saved = sn_get_threads();
    for (int threads = 1; threads <= 3; threads++) {
        sn_set_threads(threads);
        sn_model *m = NULL;
        sn_error err = {0};
        if (sn_model_from_spec(spec, "threads", 11, &m, &err) != SN_OK) {
            fprintf(stderr, "%s\n", err.msg);
            CHECK(0);
            break;
        }
        int K = sn_model_output_size(m);
        size_t I = sn_model_input_size(m);
        float *x = malloc(I * R * sizeof(float));
        int *labels = malloc(R * sizeof(int));
        sn_rng g;
        sn_rng_seed(&g, 3, 4);
        for (size_t i = 0; i < I * R; i++) x[i] = onehot ? 0.0f : sn_rng_normal(&g);
        if (onehot)
            for (int i = 0; i < R; i++) x[(size_t)i * I + sn_rng_below(&g, (uint32_t)I)] = 1.0f;
        for (int i = 0; i < R; i++) labels[i] = (int)sn_rng_below(&g, (uint32_t)K);
        CHECK(sn_model_reserve(m, R, &err) == SN_OK);
        m->input_grad = 1;
        sn_model_set_seq_len(m, T, NULL);
        sn_model_forward(m, x, R, 1, NULL);
        sn_model_carry_state(m);
        sn_model_forward(m, x, R, 1, NULL);
        const sn_tensor *y = sn_model_output(m);
        sn_model_backward(m, labels, NULL, NULL, NULL);
        sn_recurrent *r = (sn_recurrent *)m->layers[0];
        size_t n = (size_t)K * R + I * R + (size_t)r->levels * N * r->H;
        for (int p = 0; p < m->layers[0]->nparams; p++) n += m->layers[0]->params[p].grad.size;
        float *all = malloc(n * sizeof(float)), *at = all;
        memcpy(at, y->data, (size_t)K * R * sizeof(float)), at += (size_t)K * R;
        memcpy(at, m->grad[0].data, I * R * sizeof(float)), at += I * R;
        for (int k = 0; k < r->levels; k++)
            memcpy(at, r->hT + (size_t)k * r->max_rows * r->H, (size_t)N * r->H * sizeof(float)),
                at += (size_t)N * r->H;
        for (int p = 0; p < m->layers[0]->nparams; p++) {
            const sn_tensor *gr = &m->layers[0]->params[p].grad;
            memcpy(at, gr->data, gr->size * sizeof(float)), at += gr->size;
        }
        if (!first) {
            first = all, len = n;
        } else {
            same &= n == len && memcmp(first, all, n * sizeof(float)) == 0;
            free(all);
        }
        free(x);
        free(labels);
        sn_model_free(m);
    }
    printf("threads 1, 2, 3 %s%s: %s\n", spec_line(spec), onehot ? " (one-hot x)" : "",
           same ? "bitwise equal" : "DIFFERENT");
    CHECK(same);
    free(first);
    sn_set_threads(saved);
}

static void rnn_threads(const char *spec) {
    rnn_threads_x(spec, 0);
}

/* Inference over T steps of N streams: one pass, then T passes of one step
 * with the state carried between them. The spec's output is the recurrent
 * layer's (a dense layer on one row sums in another order). With onehot 1,
 * each row of x is one-hot: the whole pass then makes the input projection
 * step by step inside the time loop (sn_rnn_onehot_input), the single steps
 * all at once before it. With onehot 2, the rows of x are copies of 3
 * distinct ones (an embedding's output): the whole pass projects each
 * distinct row once (sn_rnn_distinct_input), the single steps every row. */
static void rnn_single_steps(const char *spec, int N, int onehot) {
    enum { T = 3 };
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_model_from_spec(spec, "steps", 5, &m, &err) != SN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(0);
        return;
    }
    int R = T * N, K = sn_model_output_size(m);
    size_t I = sn_model_input_size(m);
    sn_recurrent *r = (sn_recurrent *)m->layers[0];
    size_t state = (size_t)N * r->H;
    float *x = malloc(I * R * sizeof(float)), *whole = malloc((size_t)K * R * sizeof(float));
    float *steps = malloc((size_t)K * R * sizeof(float)), *hT = malloc(state * sizeof(float));
    sn_rng g;
    sn_rng_seed(&g, 5, 6);
    for (size_t i = 0; i < I * R; i++) x[i] = onehot == 1 ? 0.0f : sn_rng_normal(&g);
    for (int n = 0; onehot == 1 && n < R; n++)
        x[(size_t)n * I + sn_rng_below(&g, (uint32_t)I)] = 1.0f;
    for (int n = 3; onehot == 2 && n < R; n++) /* rows repeated from the first 3 */
        memcpy(x + (size_t)n * I, x + (size_t)sn_rng_below(&g, 3) * I, I * sizeof(float));
    CHECK(sn_model_reserve(m, R, &err) == SN_OK);
    sn_model_set_seq_len(m, T, NULL);
    sn_model_forward(m, x, R, 0, NULL);
    memcpy(whole, sn_model_output(m)->data, (size_t)K * R * sizeof(float));
    memcpy(hT, r->hT, state * sizeof(float));
    sn_model_reset_state(m);
    sn_model_set_seq_len(m, 1, NULL);
    for (int t = 0; t < T; t++) {
        sn_model_forward(m, x + (size_t)t * N * I, N, 0, NULL);
        memcpy(steps + (size_t)t * N * K, sn_model_output(m)->data, (size_t)N * K * sizeof(float));
        sn_model_carry_state(m);
    }
    int same = memcmp(whole, steps, (size_t)K * R * sizeof(float)) == 0 &&
               memcmp(hT, r->hT, state * sizeof(float)) == 0;
    printf("single steps %s, %d streams%s: %s\n", spec_line(spec), N,
           onehot == 1   ? ", one-hot"
           : onehot == 2 ? ", repeated rows"
                         : "",
           same ? "bitwise equal" : "DIFFERENT");
    CHECK(same);
    free(x);
    free(whole);
    free(steps);
    free(hT);
    sn_model_free(m);
}

#endif
