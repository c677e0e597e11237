/* Losses (src/losses/): values against hand-computed formulas, gradients
 * against central finite differences of sn_loss itself, the p - y identity of
 * softmax + cross-entropy, extreme inputs, outputs, accuracy counts, names. */
#include "check.h"
#include "kernels/act.h"
#include "kernels/fastmath.h"
#include "losses/loss.h"
#include "scratchnet.h"

#include <math.h>
#include <string.h>

static sn_tensor mat(float *data, int N, int K) {
    int shape[2] = {N, K};
    return sn_tensor_view(data, 2, shape);
}

/* ---- values ------------------------------------------------------------------- */

static void test_mse(void) {
    float p[4] = {1, 2, 3, 4}, t[4] = {1.5f, 2, 2, 5}, g[4];
    sn_tensor P = mat(p, 2, 2), G = mat(g, 2, 2);
    /* diffs -0.5, 0, 1, -1: (0.25 + 0 + 1 + 1) / 4 */
    CHECK_NEAR(sn_loss(SN_LOSS_MSE, &P, NULL, t, &G), 0.5625, 1e-12);
    const float want[4] = {-0.25f, 0, 0.5f, -0.5f}; /* 2 d / 4 */
    for (int i = 0; i < 4; i++) CHECK(g[i] == want[i]);
    CHECK_NEAR(sn_loss(SN_LOSS_MSE, &P, NULL, t, NULL), 0.5625, 1e-12);

    /* labels, K > 1: one-hot targets [0, 0, 1] and [1, 0, 0] */
    float q[6] = {0.5f, 0, 0.5f, 1, 0.25f, 0};
    int labels[2] = {2, 0};
    sn_tensor Q = mat(q, 2, 3);
    /* (0.25 + 0 + 0.25 + 0 + 0.0625 + 0) / 6 */
    CHECK_NEAR(sn_loss(SN_LOSS_MSE, &Q, labels, NULL, NULL), 0.5625 / 6, 1e-12);
    /* labels, K == 1: the label itself is the target */
    float r[2] = {0.25f, 0.5f};
    int lab1[2] = {1, 0};
    sn_tensor Rt = mat(r, 2, 1);
    CHECK_NEAR(sn_loss(SN_LOSS_MSE, &Rt, lab1, NULL, NULL), (0.5625 + 0.25) / 2, 1e-12);
}

static void test_bce(void) {
    float p1 = 0.9f, g1;
    int one = 1;
    sn_tensor P1 = mat(&p1, 1, 1), G1 = mat(&g1, 1, 1);
    CHECK_NEAR(sn_loss(SN_LOSS_BCE, &P1, &one, NULL, &G1), 0.10536051565782628, 1e-7);
    CHECK_NEAR(g1, -1.0 / 0.9, 1e-6); /* -t/p */

    float p[3] = {0.9f, 0.2f, 0.6f}, t[3] = {1, 0, 1};
    sn_tensor P = mat(p, 1, 3);
    double want = -(log(0.9) + log(0.8) + log(0.6)) / 3;
    CHECK_NEAR(sn_loss(SN_LOSS_BCE, &P, NULL, t, NULL), want, 1e-7);

    /* p = 0 or 1: each log is clamped at -100, so the loss is finite */
    float e[4] = {0, 1, 1, 0}, te[4] = {1, 0, 1, 0}, ge[4];
    sn_tensor E = mat(e, 2, 2), GE = mat(ge, 2, 2);
    CHECK_NEAR(sn_loss(SN_LOSS_BCE, &E, NULL, te, &GE), (100 + 100 + 0 + 0) / 4.0, 1e-12);
    for (int i = 0; i < 4; i++) CHECK(isfinite(ge[i]));
    CHECK(ge[0] < 0 && ge[1] > 0); /* push p up where t = 1, down where t = 0 */

    /* NaN is not hidden by the clamp */
    float nan = NAN;
    sn_tensor PN = mat(&nan, 1, 1);
    CHECK(isnan(sn_loss(SN_LOSS_BCE, &PN, &one, NULL, NULL)));
}

