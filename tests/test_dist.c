/* The distributed layer in one process (src/dist/; the 2-rank tests are in
 * tests/mpi/): shares of a batch, the hash, the bucket layout, the reducer
 * and the checks as identities, and batch norm with sync=1, which on one
 * process must compute what plain batch norm does (its variance through the
 * combination of per-rank moments). */
#include "check.h"
#include "dist_case.h"

#include <string.h>

static void test_share(void) {
    int ok = 1;
    for (long n = 0; n <= 40; n++)
        for (int P = 1; P <= 9; P++) {
            long next = 0, lo = n, hi = 0;
            for (int r = 0; r < P; r++) {
                long off, cnt;
                sn_dist_share(n, r, P, &off, &cnt);
                ok &= off == next;
                next = off + cnt;
                lo = cnt < lo ? cnt : lo, hi = cnt > hi ? cnt : hi;
            }
            ok &= next == n && hi - lo <= 1;
        }
    CHECK(ok);
    long off, cnt;
    sn_dist_share(10, 2, 4, &off, &cnt); /* [0, 2) [2, 5) [5, 7) [7, 10) */
    CHECK(off == 5 && cnt == 2);
}

static void test_hash(void) {
    /* FNV-1a 64 test vectors (Fowler, Noll, Vo) */
    CHECK(sn_dist_hash(SN_DIST_HASH0, "", 0) == 0xcbf29ce484222325ULL);
    CHECK(sn_dist_hash(SN_DIST_HASH0, "a", 1) == 0xaf63dc4c8601ec8cULL);
    CHECK(sn_dist_hash(SN_DIST_HASH0, "foobar", 6) == 0x85944171f73967e8ULL);
}

static void test_one_process(void) {
    sn_error err = {0};
    CHECK(sn_dist_init(NULL, NULL, &err) == SN_OK);
    CHECK(sn_dist_rank() == 0 && sn_dist_size() == 1);
    double v[2] = {1.5, -2};
    CHECK(sn_dist_sum_f64(v, 2, &err) == SN_OK && v[0] == 1.5 && v[1] == -2);
    sn_dist_item it = {"spec", "3 lines", 42};
    CHECK(sn_dist_check(&it, 1, &err) == SN_OK);
    sn_dist_set_share(0, 3, 12);
    CHECK(sn_dist_batch_weight() == 0.25);
    sn_dist_set_share(0, 0, 0);
}

/* Buckets of at most 8 floats, last layer first: [W1 (6) b1 (2)], [W0 (12),
 * too big to share], [b0 (3)]. With one process finish leaves the gradients
 * as they are. */
static void test_buckets(void) {
    sn_model *m = dist_model("input 4\ndense 3\nrelu\ndense 2\nloss mse\n", 4);
    CHECK(m != NULL);
    if (!m) return;
    sn_dist_reducer *r = NULL;
    sn_error err = {0};
    CHECK(sn_dist_reducer_new(m, 8 * sizeof(float), SN_ALLREDUCE_AUTO, &r, &err) == SN_OK);
    if (r) {
        CHECK(sn_dist_reducer_buckets(r) == 3);
        CHECK(sn_dist_reducer_bucket_floats(r, 0) == 8);
        CHECK(sn_dist_reducer_bucket_floats(r, 1) == 12);
        CHECK(sn_dist_reducer_bucket_floats(r, 2) == 3);
        for (int i = 0; i < m->nparams; i++)
            for (size_t k = 0; k < m->params[i]->grad.size; k++)
                m->params[i]->grad.data[k] = (float)(i * 100 + (int)k);
        CHECK(sn_dist_reducer_finish(r, &err) == SN_OK);
        int same = 1;
        for (int i = 0; i < m->nparams; i++)
            for (size_t k = 0; k < m->params[i]->grad.size; k++)
                same &= m->params[i]->grad.data[k] == (float)(i * 100 + (int)k);
        CHECK(same);
        sn_dist_reducer_free(r);
    }
    r = NULL;
    CHECK(sn_dist_reducer_new(m, 1 << 20, SN_ALLREDUCE_SHM, &r, &err) == SN_OK);
    if (r) CHECK(sn_dist_reducer_buckets(r) == 1 && sn_dist_reducer_bucket_floats(r, 0) == 23);
    sn_dist_reducer_free(r);
    /* an unknown transport is refused */
    r = NULL;
    CHECK(sn_dist_reducer_new(m, 1 << 20, SN_ALLREDUCE_MPI + 1, &r, &err) == SN_ERR_ARG && !r);
    CHECK(strstr(err.msg, "unknown transport") != NULL);
    sn_model_free(m);
}

