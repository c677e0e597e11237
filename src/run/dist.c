/* Data-parallel runs (docs/distributed.md): under mpirun with an MPI build
 * every rank trains; rank 0 alone writes the run folder. */
#include "dist/dist.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sn_run_writer(void) {
    return sn_dist_rank() == 0;
}

/* Every rank must train the same thing: the spec, the initial weights, the
 * data and the options (the record) agree, or every rank stops naming the
 * rank and what differs. */
static sn_status check_ranks(const char *record, const sn_model *m, const sn_dataset *train,
                             const sn_dataset *test, const void *extra, size_t extra_len,
                             const char *extra_name, sn_error *err) {
    sn_dist_item it[6];
    int n = 0;
    const char *spec = sn_model_spec(m);
    sn_dist_item_set(&it[n++], "spec", sn_dist_hash(SN_DIST_HASH0, spec, strlen(spec)), "%zu bytes",
                     strlen(spec));
    uint64_t h = SN_DIST_HASH0;
    for (int i = 0; i < m->nparams; i++)
        h = sn_dist_hash(h, m->params[i]->value.data, m->params[i]->value.size * sizeof(float));
    sn_dist_item_set(&it[n++], "initial weights", h, "hash %016llx", (unsigned long long)h);
    const char *rec = record ? record : "";
    sn_dist_item_set(&it[n++], "options", sn_dist_hash(SN_DIST_HASH0, rec, strlen(rec)), "%.60s",
                     rec);
    for (char *p = it[n - 1].text; *p; p++)
        if (*p == '\n') *p = ' ';
    if (train) sn_dist_item_dataset(&it[n++], "training data", train);
    if (test) sn_dist_item_dataset(&it[n++], "test data", test->n ? test : NULL);
    if (extra) {
        uint64_t eh = sn_dist_hash(SN_DIST_HASH0, extra, extra_len);
        sn_dist_item_set(&it[n++], extra_name, eh, "%zu bytes, hash %08x", extra_len,
                         (unsigned)(eh >> 32));
    }
    return sn_dist_check(it, n, err);
}

/* The checkpoint of a resumed run was written by how many ranks? A
 * different number resumes, but no longer bitwise reproducibly. */
static void check_resume_ranks(const sn_run_options *o, const char *run_dir) {
    char path[1200];
    sn_st_file f;
    sn_error e = {0};
    if (sn_run_checkpoint_load(run_dir, path, sizeof path, &f, &e) != SN_OK)
        return; /* the resume itself reports it */
    const char *r = sn_st_meta(&f, "cli.ranks");
    int was = r ? atoi(r) : 1, now = sn_dist_size();
    if (was != now && sn_run_writer() && o->on_note) {
        char note[400];
        snprintf(note, sizeof note,
                 "warning: the checkpoint was written by a run on %d rank%s, this one has %d: it "
                 "resumes, but the result is no longer bitwise the one of an uninterrupted run",
                 was, was == 1 ? "" : "s", now);
        o->on_note(o->hooks.ctx, note);
    }
    sn_st_free(&f);
}

sn_status sn_run_dist_begin(const sn_run_options *o, const char *run_dir, sn_model *m,
                            const sn_dataset *train, const sn_dataset *test, const void *extra,
                            size_t extra_len, const char *extra_name, sn_checkpoint_options *ck,
                            sn_dist_training **out, sn_error *err) {
    *out = NULL;
    if (o->resume) check_resume_ranks(o, run_dir);
    if (sn_dist_size() == 1) return SN_OK;
    sn_status s = check_ranks(o->record, m, train, test, extra, extra_len, extra_name, err);
    if (s == SN_OK)
        s = sn_dist_training_new(m, (size_t)(o->bucket_kb > 0 ? o->bucket_kb : 256) * 1024,
                                 o->allreduce, o->check_weights > 0 ? o->check_weights : 0, out,
                                 err);
    if (s == SN_OK) { /* a stop request of any rank stops all after the same step */
        sn_dist_training_set_stop(*out, o->stop_requested, o->stop_ctx);
        ck->stop_requested = sn_dist_training_stop;
        ck->stop_ctx = *out;
    }
    return s;
}
