/* Parity with PyTorch: every layer, activation, loss and optimizer against
 * the fixtures tests/parity/gen.py writes (PyTorch in float64 on float32
 * inputs, rounded to float32). Runs every fixture file in
 * tests/parity/fixtures/ whose metadata "schema" is "sn-cases-1", by its
 * "kind" (layers, losses, optim); the schema is described in
 * tests/parity/gen_core.py. Each case states its bound ("<case>.bound"):
 *
 *   elem  float32 element-wise operations: max |a - r| / max(|r|, rms r) <= 1e-6
 *   norm  reductions and GEMM:              ||a - r|| / ||r||             <= 1e-5
 *
 * Losses are reductions: a loss value is held to 1e-5 relative. */
#include "fixture.h"
#include "model/model.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static int ncases;

/* The case names of a fixture file ("cases" metadata), split in place. */
static int split_cases(char *list, char **names, int max) {
    int n = 0;
    for (char *p = strtok(list, ","); p && n < max; p = strtok(NULL, ",")) names[n++] = p;
    return n;
}

static const char *meta(const sn_st_file *f, const char *c, const char *key) {
    char k[256];
    snprintf(k, sizeof k, "%s.%s", c, key);
    return sn_st_meta(f, k);
}

static sn_model *build(const sn_st_file *f, const char *c) {
    const char *spec = meta(f, c, "spec");
    sn_model *m = NULL;
    sn_error err = {0};
    if (!spec || sn_model_from_spec(spec, c, 1, &m, &err) != SN_OK) {
        fprintf(stderr, "%s: cannot build the model: %s\n", c, spec ? err.msg : "no spec");
        CHECK(0);
        return NULL;
    }
    return m;
}

/* Copies "<case>.<i>.<param><suffix>" (or its `index`-th slice along the
 * first axis) into every parameter's value (grad = 0) or gradient (1). */
static int set_params(sn_model *m, const sn_st_file *f, const char *c, const char *suffix,
                      int index, int grad) {
    for (int i = 0; i < m->nlayers; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            sn_param *par = &m->layers[i]->params[p];
            sn_tensor *t = grad ? &par->grad : &par->value;
            const sn_st_entry *e = fixture_find(f, "%s.%d.%s%s", c, i, par->name, suffix);
            size_t need = t->size * (size_t)(index + 1);
            if (!e || e->size < need) {
                fprintf(stderr, "%s: tensor %d.%s%s missing or too small\n", c, i, par->name,
                        suffix);
                CHECK(0);
                return 0;
            }
            memcpy(t->data, e->data + t->size * (size_t)index, t->size * sizeof(float));
        }
    }
    return 1;
}

/* Labels stored as float32 in the fixture, as ints (NULL if absent). */
static int *read_labels(const sn_st_entry *e) {
    if (!e) return NULL;
    int *l = malloc(e->size * sizeof(int));
    for (size_t i = 0; i < e->size; i++) l[i] = (int)e->data[i];
    return l;
}

