/* run.txt: what a run trained, on what, and how, one "key value" per line,
 * for reports (sn_report_write), sweeps and `eval RUN_DIR`. Written when the
 * run starts and again, with "finished" (tables) or "kept_epoch", when it
 * ends. */
#include "report/report.h"
#include "run/run.h"
#include "sn_version.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void sn_run_now_text(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

void sn_run_head(char *buf, size_t len, const char *run_dir, const char *command, int resumed) {
    char path[1200], now[32];
    sn_run_now_text(now, sizeof now);
    if (!command) command = "";
    sn_keyvals old = {0};
    snprintf(path, sizeof path, "%s/run.txt", run_dir);
    if (resumed) sn_keyvals_read(path, &old, NULL);
    const char *started = sn_keyvals_get(&old, "started");
    const char *first = sn_keyvals_get(&old, "command");
    int k = snprintf(buf, len, "version %s\n", SN_VERSION);
    if (SN_GIT_COMMIT[0] && k < (int)len)
        k += snprintf(buf + k, len - (size_t)k, "commit %s\n", SN_GIT_COMMIT);
    if (k < (int)len)
        k += snprintf(buf + k, len - (size_t)k, "command %s\n", first ? first : command);
    const char *resumed_line = sn_keyvals_get(&old, "resumed");
    if (first && strcmp(first, command) != 0 && k < (int)len)
        k += snprintf(buf + k, len - (size_t)k, "resumed %s by %s\n", now, command);
    else if (resumed_line && k < (int)len) /* rewritten by the same process */
        k += snprintf(buf + k, len - (size_t)k, "resumed %s\n", resumed_line);
    if (k < (int)len) snprintf(buf + k, len - (size_t)k, "started %s\n", started ? started : now);
    sn_keyvals_free(&old);
}

#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (k < (int)sizeof text) k += snprintf(text + k, sizeof text - (size_t)k, __VA_ARGS__);   \
    } while (0)

sn_status sn_run_txt_table(const char *dir, const sn_run_options *o, const sn_model *m,
                           const char *head, const char *finished, long ntrain, long nval,
                           long ntest, const char *changed, int kept, sn_error *err) {
    const sn_train_config *c = sn_model_config((sn_model *)m);
    char text[16384];
    int k = snprintf(text, sizeof text,
                     "# what this run trained, on what, and how (scratchnet train)\n%s"
                     "spec %s\ndata %s\n",
                     head, o->spec_path, o->data ? o->data : "-");
    if (o->data_options.test) ADD("test %s\n", o->data_options.test);
    if (o->classes) ADD("classes %s\n", o->classes);
    const sn_csv_options *csv = &o->data_options.csv;
    ADD("task %s\n", csv->num_target_cols ? "regression" : "classification");
    if (csv->label_col >= 0) ADD("label_col %d\n", csv->label_col);
    if (csv->num_target_cols) {
        ADD("target_cols ");
        for (int i = 0; i < csv->num_target_cols; i++)
            ADD("%d%s", csv->target_cols[i], i + 1 < csv->num_target_cols ? "," : "\n");
    }
    if (csv->header >= 0) ADD("header %s\n", csv->header ? "yes" : "no");
    k += (int)sn_train_config_lines(c, k < (int)sizeof text ? text + k : NULL,
                                    k < (int)sizeof text ? sizeof text - (size_t)k : 0);
    ADD("threads %d\n", sn_get_threads());
    ADD("samples %ld train, %ld validation, %ld test\nparameters %zu\n", ntrain, nval, ntest,
        sn_model_num_params(m));
    if (changed && changed[0]) ADD("resumed_on_changed_inputs %s\n", changed);
    if (finished) ADD("finished %s\n", finished);
    if (kept > 0) ADD("kept_epoch %d\n", kept); /* the epoch whose weights the model holds */
    return sn_run_write_text(dir, "run.txt", text, err);
}

sn_status sn_run_txt_text(const char *dir, const sn_run_options *o, const sn_text_spec *t,
                          const sn_model *m, int resumed, const char *changed, int kept,
                          sn_error *err) {
    const sn_train_config *c = sn_model_config((sn_model *)m);
    char text[16384], head[6000];
    sn_run_head(head, sizeof head, dir, o->command, resumed);
    int k = snprintf(text, sizeof text,
                     "# what this run trained, on what, and how (scratchnet train --text)\n%s"
                     "spec %s\ntext %s\nlevel %s\nseq %d\n",
                     head, o->spec_path, o->text, sn_text_level_name(t->level), t->o.seq_len);
    k += (int)sn_train_config_lines(c, k < (int)sizeof text ? text + k : NULL,
                                    k < (int)sizeof text ? sizeof text - (size_t)k : 0);
    ADD("threads %d\n", sn_get_threads());
    if (changed[0]) ADD("resumed_on_changed_inputs %s\n", changed);
    if (kept > 0) ADD("kept_epoch %d\n", kept); /* the epoch whose weights the model holds */
    return sn_run_write_text(dir, "run.txt", text, err);
}