static void test_bce_logits(void) {
    /* agrees with BCE on σ(z) */
    float z[4] = {0.3f, -1.2f, 2.0f, 0}, t[4] = {1, 0, 0.25f, 1}, p[4];
    sn_tensor Z = mat(z, 2, 2), Pt = mat(p, 2, 2);
    double want = 0;
    for (int i = 0; i < 4; i++) {
        double s = 1 / (1 + exp(-(double)z[i]));
        want -= t[i] * log(s) + (1 - t[i]) * log(1 - s);
        p[i] = (float)s;
    }
    CHECK_NEAR(sn_loss(SN_LOSS_BCE_LOGITS, &Z, NULL, t, NULL), want / 4, 1e-12);
    CHECK_NEAR(sn_loss(SN_LOSS_BCE, &Pt, NULL, t, NULL), want / 4, 1e-6);

    /* z = ±100: finite and right; σ(100) would round to 1 in any float form */
    float zb[4] = {100, -100, 100, -100}, tb[4] = {1, 1, 0, 0}, gb[4];
    sn_tensor ZB = mat(zb, 1, 4), GB = mat(gb, 1, 4);
    double lb = sn_loss(SN_LOSS_BCE_LOGITS, &ZB, NULL, tb, &GB);
    CHECK(isfinite(lb));
    CHECK_NEAR(lb, (0 + 100 + 100 + 0) / 4.0, 1e-12);
    const float wantg[4] = {0, -0.25f, 0.25f, 0}; /* (σ(z) - t) / 4 */
    for (int i = 0; i < 4; i++) CHECK_NEAR(gb[i], wantg[i], 1e-12);
}

static void test_softmax_xent(void) {
    float z[3] = {1, 2, 3}, g[3];
    int label = 2;
    sn_tensor Z = mat(z, 1, 3), G = mat(g, 1, 3);
    /* log(e + e² + e³) - 3 */
    CHECK_NEAR(sn_loss(SN_LOSS_SOFTMAX_XENT, &Z, &label, NULL, &G), 0.40760596444438013, 1e-12);
    /* p - y, the worked example of docs/softmax-xent.md */
    CHECK_NEAR(g[0], 0.09003057317038046, 1e-7);
    CHECK_NEAR(g[1], 0.24472847105479767, 1e-7);
    CHECK_NEAR(g[2], -0.3347590442251781, 1e-7);

    /* a batch of two: mean loss, gradients divided by N */
    float z2[6] = {1, 2, 3, 0.5f, -1, 2}, g2[6];
    int labels[2] = {2, 0};
    sn_tensor Z2 = mat(z2, 2, 3), G2 = mat(g2, 2, 3);
    double l1 = log(exp(0.5) + exp(-1.0) + exp(2.0)) - 0.5;
    CHECK_NEAR(sn_loss(SN_LOSS_SOFTMAX_XENT, &Z2, labels, NULL, &G2),
               (0.40760596444438013 + l1) / 2, 1e-12);
    CHECK_NEAR(g2[2], -0.3347590442251781 / 2, 1e-7);

    /* dpred · N == softmax(z) - onehot(label) */
    float s[6];
    sn_softmax_rows(z2, s, 2, 3);
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 3; k++)
            CHECK_NEAR(g2[n * 3 + k] * 2.0, s[n * 3 + k] - (k == labels[n]), 2e-7);

    /* soft targets: Σ_k t_k (lse - z_k) */
    float tt[3] = {0.2f, 0.3f, 0.5f};
    double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
    double want = 0.2f * (lse - 1) + 0.3f * (lse - 2) + 0.5f * (lse - 3);
    CHECK_NEAR(sn_loss(SN_LOSS_SOFTMAX_XENT, &Z, NULL, tt, &G), want, 1e-12);
    for (int k = 0; k < 3; k++) CHECK_NEAR(g[k], exp(z[k] - lse) - tt[k], 1e-7);

    /* logits ±1e4: finite, and exact in the limit */
    float zb[3] = {1e4f, -1e4f, 0}, gb[3];
    int l0 = 0, lneg = 1;
    sn_tensor ZB = mat(zb, 1, 3), GB = mat(gb, 1, 3);
    CHECK_NEAR(sn_loss(SN_LOSS_SOFTMAX_XENT, &ZB, &l0, NULL, &GB), 0.0, 1e-12);
    CHECK_NEAR(sn_loss(SN_LOSS_SOFTMAX_XENT, &ZB, &lneg, NULL, &GB), 2e4, 1e-12);
    CHECK(gb[0] == 1.0f && gb[1] == -1.0f && gb[2] == 0.0f);
}

