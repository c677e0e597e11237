/* sn_run_build_model: the model a training run starts from. Its shapes and
 * parameter count are the spec's (counted here from the layer sizes); the
 * seed rule: a negative seed is the spec's, 0 is a seed (other weights than
 * the default 42's, the weights a spec saying "seed 0" gets), any other is
 * the seed sn_model_from_spec is given; a text spec gets its vocabulary
 * size; and sn_run_train starts from exactly that model: a one-epoch run
 * with a learning rate too small to move any weight (1e-30 against weights
 * and biases of order 0.1 to 0.5) ends with the same bytes, for the spec's
 * seed, seed 0 and seed 7. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "check.h"
#include "scratchnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 5, HID = 7, OUT = 3 };

static const char spec[] = "input 5\ndense 7 bias=0.5\ntanh\ndense 3 bias=0.25\n"
                           "loss softmax_xent\n[train]\noptimizer sgd lr=0.1\nbatch 8\n"
                           "epochs 1\nval_split 0\n";

/* 1 when every tensor of a and b has the same shape and bytes. */
static int same_weights(sn_model *a, sn_model *b) {
    int n = sn_model_num_layers(a);
    if (n != sn_model_num_layers(b)) return 0;
    for (int i = 0; i < n; i++) {
        sn_layer_info la, lb;
        if (sn_model_layer(a, i, &la, NULL) != SN_OK || sn_model_layer(b, i, &lb, NULL) != SN_OK ||
            la.ntensors != lb.ntensors)
            return 0;
        for (int j = 0; j < la.ntensors; j++) {
            sn_param_info pa, pb;
            if (sn_model_param(a, i, j, &pa, NULL) != SN_OK ||
                sn_model_param(b, i, j, &pb, NULL) != SN_OK || pa.value->size != pb.value->size ||
                memcmp(pa.value->data, pb.value->data, pa.value->size * sizeof(float)) != 0)
                return 0;
        }
    }
    return 1;
}

static sn_model *build(const char *path, const char *text, long seed) {
    sn_model *m = NULL;
    sn_error err = {0};
    if (sn_run_build_model(path, text, seed, 0, &m, &err) != SN_OK)
        fprintf(stderr, "seed %ld: %s\n", seed, err.msg);
    return m;
}

int main(void) {
    char tmp[64] = "/tmp/sn_run_model_XXXXXX", spec_path[128], data[128], dir[160];
    if (!mkdtemp(tmp)) return 1;
    sn_set_threads(1);
    snprintf(spec_path, sizeof spec_path, "%s/m.net", tmp);
    snprintf(data, sizeof data, "%s/d.csv", tmp);
    FILE *f = fopen(spec_path, "w");
    fputs(spec, f);
    fclose(f);
    f = fopen(data, "w");
    for (int i = 0; i < 40; i++) {
        for (int k = 0; k < IN; k++) fprintf(f, "%.3f,", (double)((i * 7 + k * 3) % 11) / 11);
        fprintf(f, "%d\n", i % OUT);
    }
    fclose(f);
    sn_error err = {0};

    /* ---- shapes and parameter count ---- */
    sn_model *def = build(spec_path, NULL, -1);
    CHECK(def != NULL);
    if (!def) return check_report();
    CHECK(sn_model_num_params(def) == (size_t)(IN * HID + HID + HID * OUT + OUT));
    CHECK(sn_model_num_layers(def) == 3);
    const int shapes[4][2] = {{HID, IN}, {HID, 0}, {OUT, HID}, {OUT, 0}};
    for (int t = 0; t < 4; t++) {
        sn_param_info p;
        CHECK(sn_model_param(def, t / 2 * 2, t % 2, &p, &err) == SN_OK);
        CHECK(p.value->ndim == (shapes[t][1] ? 2 : 1) && p.value->shape[0] == shapes[t][0] &&
              (!shapes[t][1] || p.value->shape[1] == shapes[t][1]));
        if (t % 2) CHECK(p.value->data[0] == (t == 1 ? 0.5f : 0.25f));
    }

    /* ---- the seed rule ---- */
    sn_model *s0 = build(spec_path, NULL, 0), *s42 = build(spec_path, spec, 42);
    sn_model *s7 = build(spec_path, spec, 7), *ref7 = NULL, *ref0 = NULL;
    CHECK(s0 && s42 && s7);
    CHECK(sn_model_from_spec(spec, "m.net", 7, &ref7, &err) == SN_OK);
    char with0[sizeof spec + 32];
    snprintf(with0, sizeof with0, "%sseed 0\n", spec); /* the spec's own seed 0 */
    CHECK(sn_model_from_spec(with0, "m.net", 0, &ref0, &err) == SN_OK);
    if (s0 && s42 && s7 && ref7 && ref0) {
        CHECK(same_weights(def, s42)); /* the spec's seed: the default, 42 */
        CHECK(!same_weights(s0, def)); /* 0 is a seed, not "the spec's" */
        CHECK(same_weights(s0, ref0)); /* ... the one a spec saying seed 0 gets */
        CHECK(same_weights(s7, ref7)); /* any other seed as given */
        CHECK(!same_weights(s7, def));
        CHECK(sn_model_config(s0)->seed == 0 && sn_model_config(s7)->seed == 7);
    }

    /* ---- a text spec: `vocab` is the vocabulary's size (the rnn: two biases,
     * as PyTorch's) ---- */
    sn_model *tm = NULL;
    CHECK(sn_run_build_model("t.net",
                             "input 1\nembedding vocab 4\nrnn 6\ndense vocab\nloss softmax_xent\n",
                             0, 11, &tm, &err) == SN_OK);
    CHECK(tm && sn_model_output_size(tm) == 11);
    CHECK(tm && sn_model_num_params(tm) == (size_t)(11 * 4 + 6 * 4 + 6 * 6 + 2 * 6 + 11 * 6 + 11));
    sn_model_free(tm);

    /* ---- what sn_run_train starts from ---- */
    const long seeds[3] = {-1, 0, 7};
    sn_model *built[3] = {def, s0, s7};
    for (int k = 0; k < 3; k++) {
        sn_run_options o;
        sn_run_result r;
        sn_run_options_default(&o);
        snprintf(dir, sizeof dir, "%s/run%d", tmp, k);
        o.spec_path = spec_path, o.data = data, o.run_dir = dir;
        o.seed = seeds[k], o.lr = 1e-30;
        CHECK(sn_run_train(&o, &r, &err) == SN_OK);
        char model[200];
        snprintf(model, sizeof model, "%s/model.safetensors", dir);
        sn_model *trained = NULL;
        CHECK(sn_model_load(model, &trained, &err) == SN_OK);
        CHECK(trained && built[k] && same_weights(trained, built[k]));
        sn_model_free(trained);
    }
    if (err.msg[0]) fprintf(stderr, "%s\n", err.msg);

    sn_model_free(def), sn_model_free(s0), sn_model_free(s42), sn_model_free(s7);
    sn_model_free(ref7), sn_model_free(ref0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) return 1;
    return check_report();
}