static void layers_case(const sn_st_file *f, const char *c) {
    sn_model *m = build(f, c);
    if (!m) return;
    const char *b = meta(f, c, "bound"), *tr = meta(f, c, "train");
    int elem = b && strcmp(b, "elem") == 0, train = tr && strcmp(tr, "1") == 0;
    const sn_st_entry *x = fixture_find(f, "%s.x", c), *y = fixture_find(f, "%s.y", c);
    const sn_st_entry *dy = fixture_find(f, "%s.dy", c), *loss = fixture_find(f, "%s.loss", c);
    sn_error err = {0};
    int N = x ? x->shape[0] : 0, L = m->nlayers;
    if (!x || !y || (!dy && !loss) || x->size != (size_t)N * sn_model_input_size(m) ||
        sn_model_reserve(m, N, &err) != SN_OK || !set_params(m, f, c, "", 0, 0)) {
        fprintf(stderr, "%s: malformed case\n", c);
        CHECK(0);
        sn_model_free(m);
        return;
    }
    char what[160];
    double worst = 0, e;
    m->input_grad = 1;
    sn_model_forward(m, x->data, N, train, NULL);
    const sn_tensor *out = sn_model_output(m);
    snprintf(what, sizeof what, "%s: y", c);
    worst = fixture_compare(what, m->act[L].data, out->size, y, elem);
    if (loss) { /* through the model's loss */
        int *labels = read_labels(fixture_find(f, "%s.labels", c));
        const sn_st_entry *t = fixture_find(f, "%s.targets", c);
        double l = 0;
        sn_model_backward(m, labels, t ? t->data : NULL, &l, NULL);
        e = fabs(l - loss->data[0]) / fabs((double)loss->data[0]);
        if (!(e <= FIXTURE_NORM_BOUND))
            fprintf(stderr, "%s: loss %.9g, expected %.9g\n", c, l, (double)loss->data[0]);
        CHECK(e <= FIXTURE_NORM_BOUND);
        worst = e > worst ? e : worst;
        free(labels);
    } else { /* from the given dL/dy; the last layer reads the reference y */
        for (int i = L - 1; i >= 0; i--) {
            sn_tensor yi = m->act[i + 1], dyi = m->grad[i + 1];
            if (i == L - 1) {
                yi.data = y->data;
                dyi.data = dy->data;
            }
            m->layers[i]->ops->backward(m->layers[i], &m->act[i], &yi, &dyi, &m->grad[i]);
        }
    }
    snprintf(what, sizeof what, "%s: dx", c);
    e = fixture_compare(what, m->grad[0].data, m->grad[0].size, fixture_find(f, "%s.dx", c), elem);
    worst = e > worst ? e : worst;
    for (int i = 0; i < L; i++) {
        for (int p = 0; p < m->layers[i]->nparams; p++) {
            const sn_param *par = &m->layers[i]->params[p];
            snprintf(what, sizeof what, "%s: d %d.%s", c, i, par->name);
            e = fixture_compare(what, par->grad.data, par->grad.size,
                                fixture_find(f, "%s.%d.%s.grad", c, i, par->name), elem);
            worst = e > worst ? e : worst;
        }
    }
    printf("  %-22s %-4s worst error %.2e\n", c, elem ? "elem" : "norm", worst);
    ncases++;
    sn_model_free(m);
}

static void losses_case(const sn_st_file *f, const char *c) {
    const char *kind = meta(f, c, "loss"), *b = meta(f, c, "bound");
    int elem = b && strcmp(b, "elem") == 0;
    const sn_st_entry *p = fixture_find(f, "%s.pred", c), *loss = fixture_find(f, "%s.loss", c);
    const sn_st_entry *t = fixture_find(f, "%s.targets", c), *dp = fixture_find(f, "%s.dpred", c);
    sn_loss_kind k;
    if (!kind || sn_loss_parse(kind, &k, NULL) != SN_OK || !p || !loss || !dp || p->ndim != 2) {
        fprintf(stderr, "%s: malformed loss case\n", c);
        CHECK(0);
        return;
    }
    int *labels = read_labels(fixture_find(f, "%s.labels", c));
    sn_tensor pred = sn_tensor_view(p->data, 2, p->shape), grad;
    sn_tensor_alloc(&grad, 2, p->shape, NULL);
    double l = sn_loss(k, &pred, labels, t ? t->data : NULL, &grad);
    double e = fabs(l - loss->data[0]) / fabs((double)loss->data[0]);
    if (!(e <= FIXTURE_NORM_BOUND))
        fprintf(stderr, "%s: loss %.9g, expected %.9g\n", c, l, (double)loss->data[0]);
    CHECK(e <= FIXTURE_NORM_BOUND);
    char what[160];
    snprintf(what, sizeof what, "%s: dpred", c);
    double eg = fixture_compare(what, grad.data, grad.size, dp, elem);
    printf("  %-22s %-4s loss error %.2e, gradient error %.2e\n", c, elem ? "elem" : "norm", e, eg);
    ncases++;
    sn_tensor_free(&grad);
    free(labels);
}