/* A label out of range gives NaN (documented in loss.c), not an out-of-bounds
 * read. */
static void test_bad_labels(void) {
    float z[3] = {1, 2, 3}, g[3];
    int bad = 3, neg = -1, two = 2;
    sn_tensor Z = mat(z, 1, 3), G = mat(g, 1, 3), Z1 = mat(z, 1, 1);
    CHECK(isnan(sn_loss(SN_LOSS_SOFTMAX_XENT, &Z, &bad, NULL, &G)));
    CHECK(isnan(g[0]));
    CHECK(isnan(sn_loss(SN_LOSS_MSE, &Z, &neg, NULL, NULL)));
    CHECK(isnan(sn_loss(SN_LOSS_BCE_LOGITS, &Z1, &two, NULL, NULL)));
}

/* ---- gradients vs finite differences of sn_loss --------------------------------- */

/* The loss is computed in double from float inputs, so a step h = 1e-4 in a
 * float coordinate gives a central difference accurate to ~h² · L''' / 6. The
 * actual step is taken as the difference of the two floats. */
static void gradcheck(sn_loss_kind k, float *pred, int N, int K, const int *labels,
                      const float *targets) {
    float g[64];
    sn_tensor P = mat(pred, N, K), G = mat(g, N, K);
    sn_loss(k, &P, labels, targets, &G);
    double worst = 0;
    for (int i = 0; i < N * K; i++) {
        float x0 = pred[i], xp = x0 + 1e-4f, xm = x0 - 1e-4f;
        pred[i] = xp;
        double lp = sn_loss(k, &P, labels, targets, NULL);
        pred[i] = xm;
        double lm = sn_loss(k, &P, labels, targets, NULL);
        pred[i] = x0;
        double fd = (lp - lm) / ((double)xp - (double)xm);
        double err = fabs(g[i] - fd) / (fabs(fd) > 1e-2 ? fabs(fd) : 1e-2);
        if (err > worst) worst = err;
    }
    printf("%-12s %s: gradient vs finite differences, max relative error %.2e\n", sn_loss_name(k),
           labels ? "labels " : "targets", worst);
    CHECK(worst < 1e-5);
}

static void test_gradients(void) {
    enum { N = 3, K = 4 };
    float z[N * K], p[N * K], t[N * K], tsoft[N * K];
    int labels[N] = {1, 3, 0}, lab1[N] = {1, 0, 1};
    for (int i = 0; i < N * K; i++) {
        z[i] = (float)(1.5 * sin(2.1 * i + 0.3));
        p[i] = (float)(0.5 + 0.4 * cos(1.7 * i)); /* in (0.1, 0.9) */
        t[i] = (float)(0.5 + 0.5 * sin(0.9 * i)); /* in [0, 1] */
    }
    for (int n = 0; n < N; n++) { /* rows of tsoft sum to 1 */
        double s = 0;
        for (int k = 0; k < K; k++) s += tsoft[n * K + k] = (float)(1 + k + n);
        for (int k = 0; k < K; k++) tsoft[n * K + k] = (float)(tsoft[n * K + k] / s);
    }
    gradcheck(SN_LOSS_MSE, z, N, K, NULL, t);
    gradcheck(SN_LOSS_MSE, z, N, K, labels, NULL);
    gradcheck(SN_LOSS_BCE, p, N, K, NULL, t);
    gradcheck(SN_LOSS_BCE, p, N, K, labels, NULL);
    gradcheck(SN_LOSS_BCE, p, N, 1, lab1, NULL);
    gradcheck(SN_LOSS_BCE_LOGITS, z, N, K, NULL, t);
    gradcheck(SN_LOSS_BCE_LOGITS, z, N, 1, lab1, NULL);
    gradcheck(SN_LOSS_SOFTMAX_XENT, z, N, K, labels, NULL);
    gradcheck(SN_LOSS_SOFTMAX_XENT, z, N, K, NULL, tsoft);
}

