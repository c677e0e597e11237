/* The distributed layer on 2 ranks (run by mpiexec -np 2; tests/mpi/
 * faults.sh runs it with an argument for the fault cases):
 *
 * - sums, gathers and broadcasts across ranks;
 * - the gradient reducer: each rank runs forward and backward on its share
 *   of a global batch of 7 (uneven: 3 and 4), with the reducer's
 *   gradients-ready callback in the backward pass; the reduced gradients
 *   equal those of one process on the whole batch (1e-5 relative to each
 *   tensor's norm), for an MLP with synchronized batch norm and dropout
 *   (masks as in one process) and a CNN with synchronized batch norm, for
 *   small buckets (several per step, all started during backward) and one
 *   big bucket; the running statistics too. With per-rank batch norm
 *   (sync=0) they differ, so the comparison can fail;
 * - the start-up check and the weight check name the rank and what differs;
 * - rank 0's buffers reach rank 1;
 * - recurrent state: gathered from both ranks' streams (2 and 3 of 5), rank
 *   0 holds every stream's state at its place; a model holding all streams
 *   keeps its rank's share; a zero state gathers to a zero state;
 * - text validation split over the ranks (3 and 4 of 7 streams) gives every
 *   rank the loss one process computes for the same weights (to 1e-9
 *   relative: only the order of the double sums differs; 1e-16 here).
 *
 * - the transports (tests/mpi/nodes.sh runs them on 4 ranks as 2 nodes
 *   and on 3 ranks as nodes of 2 and 1): the shared-memory sum is exact on
 *   exact values, keeps a step's sums while a faster rank writes its next
 *   vector, is bitwise MPI_Allreduce's on 2 ranks (1e-6 on more), the same
 *   on every rank; auto, shm and mpi give the transport they should; a
 *   step's gradients over shared memory equal those over MPI.
 *
 * Arguments: "transports": the transports only, on any number of ranks.
 * Fault modes: "timeout": rank 1 does not join a sum, rank 0's wait fails
 * after 1 s and aborts the job (exit status 3 on every rank); "kill": rank
 * 1 kills itself with SIGKILL before a sum, and mpirun must end the job;
 * "timeout-shm", "kill-shm": the same in the shared-memory reducer's step. */
#include "check.h"
#include "dist_case.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int rank, size;

static void test_collectives(void) {
    sn_error err = {0};
    double v[2] = {rank + 1, 10.0 * (rank + 1)};
    CHECK(sn_dist_sum_f64(v, 2, &err) == SN_OK && v[0] == 3 && v[1] == 30);
    float f[3] = {0.5f * rank, 1, -2.0f * rank};
    CHECK(sn_dist_sum_f32(f, 3, &err) == SN_OK && f[0] == 0.5f && f[1] == 2 && f[2] == -2);
    int mine = 100 + rank, all[2] = {0, 0};
    CHECK(sn_dist_allgather(&mine, sizeof mine, all, &err) == SN_OK && all[0] == 100 &&
          all[1] == 101);
    char word[8] = "rank0";
    if (rank == 1) strcpy(word, "other");
    CHECK(sn_dist_bcast(word, sizeof word, 0, &err) == SN_OK && strcmp(word, "rank0") == 0);
}

/* Reduced share gradients against one process's whole-batch gradients (a
 * model without " sync=1", which on one process computes the same:
 * tests/test_dist.c, and which communicates nothing). */