static void optim_case(const sn_st_file *f, const char *c) {
    sn_model *m = build(f, c);
    if (!m) return;
    const char *st = meta(f, c, "steps");
    int steps = st ? atoi(st) : 0;
    sn_optimizer *o = NULL;
    sn_error err = {0};
    if (steps < 1 || !set_params(m, f, c, "", 0, 0) ||
        sn_optimizer_new(m, sn_model_config(m), &o, &err) != SN_OK) {
        fprintf(stderr, "%s: malformed optimizer case: %s\n", c, err.msg);
        CHECK(0);
        sn_model_free(m);
        return;
    }
    char what[160];
    double worst = 0, e;
    for (int s = 0; s < steps && set_params(m, f, c, ".grad", s, 1); s++) {
        sn_optimizer_step(o);
        for (int i = 0; i < m->nlayers; i++) {
            for (int p = 0; p < m->layers[i]->nparams; p++) {
                const sn_param *par = &m->layers[i]->params[p];
                const sn_st_entry *r = fixture_find(f, "%s.%d.%s.after", c, i, par->name);
                size_t n = par->value.size;
                sn_st_entry slice = r ? *r : (sn_st_entry){0};
                slice.size = r && r->size == n * (size_t)steps ? n : 0;
                slice.data = r ? r->data + n * (size_t)s : NULL;
                snprintf(what, sizeof what, "%s: step %d: %d.%s", c, s + 1, i, par->name);
                e = fixture_compare(what, par->value.data, n, r ? &slice : NULL, 1);
                worst = e > worst ? e : worst;
            }
        }
    }
    /* The state after the last step by PyTorch's names ("state.0.exp_avg"):
     * every state tensor PyTorch has must be matched. */
    int matched = 0, expected = 0;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "%s.state.", c);
    for (int i = 0; i < f->n; i++)
        expected += strncmp(f->entries[i].name, prefix, strlen(prefix)) == 0;
    for (int i = 0; i < sn_optimizer_num_state(o); i++) {
        char name[64];
        sn_tensor *t = sn_optimizer_state(o, i, name, sizeof name);
        const sn_st_entry *r = fixture_find(f, "%s.%s", c, name);
        if (!t || !r) continue;
        snprintf(what, sizeof what, "%s: %s", c, name);
        e = fixture_compare(what, t->data, t->size, r, 1);
        worst = e > worst ? e : worst;
        matched++;
    }
    if (matched != expected)
        fprintf(stderr, "%s: %d of %d state tensors matched\n", c, matched, expected);
    CHECK(matched == expected);
    printf("  %-22s elem worst error %.2e over %d steps\n", c, worst, steps);
    ncases++;
    sn_optimizer_free(o);
    sn_model_free(m);
}

static void run_file(const char *name, int required) {
    sn_st_file f;
    if (!required) { /* another test's fixture, perhaps in a form of its own */
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/parity/fixtures/%s", SN_SOURCE_DIR, name);
        sn_error err = {0};
        if (sn_st_load(path, &f, &err) != SN_OK) {
            printf("%s: not read here (%s)\n", name, err.msg);
            return;
        }
    } else if (!fixture_open(&f, name)) {
        return;
    }
    const char *schema = sn_st_meta(&f, "schema"), *kind = sn_st_meta(&f, "kind");
    const char *cases = sn_st_meta(&f, "cases");
    if (!schema || strcmp(schema, "sn-cases-1") != 0) {
        sn_st_free(&f);
        return; /* another test's fixture */
    }
    printf("%s (%s)\n", name, kind ? kind : "?");
    char *list = strdup(cases ? cases : "");
    char *names[256];
    int n = split_cases(list, names, 256);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        if (kind && strcmp(kind, "layers") == 0)
            layers_case(&f, names[i]);
        else if (kind && strcmp(kind, "losses") == 0)
            losses_case(&f, names[i]);
        else if (kind && strcmp(kind, "optim") == 0)
            optim_case(&f, names[i]);
        else {
            printf("  skipped: kind '%s' is not run here\n", kind ? kind : "(none)");
            break;
        }
    }
    free(list);
    sn_st_free(&f);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
    /* The core fixtures must be there; any other sn-cases-1 file is run too. */
    const char *core[] = {"core_layers.safetensors", "core_losses.safetensors",
                          "core_optim.safetensors"};
    for (int i = 0; i < 3; i++) run_file(core[i], 1);
    int core_cases = ncases;
    CHECK(core_cases >= 40);

    char dir[1024], *names[512];
    int n = 0;
    snprintf(dir, sizeof dir, "%s/tests/parity/fixtures", SN_SOURCE_DIR);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d)) && n < 512;) {
        size_t len = strlen(e->d_name);
        if (len > 12 && strcmp(e->d_name + len - 12, ".safetensors") == 0 &&
            strncmp(e->d_name, "core_", 5) != 0)
            names[n++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    for (int i = 0; i < n; i++) {
        run_file(names[i], 0);
        free(names[i]);
    }
    printf("%d cases (%d core)\n", ncases, core_cases);
    return check_report();
}