/* ---- outputs, accuracy, names ------------------------------------------------- */

static void test_output(void) {
    float z[6] = {1, 2, 3, 1000, 0, -1000}, out[6];
    sn_tensor Z = mat(z, 2, 3), O = mat(out, 2, 3);
    sn_loss_output(SN_LOSS_SOFTMAX_XENT, &Z, &O);
    CHECK_NEAR(out[0], 0.09003057317038046, 1e-7);
    CHECK_NEAR(out[2], 0.6652409557748219, 1e-7);
    CHECK(out[3] == 1.0f && out[4] == 0.0f && out[5] == 0.0f);
    sn_loss_output(SN_LOSS_BCE_LOGITS, &Z, &O);
    CHECK_NEAR(out[0], 0.7310585786300049, 1e-7);
    CHECK(out[3] == 1.0f && out[5] == 0.0f);
    sn_loss_output(SN_LOSS_MSE, &Z, &O);
    CHECK(memcmp(out, z, sizeof z) == 0);
    sn_loss_output(SN_LOSS_SOFTMAX_XENT, &Z, &Z); /* in place */
    CHECK_NEAR(z[1], 0.24472847105479767, 1e-7);
}

static void test_correct(void) {
    float z[6] = {0.1f, 0.7f, 0.2f, 3, -1, 2};
    int labels[2] = {1, 2};
    sn_tensor Z = mat(z, 2, 3);
    for (int k = 0; k < 4; k++) CHECK(sn_loss_correct((sn_loss_kind)k, &Z, labels) == 1);
    labels[1] = 0;
    CHECK(sn_loss_correct(SN_LOSS_SOFTMAX_XENT, &Z, labels) == 2);

    /* K == 1: probabilities are cut at 0.5, logits at 0 */
    float q[4] = {0.3f, 0.6f, -0.2f, 2};
    int l1[4] = {1, 1, 0, 1};
    sn_tensor Q = mat(q, 4, 1);
    /* at 0.5: 0, 1, 0, 1 -> 3 right; at 0: 1, 1, 0, 1 -> 4 right */
    CHECK(sn_loss_correct(SN_LOSS_BCE, &Q, l1) == 3);
    CHECK(sn_loss_correct(SN_LOSS_MSE, &Q, l1) == 3);
    CHECK(sn_loss_correct(SN_LOSS_BCE_LOGITS, &Q, l1) == 4);
}

static void test_names(void) {
    sn_loss_kind k = SN_LOSS_MSE;
    sn_error err;
    const char *names[] = {"mse", "bce", "bce_logits", "softmax_xent"};
    for (int i = 0; i < 4; i++) {
        CHECK(sn_loss_parse(names[i], &k, &err) == SN_OK && k == (sn_loss_kind)i);
        CHECK(strcmp(sn_loss_name(k), names[i]) == 0);
    }
    CHECK(sn_loss_parse("cross_entropy", &k, &err) == SN_OK && k == SN_LOSS_SOFTMAX_XENT);
    k = SN_LOSS_BCE;
    memset(&err, 0, sizeof err);
    CHECK(sn_loss_parse("hinge", &k, &err) == SN_ERR_FORMAT);
    CHECK(k == SN_LOSS_BCE && strstr(err.msg, "'hinge'") != NULL);
    CHECK(sn_loss_parse("", &k, &err) == SN_ERR_FORMAT);
    CHECK(sn_loss_parse("MSE", &k, &err) == SN_ERR_FORMAT);
    printf("expected error: %s\n", err.msg);
}