static void test_reducer(const char *spec, size_t in, size_t bucket_bytes, int transport,
                         int expect_equal) {
    enum { N = 7 };
    char local[512];
    size_t k = 0;
    for (const char *p = spec; *p && k + 1 < sizeof local;)
        if (strncmp(p, " sync=1", 7) == 0)
            p += 7;
        else
            local[k++] = *p++;
    local[k] = 0;
    sn_model *a = dist_model(spec, N), *b = dist_model(local, N);
    CHECK(a && b);
    if (!a || !b) return;
    float *x = malloc(N * in * sizeof(float));
    int labels[N];
    dist_batch(x, labels, N, in, 3, 5);
    sn_dist_reducer *r = NULL;
    sn_error err = {0};
    CHECK(sn_dist_reducer_new(a, bucket_bytes, transport, &r, &err) == SN_OK);
    if (!r) return;
    a->grads_ready = sn_dist_grads_ready;
    a->grads_ready_ctx = r;
    long off, cnt;
    sn_dist_share(N, rank, size, &off, &cnt);
    for (int step = 0; step < 2; step++) {
        sn_dist_set_share(off, cnt, N);
        sn_model_forward(a, x + off * in, (int)cnt, 1, NULL);
        sn_model_backward(a, labels + off, NULL, NULL, NULL);
        CHECK(sn_dist_reducer_started(r) == sn_dist_reducer_buckets(r));
        CHECK(sn_dist_reducer_finish(r, &err) == SN_OK);
        CHECK(sn_dist_take_error(&err) == SN_OK);
        sn_dist_set_share(0, N, N);
        sn_model_forward(b, x, N, 1, NULL);
        sn_model_backward(b, labels, NULL, NULL, NULL);
        double eg = dist_worst(a, b, 1), eb = dist_worst(a, b, 0);
        if (expect_equal) {
            CHECK(eg < 1e-5);
            CHECK(eb < 1e-5);
        } else {
            CHECK(eg > 1e-3);
        }
        if (expect_equal && eg >= 1e-5)
            for (int i = 0; i < a->nparams; i++)
                fprintf(stderr, "  %d %s %.3g  %g vs %g\n", i, a->params[i]->name,
                        dist_rel(&a->params[i]->grad, &b->params[i]->grad),
                        a->params[i]->grad.data[0], b->params[i]->grad.data[0]);
        if (expect_equal && (eg >= 1e-5 || eb >= 1e-5))
            fprintf(stderr, "rank %d step %d: gradients %.3g, buffers %.3g\n", rank, step, eg, eb);
    }
    if (bucket_bytes < 256) CHECK(sn_dist_reducer_buckets(r) > 2);
    sn_dist_reducer_free(r);
    free(x);
    sn_model_free(a);
    sn_model_free(b);
}

/* The two transports: the shared-memory sum against MPI_Allreduce, the
 * transport each choice gives, and the reducer's gradients over both. On
 * one node (2 ranks) the sums are bitwise MPI's; on nodes of 2 ranks
 * (SN_DIST_RANKS_PER_NODE=2, 4 ranks: the hierarchical path) they agree to
 * float rounding. */
