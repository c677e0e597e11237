/* `--threads LIST` of the benchmark programs: the thread counts to measure,
 * run in the order given, e.g. `--threads 1,2` (the default) or
 * `--threads default`, which leaves the library's own default in place (no
 * sn_set_threads call), as a user who sets nothing gets it. Each result
 * line names the count as threads=N or threads=default. */
#ifndef BENCH_THREADS_OPT_H
#define BENCH_THREADS_OPT_H

#include "scratchnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_MAX_COUNTS 16

typedef struct {
    int n;                       /* how many counts */
    int count[BENCH_MAX_COUNTS]; /* 0: the library default */
    char label[BENCH_MAX_COUNTS][16];
} bench_threads;

/* Removes `--threads LIST` (or --threads=LIST) from argv; returns 0 on a bad
 * list, after a message on stderr. */
static int bench_threads_parse(int *argc, char **argv, bench_threads *t) {
    const char *list = "1,2";
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < *argc)
            list = argv[++i];
        else if (strncmp(argv[i], "--threads=", 10) == 0)
            list = argv[i] + 10;
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    t->n = 0;
    for (const char *p = list; *p;) {
        if (t->n == BENCH_MAX_COUNTS) break;
        char *end;
        if (strncmp(p, "default", 7) == 0) {
            t->count[t->n] = 0;
            snprintf(t->label[t->n], sizeof t->label[0], "default");
            end = (char *)p + 7;
        } else {
            long v = strtol(p, &end, 10);
            if (end == p || v < 1 || v > 64) {
                fprintf(stderr, "--threads: expected a list like 1,2 or default, got '%s'\n", list);
                return 0;
            }
            t->count[t->n] = (int)v;
            snprintf(t->label[t->n], sizeof t->label[0], "%ld", v);
        }
        t->n++;
        p = end;
        if (*p == ',')
            p++;
        else if (*p) {
            fprintf(stderr, "--threads: expected a list like 1,2 or default, got '%s'\n", list);
            return 0;
        }
    }
    return t->n > 0;
}

/* Sets the k-th count (nothing for the default). */
static void bench_threads_apply(const bench_threads *t, int k) {
    if (t->count[k]) sn_set_threads(t->count[k]);
}

#endif
