/* scratchnet checkpoint RUN_DIR|FILE: checks a training checkpoint whole and
 * says where its training stands (sn_run_checkpoint_verify). */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: scratchnet checkpoint RUN_DIR|FILE\n"
    "\n"
    "Checks a training checkpoint (RUN_DIR/checkpoint.safetensors) whole: its\n"
    "checksums, format, every recorded value and every tensor against the model\n"
    "its spec builds, and says where its training stands. Exit status 0 when it can be\n"
    "resumed (scratchnet train --resume RUN_DIR), 1 otherwise.\n";

static const char *const opts[] = {NULL};
const cli_verb cli_verb_checkpoint = {"checkpoint", usage, opts, 1, 1};

int cmd_checkpoint(cli_opts *o) {
    char path[1200];
    size_t n = strlen(o->positional[0]);
    if (n > 12 && strcmp(o->positional[0] + n - 12, ".safetensors") == 0)
        snprintf(path, sizeof path, "%s", o->positional[0]);
    else
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", o->positional[0]);
    sn_error err = {0};
    sn_checkpoint_info info;
    int done = 0;
    if (sn_run_checkpoint_verify(path, &info, &done, &err) != SN_OK) {
        fprintf(stderr, "scratchnet checkpoint: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    printf("%s: %s training, epoch %d, %d of %d batches done, step %ld%s: ok\n", path, info.trainer,
           info.epoch, info.batch, info.nbatches, info.step,
           done == 2 ? " (stopped early: finished, nothing to resume)"
           : done    ? " (finished: all epochs done; resume only with --epochs N larger)"
                     : "");
    return 0;
}