static void test_transports(void) {
    enum { N = 100003 }; /* not a multiple of 16: a ragged last slice */
    const char *per = getenv("SN_DIST_RANKS_PER_NODE");
    const int forced = per ? atoi(per) : 0;
    const int equal = !forced || size % forced == 0;
    const int nodes = forced ? (size + forced - 1) / forced : 1;
    sn_error err = {0};
    sn_dist_node *nd = NULL;
    CHECK(sn_dist_node_new(N, SN_ALLREDUCE_SHM, &nd, &err) == SN_OK);
    CHECK((nd != NULL) == equal);
    sn_dist_node *auto_nd = NULL;
    CHECK(sn_dist_node_new(N, SN_ALLREDUCE_AUTO, &auto_nd, &err) == SN_OK);
    CHECK((auto_nd != NULL) == (nodes == 1)); /* auto: shm on one node only */
    sn_dist_node_free(auto_nd);
    if (nd) {
        CHECK(sn_dist_node_count(nd) == nodes);
        CHECK(sn_dist_node_ranks(nd) == size / nodes);
    }
    float *v = malloc(N * sizeof(float)), *w = malloc(N * sizeof(float));
    /* exact values: every sum is exact, whatever the order */
    for (int step = 0; nd && step < 4; step++) {
        float *mine = sn_dist_node_mine(nd);
        for (int i = 0; i < N; i++) mine[i] = (float)((rank + 1) * (i % 1000) + step);
        CHECK(sn_dist_node_reduce(nd, N, 1.0f, &err) == SN_OK);
        /* the slower rank reads while the others write their next vector:
         * the sums it copies must stay */
        if (rank == 1) nanosleep(&(struct timespec){0, 20000000}, NULL);
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += mine[i] != (float)(size * (size + 1) / 2 * (i % 1000) + size * step);
        CHECK(bad == 0);
    }
    /* weights: rank r's vector times r + 1, the last rank's times 0 adds
     * exact zeros even where its vector holds NaN and infinities */
    for (int step = 0; nd && step < 2; step++) {
        float *mine = sn_dist_node_mine(nd);
        const int last = rank == size - 1;
        for (int i = 0; i < N; i++)
            mine[i] = last && i % 3 ? (i % 3 == 1 ? NAN : -INFINITY) : (float)(i % 100 + step);
        CHECK(sn_dist_node_reduce(nd, N, last ? 0.0f : (float)(rank + 1), &err) == SN_OK);
        int bad = 0;
        for (int i = 0; i < N; i++) /* Σ_{r < size-1} (r + 1)·(i % 100 + step) */
            bad += mine[i] != (float)((size - 1) * size / 2 * (i % 100 + step));
        CHECK(bad == 0);
    }
    /* values that round: against MPI_Allreduce */
    sn_rng g;
    sn_rng_seed(&g, 5, (uint64_t)rank + 1);
    for (int i = 0; i < N; i++) v[i] = w[i] = sn_rng_uniform(&g) - 0.5f;
    CHECK(sn_dist_sum_f32(w, N, &err) == SN_OK);
    if (nd) {
        CHECK(sn_dist_node_sum(nd, v, N, &err) == SN_OK);
        double d = 0, nw = 0;
        for (int i = 0; i < N; i++) d += fabs((double)v[i] - w[i]), nw += fabs((double)w[i]);
        if (nodes == 1 && size == 2)
            CHECK(memcmp(v, w, N * sizeof(float)) == 0); /* a + b, both */
        else
            CHECK(d / nw < 1e-6);
        /* every rank holds the same sums */
        uint64_t h = sn_dist_hash(SN_DIST_HASH0, v, N * sizeof(float)), hs[64];
        CHECK(size <= 64 && sn_dist_allgather(&h, sizeof h, hs, &err) == SN_OK);
        for (int q = 0; q < size && q < 64; q++) CHECK(hs[q] == h);
    }
    sn_dist_node_free(nd);
    free(v);
    free(w);
    /* the reducer: the transport each choice gives */
    sn_model *m = dist_model("input 5\ndense 6\ntanh\ndense 3\nloss softmax_xent\n", 4);
    CHECK(m != NULL);
    if (!m) return;
    const int want[3] = {SN_ALLREDUCE_AUTO, SN_ALLREDUCE_SHM, SN_ALLREDUCE_MPI};
    const int got[3] = {nodes == 1 ? SN_ALLREDUCE_SHM : SN_ALLREDUCE_MPI,
                        equal ? SN_ALLREDUCE_SHM : SN_ALLREDUCE_MPI, SN_ALLREDUCE_MPI};
    for (int k = 0; k < 3; k++) {
        sn_dist_reducer *r = NULL;
        CHECK(sn_dist_reducer_new(m, 64, want[k], &r, &err) == SN_OK);
        if (!r) continue;
        CHECK(sn_dist_reducer_transport(r) == got[k]);
        CHECK(sn_dist_reducer_nodes(r) == (got[k] == SN_ALLREDUCE_SHM ? nodes : 0));
        sn_dist_reducer_free(r);
    }
    sn_model_free(m);
}

/* The same step's gradients summed over shared memory and over MPI: equal
 * bitwise on 2 ranks, to float rounding on more. */