/* Softmax + cross-entropy of N rows of K classes: the same bits on 1 and 2
 * threads (loss and gradient), and the values of the formula summed in
 * double. */
static void softmax_xent_threads(int N, int K) {
    enum { MAX = 2500 * 89 };
    static float z[MAX], g1[MAX], g2[MAX], t[MAX];
    static int labels[2500];
    size_t bytes = (size_t)N * K * sizeof(float);
    sn_rng rng;
    sn_rng_seed(&rng, 5, 1);
    for (int i = 0; i < N * K; i++) z[i] = 3.0f * sn_rng_normal(&rng);
    for (int n = 0; n < N; n++) {
        labels[n] = (int)sn_rng_below(&rng, K);
        double sum = 0;
        for (int k = 0; k < K; k++) sum += t[n * K + k] = sn_rng_uniform(&rng);
        for (int k = 0; k < K; k++) t[n * K + k] = (float)(t[n * K + k] / sum);
    }
    sn_tensor Z = mat(z, N, K), G1 = mat(g1, N, K), G2 = mat(g2, N, K);
    for (int use_t = 0; use_t <= 1; use_t++) {
        const int *lab = use_t ? NULL : labels;
        const float *tt = use_t ? t : NULL;
        sn_set_threads(1);
        double l1 = sn_loss(SN_LOSS_SOFTMAX_XENT, &Z, lab, tt, &G1);
        sn_set_threads(2);
        double l2 = sn_loss(SN_LOSS_SOFTMAX_XENT, &Z, lab, tt, &G2);
        double l3 = sn_loss(SN_LOSS_SOFTMAX_XENT, &Z, lab, tt, NULL);
        CHECK(memcmp(&l1, &l2, sizeof l1) == 0 && memcmp(&l1, &l3, sizeof l1) == 0);
        CHECK(memcmp(g1, g2, bytes) == 0);
        double want = 0, worst = 0;
        for (int n = 0; n < N; n++) {
            const float *zn = z + n * K;
            double m = zn[0], s = 0, ln = 0;
            for (int k = 1; k < K; k++) m = zn[k] > m ? zn[k] : m;
            for (int k = 0; k < K; k++) s += exp(zn[k] - m);
            double lse = m + log(s), tsum = 0;
            for (int k = 0; k < K; k++) tsum += use_t ? t[n * K + k] : k == labels[n];
            for (int k = 0; k < K; k++) {
                double tk = use_t ? t[n * K + k] : k == labels[n];
                ln += tk * (lse - zn[k]);
                double d = fabs(g1[n * K + k] - (exp(zn[k] - lse) * tsum - tk) / N);
                if (d > worst) worst = d;
            }
            want += ln;
        }
        CHECK_NEAR(l1, want / N, 1e-9 * fabs(want / N));
        CHECK(worst < 1e-6 / N);
    }
}

/* A batch large enough for softmax + cross-entropy to run in parallel
 * chunks and in several waves of rows, and the batch of 128 rows of 10
 * classes of the MLP benchmarks, which runs in a few chunks. */
static void test_softmax_xent_large(void) {
    softmax_xent_threads(2500, 89);
    softmax_xent_threads(128, 10);
}

/* The softmax + cross-entropy kernel against a double-precision reference
 * (libm's exp), row by row: rows of many widths and logit scales, among them
 * confident rows (p_y near 1, where p_y - 1 would cancel). The loss must be
 * good to 1e-14, relative (an exp good only to float precision, 1e-7, fails
 * by seven orders of magnitude), and each gradient value to 1.5e-7 of itself
 * (two float roundings). Below that, exp_neg_d itself against libm. */
