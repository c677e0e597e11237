/* Consistency checks across ranks: the start-up check (every rank must
 * train the same thing) and the debug check that the weights stay identical;
 * and the broadcast of rank 0's buffers. */
#include "dist/dist.h"
#include "model/model.h"

#include <stdio.h>
#include <string.h>

sn_status sn_dist_check(const sn_dist_item *items, int n, sn_error *err) {
    const int P = sn_dist_size();
    int *counts = sn_alloc((size_t)P, sizeof(int));
    sn_dist_item *all = NULL;
    if (!counts) return sn_fail(err, SN_ERR_NOMEM, "consistency check: out of memory");
    sn_status s = sn_dist_allgather(&n, sizeof n, counts, err);
    for (int r = 1; r < P && s == SN_OK; r++)
        if (counts[r] != counts[0])
            s = sn_fail(err, SN_ERR_ARG, "rank %d differs from rank 0: %d checked items vs %d", r,
                        counts[r], counts[0]);
    if (s == SN_OK && !(all = sn_alloc((size_t)P * (size_t)n + 1, sizeof *all)))
        s = sn_fail(err, SN_ERR_NOMEM, "consistency check: out of memory");
    if (s == SN_OK) s = sn_dist_allgather(items, (size_t)n * sizeof *items, all, err);
    for (int r = 1; r < P && s == SN_OK; r++) {
        char msg[sizeof err->msg];
        int k = snprintf(msg, sizeof msg, "rank %d differs from rank 0:", r), bad = 0;
        for (int i = 0; i < n; i++) {
            const sn_dist_item *a = &all[(size_t)r * n + i], *b = &all[i];
            if (a->hash == b->hash && strcmp(a->name, b->name) == 0) continue;
            if (k < (int)sizeof msg)
                k += snprintf(msg + k, sizeof msg - (size_t)k, "%s %.32s (%.64s vs %.64s)",
                              bad ? ";" : "", a->name, a->text, b->text);
            bad++;
        }
        if (bad) s = sn_fail(err, SN_ERR_ARG, "%s", msg);
    }
    sn_free(all);
    sn_free(counts);
    return s;
}

sn_status sn_dist_check_weights(const sn_model *m, long step, sn_error *err) {
    const int P = sn_dist_size(), np = m->nparams;
    uint64_t *all = sn_alloc((size_t)P * (size_t)np + 1, sizeof *all);
    uint64_t *mine = sn_alloc((size_t)np + 1, sizeof *mine);
    sn_status s = all && mine ? SN_OK : sn_fail(err, SN_ERR_NOMEM, "weight check: out of memory");
    for (int i = 0; i < np && s == SN_OK; i++) {
        const sn_param *p = m->params[i];
        mine[i] = p->buffer
                      ? 0
                      : sn_dist_hash(SN_DIST_HASH0, p->value.data, p->value.size * sizeof(float));
    }
    if (s == SN_OK) s = sn_dist_allgather(mine, (size_t)np * sizeof *mine, all, err);
    for (int r = 1; r < P && s == SN_OK; r++)
        for (int i = 0; i < np; i++) {
            if (all[(size_t)r * np + i] == all[i]) continue;
            int layer = 0, k = i;
            while (layer < m->nlayers && k >= m->layers[layer]->nparams)
                k -= m->layers[layer++]->nparams;
            s = sn_fail(err, SN_ERR_NUMERIC,
                        "step %ld: rank %d's weights differ from rank 0's, first in layer %d "
                        "(%s) %s",
                        step, r, layer, m->layers[layer]->desc, m->params[i]->name);
            break;
        }
    sn_free(mine);
    sn_free(all);
    return s;
}

sn_status sn_dist_bcast_buffers(sn_model *m, sn_error *err) {
    sn_model_params_changed(m);
    for (int i = 0; i < m->nparams; i++) {
        const sn_param *p = m->params[i];
        if (!p->buffer) continue;
        sn_status s = sn_dist_bcast(p->value.data, p->value.size * sizeof(float), 0, err);
        if (s != SN_OK) return sn_wrap(err, "broadcast of %s", p->name);
    }
    return SN_OK;
}