static void test_same_sums(const char *spec, size_t in) {
    enum { N = 9 };
    sn_model *a = dist_model(spec, N), *b = dist_model(spec, N);
    CHECK(a && b);
    if (!a || !b) return;
    float *x = malloc(N * in * sizeof(float));
    int labels[N];
    dist_batch(x, labels, N, in, 3, 8);
    sn_dist_reducer *ra = NULL, *rb = NULL;
    sn_error err = {0};
    float *own = a->params[0]->grad.data;
    CHECK(sn_dist_reducer_new(a, 64, SN_ALLREDUCE_SHM, &ra, &err) == SN_OK);
    /* over shared memory the gradients live in the window */
    CHECK(!ra || sn_dist_reducer_transport(ra) != SN_ALLREDUCE_SHM ||
          (a->params[0]->grad.data != own && !a->params[0]->grad.owns));
    CHECK(sn_dist_reducer_new(b, 64, SN_ALLREDUCE_MPI, &rb, &err) == SN_OK);
    long off, cnt;
    sn_dist_share(N, rank, size, &off, &cnt);
    sn_model *mm[2] = {a, b};
    sn_dist_reducer *rr[2] = {ra, rb};
    for (int k = 0; k < 2 && ra && rb; k++) {
        mm[k]->grads_ready = sn_dist_grads_ready;
        mm[k]->grads_ready_ctx = rr[k];
        sn_dist_set_share(off, cnt, N);
        sn_model_forward(mm[k], x + off * in, (int)cnt, 1, NULL);
        sn_model_backward(mm[k], labels + off, NULL, NULL, NULL);
        CHECK(sn_dist_reducer_finish(rr[k], &err) == SN_OK);
    }
    int same = 1;
    for (int i = 0; i < a->nparams; i++)
        if (!a->params[i]->buffer)
            same &= memcmp(a->params[i]->grad.data, b->params[i]->grad.data,
                           a->params[i]->grad.size * sizeof(float)) == 0;
    if (size == 2 && !getenv("SN_DIST_RANKS_PER_NODE"))
        CHECK(same);
    else
        CHECK(dist_worst(a, b, 1) < 1e-6);
    sn_dist_set_share(0, 1, 1);
    sn_dist_reducer_free(ra);
    sn_dist_reducer_free(rb);
    /* ... until the reducer is freed: back in their own memory, the sums */
    CHECK(a->params[0]->grad.data == own && a->params[0]->grad.owns);
    CHECK(dist_worst(a, b, 1) < 1e-6);
    for (int i = 0; same && i < a->nparams; i++)
        if (!a->params[i]->buffer)
            CHECK(memcmp(a->params[i]->grad.data, b->params[i]->grad.data,
                         a->params[i]->grad.size * sizeof(float)) == 0);
    free(x);
    sn_model_free(a);
    sn_model_free(b);
}

static void test_check(void) {
    sn_error err = {0};
    sn_dist_item items[3] = {
        {"spec", "12 lines", 1}, {"training data", "60000 samples of 784", 2}, {"seed", "1", 3}};
    CHECK(sn_dist_check(items, 3, &err) == SN_OK);
    if (rank == 1) {
        strcpy(items[1].text, "59999 samples of 784");
        items[1].hash = 4;
    }
    CHECK(sn_dist_check(items, 3, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "rank 1 differs from rank 0: training data (59999 samples of 784 vs "
                          "60000 samples of 784)") != NULL);
    CHECK(strstr(err.msg, "spec") == NULL);
    /* data sets: one value differs on rank 1 */
    float x[6] = {0, 0.5f, 1, 0.25f, 0.75f, 1};
    int lab[3] = {0, 1, 1};
    sn_dataset d = {
        .n = 3, .ndim = 1, .shape = {2}, .sample_size = 2, .x = x, .labels = lab, .num_classes = 2};
    sn_dist_item di[2];
    sn_dist_item_dataset(&di[0], "training data", &d);
    sn_dist_item_dataset(&di[1], "test data", NULL);
    CHECK(strncmp(di[0].text, "3 samples of 2, checksum ", 25) == 0);
    CHECK(sn_dist_check(di, 2, &err) == SN_OK);
    if (rank == 1) x[4] = 0.5f;
    sn_dist_item_dataset(&di[0], "training data", &d);
    CHECK(sn_dist_check(di, 2, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "rank 1 differs from rank 0: training data (3 samples of 2, checksum") !=
          NULL);
    CHECK(strstr(err.msg, "test data") == NULL);
    /* a different number of items */
    CHECK(sn_dist_check(items, rank == 1 ? 2 : 3, &err) == SN_ERR_ARG);
    CHECK(strstr(err.msg, "rank 1") != NULL);
}

static void test_weights(void) {
    sn_model *m = dist_model("input 3\ndense 4\nbatchnorm\nrelu\ndense 2\nloss mse\n", 2);
    CHECK(m != NULL);
    if (!m) return;
    sn_error err = {0};
    CHECK(sn_dist_check_weights(m, 10, &err) == SN_OK);
    /* running statistics are not compared (per-rank unless synchronized) */
    if (rank == 1) m->layers[1]->params[2].value.data[0] += 1;
    CHECK(sn_dist_check_weights(m, 11, &err) == SN_OK);
    if (rank == 1) m->layers[3]->params[0].value.data[5] += 1e-6f;
    CHECK(sn_dist_check_weights(m, 12, &err) == SN_ERR_NUMERIC);
    CHECK(strstr(err.msg, "step 12: rank 1's weights differ from rank 0's, first in layer 3 "
                          "(dense 4->2") != NULL);
    CHECK(strstr(err.msg, ") weight") != NULL);
    /* rank 0's buffers to rank 1 */
    if (rank == 0) m->layers[1]->params[3].value.data[1] = 7;
    CHECK(sn_dist_bcast_buffers(m, &err) == SN_OK);
    CHECK(m->layers[1]->params[3].value.data[1] == 7 && m->layers[1]->params[2].value.data[0] == 0);
    sn_model_free(m);
}