static void test_softmax_xent_reference(void) {
    enum { ROWS = 48, KMAX = 1000 };
    static float z[ROWS * KMAX], g[ROWS * KMAX], g1[KMAX];
    static int labels[ROWS];
    const int widths[] = {2, 3, 7, 16, 89, 1000};
    const float scales[] = {0.1f, 1.0f, 4.0f, 30.0f};
    sn_rng rng;
    sn_rng_seed(&rng, 11, 1);
    double worst_g = 0, worst_l = 0;
    for (int wi = 0; wi < 6; wi++) {
        int K = widths[wi];
        for (int n = 0; n < ROWS; n++) {
            float *zn = z + (size_t)n * K;
            float scale = scales[n % 4];
            for (int k = 0; k < K; k++) zn[k] = scale * sn_rng_normal(&rng);
            labels[n] = (int)sn_rng_below(&rng, (uint32_t)K);
            if (n % 6 == 5) zn[labels[n]] += 25.0f; /* confident: p_y near 1 */
        }
        sn_tensor Z = mat(z, ROWS, K), G = mat(g, ROWS, K);
        sn_loss(SN_LOSS_SOFTMAX_XENT, &Z, labels, NULL, &G);
        for (int n = 0; n < ROWS; n++) {
            const float *zn = z + (size_t)n * K;
            /* log S = log(c + δ): c maxima (terms e^0 = 1), δ the sum of the
             * other terms, log1p(δ) when c = 1 (accurate for δ tiny) */
            double m = zn[0], d = 0, c = 0;
            int y = labels[n];
            for (int k = 1; k < K; k++) m = zn[k] > m ? zn[k] : m;
            for (int k = 0; k < K; k++)
                if (zn[k] == m)
                    c++;
                else
                    d += exp(zn[k] - m);
            double s = c + d, L = c == 1 ? log1p(d) : log(s), lse = m + L;
            double ref_l = (m - zn[y]) + L,
                   rest = zn[y] == m ? c - 1 + d : c + (d - exp(zn[y] - m));
            /* one row alone: its own loss */
            sn_tensor Z1 = mat((float *)zn, 1, K), G1 = mat(g1, 1, K);
            double l = sn_loss(SN_LOSS_SOFTMAX_XENT, &Z1, &y, NULL, &G1);
            double el = fabs(l - ref_l) / fabs(ref_l);
            if (el > worst_l) worst_l = el;
            for (int k = 0; k < K; k++) {
                double ref = k == y ? -rest / s : exp(zn[k] - lse);
                ref /= ROWS;
                if (fabs(ref) < 1e-30) continue; /* below float's normal range */
                double e = fabs(g[(size_t)n * K + k] - ref) / fabs(ref);
                if (e > worst_g) worst_g = e;
            }
        }
    }
    printf("softmax_xent vs libm: worst relative error of a gradient %.3g, of a loss %.3g\n",
           worst_g, worst_l);
    CHECK(worst_g <= 1.5e-7);
    CHECK(worst_l <= 1e-14);

    /* e^x for x <= 0: within 4 units in the last place over the whole range,
     * 0 below -708 (e^-708 < 1e-307), NaN for NaN */
    double worst_x = 0;
    for (int i = 0; i <= 200000; i++) {
        double x = -708.0 * i / 200000 - 1e-3 * sn_rng_uniform(&rng);
        if (x < -708.0) continue;
        double e = fabs(exp_neg_d(x) - exp(x)) / exp(x);
        if (e > worst_x) worst_x = e;
    }
    printf("exp_neg_d vs libm: worst relative error %.3g\n", worst_x);
    CHECK(worst_x <= 4 * 0x1p-52);
    CHECK(exp_neg_d(0.0) == 1.0 && exp_neg_d(-709.0) == 0.0 && exp_neg_d(-INFINITY) == 0.0);
    CHECK(isnan(exp_neg_d(NAN)));
}

int main(void) {
    test_mse();
    test_bce();
    test_bce_logits();
    test_softmax_xent();
    test_softmax_xent_large();
    test_softmax_xent_reference();
    test_bad_labels();
    test_gradients();
    test_output();
    test_correct();
    test_names();
    return check_report();
}
