/* The recurrent state of a data-parallel text training at a checkpoint.
 *
 * Rank r of P trains streams [N·r/P, N·(r+1)/P) of the N streams and its
 * recurrent layers carry the state of those only (sn_layer_state, n_r
 * streams from the start of each level's buffer). A checkpoint must hold
 * the state of all N, as a single process's does:
 *
 *   gather   every rank sends its n_r streams of every state piece (padded
 *            to ⌈N/P⌉ streams, one all-gather); rank 0 lays them out at
 *            their streams' places, [levels, N, H], in its own buffers
 *            (sized for the whole batch), which the checkpoint writer reads;
 *   share    a rank whose layers hold all N streams (rank 0 after writing,
 *            every rank after a resume, whatever number of ranks wrote the
 *            checkpoint) keeps its own n_r, moved to the start.
 *
 * A rank whose state is zero (state reset, no streams) contributes zeros;
 * when every rank's is zero the gathered state is zero too (0 streams). */
#include "dist/dist.h"
#include "model/model.h"

#include <string.h>

/* The state pieces of layer l (0 when it carries none). */
static int pieces(sn_layer *l, sn_layer_state *st) {
    return l->ops->state && l->ops->restore_state ? l->ops->state(l, st) : 0;
}

sn_status sn_dist_gather_state(sn_model *m, int n_global, sn_error *err) {
    const int P = sn_dist_size(), rank = sn_dist_rank();
    if (P == 1 || n_global < 1) return SN_OK;
    const size_t cap = ((size_t)n_global + (size_t)P - 1) / (size_t)P; /* streams per rank */
    size_t per_rank = 1;                                               /* the flag, then data */
    for (int i = 0; i < m->nlayers; i++) {
        sn_layer_state st[SN_MAX_STATES];
        int np = pieces(m->layers[i], st);
        for (int c = 0; c < np; c++) {
            if (st[c].max_streams < n_global)
                return sn_fail(err, SN_ERR_ARG,
                               "checkpoint: layer %d holds the state of %d streams, not %d", i,
                               st[c].max_streams, n_global);
            per_rank += (size_t)st[c].levels * cap * (size_t)st[c].width;
        }
    }
    if (per_rank == 1) return SN_OK; /* nothing recurrent */
    long off, n;
    sn_dist_share(n_global, rank, P, &off, &n);
    float *mine = sn_alloc(per_rank, sizeof(float));
    float *all = sn_alloc(per_rank * (size_t)P, sizeof(float));
    if (!mine || !all) {
        sn_free(mine);
        sn_free(all);
        return sn_fail(err, SN_ERR_NOMEM, "checkpoint: out of memory for the recurrent state");
    }
    /* mine = [has state, then per layer, piece and level: cap·H floats] */
    float *p = mine + 1;
    for (int i = 0; i < m->nlayers; i++) {
        sn_layer_state st[SN_MAX_STATES];
        int np = pieces(m->layers[i], st);
        for (int c = 0; c < np; c++) {
            const size_t H = (size_t)st[c].width;
            if (st[c].streams > 0) mine[0] = 1;
            for (int lv = 0; lv < st[c].levels; lv++, p += cap * H)
                if (st[c].streams == n) /* else a zero state (reset, or no streams) */
                    memcpy(p, st[c].data + lv * st[c].stride, (size_t)n * H * sizeof(float));
        }
    }
    sn_status s = sn_dist_allgather(mine, per_rank * sizeof(float), all, err);
    if (s == SN_OK && rank == 0) {
        int any = 0;
        for (int r = 0; r < P; r++) any |= all[(size_t)r * per_rank] != 0;
        size_t at = 1;
        for (int i = 0; i < m->nlayers; i++) {
            sn_layer *l = m->layers[i];
            sn_layer_state st[SN_MAX_STATES];
            int np = pieces(l, st);
            for (int c = 0; c < np; c++) {
                const size_t H = (size_t)st[c].width;
                for (int lv = 0; lv < st[c].levels; lv++, at += cap * H)
                    for (int r = 0; r < P && any; r++) {
                        long ro, rn;
                        sn_dist_share(n_global, r, P, &ro, &rn);
                        float *dst = st[c].data + lv * st[c].stride + (size_t)ro * H;
                        const float *src = all + (size_t)r * per_rank + at;
                        memmove(dst, src, (size_t)rn * H * sizeof(float));
                    }
            }
            if (np > 0) l->ops->restore_state(l, any ? n_global : 0);
        }
    }
    sn_free(mine);
    sn_free(all);
    return s;
}

void sn_dist_share_state(sn_model *m, int n_global) {
    const int P = sn_dist_size(), rank = sn_dist_rank();
    long off, n;
    sn_dist_share(n_global, rank, P, &off, &n);
    for (int i = 0; i < m->nlayers; i++) {
        sn_layer *l = m->layers[i];
        sn_layer_state st[SN_MAX_STATES];
        int np = pieces(l, st);
        if (np == 0 || st[0].streams != n_global || n == n_global) continue;
        for (int c = 0; c < np; c++) {
            const size_t H = (size_t)st[c].width;
            for (int lv = 0; lv < st[c].levels; lv++) {
                float *level = st[c].data + lv * st[c].stride;
                memmove(level, level + (size_t)off * H, (size_t)n * H * sizeof(float));
            }
        }
        l->ops->restore_state(l, (int)n);
    }
}