/* A layer's state value: stream s (of all), level k, unit j. */
static float state_value(int piece, int k, int s, int j) {
    return (float)(1000 * piece + 100 * k + 10 * s + j + 1);
}

/* Recurrent state at checkpoints: 5 streams, rank 0 carries 2, rank 1 3. */
static void test_state(void) {
    enum { N = 5, H = 3 };
    sn_model *m = dist_model("input 1\nonehot 4\nlstm 3 layers=2\ndense 4\nloss softmax_xent\n", N);
    CHECK(m != NULL);
    if (!m) return;
    sn_layer *l = m->layers[1];
    sn_layer_state st[SN_MAX_STATES];
    CHECK(l->ops->state(l, st) == 2 && st[0].levels == 2 && st[0].width == H);
    long off, n;
    sn_dist_share(N, rank, size, &off, &n);
    /* rank r holds its streams [off, off + n) at the start of each level */
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 2; k++)
            for (int s = 0; s < n; s++)
                for (int j = 0; j < H; j++)
                    st[c].data[k * st[c].stride + (size_t)s * H + j] =
                        state_value(c, k, (int)off + s, j);
    l->ops->restore_state(l, (int)n);
    sn_error err = {0};
    CHECK(sn_dist_gather_state(m, N, &err) == SN_OK);
    l->ops->state(l, st);
    int bad = 0;
    if (rank == 0) { /* every stream at its place */
        CHECK(st[0].streams == N);
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 2; k++)
                for (int s = 0; s < N; s++)
                    for (int j = 0; j < H; j++)
                        bad += st[c].data[k * st[c].stride + (size_t)s * H + j] !=
                               state_value(c, k, s, j);
    } else { /* unchanged */
        CHECK(st[0].streams == n);
        for (int k = 0; k < 2; k++)
            for (int s = 0; s < n; s++)
                bad += st[1].data[k * st[1].stride + (size_t)s * H] !=
                       state_value(1, k, (int)off + s, 0);
    }
    CHECK(bad == 0);
    /* a model holding all N streams (a resumed checkpoint) keeps its share */
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 2; k++)
            for (int s = 0; s < N; s++)
                for (int j = 0; j < H; j++)
                    st[c].data[k * st[c].stride + (size_t)s * H + j] = state_value(c, k, s, j);
    l->ops->restore_state(l, N);
    sn_dist_share_state(m, N);
    l->ops->state(l, st);
    CHECK(st[0].streams == n);
    bad = 0;
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 2; k++)
            for (int s = 0; s < n; s++)
                for (int j = 0; j < H; j++)
                    bad += st[c].data[k * st[c].stride + (size_t)s * H + j] !=
                           state_value(c, k, (int)off + s, j);
    CHECK(bad == 0);
    /* a zero state everywhere gathers to a zero state */
    sn_model_reset_state(m);
    CHECK(sn_dist_gather_state(m, N, &err) == SN_OK);
    l->ops->state(l, st);
    CHECK(st[0].streams == 0);
    sn_model_free(m);
}

static double val_loss_seen;
static int val_rows; /* of the evaluation's last forward pass */
static int on_epoch_val(void *ctx, const sn_epoch_stats *e) {
    val_loss_seen = e->val_loss;
    val_rows = ((sn_model *)ctx)->batch;
    return 0;
}

/* Text validation split over the ranks (7 streams: 3 and 4) against one
 * process's evaluation of the same weights. */