/* sync=1 against plain batch norm on the same weights and batch: outputs,
 * running statistics and gradients, after a dense layer and over channels. */
static void test_sync_bn(const char *plain, const char *sync, size_t in) {
    const int n = 6;
    sn_model *a = dist_model(plain, n), *b = dist_model(sync, n);
    CHECK(a && b);
    if (!a || !b) return;
    CHECK(strstr(b->layers[1]->desc, "sync=1") != NULL);
    float *x = malloc((size_t)n * in * sizeof(float));
    int labels[6];
    dist_batch(x, labels, n, in, 3, 11);
    for (int step = 0; step < 2; step++) {
        sn_model_forward(a, x, n, 1, NULL);
        sn_model_backward(a, labels, NULL, NULL, NULL);
        sn_model_forward(b, x, n, 1, NULL);
        const sn_tensor *yb = sn_model_output(b);
        sn_model_backward(b, labels, NULL, NULL, NULL);
        CHECK(dist_rel(yb, &a->out_view) < 1e-5);
        CHECK(dist_worst(b, a, 1) < 1e-5);
        CHECK(dist_worst(b, a, 0) < 1e-5);
    }
    free(x);
    sn_model_free(a);
    sn_model_free(b);
}

/* Dropout over a share of the batch masks each value as over the whole
 * batch: rows [off, off + n) of a [rows, F] batch, and streams [off, off +
 * n) of a time-major [T·N, F] one (seq_len T). */
static void test_dropout_share(int T) {
    enum { N = 5, F = 7 };
    sn_model *m = dist_model("input 7\ndropout 0.5\nloss mse\n", T * N);
    CHECK(m != NULL);
    if (!m) return;
    sn_model_set_seq_len(m, T, NULL);
    float x[T * N * F], whole[T * N * F], part[T * N * F];
    for (int i = 0; i < T * N * F; i++) x[i] = 1 + (float)i;
    const sn_rng r0 = m->rng;
    sn_dist_set_share(0, N, N);
    sn_model_forward(m, x, T * N, 1, NULL);
    memcpy(whole, sn_model_output(m)->data, sizeof whole);
    const int off[2] = {0, 3}, cnt[2] = {3, 2};
    int same = 1, dropped = 0;
    for (int p = 0; p < 2; p++) {
        float xs[T * N * F];
        for (int t = 0; t < T; t++) /* the share's rows, time-major */
            memcpy(xs + (size_t)t * cnt[p] * F, x + ((size_t)t * N + off[p]) * F,
                   (size_t)cnt[p] * F * sizeof(float));
        m->rng = r0;
        sn_dist_set_share(off[p], cnt[p], N);
        sn_model_forward(m, xs, T * cnt[p], 1, NULL);
        const sn_tensor *y = sn_model_output(m);
        for (int t = 0; t < T; t++)
            memcpy(part + ((size_t)t * N + off[p]) * F, y->data + (size_t)t * cnt[p] * F,
                   (size_t)cnt[p] * F * sizeof(float));
    }
    for (int i = 0; i < T * N * F; i++) same &= part[i] == whole[i], dropped += whole[i] == 0;
    CHECK(same);
    CHECK(dropped > 0 && dropped < T * N * F);
    sn_dist_set_share(0, 0, 0);
    sn_model_free(m);
}

static void test_sync_bad(void) {
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 4\nbatchnorm sync=2\nloss mse\n", "bad.net", 1, &m, &err) !=
          SN_OK);
    CHECK(strstr(err.msg, "bad.net:2") && strstr(err.msg, "sync must be 0 or 1"));
    sn_model_free(m);
}

int main(void) {
    test_share();
    test_hash();
    test_one_process();
    test_buckets();
    test_sync_bn("input 5\ndense 4\nbatchnorm\ntanh\ndense 3\nloss softmax_xent\n",
                 "input 5\ndense 4\nbatchnorm sync=1\ntanh\ndense 3\nloss softmax_xent\n", 5);
    test_sync_bn("input 2x4x4\nconv2d 3 3\nbatchnorm\nrelu\nflatten\ndense 3\nloss softmax_xent\n",
                 "input 2x4x4\nconv2d 3 3\nbatchnorm sync=1\nrelu\nflatten\ndense 3\n"
                 "loss softmax_xent\n",
                 32);
    test_dropout_share(1);
    test_dropout_share(3);
    test_sync_bad();
    return check_report();
}