static void test_text_validation(void) {
    enum { K = 7, NTRAIN = 3000, NVAL = 701, T = 10, B = 7 };
    static int train[NTRAIN], val[NVAL];
    sn_rng g;
    sn_rng_seed(&g, 11, 1);
    for (int i = 0; i < NTRAIN; i++) train[i] = (int)sn_rng_below(&g, K);
    for (int i = 0; i < NVAL; i++) val[i] = (int)sn_rng_below(&g, K);
    sn_model *m = NULL;
    sn_error err = {0};
    CHECK(sn_model_from_spec("input 1\nonehot 7\nlstm 16\ndense 7\nloss softmax_xent\n[train]\n"
                             "optimizer adam lr=1e-2\nbatch 7\nepochs 1\nseed 2\n",
                             "val", 0, &m, &err) == SN_OK);
    if (!m) return;
    sn_dist_training *d = NULL;
    CHECK(sn_dist_training_new(m, 1 << 16, SN_ALLREDUCE_AUTO, 0, &d, &err) == SN_OK);
    sn_text_options o;
    sn_text_options_default(&o);
    o.seq_len = T;
    sn_train_hooks h = {
        .ctx = m, .on_epoch = on_epoch_val, .dist = d ? sn_dist_training_hooks(d) : NULL};
    val_loss_seen = -1;
    CHECK(sn_text_train(m, NULL, train, NTRAIN, val, NVAL, &o, &h, NULL, &err) == SN_OK);
    sn_dist_training_free(d);
    long off, n;
    sn_dist_share(B, rank, size, &off, &n);
    CHECK(val_rows == T * n); /* this rank evaluated its 3 or 4 streams only */
    double one = -1, all[2] = {0, 0};
    CHECK(sn_text_evaluate(m, val, NVAL, T, B, &one, &err) == SN_OK);
    CHECK(sn_dist_allgather(&val_loss_seen, sizeof(double), all, &err) == SN_OK);
    CHECK(all[0] == all[1]); /* every rank has the reduced value */
    double rel = fabs(val_loss_seen - one) / one;
    if (rank == 0)
        printf("text validation loss on %d ranks %.17g, on one process %.17g (relative %.3g)\n",
               size, val_loss_seen, one, rel);
    CHECK(one > 1 && rel < 1e-9);
    sn_model_free(m);
}

static int samples_seen;
static void count_sample(void *ctx, int epoch, const char *text, size_t len) {
    (void)ctx, (void)epoch, (void)text, (void)len;
    samples_seen++;
}

/* Text samples come from rank 0 alone (the others' would be thrown away),
 * and the ranks' weights stay equal (checked at every step) across the
 * epochs after which rank 0 sampled. */
static void test_text_samples(void) {
    static const char line[] = "call me ishmael. some years ago, never mind how long precisely, "
                               "having little or no money in my purse. ";
    char text[40 * sizeof line];
    size_t len = 0;
    for (int i = 0; i < 40; i++, len += sizeof line - 1) memcpy(text + len, line, sizeof line - 1);
    sn_vocab *v = NULL;
    sn_error err = {0};
    int *ids = NULL;
    size_t n = 0;
    CHECK(sn_vocab_build(text, len, SN_TEXT_CHAR, 0, &v, &err) == SN_OK);
    if (!v) return;
    CHECK(sn_vocab_encode(v, text, len, &ids, &n, &err) == SN_OK);
    char spec[256];
    snprintf(spec, sizeof spec,
             "input 1\nonehot %d\nlstm 12\ndense %d\nloss softmax_xent\n[train]\n"
             "optimizer adam lr=1e-2\nbatch 6\nepochs 3\nseed 4\n",
             sn_vocab_size(v), sn_vocab_size(v));
    sn_model *m = NULL;
    CHECK(sn_model_from_spec(spec, "samples", 0, &m, &err) == SN_OK);
    sn_dist_training *d = NULL;
    if (m) CHECK(sn_dist_training_new(m, 1 << 16, SN_ALLREDUCE_AUTO, 1, &d, &err) == SN_OK);
    if (m && d) {
        sn_text_options o;
        sn_text_options_default(&o);
        o.seq_len = 8, o.sample_every = 1, o.sample_length = 30;
        sn_train_hooks h = {.on_sample = count_sample, .dist = sn_dist_training_hooks(d)};
        samples_seen = 0;
        sn_status s = sn_text_train(m, v, ids, n, NULL, 0, &o, &h, NULL, &err);
        if (s != SN_OK) fprintf(stderr, "rank %d: %s\n", rank, err.msg);
        CHECK(s == SN_OK);
        CHECK(samples_seen == (rank == 0 ? 3 : 0));
    }
    sn_dist_training_free(d);
    sn_model_free(m);
    sn_free(ids);
    sn_vocab_free(v);
}

/* The shared-memory reducer's step with rank 1 stuck or killed. */
static int fault_shm(const char *mode) {
    sn_error err = {0};
    sn_model *m = dist_model("input 5\ndense 6\ntanh\ndense 3\nloss softmax_xent\n", 4);
    sn_dist_reducer *r = NULL;
    if (!m || sn_dist_reducer_new(m, 64, SN_ALLREDUCE_SHM, &r, &err) != SN_OK ||
        sn_dist_reducer_transport(r) != SN_ALLREDUCE_SHM) {
        fprintf(stderr, "test_dist: no shared-memory reducer: %s\n", err.msg);
        return 1;
    }
    if (strcmp(mode, "timeout-shm") == 0) {
        sn_dist_set_timeout(1);
        if (rank == 1) sleep(30); /* stuck: never joins */
    } else if (rank == 1) {
        raise(SIGKILL);
    }
    if (sn_dist_reducer_finish(r, &err) != SN_OK) {
        fprintf(stderr, "test_dist: %s\n", err.msg);
        sn_dist_abort(3);
    }
    return 0;
}

static int fault(const char *mode) {
    if (strcmp(mode, "transports") == 0) { /* any number of ranks */
        test_transports();
        const char *mlp = "input 5\ndense 6\nbatchnorm sync=1\ntanh\ndropout 0.3\ndense 4\n"
                          "relu\ndense 3\nloss softmax_xent\n";
        test_same_sums(mlp, 5);
        int failed = check_report() != 0;
        double f = failed;
        sn_error e = {0};
        sn_dist_sum_f64(&f, 1, &e);
        sn_dist_finalize();
        return f > 0;
    }
    if (strstr(mode, "-shm")) return fault_shm(mode);
    sn_error err = {0};
    double v = 1;
    if (strcmp(mode, "timeout") == 0) {
        sn_dist_set_timeout(1);
        if (rank == 1) sleep(30); /* stuck: never joins */
    } else if (rank == 1) {
        raise(SIGKILL);
    }
    if (sn_dist_sum_f64(&v, 1, &err) != SN_OK) {
        fprintf(stderr, "test_dist: %s\n", err.msg);
        sn_dist_abort(3);
    }
    return 0;
}

int main(int argc, char **argv) {
    sn_error err = {0};
    if (sn_dist_init(&argc, &argv, &err) != SN_OK) {
        fprintf(stderr, "test_dist: %s\n", err.msg);
        return 1;
    }
    rank = sn_dist_rank(), size = sn_dist_size();
    if (argc > 1) return fault(argv[1]);
    CHECK(sn_dist_available() && size == 2);
    test_collectives();
    const char *mlp = "input 5\ndense 6\nbatchnorm sync=1\ntanh\ndropout 0.3\ndense 4\n"
                      "batchnorm sync=1\nrelu\ndropout 0.2\ndense 3\nloss softmax_xent\n";
    const char *cnn = "input 2x6x6\nconv2d 3 3\nbatchnorm sync=1\nrelu\nmaxpool 2\nflatten\n"
                      "dense 3\nloss softmax_xent\n";
    for (int t = SN_ALLREDUCE_SHM; t <= SN_ALLREDUCE_MPI; t++) {
        test_reducer(mlp, 5, 64, t, 1);
        test_reducer(mlp, 5, 1 << 20, t, 1);
        test_reducer(cnn, 72, 64, t, 1);
        test_reducer("input 5\ndense 6\nbatchnorm\ntanh\ndense 3\nloss softmax_xent\n", 5, 64, t,
                     0);
    }
    test_transports();
    test_same_sums(mlp, 5);
    test_same_sums(cnn, 72);
    test_check();
    test_weights();
    test_state();
    test_text_validation();
    test_text_samples();
    int failed = check_report() != 0;
    /* every rank's verdict decides the exit status of both */
    double f = failed;
    sn_dist_sum_f64(&f, 1, &err);
    sn_dist_finalize();
    return f > 0;
}
